"""The complete programs of docs/advanced.rst do what the page says.

Each program starts with a ``# <name>.py`` comment line. Most run
in-process: the block is executed as ``__main__`` with the engine's
start, block and signal subscription turned into no-ops, so it mounts its
applications on ``pyframe.tree`` and the in-process client visits them.
The programs whose point is the engine itself (timeouts, start-up hooks)
run as real processes on a free port.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import logging
import re
import signal
import tempfile
import textwrap
import zlib

import pytest
import requests

import pyframe
from pyframe.testing import Client
from support import REPO, free_port, wait_for, write_script

PAGE = REPO / 'docs' / 'advanced.rst'
BLOCK = re.compile(r'^\.\. code-block:: python\n\n((?:(?:    .*)?\n)+)', re.M)
NAME = re.compile(r'# (\w+\.py)')


def programs() -> dict[str, str]:
    """The complete programs of the page, by the file name of their first line."""
    found = {}
    for match in BLOCK.finditer(PAGE.read_text()):
        code = textwrap.dedent(match.group(1))
        name = NAME.fullmatch(code.splitlines()[0])
        if name:
            found[name.group(1)] = code
    return found


PROGRAMS = programs()


def test_every_topic_has_a_program():
    assert set(PROGRAMS) == {
        'several_apps.py', 'virtual_hosts.py', 'streaming.py', 'timeouts.py',
        'wsgi_mix.py', 'error_pages.py', 'json_api.py', 'secure_headers.py',
        'profiling.py', 'startup.py',
    }


# -- in-process ------------------------------------------------------------


@contextlib.contextmanager
def engine_idle():
    """Make engine.start/block and signal subscription no-ops, and undo
    every subscription and mount the program makes."""
    engine = pyframe.engine
    listeners = {channel: set(found) for channel, found in engine.listeners.items()}
    apps = dict(pyframe.tree.apps)
    noop = lambda *args, **kwargs: None  # noqa: E731
    patched = [(engine, 'start'), (engine, 'block'), (engine.signal_handler, 'subscribe')]
    for target, name in patched:
        setattr(target, name, noop)
    try:
        yield
    finally:
        for target, name in patched:
            del target.__dict__[name]
        for channel, found in list(engine.listeners.items()):
            for callback in list(found - listeners.get(channel, set())):
                engine.unsubscribe(channel, callback)
        pyframe.tree.apps.clear()
        pyframe.tree.apps.update(apps)


@pytest.fixture
def run():
    """``run(name)`` executes a program as __main__; returns (namespace, client)."""
    with contextlib.ExitStack() as stack:
        def start(name: str):
            stack.enter_context(engine_idle())
            namespace = {'__name__': '__main__', '__file__': name}
            exec(compile(PROGRAMS[name], name, 'exec'), namespace)
            return namespace, Client(pyframe.tree)
        yield start


@pytest.fixture
def error_log():
    """The records pyframe's error loggers emit during the test."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = logging.getLogger('pyframe.error')
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_several_apps_have_their_own_mount_point_and_config(run):
    _, client = run('several_apps.py')
    assert type(pyframe.tree.apps['/blog'].root).__name__ == 'Blog'

    home = client.get('/')
    assert home.text == 'Welcome. The blog is at http://127.0.0.1/blog/'
    blog = client.get('/blog/', headers={'Accept-Encoding': 'gzip'})
    assert gzip.decompress(blog.body) == b'News: read http://127.0.0.1/blog/post/1'
    assert client.get('/', headers={'Accept-Encoding': 'gzip'}).headers.get('Content-Encoding') is None
    assert client.get('/blog/post/7').text == 'Post 7'
    assert client.get('/post/7').status_code == 404


def test_virtual_hosts_pick_a_branch_by_host(run):
    _, client = run('virtual_hosts.py')

    shop = client.get('/', headers={'Host': 'shop.example.com'})
    assert (shop.text, shop.headers['X-Site']) == ('The shop front', 'shop')
    cart = client.get('/cart', headers={'Host': 'shop.example.com'})
    assert cart.text == 'Your cart; pay at http://shop.example.com/checkout'
    assert client.get('/', headers={'Host': 'SHOP.Example.com'}).text == 'The shop front'
    assert client.get('/', headers={'Host': 'blog.example.com'}).text == 'The blog'
    other = client.get('/', headers={'Host': 'other.example.com'})
    assert other.text == 'Pick a site'
    assert client.get('/shop/cart', headers={'Host': 'other.example.com'}).status_code == 200
    proxied = client.get('/', headers={'Host': 'internal', 'X-Forwarded-Host': 'blog.example.com'})
    assert proxied.text == 'The blog'


