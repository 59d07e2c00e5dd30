"""pyframe.testing: WebCase (live server per class) and Client (in-process)."""

from __future__ import annotations

import unittest

import pytest

import pyframe
from pyframe.process import wspbus
from pyframe.testing import Client, WebCase


class EchoRoot:
    @pyframe.expose
    def echo(self, message):
        return message

    @pyframe.expose
    def fail(self):
        raise ValueError('the handler broke down')

    @pyframe.expose
    def gone(self):
        raise pyframe.HTTPError(410, 'Moved to the moon')

    @pyframe.expose
    def method(self, **kwargs):
        body = pyframe.request.body.read() if pyframe.request.method in ('PUT',) else b''
        pyframe.response.headers['X-Method'] = pyframe.request.method
        return f'{pyframe.request.method} {pyframe.request.protocol} {body!r}'


class EchoWebCase(WebCase):
    @staticmethod
    def setup_server():
        pyframe.tree.mount(EchoRoot())

    def test_engine_serves_on_a_free_port(self):
        assert pyframe.engine.state == wspbus.states.STARTED
        assert self.port not in (0, 8080)
        assert pyframe.config['environment'] == 'test_suite'
        assert pyframe.engine.autoreload.start not in pyframe.engine.listeners['start']

    def test_get_page_and_asserts(self):
        status, headers, body = self.getPage('/echo?message=Hello%20world')
        assert (status, body) == ('200 OK', b'Hello world')
        assert isinstance(headers, list) and self.headers is headers
        self.assertStatus('200 OK')
        self.assertStatus(200)
        self.assertStatus('200')
        self.assertStatus([404, '200 OK'])
        self.assertHeader('Content-Type', 'text/html;charset=utf-8')
        assert self.assertHeader('content-length') == '11'
        self.assertNoHeader('X-Nothing')
        self.assertBody('Hello world')
        self.assertBody(b'Hello world')
        self.assertInBody('world')
        self.assertNotInBody('moon')
        assert self.assertMatchesBody(r'H\w+o').group() == b'Hello'

    def test_method_body_headers_protocol(self):
        self.getPage('/method', method='PUT', body='data',
                     headers=[('Content-Type', 'text/plain')], protocol='HTTP/1.0')
        self.assertStatus(200)
        self.assertBody("PUT (1, 0) b'data'")
        self.assertHeader('X-Method', 'PUT')
        self.getPage(self.base_url + '/method', method='HEAD')
        self.assertBody('')

    def test_error_pages(self):
        self.getPage('/nowhere')
        self.assertErrorPage(404, "The path '/nowhere' was not found.")
        self.getPage('/gone')
        self.assertErrorPage(410, 'Moved to the moon')
        self.getPage('/fail')
        self.assertErrorPage(500, pattern=r'ValueError: the handler broke down')

    def test_failures_explain_themselves(self):
        self.getPage('/echo?message=abc')
        checks = [
            (lambda: self.assertStatus(404), "Status '200 OK' is not 404."),
            (lambda: self.assertStatus([301, '302 Found']), "is not 301 or '302 Found'"),
            (lambda: self.assertHeader('X-Missing'), "Header 'X-Missing' is missing."),
            (lambda: self.assertHeader('Content-Length', '99'),
             "Header 'Content-Length' is '3', not '99'."),
            (lambda: self.assertNoHeader('Content-Type'), "'Content-Type' should be absent"),
            (lambda: self.assertBody('xyz'), "Body is not b'xyz'."),
            (lambda: self.assertInBody('xyz'), "'xyz' not found in the body."),
            (lambda: self.assertNotInBody('abc'), "'abc' found in the body."),
            (lambda: self.assertMatchesBody('^z'), "No match for b'^z' in the body."),
            (lambda: self.assertErrorPage(200), 'Not the default error page for 200'),
        ]
        for check, expected in checks:
            with self.assertRaises(self.failureException) as caught:
                check()
            message = str(caught.exception)
            assert expected in message, message
            assert 'Response to GET /echo?message=abc:' in message
            assert "body: b'abc'" in message
        with self.assertRaises(AssertionError) as caught:
            self.assertBody('xyz', 'my own words')
        assert str(caught.exception).startswith('my own words\n')

    def test_error_page_mismatches(self):
        self.getPage('/gone')
        with pytest.raises(AssertionError, match='does not show the message'):
            self.assertErrorPage(410, 'Another message')
        with pytest.raises(AssertionError, match='No match for .* in the traceback'):
            self.assertErrorPage(410, 'Moved to the moon', pattern='KeyError')


class ScriptNameWebCase(WebCase):
    """A second class in the same run: the engine starts again."""

    script_name = '/app'
    global_config = {'tools.gzip.on': False}

    @classmethod
    def setup_server(cls):
        pyframe.tree.mount(EchoRoot(), '/app')

    def test_previous_mounts_are_gone(self):
        self.getPage('/echo?message=hi')
        self.assertBody('hi')
        self.getPage('http://127.0.0.1:%d/echo?message=hi' % self.port)
        self.assertStatus(404)


