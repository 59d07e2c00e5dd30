"""The tools of pyframe.tools, switched on the usual ways."""

from __future__ import annotations

import gzip
import json

import pyframe
from pyframe.tree import Application
from support import wsgi_get


class Root:
    calls = 0

    @pyframe.expose
    def index(self):
        return 'hello ' * 50

    @pyframe.expose
    @pyframe.tools.json_out()
    def data(self):
        return {'answer': 42}

    @pyframe.expose
    @pyframe.tools.json_in()
    @pyframe.tools.json_out()
    def echo(self):
        return {'got': pyframe.request.json}

    @pyframe.expose
    def counted(self):
        Root.calls += 1
        return f'call {Root.calls}'


def test_gzip_through_config():
    app = Application(Root(), '', {'/': {'tools.gzip.on': True}})
    status, headers, body = wsgi_get(app, '/', headers={'Accept-Encoding': 'gzip'})
    assert headers['Content-Encoding'] == 'gzip'
    assert 'Accept-Encoding' in headers['Vary']
    assert gzip.decompress(body) == b'hello ' * 50


def test_json_tools_as_decorators():
    app = Application(Root())
    status, headers, body = wsgi_get(app, '/data')
    assert headers['Content-Type'] == 'application/json'
    assert json.loads(body) == {'answer': 42}
    status, _, body = wsgi_get(app, '/echo', method='POST', body=b'{"a": [1, 2]}',
                               headers={'Content-Type': 'application/json'})
    assert (status, json.loads(body)) == ('200 OK', {'got': {'a': [1, 2]}})
    assert wsgi_get(app, '/echo', method='POST', body=b'{nope',
                    headers={'Content-Type': 'application/json'})[0] == '400 Bad Request'


def test_caching_and_expires_through_config():
    app = Application(Root(), '', {'/counted': {'tools.caching.on': True,
                                                'tools.expires.on': True,
                                                'tools.expires.secs': 60}})
    try:
        first = wsgi_get(app, '/counted')
        second = wsgi_get(app, '/counted')
        assert first[2] == second[2]
        assert 'Age' in second[1]
        assert 'Expires' in first[1]
    finally:
        pyframe.tools.caching.cache.clear()


def test_gzip_gives_compressed_responses_their_own_etag_and_304_still_works():
    class Page:
        @pyframe.expose
        def index(self):
            return 'hello ' * 40

    app = Application(Page(), '', {'/': {'tools.etags.on': True, 'tools.etags.autotags': True,
                                         'tools.gzip.on': True}})
    plain = wsgi_get(app, '/')[1]['Etag']
    zipped = wsgi_get(app, '/', headers={'Accept-Encoding': 'gzip'})[1]['Etag']
    assert zipped != plain and zipped == plain[:-1] + '-gzip"'
    status = wsgi_get(app, '/', headers={'Accept-Encoding': 'gzip', 'If-None-Match': zipped})[0]
    assert status == '304 Not Modified'


def test_encode_declares_the_charset_as_the_client_spelled_it():
    class Page:
        @pyframe.expose
        def index(self):
            return 'caf\u00e9'

    # Only a latin charset is acceptable (utf-8, the default, is not).
    headers = wsgi_get(Application(Page()), '/', headers={'Accept-Charset': 'ISO-8859-15'})[1]
    assert headers['Content-Type'] == 'text/html;charset=ISO-8859-15'


def test_flatten_works_with_encode_on():
    class Page:
        @pyframe.expose
        @pyframe.tools.flatten()
        def index(self):
            def inner():
                yield 'b'
                yield ['c', b'd']
            yield 'a'
            yield inner()

    status, _, body = wsgi_get(Application(Page()), '/')
    assert (status, body) == ('200 OK', b'abcd')


def test_auth_basic_through_config_sets_login():
    import base64

    from pyframe.lib import auth_basic

    class Private:
        @pyframe.expose
        def index(self):
            return f'hello {pyframe.request.login}'

    app = Application(Private(), '', {'/': {
        'tools.auth_basic.on': True,
        'tools.auth_basic.realm': 'site',
        'tools.auth_basic.checkpassword': auth_basic.checkpassword_dict({'ann': 's3cret'}),
    }})
    status, headers, _ = wsgi_get(app, '/')
    assert status == '401 Unauthorized' and headers['Www-Authenticate'].startswith('Basic realm="site"')
    token = base64.b64encode(b'ann:s3cret').decode()
    status, _, body = wsgi_get(app, '/', headers={'Authorization': f'Basic {token}'})
    assert (status, body) == ('200 OK', b'hello ann')


def test_sessions_through_config_with_the_session_proxy():
    class Counter:
        @pyframe.expose
        def index(self):
            pyframe.session['count'] = pyframe.session.get('count', 0) + 1
            return str(pyframe.session['count'])

    app = Application(Counter(), '', {'/': {'tools.sessions.on': True}})
    status, headers, body = wsgi_get(app, '/')
    assert (status, body) == ('200 OK', b'1')
    cookie = headers['Set-Cookie'].split(';', 1)[0]
    assert cookie.startswith('session_id=')
    assert wsgi_get(app, '/', headers={'Cookie': cookie})[2] == b'2'
    assert wsgi_get(app, '/')[2] == b'1'  # another client, another session
