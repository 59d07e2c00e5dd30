"""Request bodies over real HTTP: file uploads of every size, forms,
charsets, chunked bodies, limits and malformed multipart."""

from __future__ import annotations

import hashlib
import json
import os
import tracemalloc

import pytest

import pyframe
from pyframe.body import Part
from live import chunked, live  # noqa: F401  (fixture)

B = 'liveBoundary42'
MB = 1024 * 1024


class Root:
    def __init__(self, save_dir=None) -> None:
        self.save_dir = save_dir

    @pyframe.expose
    def save(self, **params):
        """Copy every uploaded file to save_dir in blocks; describe params."""
        out = {}
        for key, value in params.items():
            values = value if isinstance(value, list) else [value]
            described = []
            for item in values:
                if isinstance(item, Part):
                    digest = hashlib.sha256()
                    target = os.path.join(self.save_dir, f'{key}-{len(described)}')
                    with open(target, 'wb') as handle:
                        while block := item.file.read(65536):
                            digest.update(block)
                            handle.write(block)
                    described.append({'filename': item.filename, 'sha256': digest.hexdigest(),
                                      'type': item.content_type.value})
                else:
                    described.append(item)
            out[key] = described if isinstance(value, list) else described[0]
        return json.dumps(out)

    @pyframe.expose
    def raw(self, **params):
        return json.dumps({'params': params,
                           'data': pyframe.request.body.read().decode('latin-1')})

    @pyframe.expose
    def custom(self):
        return pyframe.request.shouted


def shout(entity) -> None:
    pyframe.request.shouted = entity.fp.read().decode('ascii').upper()


def config():
    return {'/raw': {'request.process_request_body': False},
            '/custom': {'request.body.processors': {'text/x-shout': shout}},
            '/small': {'request.body.maxbytes': 1000}}


@pytest.fixture
def site(live, tmp_path):  # noqa: F811
    root = Root(str(tmp_path))
    root.small = Root(str(tmp_path))
    return live(root, config=config())


@pytest.mark.parametrize('content', [b'', b'x', b'\r\n--' + B.encode() + b'\r\n'])
def test_small_uploads(site, content):
    response = site.post('/save', files={'f': ('f.bin', content)})
    assert response.status_code == 200, response.text
    assert response.json()['f']['sha256'] == hashlib.sha256(content).hexdigest()


