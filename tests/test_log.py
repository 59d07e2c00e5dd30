"""LogManager: screen, files, reopening, the time stamp and contexts."""

from __future__ import annotations

import io
import logging
import os
import re

import pytest

from pyframe import context
from pyframe.lib.httputil import Host
from pyframe.request import Request, Response
from pyframe.log import LogManager


@pytest.fixture
def manager(request):
    # A unique id per test keeps stdlib loggers (process-global) apart.
    log = LogManager(appid=f'test-{request.node.name}')
    yield log
    log.screen = False
    log.error_file = ''
    log.access_file = ''
    log.wsgi = False


def test_time_stamp_format(manager):
    assert re.fullmatch(r'\[\d\d/(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}:\d\d:\d\d:\d\d\]',
                        manager.time())


def test_logger_names_follow_app_id():
    assert LogManager().error_log.name == 'pyframe.error'
    log = LogManager('42')
    assert (log.error_log.name, log.access_log.name) == ('pyframe.error.42', 'pyframe.access.42')


def test_error_file_gets_context_and_traceback(manager, tmp_path):
    path = tmp_path / 'error.log'
    manager.error_file = str(path)
    assert manager.error_file == str(path)
    manager.error('plain message', 'HTTP')
    try:
        1 / 0
    except ZeroDivisionError:
        manager('it broke', 'APP', severity=logging.ERROR, traceback=True)
    text = path.read_text()
    assert re.search(r'^\[[^\]]+\] HTTP plain message$', text, re.M)
    assert '] APP it broke' in text
    assert 'ZeroDivisionError: division by zero' in text


def test_screen_writes_errors_to_stderr(manager, capsys):
    manager.screen = True
    assert manager.screen
    manager.error('to the screen', 'ENGINE')
    assert 'ENGINE to the screen' in capsys.readouterr().err
    manager.screen = False
    assert not manager.screen
    manager.error('silent')
    assert 'silent' not in capsys.readouterr().err


def test_clearing_error_file_stops_writing(manager, tmp_path):
    path = tmp_path / 'e.log'
    manager.error_file = str(path)
    manager.error('one')
    manager.error_file = ''
    manager.error('two')
    text = path.read_text()
    assert 'one' in text and 'two' not in text


def test_reopen_files_follows_a_rotated_file(manager, tmp_path):
    path = tmp_path / 'access.log'
    manager.access_file = str(path)
    manager.access_log.info('before rotation')
    os.rename(path, tmp_path / 'access.log.1')
    manager.reopen_files()
    manager.access_log.info('after rotation')
    assert 'after rotation' in path.read_text()
    assert 'before rotation' in (tmp_path / 'access.log.1').read_text()


def test_wsgi_handler_writes_to_request_errors_stream(manager):
    stream = io.StringIO()
    manager.wsgi = True
    assert manager.wsgi
    request = Request(Host('127.0.0.1', 80), Host('127.0.0.1', 1))
    request.wsgi_environ = {'wsgi.errors': stream}
    context.serving.load(request, Response())
    try:
        manager.error('into wsgi.errors', 'HTTP')
    finally:
        context.serving.clear()
    assert 'HTTP into wsgi.errors' in stream.getvalue()


def test_severity_below_info_is_dropped(manager, tmp_path):
    path = tmp_path / 'e.log'
    manager.error_file = str(path)
    manager.error('debug detail', severity=logging.DEBUG)
    manager.error('kept', severity=logging.WARNING)
    assert path.read_text().count('\n') == 1


def test_access_line_in_combined_format(tmp_path):
    import pyframe
    from pyframe.tree import Application
    from support import wsgi_get

    class Root:
        @pyframe.expose
        def index(self, **params):
            return 'hello'

    app = Application(Root())
    path = tmp_path / 'access.log'
    app.log.access_file = str(path)
    try:
        wsgi_get(app, '/', 'q=1', headers={'Referer': 'http://ref/', 'User-Agent': 'Agent "X"'})
        wsgi_get(app, '/missing')
    finally:
        app.log.access_file = ''
    first, second = path.read_text().splitlines()
    assert re.fullmatch(
        r'127\.0\.0\.1 - - \[[^\]]+\] "GET /\?q=1 HTTP/1\.1" 200 5 "http://ref/" "Agent \\x22X\\x22"',
        first), first
    assert '"GET /missing HTTP/1.1" 404 ' in second


def test_access_log_costs_nothing_without_handlers(manager, monkeypatch):
    # No handler anywhere up the hierarchy: the line is never formatted.
    monkeypatch.setattr(logging.getLogger('pyframe.access'), 'handlers', [])
    monkeypatch.setattr(logging.getLogger('pyframe'), 'handlers', [])
    monkeypatch.setattr(logging.getLogger(), 'handlers', [])
    assert not manager._access_wanted()
    manager.access_file = '/dev/null'
    assert manager._access_wanted()


def test_global_log_delegates_to_the_serving_app(tmp_path):
    import pyframe
    from pyframe.tree import Application
    from support import wsgi_get

    class Root:
        @pyframe.expose
        def index(self):
            pyframe.log('from the handler', 'APP')
            return 'ok'

    app = Application(Root())
    path = tmp_path / 'app-error.log'
    app.log.error_file = str(path)
    try:
        wsgi_get(app, '/')
    finally:
        app.log.error_file = ''
    assert 'APP from the handler' in path.read_text()


def test_graceful_reopens_the_site_and_app_log_files(tmp_path, monkeypatch):
    import pyframe

    path = tmp_path / 'site-error.log'
    pyframe.log.error_file = str(path)
    try:
        pyframe.log.error('before rotation')
        os.rename(path, tmp_path / 'site-error.log.1')
        pyframe.engine.publish('graceful')  # what SIGUSR1 does
        pyframe.log.error('after rotation')
        assert 'after rotation' in path.read_text()
        assert 'before rotation' in (tmp_path / 'site-error.log.1').read_text()
    finally:
        pyframe.log.error_file = ''
