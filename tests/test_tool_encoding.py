"""The encode, decode and gzip tools (pyframe.lib.encoding)."""

from __future__ import annotations

import gzip as gzip_module
import io
import zlib

import pytest

import pyframe
from pyframe.lib import encoding
from pyframe.tools import Tool, Toolbox
from pyframe.tree import Application
from live import live  # noqa: F401  (fixture)
from support import wsgi_get

# Registered exactly as in the default toolbox, under a namespace of our own.
box = Toolbox('t_enc')
box.encode = Tool('before_handler', encoding.ResponseEncoder, priority=70)
box.decode = Tool('before_request_body', encoding.decode)
box.gzip = Tool('before_finalize', encoding.gzip, priority=80)

TEXT = 'caf\u00e9 \u20ac'  # the euro sign is not in latin-1


class Root:
    @pyframe.expose
    def index(self):
        return TEXT

    @pyframe.expose
    def latin(self):
        return 'caf\u00e9'

    @pyframe.expose
    def png(self):
        pyframe.response.headers['Content-Type'] = 'image/png'
        return b'\x89PNG\r\n'

    @pyframe.expose
    def declared(self):
        pyframe.response.headers['Content-Type'] = 'text/plain;charset=utf-16'
        return 'hi'

    @pyframe.expose
    def stream(self):
        pyframe.response.stream = True

        def chunks():
            yield 'caf\u00e9 '
            yield b'bytes '
            yield 'end'
        return chunks()

    @pyframe.expose
    def typed(self, ctype='text/html', vary=None, coding=None):
        pyframe.response.headers['Content-Type'] = ctype
        if vary:
            pyframe.response.headers['Vary'] = vary
        if coding:
            pyframe.response.headers['Content-Encoding'] = coding
            return gzip_module.compress(b'already')
        return 'x' * 200

    @pyframe.expose
    def big_stream(self):
        pyframe.response.stream = True
        pyframe.response.headers['Content-Type'] = 'text/plain'

        def lines():
            for number in range(2000):
                yield f'line {number} \u00e9\n'
        return lines()

    @pyframe.expose
    def nothing(self):
        pyframe.response.status = 204
        return ''

    @pyframe.expose
    def form(self, name=None):
        return repr(name)


def app(**args):
    config = {'tools.encode.on': False, 't_enc.encode.on': True}
    config.update({f't_enc.{key}': value for key, value in args.items()})
    return Application(Root(), '', {'/': config})


def gzip_app(**args):
    config = {'t_enc.gzip.on': True}
    config.update({f't_enc.gzip.{key}': value for key, value in args.items()})
    return Application(Root(), '', {'/': config})


# -- encode -----------------------------------------------------------------

def test_default_encoding_without_accept_charset():
    status, headers, body = wsgi_get(app(), '/')
    assert status == '200 OK'
    assert headers['Content-Type'] == 'text/html;charset=utf-8'
    assert body == TEXT.encode('utf-8')


def test_client_preference_used_when_default_refused():
    headers = {'Accept-Charset': 'iso-8859-1, utf-8;q=0'}
    status, response_headers, body = wsgi_get(app(), '/latin', headers=headers)
    assert status == '200 OK'
    assert response_headers['Content-Type'] == 'text/html;charset=iso-8859-1'
    assert body == 'caf\u00e9'.encode('latin-1')


def test_next_charset_tried_when_preferred_cannot_encode():
    headers = {'Accept-Charset': 'iso-8859-1, utf-16;q=0.5, *;q=0'}
    status, response_headers, body = wsgi_get(app(), '/', headers=headers)
    assert status == '200 OK'
    assert response_headers['Content-Type'] == 'text/html;charset=utf-16'
    assert body.decode('utf-16') == TEXT


def test_star_accepts_the_default():
    status, headers, body = wsgi_get(app(), '/', headers={'Accept-Charset': 'ascii, *;q=0.1'})
    assert headers['Content-Type'] == 'text/html;charset=utf-8'
    assert body == TEXT.encode('utf-8')


