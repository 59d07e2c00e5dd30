"""The first end-to-end path: mount a root, dispatch, answer over WSGI."""

from __future__ import annotations

import html
import logging
import os
import re
import signal

import pytest
import requests

import pyframe
from pyframe.tree import Application, Tree
from support import REPO, free_port, wsgi_get, write_script


class Root:
    @pyframe.expose
    def index(self):
        return 'Hello world!'

    @pyframe.expose
    def greet(self, name='stranger', times='1'):
        return ' '.join([f'hi {name}'] * int(times))

    @pyframe.expose(['salut', 'hola'])
    def hello(self):
        return 'aliased'

    def private(self):
        return 'secret'

    @pyframe.expose
    def broken(self):
        raise ZeroDivisionError('handler bug')

    @pyframe.expose
    def forbidden(self):
        raise pyframe.HTTPError(403, 'Members only')

    @pyframe.expose
    def chunks(self):
        yield 'a'
        yield b'b'


class Users:
    @pyframe.expose
    def index(self):
        return 'all users'

    @pyframe.expose
    def default(self, name, *rest):
        return f'user {name} {"/".join(rest)}'.strip()


@pytest.fixture
def app():
    root = Root()
    root.users = Users()
    return Application(root)


def test_index_answers_hello_world(app):
    status, headers, body = wsgi_get(app, '/')
    assert status == '200 OK'
    assert body == b'Hello world!'
    assert headers['Content-Type'] == 'text/html;charset=utf-8'
    assert headers['Content-Length'] == '12'


def test_query_params_become_keyword_arguments(app):
    assert wsgi_get(app, '/greet', 'name=ann&times=2')[2] == b'hi ann hi ann'
    assert wsgi_get(app, '/greet')[2] == b'hi stranger'


def test_aliases_reach_the_same_handler(app):
    for path in ('/hello', '/salut', '/hola'):
        assert wsgi_get(app, path)[2] == b'aliased'


def test_unexposed_and_unknown_paths_are_404(app):
    for path in ('/private', '/nothing/here', '/Private'):
        status, headers, body = wsgi_get(app, path)
        assert status == '404 Not Found', path
        assert f"The path '{path}' was not found." in html.unescape(body.decode())


def test_extra_segments_become_positional_arguments(app):
    assert wsgi_get(app, '/greet/ann/3')[2] == b'hi ann hi ann hi ann'


def test_nested_objects_index_and_default(app):
    assert wsgi_get(app, '/users/')[2] == b'all users'
    # An index reached without its slash is redirected to the canonical URL
    # (the trailing_slash tool is on by default).
    status, headers, _ = wsgi_get(app, '/users', 'page=2')
    assert (status, headers['Location']) == ('301 Moved Permanently', 'http://127.0.0.1/users/?page=2')
    assert wsgi_get(app, '/users/bob')[2] == b'user bob'
    assert wsgi_get(app, '/users/bob/photos/1')[2] == b'user bob photos/1'


def test_handler_exception_is_500_and_logged_with_traceback(app, caplog):
    with caplog.at_level(logging.ERROR, logger=app.log.error_log.name):
        status, _, body = wsgi_get(app, '/broken')
    assert status == '500 Internal Server Error'
    assert b'ZeroDivisionError' in body  # show_tracebacks is on by default
    assert any('ZeroDivisionError: handler bug' in r.getMessage() for r in caplog.records)
    # the worker is fine afterwards
    assert wsgi_get(app, '/')[0] == '200 OK'


def test_http_error_sets_status_and_message(app):
    status, headers, body = wsgi_get(app, '/forbidden')
    assert status == '403 Forbidden'
    assert b'Members only' in body
    assert headers['Content-Length'] == str(len(body))


def test_generator_body_is_joined(app):
    assert wsgi_get(app, '/chunks')[2] == b'ab'


def test_head_has_headers_but_no_body(app):
    status, headers, body = wsgi_get(app, '/', method='HEAD')
    assert status == '200 OK'
    assert headers['Content-Length'] == '12'
    assert body == b''


def test_request_proxy_is_cleared_after_the_call(app):
    wsgi_get(app, '/')
    assert pyframe.request.app is None


def test_tree_routes_by_longest_mount_prefix():
    tree = Tree()

    class Blog:
        @pyframe.expose
        def index(self):
            return f'blog at {pyframe.request.script_name}'

    class Site:
        @pyframe.expose
        def index(self):
            return 'site'

    tree.mount(Site())
    tree.mount(Blog(), '/blog/')
    assert tree.script_name('/blog/post/1') == '/blog'
    assert tree.script_name('/blogger') == ''
    assert wsgi_get(tree, '/blog/')[2] == b'blog at /blog'
    assert wsgi_get(tree, '/')[2] == b'site'


