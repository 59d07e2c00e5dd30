"""The built-in tools through real HTTP (cheroot), used as users use them.

Covers encode, decode, gzip, json_in, json_out, accept, allow, referer,
proxy, response_headers and trailing_slash: each tool's normal path, its
options and its error paths, turned on through ``pyframe.tools``
decorators or config, and checked from what a client receives.
"""

from __future__ import annotations

import gzip as gzip_module
import html
import json
import threading
import zlib

import pytest

import pyframe
from pyframe.lib import cptools
from live import chunked, live  # noqa: F401  (fixture)

CREME = 'Cr\u00e8me br\u00fbl\u00e9e'
TEXT = 'The quick brown fox jumps over the lazy dog. ' * 40


def gunzip(data: bytes) -> bytes:
    return gzip_module.decompress(data)


def raw_get(site, path, headers=None, method='GET', body=b''):
    """One request over a raw socket; the whole response."""
    with site.raw() as conn:
        conn.request(method, path, headers=headers, body=body)
        return conn.read_response(method)


# ---------------------------------------------------------------------------
# encode


class EncodeRoot:
    @pyframe.expose
    def index(self):
        return CREME

    @pyframe.expose
    def snowman(self):
        return 'snow \u2603'

    @pyframe.expose
    @pyframe.tools.encode(encoding='iso-8859-1')
    def forced(self):
        return CREME

    @pyframe.expose
    @pyframe.tools.encode(encoding='ascii')
    def forced_ascii(self):
        return CREME

    @pyframe.expose
    @pyframe.tools.encode(encoding='ascii', errors='replace')
    def replaced(self):
        return CREME

    @pyframe.expose
    @pyframe.tools.encode(add_charset=False)
    def no_charset(self):
        pyframe.response.headers['Content-Type'] = 'text/plain'
        return CREME

    @pyframe.expose
    def declared(self):
        pyframe.response.headers['Content-Type'] = 'text/plain;charset=iso-8859-1'
        return CREME

    @pyframe.expose
    def raw_bytes(self):
        pyframe.response.headers['Content-Type'] = 'text/plain'
        return b'\xff\xfe already bytes'

    @pyframe.expose
    @pyframe.config(**{'response.stream': True})
    def stream(self):
        def generate():
            yield 'caf'
            yield '\u00e9 '
            yield CREME
        return generate()


def test_encode_default_is_utf8_and_declared(live):
    site = live(EncodeRoot())
    r = site.get('/')
    assert r.status_code == 200
    assert r.headers['Content-Type'] == 'text/html;charset=utf-8'
    assert r.content == CREME.encode('utf-8')
    assert r.headers['Content-Length'] == str(len(CREME.encode('utf-8')))


def test_encode_follows_accept_charset(live):
    site = live(EncodeRoot())
    r = site.get('/', headers={'Accept-Charset': 'utf-8;q=0, iso-8859-1'})
    assert r.status_code == 200
    assert r.content == CREME.encode('latin-1')
    assert r.headers['Content-Type'].lower() == 'text/html;charset=iso-8859-1'


def test_encode_star_accepts_the_default(live):
    site = live(EncodeRoot())
    r = site.get('/', headers={'Accept-Charset': '*'})
    assert r.content == CREME.encode('utf-8')
    assert r.headers['Content-Type'] == 'text/html;charset=utf-8'


def test_encode_406_when_no_acceptable_charset_can_encode(live):
    site = live(EncodeRoot())
    r = site.get('/snowman', headers={'Accept-Charset': 'iso-8859-1'})
    assert r.status_code == 406
    assert 'Accept-Charset' in r.text
    assert 'iso-8859-1' in r.text


def test_encode_406_for_an_unknown_charset_only(live):
    site = live(EncodeRoot())
    r = site.get('/', headers={'Accept-Charset': 'x-klingon'})
    assert r.status_code == 406
    assert 'x-klingon' in r.text


def test_encode_forced_encoding(live):
    site = live(EncodeRoot())
    r = site.get('/forced', headers={'Accept-Charset': 'utf-8, iso-8859-1;q=0.1'})
    assert r.status_code == 200
    assert r.content == CREME.encode('latin-1')
    assert r.headers['Content-Type'] == 'text/html;charset=iso-8859-1'


def test_encode_forced_encoding_refused_by_the_client_is_406(live):
    site = live(EncodeRoot())
    r = site.get('/forced', headers={'Accept-Charset': 'utf-8'})
    assert r.status_code == 406
    assert 'iso-8859-1' in r.text


def test_encode_forced_encoding_that_cannot_encode_is_500(live):
    site = live(EncodeRoot())
    r = site.get('/forced_ascii')
    assert r.status_code == 500
    assert "Response body could not be encoded with 'ascii'." in html.unescape(r.text)


def test_encode_errors_replace(live):
    site = live(EncodeRoot())
    r = site.get('/replaced')
    assert r.status_code == 200
    assert r.content == b'Cr?me br?l?e'


def test_encode_prefers_the_clients_best_charset_in_its_spelling(live):
    site = live(EncodeRoot())
    r = site.get('/', headers={'Accept-Charset': 'iso-8859-1;q=0.5, utf-16;q=0.9, utf-8;q=0'})
    assert r.headers['Content-Type'] == 'text/html;charset=utf-16'
    assert r.content.decode('utf-16') == CREME
    r = site.get('/', headers={'Accept-Charset': 'Latin1, utf-8;q=0'})
    assert r.headers['Content-Type'] == 'text/html;charset=Latin1'
    assert r.content == CREME.encode('latin-1')


