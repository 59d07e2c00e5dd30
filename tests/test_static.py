"""pyframe.lib.static in-process: helpers, serve_file/serve_fileobj from a
handler, the staticdir/staticfile tools driven through WSGI calls.

The tools are registered in a private toolbox exactly as pyframe.tools
registers them (``HandlerTool(static.staticdir)``), so these tests do not
depend on the default toolbox.
"""

from __future__ import annotations

import io
import os
from email.utils import formatdate

import pytest

import pyframe
from pyframe.lib import static
from pyframe.tools import HandlerTool, Toolbox
from pyframe.tree import Application
from support import wsgi_get

BOX = 'statictools'


@pytest.fixture(autouse=True)
def box():
    toolbox = Toolbox(BOX)
    toolbox.staticdir = HandlerTool(static.staticdir)
    toolbox.staticfile = HandlerTool(static.staticfile)
    return toolbox


@pytest.fixture
def public(tmp_path):
    root = tmp_path / 'public'
    (root / 'sub').mkdir(parents=True)
    (root / 'a.txt').write_bytes(b'0123456789')
    (root / 'page.html').write_bytes(b'<p>hi</p>')
    (root / 'data.weird').write_bytes(b'odd')
    (root / 'sub' / 'index.html').write_bytes(b'index!')
    (tmp_path / 'secret.txt').write_bytes(b'TOP SECRET')
    return root


class Root:
    @pyframe.expose
    def index(self):
        return 'root'

    @pyframe.expose
    def file(self, path, ctype=None, disposition=None, name=None):
        return static.serve_file(path, ctype, disposition, name)

    @pyframe.expose
    def fobj(self):
        return static.serve_fileobj(io.BytesIO(b'abcdefghij'), 'text/plain')

    @pyframe.expose
    def download(self, path, name=None):
        return static.serve_download(path, name)


def staticdir_app(directory, section='/static', **extra):
    conf = {f'{BOX}.staticdir.on': True, f'{BOX}.staticdir.dir': str(directory),
            f'{BOX}.staticdir.section': section}
    conf.update({f'{BOX}.staticdir.{key}': value for key, value in extra.items()})
    return Application(Root(), '', {section: conf})


# ---------------------------------------------------------------------------
# helpers


def test_file_generator_reads_in_chunks_and_closes():
    data = io.BytesIO(b'x' * 10)
    gen = static.file_generator(data, 4)
    assert list(gen) == [b'xxxx', b'xxxx', b'xx']
    assert data.closed
    assert static.file_generator(io.BytesIO(b'ab')).next() == b'ab'


def test_file_generator_limited_stops_at_count():
    data = io.BytesIO(b'abcdefghij')
    data.seek(2)
    assert list(static.file_generator_limited(data, 5, 2)) == [b'cd', b'ef', b'g']
    assert not data.closed
    # A file shorter than count ends early instead of looping.
    assert list(static.file_generator_limited(io.BytesIO(b'ab'), 10)) == [b'ab']


@pytest.mark.parametrize('segment', [
    '..', '.', '%2e%2e', '%2E%2E', '%252e%252e', '..\\x', 'a\\b', 'a\x00b',
    '%00', '%2f', '..%2f', '%5c', '%25252e%25252e',
])
def test_hostile_segments(segment):
    assert static._segment_is_hostile(segment)


@pytest.mark.parametrize('segment', ['', 'a.txt', '...x', 'caf\u00e9', '%41', 'a..b'])
def test_harmless_segments(segment):
    assert not static._segment_is_hostile(segment)


def test_content_disposition_ascii_and_unicode():
    assert static._content_disposition('attachment', 'a.txt') == 'attachment; filename="a.txt"'
    value = static._content_disposition('attachment', 'r\u00e9sum\u00e9 \u65e5.pdf')
    assert value.startswith('attachment; filename="resume .pdf"')
    assert "filename*=UTF-8''r%C3%A9sum%C3%A9%20%E6%97%A5.pdf" in value
    # No header injection, no quote breaking out, no path parts.
    value = static._content_disposition('inline', 'a"b\r\nX: y/../c')
    assert '\r' not in value and '\n' not in value
    assert 'filename="a\'bX: y_.._c"' in value