def test_406_when_no_acceptable_charset_encodes_the_body():
    headers = {'Accept-Charset': 'iso-8859-1'}
    status, _, body = wsgi_get(app(), '/', headers=headers)
    assert status == '406 Not Acceptable'
    assert b'Your client sent this Accept-Charset header: iso-8859-1' in body
    assert b'We tried these charsets: iso-8859-1' in body


def test_forced_encoding_wins_over_client_preference():
    headers = {'Accept-Charset': 'utf-8, iso-8859-1;q=0.5'}
    status, response_headers, body = wsgi_get(app(**{'encode.encoding': 'latin-1'}), '/latin',
                                              headers=headers)
    assert response_headers['Content-Type'] == 'text/html;charset=latin-1'
    assert body == 'caf\u00e9'.encode('latin-1')


def test_forced_encoding_refused_by_client_is_406():
    headers = {'Accept-Charset': 'utf-8'}
    status, _, body = wsgi_get(app(**{'encode.encoding': 'latin-1'}), '/latin', headers=headers)
    assert status == '406 Not Acceptable'
    assert b'latin-1' in body


def test_forced_encoding_that_cannot_encode_is_500():
    status, _, body = wsgi_get(app(**{'encode.encoding': 'ascii'}), '/latin')
    assert status == '500 Internal Server Error'
    assert b'could not be encoded with &#x27;ascii&#x27;' in body


def test_errors_argument_lets_any_charset_encode():
    status, _, body = wsgi_get(
        app(**{'encode.encoding': 'ascii', 'encode.errors': 'replace'}), '/latin')
    assert status == '200 OK'
    assert body == b'caf?'


def test_add_charset_false_leaves_content_type_alone():
    status, headers, body = wsgi_get(app(**{'encode.add_charset': False}), '/')
    assert headers['Content-Type'] == 'text/html'
    assert body == TEXT.encode('utf-8')


def test_non_text_body_untouched():
    headers = {'Accept-Charset': 'iso-8859-1'}
    status, response_headers, body = wsgi_get(app(), '/png', headers=headers)
    assert status == '200 OK'
    assert response_headers['Content-Type'] == 'image/png'
    assert body == b'\x89PNG\r\n'


def test_charset_declared_by_handler_is_kept():
    status, headers, body = wsgi_get(app(), '/declared')
    assert headers['Content-Type'] == 'text/plain;charset=utf-16'
    assert body == 'hi'.encode('utf-16')


def test_streamed_body_encoded_lazily():
    headers = {'Accept-Charset': 'iso-8859-1, utf-8;q=0'}
    status, response_headers, body = wsgi_get(app(), '/stream', headers=headers)
    assert status == '200 OK'
    assert response_headers['Content-Type'] == 'text/html;charset=iso-8859-1'
    assert 'Content-Length' not in response_headers
    assert body == b'caf\xe9 bytes end'


def test_streamed_body_stays_a_generator():
    seen = {}

    class Probe(Root):
        @pyframe.expose
        def index(self):
            pyframe.response.stream = True
            pyframe.request.hooks.attach(
                'before_finalize', lambda: seen.setdefault('body', pyframe.response.body))
            return iter(['a', 'b'])

    application = Application(Probe(), '', {'/': {'tools.encode.on': False,
                                                  't_enc.encode.on': True}})
    assert wsgi_get(application, '/')[2] == b'ab'
    assert not isinstance(seen['body'], list)


def test_unknown_argument_is_an_error():
    status = wsgi_get(app(**{'encode.encodng': 'latin-1'}), '/')[0]
    assert status == '500 Internal Server Error'


# -- decode -----------------------------------------------------------------

def form_post(application, data: bytes, content_type='application/x-www-form-urlencoded'):
    return wsgi_get(application, '/form', method='POST', body=data,
                    headers={'Content-Type': content_type})


def decode_app(**args):
    config = {'t_enc.decode.on': True}
    config.update({f't_enc.decode.{key}': value for key, value in args.items()})
    return Application(Root(), '', {'/': config})