def test_webcase_leaves_the_globals_as_found():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(ScriptNameWebCase)
    before = (dict(pyframe.tree.apps), dict(pyframe.config), pyframe.server.socket_port)
    result = unittest.TextTestRunner(stream=open('/dev/null', 'w')).run(suite)
    assert result.wasSuccessful(), result.failures + result.errors
    assert (dict(pyframe.tree.apps), dict(pyframe.config), pyframe.server.socket_port) == before
    assert pyframe.engine.state == wspbus.states.STOPPED


# -- Client -------------------------------------------------------------------


class ClientRoot:
    @pyframe.expose
    def index(self, **params):
        return ','.join(f'{key}={value}' for key, value in sorted(params.items()))

    @pyframe.expose
    def login(self, name):
        pyframe.response.cookie['user'] = name
        pyframe.response.cookie['user']['path'] = '/'
        return 'welcome'

    @pyframe.expose
    def whoami(self):
        cookie = pyframe.request.cookie
        return cookie['user'].value if 'user' in cookie else 'nobody'

    @pyframe.expose
    def logout(self):
        pyframe.response.cookie['user'] = ''
        pyframe.response.cookie['user']['max-age'] = 0
        return 'bye'

    @pyframe.expose
    def upload(self, document, title=''):
        data = document.file.read()
        return (f'{title}|{document.filename}|{document.content_type}|'
                f'{len(data)}|{data.decode()}')

    @pyframe.expose
    @pyframe.tools.json_in()
    @pyframe.tools.json_out()
    def double(self):
        return {'doubled': pyframe.request.json['n'] * 2}

    @pyframe.expose
    def header(self, name):
        pyframe.response.headers['X-Echo'] = pyframe.request.headers.get(name, '')
        return 'ok'

    @pyframe.expose
    def raw(self):
        return pyframe.request.body.read()


@pytest.fixture
def client():
    return Client(ClientRoot(), config={'/': {'log.screen': False}})


def test_client_get_with_params(client):
    response = client.get('/?a=1', params={'b': '2'})
    assert response.status == '200 OK' and response.status_code == 200
    assert response.body == b'a=1,b=2' and response.text == 'a=1,b=2'
    assert response.headers['content-type'] == 'text/html;charset=utf-8'
    response.assertStatus(200)
    client.assertBody('a=1,b=2')


def test_client_post_form_and_raw(client):
    client.post('/', data={'x': 'y z'})
    client.assertBody('x=y z')
    response = client.put('/raw', data=b'\x00bytes', headers={'Content-Type': 'application/octet-stream'})
    assert response.body == b'\x00bytes'


def test_client_carries_cookies(client):
    client.get('/whoami')
    client.assertBody('nobody')
    client.get('/login', params={'name': 'ada'})
    assert 'user' in client.cookies and client.cookies['user'] == 'ada'
    assert client.get('/whoami').text == 'ada'
    client.get('/logout')
    assert 'user' not in client.cookies
    client.get('/whoami')
    client.assertBody('nobody')


def test_client_json(client):
    response = client.post('/double', json={'n': 21})
    assert response.json() == {'doubled': 42}
    response.assertHeader('Content-Type', 'application/json')


def test_client_multipart_upload_reaches_handler_as_part(client):
    response = client.post('/upload', data={'title': 'notes'},
                           files={'document': ('notes.txt', b'hello there', 'text/plain')})
    response.assertBody('notes|notes.txt|text/plain|11|hello there')


def test_client_headers_and_methods(client):
    client.get('/header', params={'name': 'X-Token'}, headers={'X-Token': 'secret'})
    client.assertHeader('X-Echo', 'secret')
    head = client.head('/?a=1')
    assert head.body == b'' and head.status_code == 200
    client.delete('/nowhere')
    client.assertErrorPage(404, "The path '/nowhere' was not found.")
    with pytest.raises(AssertionError, match="Status '404 Not Found' is not 200"):
        client.assertStatus(200)


def test_client_before_any_request():
    with pytest.raises(AssertionError, match='No response yet'):
        Client(pyframe.Tree()).assertStatus(200)


def test_client_on_plain_wsgi_app_and_tree():
    def app(environ, start_response):
        start_response('201 Created', [('Set-Cookie', 'k=v; Path=/'),
                                       ('Content-Type', 'text/plain; charset=latin-1')])
        return [environ['PATH_INFO'].encode(), b'|', environ.get('HTTP_COOKIE', '').encode()]

    client = Client(app)
    assert client.get('/one').text == '/one|'
    assert client.get('/two').text == '/two|k=v'
    assert client.response.charset == 'latin-1'
    tree = pyframe.Tree()
    tree.mount(ClientRoot(), '/sub')
    assert Client(tree).get('/sub/', params={'q': 1}).text == 'q=1'