def test_tree_without_root_mount_gives_404_outside_mounts():
    tree = Tree()
    tree.mount(Root(), '/app')
    assert tree.script_name('/elsewhere') is None
    assert wsgi_get(tree, '/elsewhere')[0] == '404 Not Found'
    assert wsgi_get(tree, '/app/')[2] == b'Hello world!'


def test_graft_mounts_a_plain_wsgi_callable():
    def raw(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [environ['SCRIPT_NAME'].encode(), b'|', environ['PATH_INFO'].encode()]

    tree = Tree()
    tree.graft(raw, '/raw')
    assert wsgi_get(tree, '/raw/x/y')[2] == b'/raw|/x/y'


def test_mount_rejects_none_script_name_and_mismatched_app():
    tree = Tree()
    with pytest.raises(TypeError):
        tree.mount(Root(), None)
    app = Application(Root(), '/here')
    with pytest.raises(ValueError, match='/here'):
        tree.mount(app, '/there')
    assert tree.mount(app) is app
    assert tree.apps['/here'] is app


QUICKSTART_CHILD = '''
    import runpy, sys
    import pyframe
    pyframe.server.socket_port = int(sys.argv[1])
    pyframe.engine.autoreload.unsubscribe()
    runpy.run_module('pyframe.tutorial.tut01_helloworld', run_name='__main__')
'''


@pytest.mark.slow
def test_quickstart_serves_tutorial_until_sigterm(tmp_path, spawn):
    port = free_port()
    script = write_script(tmp_path, 'run_tut01.py', QUICKSTART_CHILD)
    child = spawn([script, port])
    out = child.wait_output('Bus STARTED')

    response = requests.get(f'http://127.0.0.1:{port}/', timeout=5)
    assert response.status_code == 200
    assert response.text == 'Hello world!'

    # The ENGINE lines a user sees when starting a site.
    for line in ('ENGINE Listening for SIGTERM.', 'ENGINE Listening for SIGHUP.',
                 'ENGINE Listening for SIGUSR1.', 'ENGINE Bus STARTING',
                 "ENGINE Started monitor thread 'TimeoutMonitor'.",
                 f'ENGINE Serving on http://127.0.0.1:{port}', 'ENGINE Bus STARTED'):
        assert line in out, line
    assert re.search(r'^\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d\] ENGINE Bus STARTING$', out, re.M)

    os.kill(child.pid, signal.SIGTERM)
    assert child.wait(15) == 0
    out = child.output()
    assert 'ENGINE Caught signal SIGTERM.' in out
    assert 'ENGINE Bus EXITED' in out
    with pytest.raises(requests.ConnectionError):
        requests.get(f'http://127.0.0.1:{port}/', timeout=2)


def test_readme_test_command_is_what_ci_runs():
    readme = (REPO / 'README.rst').read_text()
    ci = (REPO / '.ci' / 'run').read_text()
    commands = re.findall(r'^    (python3 -m venv .*)$', readme, re.M)
    assert len(commands) == 2, commands
    serve, test = commands
    assert 'pyframe.tutorial.tut01_helloworld' in serve
    assert 'pytest' in test
    assert test in ci.splitlines()


QUICKSTART_WITH_CONFIG = '''
    import sys
    import pyframe

    class Root:
        @pyframe.expose
        def index(self):
            return pyframe.request.config.get('custom.greeting', 'none')

    port = int(sys.argv[1])
    pyframe.quickstart(Root(), '/site', {
        'global': {'server.socket_port': port, 'engine.autoreload.on': False},
        '/': {'custom.greeting': 'hello from config'},
    })
'''


@pytest.mark.slow
def test_quickstart_applies_global_section_and_app_config(tmp_path, spawn):
    port = free_port()
    script = write_script(tmp_path, 'qs_config.py', QUICKSTART_WITH_CONFIG)
    child = spawn([script, port])
    out = child.wait_output('Bus STARTED')
    assert "Started monitor thread 'Autoreloader'" not in out
    response = requests.get(f'http://127.0.0.1:{port}/site/', timeout=5)
    assert response.text == 'hello from config'
    os.kill(child.pid, signal.SIGTERM)
    assert child.wait(15) == 0