def test_decode_default_encoding_extends_the_attempts():
    data = 'name=caf\u00e9'.encode('latin-1')
    # Without the tool, latin-1 bytes are not valid utf-8: 400.
    assert form_post(Application(Root()), data)[0].startswith('400')
    status, _, body = form_post(decode_app(default_encoding=['latin-1']), data)
    assert status == '200 OK'
    assert body == repr('caf\u00e9').encode()


def test_decode_encoding_restricts_even_against_the_declared_charset():
    data = 'name=caf\u00e9'.encode('utf-8')
    status, _, body = form_post(decode_app(encoding='latin-1'), data,
                                'application/x-www-form-urlencoded;charset=utf-8')
    assert status == '200 OK'
    # Decoded as latin-1 although the client said utf-8.
    assert body == repr('caf\u00e9'.encode('utf-8').decode('latin-1')).encode()


def test_decode_restriction_can_fail():
    data = 'name=\u20ac'.encode('utf-8')
    status, _, body = form_post(decode_app(encoding=['ascii']), data)
    assert status.startswith('400')
    assert b'[&#x27;ascii&#x27;]' in body


# -- gzip -------------------------------------------------------------------

def get(application, path='/typed', accept='gzip', **kwargs):
    headers = {'Accept-Encoding': accept} if accept is not None else {}
    return wsgi_get(application, path, headers=headers, **kwargs)


def test_gzip_compresses_when_accepted():
    status, headers, body = get(gzip_app())
    assert headers['Content-Encoding'] == 'gzip'
    assert headers['Vary'] == 'Accept-Encoding'
    assert headers['Content-Length'] == str(len(body))
    assert encoding.decompress(body) == b'x' * 200


@pytest.mark.parametrize('accept', [None, 'identity', 'gzip;q=0', 'deflate',
                                    'gzip;q=0.5, identity', '*;q=0, identity'])
def test_gzip_not_used(accept):
    status, headers, body = get(gzip_app(), accept=accept)
    assert status == '200 OK'
    assert 'Content-Encoding' not in headers
    assert body == b'x' * 200
    # Caches must still know the response depends on Accept-Encoding.
    assert headers['Vary'] == 'Accept-Encoding'


@pytest.mark.parametrize('accept', ['x-gzip', 'gzip;q=0.5', '*', 'identity;q=0.2, gzip',
                                    'deflate, gzip;q=0.8'])
def test_gzip_used(accept):
    headers, body = get(gzip_app(), accept=accept)[1:]
    assert headers['Content-Encoding'] == 'gzip'
    assert encoding.decompress(body) == b'x' * 200


@pytest.mark.parametrize('accept', ['identity;q=0', 'gzip;q=0, identity;q=0', '*;q=0', 'br, *;q=0'])
def test_no_acceptable_coding_is_406(accept):
    status, headers, body = get(gzip_app(), accept=accept)
    assert status == '406 Not Acceptable'
    assert b'identity, gzip' in body


@pytest.mark.parametrize('ctype, types, compressed', [
    ('text/css', ['text/*'], True),
    ('application/vnd.api+json', ['application/*+json'], True),
    ('application/json', ['application/*+json'], False),
    ('image/png', ['text/*'], False),
    ('text/plain;charset=utf-8', ['text/plain'], True),
    ('TEXT/HTML', ['text/html'], True),
])
def test_gzip_mime_type_patterns(ctype, types, compressed):
    query = 'ctype=' + ctype.replace('+', '%2B')
    headers = get(gzip_app(mime_types=types), query=query)[1]
    assert ('Content-Encoding' in headers) is compressed
    assert ('Vary' in headers) is compressed


def test_vary_merged_with_existing_value():
    headers = get(gzip_app(), query='vary=Cookie')[1]
    assert headers['Vary'] == 'Cookie, Accept-Encoding'
    headers = get(gzip_app(), query='vary=accept-encoding')[1]
    assert headers['Vary'] == 'accept-encoding'


