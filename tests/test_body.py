"""Request entity processing in-process: multipart parsing, parts, charsets,
custom processors and malformed bodies."""

from __future__ import annotations

import io
import json

import pytest

import pyframe
from pyframe.body import Part, RequestBody, process_multipart
from pyframe.errors import HTTPError
from pyframe.lib.httputil import HeaderMap
from pyframe.tree import Application
from support import wsgi_get

B = 'XyZzY'


def multipart(*parts: tuple[str, bytes], boundary: str = B, end: bool = True) -> bytes:
    """A multipart body from (head text, content) pairs."""
    out = b''
    for head, content in parts:
        head = f'{head}\r\n' if head else ''
        out += f'--{boundary}\r\n{head}\r\n'.encode('utf-8') + content + b'\r\n'
    if end:
        out += f'--{boundary}--\r\n'.encode()
    return out


def field(name: str, value: bytes, extra: str = '') -> tuple[str, bytes]:
    return f'Content-Disposition: form-data; name="{name}"{extra}', value


def upload(name: str, filename: str, content: bytes, ctype: str = 'application/octet-stream'):
    return (f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            f'Content-Type: {ctype}'), content


def describe(value):
    if isinstance(value, list):
        return [describe(v) for v in value]
    if isinstance(value, Part):
        return {'filename': value.filename, 'type': str(value.content_type),
                'data': value.file.read().decode('latin-1'), 'length': value.length}
    return value


class Root:
    @pyframe.expose
    def form(self, **params):
        return json.dumps({key: describe(value) for key, value in params.items()})

    @pyframe.expose
    def raw(self, **params):
        body = pyframe.request.body
        return json.dumps({'params': params, 'data': body.read().decode('latin-1')})

    @pyframe.expose
    def lines(self):
        body = pyframe.request.body
        first = body.readline()
        return json.dumps([first.decode(), [line.decode() for line in body.readlines()]])

    @pyframe.expose
    def custom(self, **params):
        return json.dumps({'params': params, 'seen': getattr(pyframe.request, 'seen', None)})


def upper_processor(entity) -> None:
    pyframe.request.seen = entity.fp.read().decode('ascii').upper()


def app(config=None):
    conf = {'/': {}, '/custom': {'request.body.processors': {'text/plain': upper_processor}}}
    conf['/'].update(config or {})
    return Application(Root(), '', conf)


def post(path, body, ctype=f'multipart/form-data; boundary={B}', config=None, headers=None):
    all_headers = {'Content-Type': ctype}
    all_headers.update(headers or {})
    status, response_headers, content = wsgi_get(app(config), path, method='POST',
                                                  headers=all_headers, body=body)
    return int(status.split()[0]), content


def test_text_fields_and_a_file():
    body = multipart(field('a', b'1'), field('b', 'héllo'.encode()),
                     upload('f', 'x.txt', b'file\r\ndata', 'text/plain'))
    status, content = post('/form', body)
    assert status == 200, content
    assert json.loads(content) == {
        'a': '1', 'b': 'héllo',
        'f': {'filename': 'x.txt', 'type': 'text/plain', 'data': 'file\r\ndata', 'length': 10}}


def test_repeated_names_give_lists_and_merge_with_the_query_string():
    body = multipart(field('a', b'1'), field('a', b'2'), upload('f', 'one', b'1'),
                     upload('f', 'two', b'22'))
    status, response_headers, content = wsgi_get(
        app(), '/form', query='a=0', method='POST',
        headers={'Content-Type': f'multipart/form-data; boundary={B}'}, body=body)
    result = json.loads(content)
    assert result['a'] == ['0', '1', '2']
    assert [f['filename'] for f in result['f']] == ['one', 'two']
    assert [f['data'] for f in result['f']] == ['1', '22']


@pytest.mark.parametrize('content', [b'', b'x', b'\r', b'\n', b'--', b'\r\n--' + B.encode() + b'x',
                                     bytes(range(256)) * 20])
def test_file_content_is_exact(content):
    status, body = post('/form', multipart(upload('f', 'f.bin', content)))
    assert status == 200, body
    assert json.loads(body)['f']['data'] == content.decode('latin-1')


def test_bare_lf_line_endings_and_preamble_and_epilogue():
    body = (b'preamble\n--' + B.encode() + b'\nContent-Disposition: form-data; name="a"\n\n'
            b'value\n--' + B.encode() + b'--\nepilogue')
    status, content = post('/form', body)
    assert status == 200, content
    assert json.loads(content) == {'a': 'value'}


def test_boundary_line_may_carry_padding():
    body = (f'--{B}  \r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--{B}--').encode()
    status, content = post('/form', body)
    assert json.loads(content) == {'a': 'v'}