@pytest.mark.parametrize('header', ['utf-8;q=x', ',,;', 'utf-8;q=0'])
def test_encode_malformed_or_refusing_accept_charset_is_406_not_500(live, header):
    site = live(EncodeRoot())
    r = raw_get(site, '/', headers={'Accept-Charset': header})
    # A malformed q counts as 0 (documented in httputil.AcceptElement.qvalue).
    assert r.status == 406
    assert b'Accept-Charset' in r.body


def test_encode_misspelt_argument_is_a_500(live):
    site = live(EncodeRoot(), config={'/': {'tools.encode.encodin': 'ascii'}})
    assert site.get('/').status_code == 500


def test_encode_add_charset_false(live):
    site = live(EncodeRoot())
    r = site.get('/no_charset')
    assert r.headers['Content-Type'] == 'text/plain'
    assert r.content == CREME.encode('utf-8')


def test_encode_keeps_the_charset_the_handler_declared(live):
    site = live(EncodeRoot())
    r = site.get('/declared', headers={'Accept-Charset': 'utf-8'})
    assert r.status_code == 200
    assert r.content == CREME.encode('latin-1')
    assert r.headers['Content-Type'] == 'text/plain;charset=iso-8859-1'


def test_encode_leaves_bytes_alone(live):
    site = live(EncodeRoot())
    r = site.get('/raw_bytes', headers={'Accept-Charset': 'iso-8859-1'})
    assert r.status_code == 200
    assert r.content == b'\xff\xfe already bytes'


def test_encode_streamed_body_is_encoded_chunk_by_chunk(live):
    site = live(EncodeRoot())
    r = raw_get(site, '/stream', headers={'Accept-Charset': 'iso-8859-1'})
    assert r.status == 200
    assert r.chunked
    assert r.body == ('caf\u00e9 ' + CREME).encode('latin-1')
    assert r.headers['Content-Type'].lower() == 'text/html;charset=iso-8859-1'


def test_encode_streamed_body_406_before_anything_is_sent(live):
    site = live(EncodeRoot())
    r = site.get('/stream', headers={'Accept-Charset': 'x-klingon'})
    assert r.status_code == 406


# ---------------------------------------------------------------------------
# decode


class DecodeRoot:
    @pyframe.expose
    def echo(self, q=''):
        return repr(q)