def test_no_double_compression():
    headers, body = get(gzip_app(), query='coding=gzip')[1:]
    assert headers['Content-Encoding'] == 'gzip'
    assert gzip_module.decompress(body) == b'already'


def test_no_body_status_untouched():
    status, headers, body = get(gzip_app(), '/nothing')
    assert status.startswith('204')
    assert 'Content-Encoding' not in headers and body == b''


def test_head_has_headers_of_compressed_get():
    get_headers, get_body = get(gzip_app())[1:]
    status, headers, body = get(gzip_app(), method='HEAD')
    assert body == b''
    assert headers['Content-Encoding'] == 'gzip'
    assert headers['Content-Length'] == get_headers['Content-Length'] == str(len(get_body))


def test_error_pages_compressed_too():
    status, headers, body = get(gzip_app(), '/missing')
    assert status.startswith('404')
    assert headers['Content-Encoding'] == 'gzip'
    assert b'404' in encoding.decompress(body)


def test_gzip_with_encode_tool_and_stream():
    application = Application(Root(), '', {'/': {
        'tools.encode.on': False, 't_enc.encode.on': True, 't_enc.gzip.on': True,
        'response.stream': True}})
    status, headers, body = get(application, '/stream',
                                accept='gzip', )
    assert 'Content-Length' not in headers
    assert encoding.decompress(body) == 'caf\u00e9 bytes end'.encode('utf-8')


def test_compress_and_decompress_round_trip():
    chunks = [b'abc' * 100, b'', b'def']
    data = b''.join(encoding.compress(iter(chunks), 9))
    assert encoding.decompress(data) == b''.join(chunks)
    assert zlib.decompress(data, 16 + zlib.MAX_WBITS) == b''.join(chunks)
    assert encoding.decompress(b''.join(encoding.compress([], 1))) == b''


def test_streamed_gzip_over_http(live):  # noqa: F811
    site = live(Root(), config={'/': {'t_enc.gzip.on': True}})
    response = site.get('/big_stream', headers={'Accept-Encoding': 'gzip'}, stream=True)
    raw = response.raw.read(decode_content=False)
    assert response.headers['Content-Encoding'] == 'gzip'
    assert response.headers['Transfer-Encoding'] == 'chunked'
    assert response.headers['Content-Type'] == 'text/plain;charset=utf-8'
    expected = ''.join(f'line {n} \u00e9\n' for n in range(2000)).encode('utf-8')
    assert len(raw) < len(expected)
    assert encoding.decompress(raw) == expected
    # requests decodes it by itself too.
    assert site.get('/big_stream').content == expected


def test_head_over_http(live):  # noqa: F811
    site = live(Root(), config={'/': {'t_enc.gzip.on': True}})
    got = site.get('/typed', headers={'Accept-Encoding': 'gzip'})
    head = site.head('/typed', headers={'Accept-Encoding': 'gzip'})
    assert head.status_code == 200 and head.content == b''
    assert head.headers['Content-Encoding'] == 'gzip'
    assert head.headers['Content-Length'] == got.headers['Content-Length']
    assert got.content == b'x' * 200


def test_streamed_gzip_sends_each_chunk_as_it_comes():
    application = Application(Root(), '', {'/': {'t_enc.gzip.on': True}})
    environ = {'REQUEST_METHOD': 'GET', 'PATH_INFO': '/big_stream', 'SCRIPT_NAME': '',
               'QUERY_STRING': '', 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '80',
               'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '5555',
               'HTTP_HOST': '127.0.0.1', 'HTTP_ACCEPT_ENCODING': 'gzip',
               'wsgi.url_scheme': 'http', 'wsgi.input': io.BytesIO(), 'wsgi.errors': io.StringIO(),
               'wsgi.multithread': True, 'wsgi.multiprocess': False}
    result = application(environ, lambda status, headers, exc_info=None: None)
    try:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        received = inflater.decompress(next(iter(result)))
    finally:
        result.close()
    # The first piece sent already decompresses to the first line.
    assert received.startswith('line 0 \u00e9\n'.encode('utf-8'))