def test_filename_star_and_raw_utf8_filenames():
    body = multipart(
        ('Content-Disposition: form-data; name="f"; filename="fallback.txt"; '
         "filename*=UTF-8''caf%C3%A9%20%E2%82%AC.txt", b'x'),
        upload('g', 'naïve;, "q".txt'.replace('"', '%22'), b'y'))
    status, content = post('/form', body)
    result = json.loads(content)
    assert result['f']['filename'] == 'café €.txt'
    assert result['g']['filename'] == 'naïve;, %22q%22.txt'


def test_text_part_charset_from_its_content_type():
    body = multipart(field('a', 'é'.encode('latin-1'), '\r\nContent-Type: text/plain; charset=latin-1'))
    assert json.loads(post('/form', body)[1]) == {'a': 'é'}


def test_text_part_charset_from_the_charset_field():
    body = multipart(field('a', 'é'.encode('cp1252')), field('_charset_', b'windows-1252'))
    assert json.loads(post('/form', body)[1])['a'] == 'é'


def test_undecodable_text_part_is_a_400():
    status, content = post('/form', multipart(field('a', b'\xff\xfe\xfa')))
    assert status == 400
    assert b'could not be decoded' in content


def test_attempt_charsets_reach_the_parts():
    body = multipart(field('a', b'\xe9'))
    status, content = post('/form', body, config={'request.body.attempt_charsets': ['utf-8', 'latin-1']})
    assert json.loads(content) == {'a': 'é'}


def test_large_text_field_spools_to_a_file_and_is_decoded():
    text = 'ü' * 5000
    status, content = post('/form', multipart(field('a', text.encode())))
    assert json.loads(content) == {'a': text}


def test_nested_multipart_mixed():
    inner = multipart(('Content-Disposition: file; filename="1.txt"\r\nContent-Type: text/plain', b'one'),
                      ('Content-Disposition: file; filename="2.txt"', b'two'), boundary='inner')
    body = multipart(field('t', b'x'),
                     ('Content-Disposition: form-data; name="files"\r\n'
                      'Content-Type: multipart/mixed; boundary=inner', inner))
    status, content = post('/form', body)
    assert status == 200, content
    result = json.loads(content)
    assert result['t'] == 'x'
    assert [(f['filename'], f['data']) for f in result['files']] == [('1.txt', 'one'), ('2.txt', 'two')]


def test_other_multipart_types_give_parts_without_params():
    body = multipart(('Content-Type: text/plain', b'first'), ('', b'second'))
    headers = HeaderMap({'Content-Type': f'multipart/related; boundary={B}',
                         'Content-Length': str(len(body))})
    entity = RequestBody(io.BytesIO(body), headers)
    entity.process()
    assert entity.params == {}
    assert [p.value for p in entity.parts] == ['first', 'second']
    assert [p.name for p in entity.parts] == [None, None]
    assert entity.parts[0].read() == b'first'


def test_part_api():
    body = multipart(upload('f', 'a.txt', b'line1\nline2\n', 'text/plain; charset=utf-8'))
    headers = HeaderMap({'Content-Type': f'multipart/form-data; boundary={B}',
                         'Content-Length': str(len(body))})
    entity = RequestBody(io.BytesIO(body), headers)
    entity.process()
    part = entity.params['f']
    assert part is entity.parts[0]
    assert (part.name, part.filename, part.content_type.value) == ('f', 'a.txt', 'text/plain')
    assert part.value == b'line1\nline2\n'
    assert part.fullvalue() == 'line1\nline2\n'
    assert part.readline() == b'line1\n'
    assert part.readlines() == [b'line2\n']
    assert part.length == 12
    assert 'a.txt' in repr(part)


def test_small_text_parts_stay_in_memory():
    body = multipart(field('a', b'short'), field('b', b'x' * 2000))
    headers = HeaderMap({'Content-Type': f'multipart/form-data; boundary={B}',
                         'Content-Length': str(len(body))})
    entity = RequestBody(io.BytesIO(body), headers)
    entity.process()
    assert entity.parts[0].file is None
    assert entity.parts[1].file is not None
    assert entity.params['b'] == 'x' * 2000


def test_make_file_can_be_overridden(tmp_path):
    made = []

    class MyPart(Part):
        def make_file(self):
            handle = open(tmp_path / f'part{len(made)}', 'w+b')
            made.append(handle)
            return handle

    body = multipart(upload('f', 'a', b'data'))
    headers = HeaderMap({'Content-Type': f'multipart/form-data; boundary={B}',
                         'Content-Length': str(len(body))})
    entity = RequestBody(io.BytesIO(body), headers)
    entity.part_class = MyPart
    entity.process()
    assert entity.params['f'].file is made[0]
    assert (tmp_path / 'part0').read_bytes() == b'data'
    made[0].close()


