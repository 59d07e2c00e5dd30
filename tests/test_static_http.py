"""pyframe.lib.static over real HTTP (cheroot): every range shape,
conditional requests, HEAD, streaming of a large file, downloads, and
every traversal spelling sent byte-exact through a raw socket.

The tools live in a private toolbox registered exactly as pyframe.tools
registers them, and are configured through config sections.
"""

from __future__ import annotations

import email.parser
import email.policy
import os
import tracemalloc
from email.utils import formatdate

import pytest

import pyframe
from pyframe.lib import static
from pyframe.tools import HandlerTool, Toolbox
from live import live  # noqa: F401  (fixture)

BOX = 'statichttp'
DATA = bytes(range(256)) * 4  # 1024 bytes, every offset distinguishable
MTIME = 1_000_000_000


@pytest.fixture(autouse=True)
def box():
    toolbox = Toolbox(BOX)
    toolbox.staticdir = HandlerTool(static.staticdir)
    toolbox.staticfile = HandlerTool(static.staticfile)
    return toolbox


@pytest.fixture
def public(tmp_path):
    root = tmp_path / 'public'
    (root / 'docs').mkdir(parents=True)
    (root / 'data.bin').write_bytes(DATA)
    os.utime(root / 'data.bin', (MTIME, MTIME))
    (root / 'style.css').write_bytes(b'body {}')
    (root / 'notes.md').write_bytes(b'# notes')
    (root / 'docs' / 'index.html').write_bytes(b'<h1>docs</h1>')
    (tmp_path / 'secret.txt').write_bytes(b'TOP SECRET')
    return root


class Root:
    @pyframe.expose
    def index(self):
        return 'root'

    @pyframe.expose
    def download(self, path, name=None):
        return static.serve_download(path, name)


def static_config(directory, **extra):
    conf = {f'{BOX}.staticdir.on': True, f'{BOX}.staticdir.dir': str(directory),
            f'{BOX}.staticdir.section': '/static'}
    conf.update({f'{BOX}.staticdir.{key}': value for key, value in extra.items()})
    return {'/static': conf}


@pytest.fixture
def site(live, public):
    return live(Root(), config=static_config(public, index='index.html',
                                             content_types={'md': 'text/markdown'}))


def raw(site, path, headers=None, method='GET'):
    with site.raw() as conn:
        conn.request(method, path, headers=headers)
        return conn.read_response(method)


# ---------------------------------------------------------------------------
# content, types, conditionals, HEAD


def test_file_content_and_type(site):
    r = site.get('/static/data.bin')
    assert r.status_code == 200 and r.content == DATA
    assert r.headers['Content-Type'] == 'application/octet-stream'
    assert r.headers['Accept-Ranges'] == 'bytes'
    assert r.headers['Last-Modified'] == formatdate(MTIME, usegmt=True)
    assert site.get('/static/style.css').headers['Content-Type'] == 'text/css'
    assert site.get('/static/notes.md').headers['Content-Type'] == 'text/markdown'


def test_index_and_missing(site):
    assert site.get('/static/docs/').text == '<h1>docs</h1>'
    assert site.get('/static/nothing.txt').status_code == 404
    assert site.get('/').text == 'root'


def test_match(live, public):
    site = live(Root(), config=static_config(public, match=r'\.css$'))
    assert site.get('/static/style.css').status_code == 200
    assert site.get('/static/data.bin').status_code == 404


def test_if_modified_since_and_unmodified_since(site):
    r = site.get('/static/data.bin', headers={'If-Modified-Since': formatdate(MTIME, usegmt=True)})
    assert r.status_code == 304 and r.content == b''
    r = site.get('/static/data.bin', headers={'If-Modified-Since': formatdate(MTIME - 10, usegmt=True)})
    assert r.status_code == 200 and r.content == DATA
    r = site.get('/static/data.bin', headers={'If-Unmodified-Since': formatdate(MTIME - 10, usegmt=True)})
    assert r.status_code == 412
    r = site.get('/static/data.bin', headers={'If-Unmodified-Since': formatdate(MTIME, usegmt=True)})
    assert r.status_code == 200


def test_head(site):
    response = raw(site, '/static/data.bin', method='HEAD')
    assert response.status == 200 and response.body == b''
    assert response.headers['Content-Length'] == str(len(DATA))
    response = raw(site, '/static/data.bin', {'Range': 'bytes=0-9'}, method='HEAD')
    assert response.status == 206 and response.headers['Content-Length'] == '10'


# ---------------------------------------------------------------------------
# ranges


@pytest.mark.parametrize('spec, start, stop', [
    ('0-9', 0, 10),
    ('1000-', 1000, 1024),
    ('-24', 1000, 1024),
    ('-5000', 0, 1024),           # suffix longer than the file: all of it
    ('1020-5000', 1020, 1024),    # end past the end: clamped
    ('5-5', 5, 6),
])
def test_single_range(site, spec, start, stop):
    r = site.get('/static/data.bin', headers={'Range': f'bytes={spec}'})
    assert r.status_code == 206
    assert r.content == DATA[start:stop]
    assert r.headers['Content-Range'] == f'bytes {start}-{stop - 1}/1024'
    assert r.headers['Content-Length'] == str(stop - start)


@pytest.mark.parametrize('spec', ['1024-', '2000-3000', '1024-1030, 5000-'])
def test_unsatisfiable_range(site, spec):
    r = site.get('/static/data.bin', headers={'Range': f'bytes={spec}'})
    assert r.status_code == 416
    assert r.headers['Content-Range'] == 'bytes */1024'
    assert DATA[:50] not in r.content