def _wsgi_call(app, path, query='', headers=None):
    """GET ``path`` from ``app``; return (status, headers, body iterable) unread."""
    environ = {
        'REQUEST_METHOD': 'GET', 'SCRIPT_NAME': '', 'PATH_INFO': path,
        'QUERY_STRING': query, 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.1', 'REMOTE_PORT': '5000',
        'HTTP_HOST': '127.0.0.1', 'wsgi.version': (1, 0), 'wsgi.url_scheme': 'http',
        'wsgi.input': io.BytesIO(), 'wsgi.errors': io.StringIO(),
        'wsgi.multithread': True, 'wsgi.multiprocess': False, 'wsgi.run_once': False,
    }
    for name, value in (headers or {}).items():
        environ['HTTP_' + name.upper().replace('-', '_')] = value
    seen = {}

    def start_response(status, header_list, exc_info=None):
        seen['status'], seen['headers'] = status, dict(header_list)

    body = app(environ, start_response)
    return seen['status'], seen['headers'], body


def test_streaming_sends_headers_first_and_chunks_as_produced(run):
    run('streaming.py')

    status, headers, body = _wsgi_call(pyframe.tree, '/countdown', 'start=2&delay=0')
    try:
        assert status == '200 OK'
        assert 'Content-Length' not in headers
        assert headers['Content-Type'] == 'text/plain;charset=utf-8'
        chunks = iter(body)
        assert next(chunks) == b'2...\n'      # produced on demand, one at a time
        assert list(chunks) == [b'1...\n', b'liftoff!\n']
    finally:
        body.close()

    status, headers, body = _wsgi_call(pyframe.tree, '/countdown', 'start=2&delay=0',
                                       {'Accept-Encoding': 'gzip'})
    try:
        assert headers['Content-Encoding'] == 'gzip'
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        # Each line can be decoded as soon as its chunks arrived.
        text = b''
        for chunk in body:
            text += decoder.decompress(chunk)
            if text == b'2...\n':
                break
        assert text == b'2...\n'
    finally:
        body.close()


def test_a_failing_stream_is_logged_and_reaches_the_server(error_log):
    class Root:
        @pyframe.expose
        @pyframe.config(**{'response.stream': True})
        def broken(self):
            yield 'first\n'
            raise ValueError('the database went away')

        @pyframe.expose
        def gathered(self):
            yield 'first\n'
            raise ValueError('the database went away')

    tree = pyframe.Tree()
    tree.mount(Root(), '')
    status, _, body = _wsgi_call(tree, '/broken')
    assert status == '200 OK'
    chunks = iter(body)
    assert next(chunks) == b'first\n'
    with pytest.raises(ValueError):
        next(chunks)
    body.close()
    messages = '\n'.join(record.getMessage() for record in error_log)
    assert 'Error while streaming the response' in messages
    assert 'the database went away' in messages

    # Without response.stream the same failure still becomes an error page.
    assert Client(tree).get('/gathered').status_code == 500


def test_caching_stores_a_stream_only_once_it_was_sent_whole():
    calls = []

    class Root:
        @pyframe.expose
        def page(self):
            calls.append(1)
            yield f'call {len(calls)}'
            if len(calls) == 1:
                raise ValueError('cut short')

    tree = pyframe.Tree()
    tree.mount(Root(), '', {'/': {'tools.caching.on': True, 'response.stream': True}})
    _, _, body = _wsgi_call(tree, '/page')
    with pytest.raises(ValueError):
        list(body)
    body.close()
    client = Client(tree)
    try:
        assert client.get('/page').text == 'call 2'    # the broken stream was not kept
        assert client.get('/page').text == 'call 2'    # the whole one was
    finally:
        # The shared cache's expiration thread must not outlive the test.
        pyframe.tools.caching.cache.clear()


def test_wsgi_graft_and_pipeline(run):
    _, client = run('wsgi_mix.py')

    home = client.get('/')
    assert home.text == 'The new site'
    assert float(home.headers['X-Time']) >= 0
    old = client.get('/old/about')
    assert old.text == 'legacy page /about'
    assert 'X-Time' not in old.headers


def test_error_pages_and_error_response(run, error_log):
    _, client = run('error_pages.py')

    members = client.get('/members')
    assert members.status == '403 Forbidden'
    assert members.text.startswith('<h1>403 Forbidden</h1><p>Members only</p>')
    missing = client.get('/missing')
    assert missing.status_code == 404
    assert missing.text.startswith('<h1>404 Not Found</h1>')
    assert client.get('/divide', params={'a': 6, 'b': 3}).text == '2.0'

    crash = client.get('/divide', params={'a': 1, 'b': 0})
    assert crash.status_code == 500
    assert crash.headers['Content-Type'].startswith('text/plain')
    assert crash.text == 'Sorry, something broke. We have been told.'
    assert any('ZeroDivisionError' in record.getMessage() for record in error_log)