def test_40_mb_upload_keeps_memory_bounded(site, tmp_path):
    size = 40 * MB
    block = os.urandom(MB)
    digest = hashlib.sha256()
    source = tmp_path / 'upload.body'
    with open(source, 'wb') as handle:
        handle.write(f'--{B}\r\nContent-Disposition: form-data; name="t"\r\n\r\ntext\r\n'.encode())
        handle.write(f'--{B}\r\nContent-Disposition: form-data; name="big"; '
                     f'filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n'.encode())
        for index in range(size // MB):
            chunk = bytes([index % 256]) + block[1:]
            digest.update(chunk)
            handle.write(chunk)
        handle.write(f'\r\n--{B}--\r\n'.encode())
    tracemalloc.start()
    try:
        with open(source, 'rb') as body:
            response = site.post('/save', data=body, timeout=30,
                                 headers={'Content-Type': f'multipart/form-data; boundary={B}'})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.text
    result = response.json()
    assert result['t'] == 'text'
    assert result['big'] == {'filename': 'big.bin', 'sha256': digest.hexdigest(),
                             'type': 'application/octet-stream'}
    assert (tmp_path / 'big-0').stat().st_size == size
    assert peak < 8 * MB, f'peak traced memory {peak} bytes'


def test_non_ascii_filenames_several_files_and_a_text_field(site):
    files = [('f', ('café €.txt', b'one', 'text/plain')), ('f', ('日本.bin', b'two'))]
    response = site.post('/save', data={'t': 'héllo'}, files=files)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result['t'] == 'héllo'
    assert [f['filename'] for f in result['f']] == ['café €.txt', '日本.bin']
    assert [f['sha256'] for f in result['f']] == [hashlib.sha256(b'one').hexdigest(),
                                                 hashlib.sha256(b'two').hexdigest()]


def test_text_part_charsets(site):
    files = {'a': (None, 'é'.encode('latin-1'), 'text/plain; charset=latin-1'),
             'b': (None, 'ü'.encode('cp1252')), '_charset_': (None, b'windows-1252')}
    response = site.post('/save', files=files)
    assert response.json()['a'] == 'é' and response.json()['b'] == 'ü'


def test_undecodable_text_part_is_a_400(site):
    response = site.post('/save', files={'a': (None, b'\xff\xfe\xfd')})
    assert response.status_code == 400
    assert 'could not be decoded' in response.text


def test_chunked_upload(site):
    content = os.urandom(300_000)
    body = (f'--{B}\r\nContent-Disposition: form-data; name="f"; filename="c"\r\n\r\n'.encode()
            + content + f'\r\n--{B}--\r\n'.encode())

    def pieces():
        for start in range(0, len(body), 7777):
            yield body[start:start + 7777]

    response = site.post('/save', data=pieces(),
                         headers={'Content-Type': f'multipart/form-data; boundary={B}'})
    assert response.status_code == 200, response.text
    assert response.json()['f']['sha256'] == hashlib.sha256(content).hexdigest()


def test_chunked_raw_then_the_connection_serves_on(site):
    body = f'--{B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--{B}--\r\n'.encode()
    with site.raw() as conn:
        conn.request('POST', '/save', {'Content-Type': f'multipart/form-data; boundary={B}',
                                       'Transfer-Encoding': 'chunked'}, chunked(body[:10], body[10:]))
        response = conn.read_response('POST')
        assert (response.status, json.loads(response.body)) == (200, {'a': 'v'})
        conn.request('GET', '/save?b=2')
        assert json.loads(conn.read_response().body) == {'b': '2'}


def test_maxbytes_is_a_413(site):
    response = site.post('/small/save', files={'f': ('f', b'x' * 5000)})
    assert response.status_code == 413
    response = site.post('/small/save', files={'f': ('f', b'x' * 100)})
    assert response.status_code == 200


def test_max_request_body_size_is_a_413(live, tmp_path):  # noqa: F811
    site = live(Root(str(tmp_path)), max_request_body_size=2000)
    assert site.post('/save', files={'f': ('f', b'x' * 5000)}).status_code == 413


def test_length_required(site):
    with site.raw() as conn:
        conn.request('POST', '/save', [('Host', 'x'), ('Content-Type', 'multipart/form-data; boundary=x')])
        assert conn.read_response('POST').status == 411


@pytest.mark.parametrize('ctype, body', [
    ('multipart/form-data', f'--{B}\r\n\r\nx\r\n--{B}--'),
    (f'multipart/form-data; boundary={B}', f'--{B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nx'),
    (f'multipart/form-data; boundary={B}', f'--{B}\r\nContent-Disposition: form-data\r\n\r\nx\r\n--{B}--'),
    (f'multipart/form-data; boundary={B}', f'--{B}\r\nbroken header\r\n\r\nx\r\n--{B}--'),
    (f'multipart/form-data; boundary={B}', 'no boundary at all'),
])
def test_malformed_multipart_is_a_400(site, ctype, body):
    response = site.post('/save', data=body.encode(), headers={'Content-Type': ctype})
    assert response.status_code == 400, response.text


def test_process_request_body_false_leaves_the_stream(site):
    body = f'--{B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--{B}--\r\n'
    response = site.post('/raw', data=body.encode(),
                         headers={'Content-Type': f'multipart/form-data; boundary={B}'})
    assert response.json() == {'params': {}, 'data': body}


def test_custom_processor(site):
    response = site.post('/custom', data=b'quiet', headers={'Content-Type': 'text/x-shout'})
    assert response.text == 'QUIET'