def test_decode_off_refuses_a_latin1_form(live):
    site = live(DecodeRoot())
    r = site.post('/echo', data=b'q=Cr%E8me',
                  headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status_code == 400


def test_decode_default_encoding_list_accepts_a_latin1_form(live):
    site = live(DecodeRoot(), config={'/': {
        'tools.decode.on': True,
        'tools.decode.default_encoding': ['utf-8', 'iso-8859-1']}})
    latin = site.post('/echo', data='q=Cr\u00e8me'.encode('latin-1'),
                      headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert latin.status_code == 200
    assert latin.text == repr('Cr\u00e8me')
    utf8 = site.post('/echo', data={'q': 'Cr\u00e8me \u2603'})
    assert utf8.text == repr('Cr\u00e8me \u2603')


def test_decode_forced_encoding_overrides_the_declared_charset(live):
    site = live(DecodeRoot(), config={'/': {'tools.decode.on': True,
                                            'tools.decode.encoding': 'iso-8859-1'}})
    r = site.post('/echo', data='q=Cr\u00e8me'.encode('utf-8'),
                  headers={'Content-Type': 'application/x-www-form-urlencoded;charset=utf-8'})
    assert r.status_code == 200
    assert r.text == repr('Cr\u00c3\u00a8me')


def test_decode_forced_encoding_that_fails_is_400(live):
    site = live(DecodeRoot(), config={'/': {'tools.decode.on': True,
                                            'tools.decode.encoding': 'ascii'}})
    r = site.post('/echo', data='q=Cr\u00e8me'.encode('utf-8'),
                  headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert r.status_code == 400


# ---------------------------------------------------------------------------
# gzip


class GzipRoot:
    @pyframe.expose
    def index(self):
        return TEXT

    @pyframe.expose
    @pyframe.tools.gzip(compress_level=1)
    def fast(self):
        return TEXT

    @pyframe.expose
    @pyframe.tools.gzip(compress_level=9)
    def small(self):
        return TEXT

    @pyframe.expose
    def data(self):
        pyframe.response.headers['Content-Type'] = 'application/json'
        return json.dumps({'text': TEXT})

    @pyframe.expose
    def vendor(self):
        pyframe.response.headers['Content-Type'] = 'application/vnd.x+json'
        return json.dumps({'text': TEXT})

    @pyframe.expose
    def encoded(self):
        pyframe.response.headers['Content-Type'] = 'text/plain'
        pyframe.response.headers['Content-Encoding'] = 'gzip'
        return gzip_module.compress(b'already compressed')

    @pyframe.expose
    def missing(self):
        raise pyframe.NotFound()


RELEASE = threading.Event()


class GzipStreamRoot:
    @pyframe.expose
    @pyframe.config(**{'response.stream': True})
    def stream(self):
        def generate():
            yield 'first part;'
            # The client must have seen the first part before the rest exists.
            RELEASE.wait(3)
            yield 'released' if RELEASE.is_set() else 'timeout'
        return generate()


GZIP_ON = {'/': {'tools.gzip.on': True}}


def test_gzip_compresses_when_accepted(live):
    site = live(GzipRoot(), config=GZIP_ON)
    r = site.get('/', headers={'Accept-Encoding': 'gzip'}, stream=True)
    body = r.raw.read()
    assert r.status_code == 200
    assert r.headers['Content-Encoding'] == 'gzip'
    assert r.headers['Vary'] == 'Accept-Encoding'
    assert body[:2] == b'\x1f\x8b'
    assert len(body) < len(TEXT)
    assert int(r.headers['Content-Length']) == len(body)
    assert gunzip(body) == TEXT.encode('utf-8')


def test_gzip_without_accept_encoding_sends_identity_with_vary(live):
    site = live(GzipRoot(), config=GZIP_ON)
    r = raw_get(site, '/')
    assert r.status == 200
    assert 'Content-Encoding' not in r.headers
    assert r.headers['Vary'] == 'Accept-Encoding'
    assert r.body == TEXT.encode('utf-8')


@pytest.mark.parametrize('accept_encoding, compressed', [
    ('gzip;q=0', False),
    ('deflate, br', False),
    ('x-gzip', True),
    ('*', True),
    ('identity;q=0.5, gzip', True),
    ('gzip;q=0.5, identity', False),
    ('br;q=1, gzip;q=0.3', True),
    ('*;q=0.2, identity;q=0.1', True),
])
def test_gzip_qvalues(live, accept_encoding, compressed):
    site = live(GzipRoot(), config=GZIP_ON)
    r = raw_get(site, '/', headers={'Accept-Encoding': accept_encoding})
    assert r.status == 200
    assert r.headers['Vary'] == 'Accept-Encoding'
    if compressed:
        assert r.headers.get('Content-Encoding') == 'gzip'
        assert gunzip(r.body) == TEXT.encode('utf-8')
    else:
        assert 'Content-Encoding' not in r.headers
        assert r.body == TEXT.encode('utf-8')


@pytest.mark.parametrize('accept_encoding', ['identity;q=0', 'br, identity;q=0', '*;q=0'])
def test_gzip_406_when_identity_and_gzip_are_refused(live, accept_encoding):
    site = live(GzipRoot(), config=GZIP_ON)
    r = raw_get(site, '/', headers={'Accept-Encoding': accept_encoding})
    assert r.status == 406
    assert 'Content-Encoding' not in r.headers


def test_gzip_error_page_is_sent_uncompressed_not_replaced_by_406(live):
    site = live(GzipRoot(), config=GZIP_ON)
    r = raw_get(site, '/missing', headers={'Accept-Encoding': 'br, identity;q=0'})
    assert r.status == 404
    assert 'Content-Encoding' not in r.headers


def test_gzip_compress_level_reaches_the_stream(live):
    site = live(GzipRoot(), config=GZIP_ON)
    fast = raw_get(site, '/fast', headers={'Accept-Encoding': 'gzip'})
    small = raw_get(site, '/small', headers={'Accept-Encoding': 'gzip'})
    # Byte 8 of a gzip header (XFL): 4 = fastest, 2 = maximum compression.
    assert fast.body[8] == 4
    assert small.body[8] == 2
    assert gunzip(fast.body) == gunzip(small.body) == TEXT.encode('utf-8')


def test_gzip_mime_types_default_leaves_json_alone(live):
    site = live(GzipRoot(), config=GZIP_ON)
    r = raw_get(site, '/data', headers={'Accept-Encoding': 'gzip'})
    assert 'Content-Encoding' not in r.headers
    assert 'Vary' not in r.headers
    assert json.loads(r.body) == {'text': TEXT}


def test_gzip_mime_types_option_with_suffix_pattern(live):
    site = live(GzipRoot(), config={'/': {'tools.gzip.on': True,
                                          'tools.gzip.mime_types': ['application/*+json']}})
    vendor = raw_get(site, '/vendor', headers={'Accept-Encoding': 'gzip'})
    assert vendor.headers['Content-Encoding'] == 'gzip'
    assert json.loads(gunzip(vendor.body)) == {'text': TEXT}
    html = raw_get(site, '/', headers={'Accept-Encoding': 'gzip'})
    assert 'Content-Encoding' not in html.headers


def test_gzip_does_not_compress_twice(live):
    site = live(GzipRoot(), config=GZIP_ON)
    r = raw_get(site, '/encoded', headers={'Accept-Encoding': 'gzip'})
    assert r.headers['Content-Encoding'] == 'gzip'
    assert gunzip(r.body) == b'already compressed'


def test_gzip_head_sends_headers_only_and_keeps_the_connection_usable(live):
    site = live(GzipRoot(), config=GZIP_ON)
    with site.raw() as conn:
        conn.request('HEAD', '/', headers={'Accept-Encoding': 'gzip'})
        head = conn.read_response('HEAD')
        conn.request('GET', '/', headers={'Accept-Encoding': 'gzip'})
        get = conn.read_response('GET')
    assert head.status == 200
    assert head.headers['Content-Encoding'] == 'gzip'
    assert head.headers['Vary'] == 'Accept-Encoding'
    assert head.body == b''
    # The stray body of the HEAD would have been read as the next status line.
    assert get.status == 200
    assert gunzip(get.body) == TEXT.encode('utf-8')
    if 'Content-Length' in head.headers:
        assert head.headers['Content-Length'] == get.headers['Content-Length']


@pytest.mark.parametrize('accept_encoding', ['gzip;q=x', 'gzip;q=2', 'gzip;q=-1', ';;,,'])
def test_gzip_malformed_accept_encoding_is_served_uncompressed(live, accept_encoding):
    site = live(GzipRoot(), config=GZIP_ON)
    r = raw_get(site, '/', headers={'Accept-Encoding': accept_encoding})
    assert r.status == 200
    assert 'Content-Encoding' not in r.headers
    assert r.body == TEXT.encode('utf-8')


def test_gzip_misspelt_argument_is_a_500(live):
    site = live(GzipRoot(), config={'/': {'tools.gzip.on': True, 'tools.gzip.compresslevel': 3}})
    assert raw_get(site, '/', headers={'Accept-Encoding': 'gzip'}).status == 500


ETAGS_GZIP = {'/': {'tools.gzip.on': True, 'tools.etags.on': True,
                    'tools.etags.autotags': True}}


def test_gzip_gives_the_compressed_variant_its_own_etag(live):
    site = live(GzipRoot(), config=ETAGS_GZIP)
    plain = raw_get(site, '/')
    zipped = raw_get(site, '/', headers={'Accept-Encoding': 'gzip'})
    assert zipped.headers['ETag'] == plain.headers['ETag'][:-1] + '-gzip"'
    revalidated = raw_get(site, '/', headers={'Accept-Encoding': 'gzip',
                                               'If-None-Match': zipped.headers['ETag']})
    assert revalidated.status == 304
    assert revalidated.body == b''


def test_gzip_304_repeats_the_etag_of_the_compressed_variant(live):
    site = live(GzipRoot(), config=ETAGS_GZIP)
    plain = raw_get(site, '/')
    zipped = raw_get(site, '/', headers={'Accept-Encoding': 'gzip'})
    revalidated = raw_get(site, '/', headers={'Accept-Encoding': 'gzip',
                                               'If-None-Match': zipped.headers['ETag']})
    assert revalidated.status == 304
    assert revalidated.headers['ETag'] == zipped.headers['ETag']
    assert revalidated.headers['Vary'] == 'Accept-Encoding'
    # Revalidating the plain copy still gets the plain tag.
    again = raw_get(site, '/', headers={'If-None-Match': plain.headers['ETag']})
    assert again.status == 304
    assert again.headers['ETag'] == plain.headers['ETag']


def test_gzip_head_of_a_streamed_response(live):
    RELEASE.set()
    site = live(GzipStreamRoot(), config=GZIP_ON)
    r = raw_get(site, '/stream', method='HEAD', headers={'Accept-Encoding': 'gzip'})
    assert r.status == 200
    assert r.headers['Content-Encoding'] == 'gzip'
    assert r.headers['Vary'] == 'Accept-Encoding'
    assert r.body == b''


def test_gzip_streamed_response_is_flushed_chunk_by_chunk(live):
    RELEASE.clear()
    site = live(GzipStreamRoot(), config=GZIP_ON)
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    with site.raw() as conn:
        conn.request('GET', '/stream', headers={'Accept-Encoding': 'gzip'})
        head = conn.read_head()
        assert head.status == 200
        assert head.headers['Content-Encoding'] == 'gzip'
        assert 'chunked' in head.headers['Transfer-Encoding']
        seen = b''
        while b'first part;' not in seen:
            chunk = conn.read_chunk()
            assert chunk is not None, 'stream ended before the first part arrived'
            seen += decompressor.decompress(chunk)
        assert seen == b'first part;'
        RELEASE.set()
        while (chunk := conn.read_chunk()) is not None:
            seen += decompressor.decompress(chunk)
    assert seen + decompressor.flush() == b'first part;released'
    assert decompressor.eof


# ---------------------------------------------------------------------------
# json_in / json_out


def sorted_handler(*args, **kwargs):
    value = pyframe.request._json_inner_handler(*args, **kwargs)
    return json.dumps(value, sort_keys=True, indent=1).encode('utf-8')


class JsonRoot:
    @pyframe.expose
    @pyframe.tools.json_in()
    @pyframe.tools.json_out()
    def echo(self):
        return {'got': getattr(pyframe.request, 'json', 'absent')}

    @pyframe.expose
    @pyframe.tools.json_in(force=False)
    def loose(self, **params):
        return repr((getattr(pyframe.request, 'json', 'absent'), params))

    @pyframe.expose
    @pyframe.tools.json_in(content_type='application/vnd.x+json')
    def vendor(self):
        return repr(pyframe.request.json)

    @pyframe.expose
    @pyframe.tools.json_out()
    def data(self):
        return {'b': 1, 'a': ['x', None, True, 'caf\u00e9']}

    @pyframe.expose
    @pyframe.tools.json_out(handler=sorted_handler)
    def pretty(self):
        return {'b': 1, 'a': 2}

    @pyframe.expose
    @pyframe.tools.json_out(content_type='application/vnd.x+json')
    def typed(self):
        return [1, 2]

    @pyframe.expose
    @pyframe.tools.json_out()
    def broken(self):
        return {'when': object()}


def test_json_in_parses_the_body(live):
    site = live(JsonRoot())
    r = site.post('/echo', json={'numbers': [1, 2, 3], 'name': 'caf\u00e9'})
    assert r.status_code == 200
    assert r.json() == {'got': {'numbers': [1, 2, 3], 'name': 'caf\u00e9'}}


def test_json_in_without_a_body_sets_no_json(live):
    site = live(JsonRoot())
    assert site.get('/echo').json() == {'got': 'absent'}


def test_json_in_declared_charset(live):
    site = live(JsonRoot())
    r = site.post('/echo', data='{"name": "caf\u00e9"}'.encode('utf-16'),
                  headers={'Content-Type': 'application/json; charset=utf-16'})
    assert r.status_code == 200
    assert r.json() == {'got': {'name': 'caf\u00e9'}}


def test_json_in_chunked_body(live):
    site = live(JsonRoot())
    r = raw_get(site, '/echo', method='POST',
                headers={'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked'},
                body=chunked(b'{"a": ', b'[1, 2', b', 3]}'))
    assert r.status == 200
    assert json.loads(r.body) == {'got': {'a': [1, 2, 3]}}


@pytest.mark.parametrize('body', [b'{"a": 1', b'not json', b'', b'{"a": 1}}'])
def test_json_in_bad_json_is_400(live, body):
    site = live(JsonRoot())
    r = site.post('/echo', data=body, headers={'Content-Type': 'application/json'})
    assert r.status_code == 400
    assert 'Invalid JSON document' in r.text


def test_json_in_undecodable_bytes_is_400(live):
    site = live(JsonRoot())
    r = site.post('/echo', data=b'{"a": "\xff\xfe"}', headers={'Content-Type': 'application/json'})
    assert r.status_code == 400
    assert 'could not be decoded' in r.text


@pytest.mark.parametrize('body', [b'NaN', b'[Infinity]', b'{"a": -Infinity}'])
def test_json_in_non_standard_numbers_are_400(live, body):
    site = live(JsonRoot())
    r = site.post('/echo', data=body, headers={'Content-Type': 'application/json'})
    assert r.status_code == 400


def test_json_in_unknown_declared_charset_falls_back_to_utf8(live):
    site = live(JsonRoot())
    r = site.post('/echo', data='["caf\u00e9"]'.encode('utf-8'),
                  headers={'Content-Type': 'application/json; charset=x-klingon'})
    assert r.status_code == 200
    assert r.json() == {'got': ['caf\u00e9']}


def test_json_in_body_without_content_type_is_415(live):
    site = live(JsonRoot())
    r = raw_get(site, '/echo', method='POST', headers={}, body=b'[1]')
    assert r.status == 415


def test_json_in_media_type_is_case_insensitive(live):
    site = live(JsonRoot())
    r = site.post('/echo', data=b'[1]', headers={'Content-Type': 'Application/JSON; charset=UTF-8'})
    assert r.json() == {'got': [1]}


def test_json_in_with_expect_100_continue(live):
    site = live(JsonRoot())
    with site.raw() as conn:
        conn.request('POST', '/echo', headers={'Content-Type': 'application/json',
                                               'Content-Length': '5', 'Expect': '100-continue'})
        assert conn.read_head().status == 100
        conn.send(b'[1,2]')
        r = conn.read_response('POST')
    assert json.loads(r.body) == {'got': [1, 2]}


@pytest.mark.parametrize('content_type', ['text/plain', 'application/x-www-form-urlencoded'])
def test_json_in_wrong_content_type_is_415(live, content_type):
    site = live(JsonRoot())
    r = site.post('/echo', data=b'{"a": 1}', headers={'Content-Type': content_type})
    assert r.status_code == 415
    assert 'application/json' in r.text


def test_json_in_force_false_processes_forms_as_usual(live):
    site = live(JsonRoot())
    form = site.post('/loose', data={'x': '1'})
    assert form.text == repr(('absent', {'x': '1'}))
    js = site.post('/loose', json=[1])
    assert js.text == repr(([1], {}))


def test_json_in_custom_content_type(live):
    site = live(JsonRoot())
    ok = site.post('/vendor', data=b'{"v": 1}', headers={'Content-Type': 'application/vnd.x+json'})
    assert ok.status_code == 200
    assert ok.text == repr({'v': 1})
    refused = site.post('/vendor', json={'v': 1})
    assert refused.status_code == 415


def test_json_in_body_without_length_is_411(live):
    site = live(JsonRoot())
    with site.raw() as conn:
        conn.request('POST', '/echo', headers=[
            ('Host', f'127.0.0.1:{site.port}'), ('Content-Type', 'application/json')])
        r = conn.read_response('POST')
    assert r.status == 411


def test_json_in_body_over_maxbytes_is_413(live):
    site = live(JsonRoot(), config={'/echo': {'request.body.maxbytes': 1000}})
    small = site.post('/echo', json={'a': 'x' * 100})
    assert small.status_code == 200
    huge = json.dumps({'a': 'x' * 5000}).encode()
    r = site.post('/echo', data=huge, headers={'Content-Type': 'application/json'})
    assert r.status_code == 413


def test_json_in_chunked_body_over_maxbytes_is_413(live):
    site = live(JsonRoot(), config={'/echo': {'request.body.maxbytes': 1000}})
    r = raw_get(site, '/echo', method='POST',
                headers={'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked'},
                body=chunked(b'{"a": "', b'x' * 3000, b'"}'))
    assert r.status == 413


def test_json_in_body_over_the_server_limit_is_413(live):
    site = live(JsonRoot(), max_request_body_size=64)
    r = site.post('/echo', data=json.dumps({'a': 'x' * 500}).encode(),
                  headers={'Content-Type': 'application/json'})
    assert r.status_code == 413


def test_json_out_serializes_and_sets_the_type(live):
    site = live(JsonRoot())
    r = site.get('/data')
    assert r.status_code == 200
    assert r.headers['Content-Type'] == 'application/json'
    assert r.json() == {'b': 1, 'a': ['x', None, True, 'caf\u00e9']}


def test_json_out_custom_handler(live):
    site = live(JsonRoot())
    r = site.get('/pretty')
    assert r.content == b'{\n "a": 2,\n "b": 1\n}'
    assert r.headers['Content-Type'] == 'application/json'


def test_json_out_custom_content_type(live):
    site = live(JsonRoot())
    r = site.get('/typed')
    assert r.headers['Content-Type'] == 'application/vnd.x+json'
    assert r.json() == [1, 2]


def test_json_out_unserializable_value_is_500(live):
    site = live(JsonRoot())
    assert site.get('/broken').status_code == 500


def test_json_out_with_gzip(live):
    site = live(JsonRoot(), config={'/': {'tools.gzip.on': True,
                                          'tools.gzip.mime_types': ['application/json']}})
    r = raw_get(site, '/data', headers={'Accept-Encoding': 'gzip'})
    assert r.headers['Content-Encoding'] == 'gzip'
    assert json.loads(gunzip(r.body)) == {'b': 1, 'a': ['x', None, True, 'caf\u00e9']}


# ---------------------------------------------------------------------------
# accept


class AcceptRoot:
    @pyframe.expose
    @pyframe.tools.accept(media='text/html')
    def page(self):
        return '<p>html</p>'

    @pyframe.expose
    def feed(self):
        chosen = cptools.accept(['application/atom+xml', 'text/html'])
        pyframe.response.headers['Content-Type'] = chosen
        return chosen


@pytest.mark.parametrize('accept, status', [
    (None, 200),
    ('text/html', 200),
    ('*/*', 200),
    ('text/*', 200),
    ('application/json', 406),
    ('image/*', 406),
    ('text/html;q=0, */*', 406),
    ('text/*;q=0, text/html;q=0.1', 200),
])
def test_accept_tool(live, accept, status):
    site = live(AcceptRoot())
    r = site.get('/page', headers={'Accept': accept} if accept else {})
    assert r.status_code == status
    if status == 406:
        assert 'text/html' in r.text
    else:
        assert r.text == '<p>html</p>'


@pytest.mark.parametrize('accept', ['text/html;q=x', 'text/html;q=2', ';;', 'text'])
def test_accept_malformed_header_is_406_not_500(live, accept):
    site = live(AcceptRoot())
    r = raw_get(site, '/page', headers={'Accept': accept})
    # A malformed q counts as 0 (documented in httputil.AcceptElement.qvalue).
    assert r.status == 406


def test_accept_via_config(live):
    site = live(AcceptRoot(), config={'/feed': {'tools.accept.on': True,
                                               'tools.accept.media': ['text/plain']}})
    assert site.get('/feed', headers={'Accept': 'text/html'}).status_code == 406
    assert site.get('/feed', headers={'Accept': 'text/plain'}).status_code == 406  # handler


@pytest.mark.parametrize('accept, chosen', [
    (None, 'application/atom+xml'),
    ('*/*', 'application/atom+xml'),
    ('text/html', 'text/html'),
    ('application/*;q=0.5, text/html', 'text/html'),
    ('text/html;q=0.4, application/atom+xml;q=0.8', 'application/atom+xml'),
])
def test_accept_function_picks_the_preferred_type(live, accept, chosen):
    site = live(AcceptRoot())
    r = site.get('/feed', headers={'Accept': accept} if accept else {})
    assert r.status_code == 200
    assert r.text == chosen
    assert r.headers['Content-Type'].startswith(chosen)


# ---------------------------------------------------------------------------
# allow


class AllowRoot:
    @pyframe.expose
    @pyframe.tools.allow()
    def default(self, **kw):
        return 'default'

    @pyframe.expose
    @pyframe.tools.allow(methods=['get', 'POST'])
    def comment(self, text=''):
        return 'thanks ' + text

    @pyframe.expose
    def configured(self):
        return 'configured'


def test_allow_default_get_and_head(live):
    site = live(AllowRoot())
    r = site.get('/default')
    assert r.status_code == 200
    assert r.headers['Allow'] == 'GET, HEAD'
    assert site.head('/default').status_code == 200
    refused = site.post('/default', data={'a': '1'})
    assert refused.status_code == 405
    assert refused.headers['Allow'] == 'GET, HEAD'


def test_allow_methods_option(live):
    site = live(AllowRoot())
    ok = site.post('/comment', data={'text': 'hi'})
    assert ok.status_code == 200
    assert ok.text == 'thanks hi'
    assert ok.headers['Allow'] == 'GET, POST, HEAD'
    for method in ('PUT', 'DELETE', 'PATCH'):
        r = site.request(method, '/comment')
        assert r.status_code == 405, method
        assert r.headers['Allow'] == 'GET, POST, HEAD'


def test_allow_via_config_single_method(live):
    site = live(AllowRoot(), config={'/configured': {'tools.allow.on': True,
                                                    'tools.allow.methods': 'POST'}})
    assert site.post('/configured').status_code == 200
    r = site.get('/configured')
    assert r.status_code == 405
    assert r.headers['Allow'] == 'POST'


# ---------------------------------------------------------------------------
# referer


class RefererRoot:
    @pyframe.expose
    def index(self):
        return 'ok'


REFERER = r'https?://(www\.)?example\.com/'


def test_referer_whitelist(live):
    site = live(RefererRoot(), config={'/': {'tools.referer.on': True,
                                             'tools.referer.pattern': REFERER}})
    assert site.get('/', headers={'Referer': 'https://www.example.com/page'}).text == 'ok'
    bad = site.get('/', headers={'Referer': 'https://evil.test/?https://example.com/'})
    assert bad.status_code == 403
    assert 'Forbidden Referer header.' in bad.text
    assert site.get('/').status_code == 403  # missing


def test_referer_without_its_required_pattern_is_a_500(live):
    site = live(RefererRoot(), config={'/': {'tools.referer.on': True}})
    assert site.get('/', headers={'Referer': 'https://example.com/'}).status_code == 500


def test_referer_accept_missing(live):
    site = live(RefererRoot(), config={'/': {'tools.referer.on': True,
                                             'tools.referer.pattern': REFERER,
                                             'tools.referer.accept_missing': True}})
    assert site.get('/').status_code == 200
    assert site.get('/', headers={'Referer': 'http://evil.test/'}).status_code == 403


def test_referer_blacklist_with_custom_error(live):
    site = live(RefererRoot(), config={'/': {'tools.referer.on': True,
                                             'tools.referer.pattern': r'http://evil\.test',
                                             'tools.referer.accept': False,
                                             'tools.referer.error': 418,
                                             'tools.referer.message': 'No hotlinking'}})
    assert site.get('/', headers={'Referer': 'https://example.com/'}).status_code == 200
    r = site.get('/', headers={'Referer': 'http://evil.test/x'})
    assert r.status_code == 418
    assert 'No hotlinking' in r.text


# ---------------------------------------------------------------------------
# proxy


class ProxyRoot:
    @pyframe.expose
    def index(self):
        request = pyframe.request
        return json.dumps({'base': request.base, 'ip': request.remote.ip,
                           'url': pyframe.url('/x')})

    @pyframe.expose
    def go(self):
        raise pyframe.HTTPRedirect('/target')

    class docs:
        @pyframe.expose
        def index(self):
            return 'docs'


PROXY_ON = {'/': {'tools.proxy.on': True}}


def test_proxy_without_forwarded_headers_keeps_the_direct_view(live):
    site = live(ProxyRoot(), config=PROXY_ON)
    assert site.get('/').json() == {'base': site.base, 'ip': '127.0.0.1',
                                    'url': site.base + '/x'}


def test_proxy_forwarded_headers_change_base_and_remote(live):
    site = live(ProxyRoot(), config=PROXY_ON)
    r = site.get('/', headers={'X-Forwarded-Host': 'www.example.com, proxy.internal',
                               'X-Forwarded-Proto': 'https',
                               'X-Forwarded-For': '203.0.113.7, 10.0.0.1'})
    assert r.json() == {'base': 'https://www.example.com', 'ip': '203.0.113.7',
                        'url': 'https://www.example.com/x'}


def test_proxy_forwarded_host_with_port_and_upper_case_proto(live):
    site = live(ProxyRoot(), config=PROXY_ON)
    r = site.get('/', headers={'X-Forwarded-Host': 'example.com:8443',
                               'X-Forwarded-Proto': 'HTTPS, http'})
    assert r.json()['base'] == 'https://example.com:8443'


def test_proxy_repeated_forwarded_for_lines(live):
    # X-Forwarded-For is not a header the server joins: its last line is kept.
    site = live(ProxyRoot(), config=PROXY_ON)
    with site.raw() as conn:
        conn.request('GET', '/', headers=[('Host', f'127.0.0.1:{site.port}'),
                                          ('X-Forwarded-For', '198.51.100.4'),
                                          ('X-Forwarded-For', '10.0.0.1')])
        r = conn.read_response()
    assert json.loads(r.body)['ip'] == '10.0.0.1'


def test_proxy_malformed_forwarded_host_is_ignored(live):
    site = live(ProxyRoot(), config=PROXY_ON)
    r = raw_get(site, '/', headers={'X-Forwarded-Host': 'evil.test/p?q#f'})
    assert json.loads(r.body)['base'] == site.base


def test_proxy_ipv6_client(live):
    site = live(ProxyRoot(), config=PROXY_ON)
    r = site.get('/', headers={'X-Forwarded-For': '2001:db8::1'})
    assert r.json()['ip'] == '2001:db8::1'


@pytest.mark.parametrize('forwarded_for', ['not-an-ip', '999.1.1.1', '',
                                           '<script>', '1.2.3.4:80', ', 1.2.3.4'])
def test_proxy_malformed_forwarded_for_keeps_the_peer(live, forwarded_for):
    site = live(ProxyRoot(), config=PROXY_ON)
    r = raw_get(site, '/', headers={'X-Forwarded-For': forwarded_for})
    assert r.status == 200
    assert json.loads(r.body)['ip'] == '127.0.0.1'


def test_proxy_malformed_forwarded_proto_is_ignored(live):
    site = live(ProxyRoot(), config=PROXY_ON)
    r = site.get('/', headers={'X-Forwarded-Proto': 'ht tp://', 'X-Forwarded-Host': 'a.example'})
    assert r.json()['base'] == 'http://a.example'


def test_proxy_redirects_use_the_public_url(live):
    site = live(ProxyRoot(), config=PROXY_ON)
    headers = {'X-Forwarded-Host': 'www.example.com', 'X-Forwarded-Proto': 'https'}
    r = site.get('/go', headers=headers)
    assert r.status_code in (302, 303)
    assert r.headers['Location'] == 'https://www.example.com/target'
    slash = site.get('/docs', headers=headers)
    assert slash.status_code == 301
    assert slash.headers['Location'] == 'https://www.example.com/docs/'


def test_proxy_fixed_base_and_other_remote_header(live):
    site = live(ProxyRoot(), config={'/': {'tools.proxy.on': True,
                                           'tools.proxy.base': 'https://www.example.com',
                                           'tools.proxy.local': '',
                                           'tools.proxy.remote': 'X-Real-IP'}})
    r = site.get('/', headers={'X-Forwarded-Host': 'forged.test',
                               'X-Forwarded-For': '198.51.100.1',
                               'X-Real-IP': '192.0.2.5'})
    assert r.json() == {'base': 'https://www.example.com', 'ip': '192.0.2.5',
                        'url': 'https://www.example.com/x'}


def test_proxy_remote_disabled_keeps_the_peer(live):
    site = live(ProxyRoot(), config={'/': {'tools.proxy.on': True, 'tools.proxy.remote': ''}})
    r = site.get('/', headers={'X-Forwarded-For': '203.0.113.7'})
    assert r.json()['ip'] == '127.0.0.1'


def test_proxy_off_ignores_forwarded_headers(live):
    site = live(ProxyRoot())
    r = site.get('/', headers={'X-Forwarded-Host': 'www.example.com',
                               'X-Forwarded-For': '203.0.113.7'})
    assert r.json() == {'base': site.base, 'ip': '127.0.0.1', 'url': site.base + '/x'}


# ---------------------------------------------------------------------------
# response_headers


class HeadersRoot:
    @pyframe.expose
    def index(self):
        return 'hello'

    @pyframe.expose
    def override(self):
        pyframe.response.headers['X-Frame-Options'] = 'SAMEORIGIN'
        return 'overridden'

    @pyframe.expose
    def missing(self):
        raise pyframe.HTTPError(404)

    @pyframe.expose
    @pyframe.tools.response_headers(headers=[('Cache-Control', 'no-store')])
    def decorated(self):
        return 'decorated'


SECURITY = {'/': {'tools.response_headers.on': True,
                  'tools.response_headers.headers': [('X-Frame-Options', 'DENY'),
                                                     ('Referrer-Policy', 'same-origin')]}}


def test_response_headers_are_sent(live):
    site = live(HeadersRoot(), config=SECURITY)
    r = site.get('/')
    assert r.headers['X-Frame-Options'] == 'DENY'
    assert r.headers['Referrer-Policy'] == 'same-origin'
    head = site.head('/')
    assert head.headers['X-Frame-Options'] == 'DENY'


def test_response_headers_handler_overrides(live):
    site = live(HeadersRoot(), config=SECURITY)
    r = site.get('/override')
    assert r.headers['X-Frame-Options'] == 'SAMEORIGIN'
    assert r.headers['Referrer-Policy'] == 'same-origin'


def test_response_headers_on_error_responses(live):
    site = live(HeadersRoot(), config=SECURITY)
    r = site.get('/missing')
    assert r.status_code == 404
    assert r.headers['X-Frame-Options'] == 'DENY'


def test_response_headers_decorator_and_off_elsewhere(live):
    site = live(HeadersRoot())
    assert site.get('/decorated').headers['Cache-Control'] == 'no-store'
    assert 'X-Frame-Options' not in site.get('/').headers


# ---------------------------------------------------------------------------
# trailing_slash


class Docs:
    @pyframe.expose
    def index(self):
        return 'docs index'

    @pyframe.expose
    def intro(self):
        return 'intro'


class SlashRoot:
    docs = Docs()

    @pyframe.expose
    def index(self):
        return 'root'


def test_trailing_slash_missing_redirects_with_host_and_port(live):
    site = live(SlashRoot())
    r = site.get('/docs', params={'a': '1', 'b': 'x y'})
    assert r.status_code == 301
    assert r.headers['Location'] == f'http://127.0.0.1:{site.port}/docs/?a=1&b=x+y'
    followed = site.get('/docs', allow_redirects=True)
    assert followed.text == 'docs index'


def test_trailing_slash_location_uses_the_host_header(live):
    site = live(SlashRoot())
    r = raw_get(site, '/docs', headers={'Host': 'www.example.org:8080'})
    assert r.status == 301
    assert r.headers['Location'] == 'http://www.example.org:8080/docs/'


def test_trailing_slash_location_with_an_ipv6_host(live):
    site = live(SlashRoot())
    r = raw_get(site, '/docs', headers={'Host': '[::1]:8080'})
    assert r.headers['Location'] == 'http://[::1]:8080/docs/'


def test_trailing_slash_http10_without_host_keeps_the_port(live):
    site = live(SlashRoot())
    with site.raw() as conn:
        conn.request('GET', '/docs', headers=[], protocol='HTTP/1.0')
        r = conn.read_response()
    assert r.status == 301
    assert r.headers['Location'] == f'http://127.0.0.1:{site.port}/docs/'


@pytest.mark.parametrize('hosts', [
    pytest.param(['a.example', 'b.example'], marks=pytest.mark.xfail(
        strict=True, reason='cheroot keeps only the last of repeated Host headers, so the '
        'application cannot see the duplicate (RFC 9112 3.2 wants 400)')),
    ['bad host/x'],
])
def test_trailing_slash_bad_host_header_is_400(live, hosts):
    site = live(SlashRoot())
    with site.raw() as conn:
        conn.request('GET', '/docs', headers=[('Host', host) for host in hosts])
        r = conn.read_response()
    assert r.status == 400


def test_trailing_slash_under_a_script_name(live):
    site = live(SlashRoot(), '/app')
    r = site.get('/app/docs')
    assert r.status_code == 301
    assert r.headers['Location'] == f'http://127.0.0.1:{site.port}/app/docs/'


def test_trailing_slash_extra_is_off_by_default(live):
    site = live(SlashRoot())
    r = site.get('/docs/intro/')
    assert r.status_code == 200
    assert r.text == 'intro'


def test_trailing_slash_extra_and_status(live):
    site = live(SlashRoot(), config={'/docs': {'tools.trailing_slash.extra': True,
                                               'tools.trailing_slash.status': 308}})
    extra = site.post('/docs/intro/?q=1')
    assert extra.status_code == 308
    assert extra.headers['Location'] == f'http://127.0.0.1:{site.port}/docs/intro?q=1'
    missing = site.get('/docs')
    assert missing.status_code == 308
    assert missing.headers['Location'] == f'http://127.0.0.1:{site.port}/docs/'
    assert site.get('/docs/intro').text == 'intro'
    assert site.get('/docs/').text == 'docs index'


def test_trailing_slash_missing_false_serves_the_index(live):
    site = live(SlashRoot(), config={'/docs': {'tools.trailing_slash.missing': False}})
    r = site.get('/docs')
    assert r.status_code == 200
    assert r.text == 'docs index'


def test_trailing_slash_off(live):
    site = live(SlashRoot(), config={'/': {'tools.trailing_slash.on': False}})
    assert site.get('/docs').status_code == 200