def test_json_api(run):
    _, client = run('json_api.py')

    listing = client.get('/todos/')
    assert listing.headers['Content-Type'] == 'application/json'
    assert listing.text == '[{"id": 1, "title": "Write the docs", "done": false}]'
    created = client.post('/todos/', json={'title': 'Test'})
    assert created.status_code == 201
    assert created.text == '{"id": 2, "title": "Test", "done": false}'
    assert client.get('/todos/2').json()['title'] == 'Test'
    assert client.get('/todos/9').status_code == 404
    assert client.post('/todos/', json=['no title']).status_code == 400
    assert client.post('/todos/', data='{oops', headers={'Content-Type': 'application/json'}).status_code == 400
    assert client.post('/todos/', data={'title': 'form'}).status_code == 415
    refused = client.delete('/todos/')
    assert refused.status_code == 405
    assert refused.headers['Allow'] == 'GET, HEAD, POST'


def test_secure_headers_and_cookies(run):
    namespace, client = run('secure_headers.py')
    expected = dict(namespace['SECURITY_HEADERS'])

    first = client.get('/')
    for name, value in expected.items():
        assert first.headers[name] == value
    session_cookie = first.headers['Set-Cookie']
    assert session_cookie.startswith('session_id=')
    for flag in ('HttpOnly', 'SameSite=Lax', 'Secure'):
        assert flag in session_cookie.split('; ')
    assert client.get('/').text == 'Visit number 2'

    missing = client.get('/missing')
    assert missing.status_code == 404
    assert missing.headers['Content-Security-Policy'] == "default-src 'self'"

    widget = client.get('/widget')
    assert widget.headers['X-Frame-Options'] == 'SAMEORIGIN'
    assert 'Strict-Transport-Security' not in widget.headers

    client.get('/theme')
    assert ('theme=dark; HttpOnly; Max-Age=31536000; SameSite=Strict; Secure'
            in client.response.get_all('Set-Cookie'))


def test_profiling_writes_and_shows_reports(run, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))
    namespace, client = run('profiling.py')
    assert namespace['PROFILES'] == str(tmp_path / 'site-profiles')

    assert client.get('/').text == str(sum(n * n for n in range(100_000)))
    client.get('/')
    assert sorted(p.name for p in (tmp_path / 'site-profiles').iterdir()) == [
        'cp_0001.prof', 'cp_0002.prof']
    listing = client.get('/profiler/')
    assert 'href="report?filename=cp_0002.prof"' in listing.text
    report = client.get('/profiler/report', params={'filename': 'cp_0001.prof'})
    assert 'function calls' in report.text
    assert 'cumulative' in report.text
    # The viewer is not profiled itself.
    assert len(list((tmp_path / 'site-profiles').iterdir())) == 2


# -- real processes ----------------------------------------------------------

# Runs a program as __main__ on a given port, with the autoreloader off
# (other work on this checkout must not restart it mid-test).
LAUNCHER = '''\
import runpy, sys
import pyframe
pyframe.config.update({'engine.autoreload.on': False,
                       'server.socket_port': int(sys.argv[2])})
runpy.run_path(sys.argv[1], run_name='__main__')
'''


@pytest.fixture
def serve(tmp_path, spawn):
    """``serve(name)`` runs a program as a process; returns (child, base URL)."""
    launcher = write_script(tmp_path, 'launch.py', LAUNCHER)

    def start(name: str):
        program = write_script(tmp_path, name, PROGRAMS[name])
        port = free_port()
        child = spawn([launcher, program, port])
        child.wait_output('Serving on', timeout=20)
        return child, f'http://127.0.0.1:{port}'
    return start


@pytest.mark.slow
def test_timeouts_end_long_reports(serve):
    _, base = serve('timeouts.py')

    quick = requests.get(base + '/reports/', params={'rows': 5}, timeout=20)
    assert quick.status_code == 200
    assert quick.text.splitlines() == [f'row {n}' for n in range(5)]

    slow = requests.get(base + '/reports/', params={'rows': 100}, timeout=20)
    assert slow.status_code == 503
    assert 'The report took too long; ask for fewer rows.' in slow.text
    assert slow.elapsed.total_seconds() < 5    # 100 rows would take 10 s


@pytest.mark.slow
def test_startup_hooks_run_around_serving(serve):
    child, base = serve('startup.py')

    assert requests.get(base + '/', timeout=10).text == 'Hello from a ready site'
    wait_for(lambda: requests.get(base + '/warm', timeout=10).text == 'yes', timeout=10)
    output = child.wait_output('Warm-up done')
    assert output.index('Resources opened') < output.index('Serving on')

    child.proc.send_signal(signal.SIGTERM)
    assert child.wait(20) == 0
    assert 'Resources closed' in child.output()