def test_guess_type():
    assert static._guess_type('/x/a.TXT') == 'text/plain'
    assert static._guess_type('/x/a.unknownext') == 'application/octet-stream'
    assert static._guess_type('/x/a.weird', {'weird': 'text/x-weird'}) == 'text/x-weird'


# ---------------------------------------------------------------------------
# serve_file / serve_fileobj / serve_download


def test_serve_file(public):
    app = Application(Root())
    status, headers, body = wsgi_get(app, '/file', f'path={public / "a.txt"}')
    assert status == '200 OK' and body == b'0123456789'
    assert headers['Content-Type'] == 'text/plain'
    assert headers['Content-Length'] == '10'
    assert headers['Accept-Ranges'] == 'bytes'
    assert headers['Last-Modified'] == formatdate(os.stat(public / 'a.txt').st_mtime, usegmt=True)


def test_serve_file_errors(public):
    app = Application(Root())
    assert wsgi_get(app, '/file', 'path=a.txt')[0].startswith('500')
    assert wsgi_get(app, '/file', f'path={public / "missing"}')[0].startswith('404')
    assert wsgi_get(app, '/file', f'path={public / "sub"}')[0].startswith('404')


def test_serve_file_relative_path_names_it():
    with pytest.raises(ValueError, match="'rel/a.txt' is not an absolute path"):
        static.serve_file('rel/a.txt')


def test_serve_file_conditionals(public):
    app = Application(Root())
    path = public / 'a.txt'
    os.utime(path, (1_000_000_000, 1_000_000_000))
    later = formatdate(1_000_000_100, usegmt=True)
    earlier = formatdate(999_999_000, usegmt=True)
    status, headers, body = wsgi_get(app, '/file', f'path={path}', headers={'If-Modified-Since': later})
    assert status.startswith('304') and body == b''
    assert wsgi_get(app, '/file', f'path={path}', headers={'If-Modified-Since': earlier})[0] == '200 OK'
    assert wsgi_get(app, '/file', f'path={path}',
                    headers={'If-Unmodified-Since': earlier})[0].startswith('412')
    assert wsgi_get(app, '/file', f'path={path}', headers={'If-Unmodified-Since': later})[0] == '200 OK'


def test_serve_file_explicit_type_and_disposition(public):
    app = Application(Root())
    status, headers, body = wsgi_get(
        app, '/file', f'path={public / "a.txt"}&ctype=x/y&disposition=inline&name=n.bin')
    assert headers['Content-Type'] == 'x/y'
    assert headers['Content-Disposition'] == 'inline; filename="n.bin"'


def test_serve_fileobj_ranges():
    app = Application(Root())
    status, headers, body = wsgi_get(app, '/fobj', headers={'Range': 'bytes=-3'})
    assert status.startswith('206') and body == b'hij'
    assert headers['Content-Range'] == 'bytes 7-9/10'
    status, headers, body = wsgi_get(app, '/fobj')
    assert body == b'abcdefghij' and headers['Content-Length'] == '10'


def test_serve_download(public):
    app = Application(Root())
    status, headers, body = wsgi_get(app, '/download', f'path={public / "a.txt"}')
    assert headers['Content-Type'] == 'application/x-download'
    assert headers['Content-Disposition'] == 'attachment; filename="a.txt"'
    assert body == b'0123456789'


def test_head_sends_headers_only(public):
    app = Application(Root())
    status, headers, body = wsgi_get(app, '/file', f'path={public / "a.txt"}', method='HEAD')
    assert status == '200 OK' and body == b'' and headers['Content-Length'] == '10'


# ---------------------------------------------------------------------------
# staticdir / staticfile