@pytest.mark.parametrize('ctype, body', [
    ('multipart/form-data', multipart(field('a', b'1'))),
    ('multipart/form-data; boundary=', multipart(field('a', b'1'))),
    ('multipart/form-data; boundary=other', multipart(field('a', b'1'))),
    (f'multipart/form-data; boundary={B}', b''),
    (f'multipart/form-data; boundary={B}', multipart(field('a', b'1'), end=False)),
    (f'multipart/form-data; boundary={B}', multipart(field('a', b'1'))[:-12]),
    (f'multipart/form-data; boundary={B}', f'--{B}\r\nContent-Disposition: form-data'.encode()),
    (f'multipart/form-data; boundary={B}', f'--{B}\r\nno colon here\r\n\r\nx\r\n--{B}--'.encode()),
    (f'multipart/form-data; boundary={B}', f'--{B}\r\n\r\nno headers\r\n--{B}--'.encode()),
    (f'multipart/form-data; boundary={B}', multipart(('Content-Disposition: form-data', b'no name'))),
    (f'multipart/form-data; boundary={B}', f'--{B}garbage\r\n\r\nx\r\n--{B}-x'.encode()),
    (f'multipart/form-data; boundary={B}', f'--{B}'.encode()),
    (f'multipart/form-data; boundary={B}', f'--{B}-'.encode()),
    ('multipart/mixed; boundary=' + 'b' * 71, b'--' + b'b' * 71 + b'--'),
    (f'multipart/form-data; boundary={B}',
     multipart(('Content-Disposition: form-data; name="n"\r\nContent-Type: multipart/mixed; boundary=q',
                b'--q\r\n\r\ntruncated'))),
])
def test_malformed_multipart_is_a_400(ctype, body):
    status, content = post('/form', body, ctype=ctype, headers={'Content-Length': str(len(body))})
    assert status == 400, content


def test_an_empty_form_and_a_lookalike_boundary_in_the_preamble():
    assert json.loads(post('/form', f'--{B}--\r\n'.encode())[1]) == {}
    body = f'--{B}garbage\r\n\r\nx\r\n--{B}--'.encode()
    assert json.loads(post('/form', body)[1]) == {}


def test_huge_part_head_is_a_400():
    body = f'--{B}\r\nX-Big: {"a" * 70000}\r\n\r\nx\r\n--{B}--'.encode()
    assert post('/form', body)[0] == 400


def test_urlencoded_still_works():
    status, content = post('/form', b'a=1&a=2&b=%C3%A9', ctype='application/x-www-form-urlencoded')
    assert json.loads(content) == {'a': ['1', '2'], 'b': 'é'}


def test_unknown_types_are_left_for_the_handler():
    status, content = post('/raw', b'{"x": 1}', ctype='application/x-thing')
    assert json.loads(content) == {'params': {}, 'data': '{"x": 1}'}


def test_readline_and_readlines():
    status, content = post('/lines', b'one\ntwo\nthree', ctype='application/x-thing')
    assert json.loads(content) == ['one\n', ['two\n', 'three']]


def test_custom_processor_by_media_type():
    status, content = post('/custom', b'shout', ctype='text/plain; charset=ascii')
    assert json.loads(content) == {'params': {}, 'seen': 'SHOUT'}


def test_process_request_body_false_leaves_multipart_unread():
    body = multipart(field('a', b'1'))
    status, content = post('/raw', body, config={'request.process_request_body': False})
    assert json.loads(content) == {'params': {}, 'data': body.decode()}


def test_length_required_without_content_length():
    environ_body = multipart(field('a', b'1'))
    status, headers, content = wsgi_get(
        app(), '/form', method='POST',
        headers={'Content-Type': f'multipart/form-data; boundary={B}'}, body=b'')
    assert status.startswith('411'), (status, content, environ_body)


def test_maxbytes_applies_to_multipart():
    body = multipart(upload('f', 'big', b'x' * 5000))
    status, content = post('/form', body, config={'request.body.maxbytes': 1000})
    assert status == 413


def test_process_multipart_directly_raises_400_on_garbage():
    headers = HeaderMap({'Content-Type': 'multipart/mixed; boundary=zz', 'Content-Length': '3'})
    entity = RequestBody(io.BytesIO(b'abc'), headers)
    with pytest.raises(HTTPError) as info:
        process_multipart(entity)
    assert info.value.status == 400


def test_a_processor_may_produce_a_list_value():
    import csv
    import io

    import pyframe
    from pyframe.tree import Application
    from support import wsgi_get as call

    def read_csv(entity):
        entity.params['rows'] = list(csv.reader(io.StringIO(entity.fp.read().decode())))

    class Import:
        @pyframe.expose
        def index(self, rows):
            return repr(rows)

    def install():
        pyframe.request.body.processors['text/csv'] = read_csv

    app = Application(Import(), '', {'/': {'hooks.before_request_body': install}})
    status, _, body = call(app, '/', method='POST', body=b'a,b\nc,d\n',
                           headers={'Content-Type': 'text/csv'})
    assert (status, body) == ('200 OK', b"[['a', 'b'], ['c', 'd']]")
