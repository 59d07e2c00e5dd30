"""pyframe.testing.plugin: the pyframe_client and pyframe_server fixtures,
run in a pytester sandbox (``-p`` loads the plugin, as the entry point
does once pyframe is installed)."""

from __future__ import annotations

pytest_plugins = ['pytester']

SANDBOX_TESTS = '''
import urllib.request
import urllib.error

import pyframe


class Root:
    @pyframe.expose
    def index(self, name='world'):
        return f'Hello {name}!'

    @pyframe.expose
    def count(self):
        visits = int(pyframe.request.cookie['n'].value) + 1 if 'n' in pyframe.request.cookie else 1
        pyframe.response.cookie['n'] = str(visits)
        return str(visits)


def test_client(pyframe_client):
    client = pyframe_client(Root())
    client.get('/', params={'name': 'pytest'})
    client.assertStatus(200)
    client.assertBody('Hello pytest!')
    assert [client.get('/count').text for _ in range(3)] == ['1', '2', '3']


def test_client_with_config(pyframe_client):
    client = pyframe_client(Root(), config={'/': {'tools.response_headers.on': True,
        'tools.response_headers.headers': [('X-Site', 'demo')]}})
    client.get('/').assertHeader('X-Site', 'demo')


def test_client_on_wsgi_app(pyframe_client):
    def app(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'plain wsgi']
    assert pyframe_client(app).get('/').body == b'plain wsgi'


SERVED = []


def test_server(pyframe_server):
    base = pyframe_server(Root())
    assert base.startswith('http://127.0.0.1:') and not base.endswith(':0')
    with urllib.request.urlopen(base + '/?name=live', timeout=5) as response:
        assert response.status == 200
        assert response.read() == b'Hello live!'
    other = pyframe_server(Root(), script_name='/app')
    assert other != base
    with urllib.request.urlopen(other + '/app/', timeout=5) as response:
        assert response.read() == b'Hello world!'
    SERVED.append(base)


def test_server_stopped_after_its_test():
    (base,) = SERVED
    try:
        urllib.request.urlopen(base + '/', timeout=2)
    except (urllib.error.URLError, ConnectionError):
        pass
    else:
        raise AssertionError('the server of the previous test still answers')
'''


def test_fixtures_in_a_sandbox(pytester):
    # No -p option: the plugin must load through its pytest11 entry point,
    # as it does for users who installed pyframe.
    pytester.makepyfile(test_sandbox=SANDBOX_TESTS)
    result = pytester.runpytest_subprocess('-q')
    result.assert_outcomes(passed=5)


def test_webcase_runs_under_pytest_in_a_sandbox(pytester):
    pytester.makepyfile(test_web='''
import pyframe
from pyframe.testing import WebCase


class Root:
    @pyframe.expose
    def echo(self, message):
        return message


class SimpleTest(WebCase):
    def setup_server():
        pyframe.tree.mount(Root())
    setup_server = staticmethod(setup_server)

    def test_message_should_be_returned_as_is(self):
        self.getPage('/echo?message=Hello%20world')
        self.assertStatus('200 OK')
        self.assertHeader('Content-Type', 'text/html;charset=utf-8')
        self.assertBody('Hello world')

    def test_failure_is_reported(self):
        self.getPage('/echo?message=abc')
        self.assertBody('xyz')


class SecondTest(WebCase):
    @staticmethod
    def setup_server():
        pyframe.tree.mount(Root(), '/second')

    def test_second_class_gets_a_fresh_engine_start(self):
        self.getPage('/second/echo?message=again')
        self.assertBody('again')
''')
    result = pytester.runpytest_subprocess('-q')
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*Body is not b'xyz'.*", '*Response to GET /echo?message=abc:*'])