def test_staticdir_serves_and_types(public):
    app = staticdir_app(public, content_types={'weird': 'text/x-weird'})
    assert wsgi_get(app, '/static/a.txt')[2] == b'0123456789'
    assert wsgi_get(app, '/static/page.html')[1]['Content-Type'] == 'text/html'
    assert wsgi_get(app, '/static/data.weird')[1]['Content-Type'] == 'text/x-weird'
    assert wsgi_get(app, '/')[2] == b'root'


def test_staticdir_index_and_directories(public):
    app = staticdir_app(public)
    assert wsgi_get(app, '/static/sub/')[0].startswith('404')
    app = staticdir_app(public, index='index.html')
    assert wsgi_get(app, '/static/sub/')[2] == b'index!'
    assert wsgi_get(app, '/static/missing')[0].startswith('404')


def test_staticdir_match(public):
    app = staticdir_app(public, match=r'\.txt$')
    assert wsgi_get(app, '/static/a.txt')[2] == b'0123456789'
    assert wsgi_get(app, '/static/page.html')[0].startswith('404')


def test_staticdir_other_methods_are_left_to_the_app(public):
    app = staticdir_app(public)
    # No handler below /static: the app answers 404, the file is not sent.
    status, _, body = wsgi_get(app, '/static/a.txt', method='POST', body=b'x=1')
    assert status.startswith('404') and b'0123456789' not in body


def test_staticdir_root_joins_relative_dir(public):
    app = staticdir_app('public', root=str(public.parent))
    assert wsgi_get(app, '/static/a.txt')[2] == b'0123456789'


def test_staticdir_relative_dir_is_a_clear_error():
    with pytest.raises(ValueError, match=r"absolute dir \(or root\).*'/static'.*'public'"):
        static.staticdir('/static', 'public')
    app = staticdir_app('public')
    assert wsgi_get(app, '/static/a.txt')[0].startswith('500')


@pytest.mark.parametrize('path', [
    '/static/../secret.txt', '/static/%2e%2e/secret.txt', '/static/..%2fsecret.txt',
    '/static/..\\secret.txt', '/static/%252e%252e/secret.txt', '/static/a.txt%00',
    '/static/sub/../../secret.txt',
])
def test_staticdir_traversal_in_process(public, path):
    app = staticdir_app(public)
    status, _, body = wsgi_get(app, path)
    assert status[:3] in ('403', '404') and b'SECRET' not in body


def test_staticdir_absolute_segments_stay_inside(public):
    app = staticdir_app(public)
    status, _, body = wsgi_get(app, '/static//' + str(public.parent / 'secret.txt'))
    assert status[:3] in ('403', '404') and b'SECRET' not in body


def test_staticdir_symlink_outside_refused(public):
    os.symlink(public.parent / 'secret.txt', public / 'link.txt')
    os.symlink(public.parent, public / 'linkdir')
    os.symlink(public / 'a.txt', public / 'inside.txt')
    app = staticdir_app(public)
    assert wsgi_get(app, '/static/link.txt')[0].startswith('403')
    assert wsgi_get(app, '/static/linkdir/secret.txt')[0].startswith('403')
    assert wsgi_get(app, '/static/inside.txt')[2] == b'0123456789'


def test_staticfile(public):
    conf = {'/f': {f'{BOX}.staticfile.on': True, f'{BOX}.staticfile.filename': str(public / 'a.txt')},
            '/g': {f'{BOX}.staticfile.on': True, f'{BOX}.staticfile.filename': 'a.txt',
                   f'{BOX}.staticfile.root': str(public)},
            '/bad': {f'{BOX}.staticfile.on': True, f'{BOX}.staticfile.filename': 'a.txt'}}
    app = Application(Root(), '', conf)
    assert wsgi_get(app, '/f')[2] == b'0123456789'
    assert wsgi_get(app, '/g')[2] == b'0123456789'
    assert wsgi_get(app, '/bad')[0].startswith('500')
    with pytest.raises(ValueError, match="'a.txt'"):
        static.staticfile('a.txt')