@pytest.mark.parametrize('header', ['bytes=9-1', 'items=0-1', 'bytes=abc'])
def test_invalid_range_is_ignored(site, header):
    r = site.get('/static/data.bin', headers={'Range': header})
    assert r.status_code == 200 and r.content == DATA


def parse_byteranges(response):
    """The parts of a multipart/byteranges body: [(Content-Range, bytes)]."""
    content_type = response.headers['Content-Type']
    assert content_type.startswith('multipart/byteranges; boundary=')
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b'Content-Type: ' + content_type.encode() + b'\r\n\r\n' + response.content)
    assert message.is_multipart()
    return [(part['Content-Type'], part['Content-Range'], part.get_payload(decode=True))
            for part in message.iter_parts()]


def test_multiple_ranges(site):
    r = site.get('/static/data.bin', headers={'Range': 'bytes=0-9, 100-199, -4'})
    assert r.status_code == 206
    assert int(r.headers['Content-Length']) == len(r.content)
    assert parse_byteranges(r) == [
        ('application/octet-stream', 'bytes 0-9/1024', DATA[0:10]),
        ('application/octet-stream', 'bytes 100-199/1024', DATA[100:200]),
        ('application/octet-stream', 'bytes 1020-1023/1024', DATA[1020:]),
    ]


def test_multiple_ranges_skip_unsatisfiable_ones(site):
    r = site.get('/static/data.bin', headers={'Range': 'bytes=0-1,2000-,10-11'})
    assert r.status_code == 206
    assert [part[1:] for part in parse_byteranges(r)] == [
        ('bytes 0-1/1024', DATA[0:2]), ('bytes 10-11/1024', DATA[10:12])]


def test_if_range(site):
    fresh = formatdate(MTIME, usegmt=True)
    stale = formatdate(MTIME - 60, usegmt=True)
    r = site.get('/static/data.bin', headers={'Range': 'bytes=0-9', 'If-Range': fresh})
    assert r.status_code == 206 and r.content == DATA[:10]
    r = site.get('/static/data.bin', headers={'Range': 'bytes=0-9', 'If-Range': stale})
    assert r.status_code == 200 and r.content == DATA
    r = site.get('/static/data.bin', headers={'Range': 'bytes=0-9', 'If-Range': '"some-etag"'})
    assert r.status_code == 200 and r.content == DATA


# ---------------------------------------------------------------------------
# large files stream


def test_large_file_is_streamed(live, tmp_path):
    big = tmp_path / 'big' / 'big.bin'
    big.parent.mkdir()
    size = 20 * 1024 * 1024
    with open(big, 'wb') as out:
        block = os.urandom(1024 * 1024)
        for _ in range(20):
            out.write(block)
    site = live(Root(), config=static_config(big.parent))
    tracemalloc.start()
    try:
        received = 0
        with site.get('/static/big.bin', stream=True) as r:
            assert r.headers['Content-Length'] == str(size)
            for chunk in r.iter_content(65536):
                received += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert received == size
    assert peak < size / 5, f'peak {peak} bytes while serving {size}'


# ---------------------------------------------------------------------------
# downloads


def test_download_with_non_ascii_name(site, public):
    r = site.get('/download', params={'path': str(public / 'data.bin'), 'name': 'r\u00e9sum\u00e9.bin'})
    assert r.status_code == 200 and r.content == DATA
    assert r.headers['Content-Type'] == 'application/x-download'
    disposition = r.headers['Content-Disposition']
    assert disposition.startswith('attachment; filename="resume.bin"')
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9.bin" in disposition


# ---------------------------------------------------------------------------
# traversal, sent byte-exact


@pytest.mark.parametrize('path', [
    '/static/../secret.txt',
    '/static/../../../../etc/passwd',
    '/static/%2e%2e/secret.txt',
    '/static/%2E%2E%2Fsecret.txt',
    '/static/..%2fsecret.txt',
    '/static/..%2Fsecret.txt',
    '/static/..\\secret.txt',
    '/static/..%5csecret.txt',
    '/static/docs/..\\..\\secret.txt',
    '/static//etc/passwd',
    '/static/%2fetc%2fpasswd',
    '/static/data.bin%00',
    '/static/%00/../secret.txt',
    '/static/%252e%252e/secret.txt',
    '/static/%252e%252e%252fsecret.txt',
    '/static/./../secret.txt',
])
def test_traversal_refused(site, path):
    response = raw(site, path)
    assert response.status in (403, 404), (path, response.status)
    assert b'SECRET' not in response.body and b'root:' not in response.body


def test_symlink_pointing_outside_refused(live, public):
    os.symlink(public.parent / 'secret.txt', public / 'escape.txt')
    os.symlink(public.parent, public / 'up')
    site = live(Root(), config=static_config(public))
    for path in ('/static/escape.txt', '/static/up/secret.txt'):
        response = raw(site, path)
        assert response.status == 403 and b'SECRET' not in response.body


def test_relative_dir_is_a_clear_error(live):
    site = live(Root(), config={'/static': {
        f'{BOX}.staticdir.on': True, f'{BOX}.staticdir.dir': 'public',
        f'{BOX}.staticdir.section': '/static',
        'request.show_tracebacks': True}})
    r = site.get('/static/x')
    assert r.status_code == 500
    assert 'Static dir requires an absolute dir (or root).' in r.text


def test_connection_survives_many_ranges(site):
    # Keep-alive: lazily read bodies end exactly at Content-Length.
    with site.raw() as conn:
        for spec in ('0-0', '-1', '0-1,5-6', '2000-'):
            conn.request('GET', '/static/data.bin', headers={'Range': f'bytes={spec}'})
            response = conn.read_response()
            assert response.status in (206, 416)
