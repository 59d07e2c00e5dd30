"""The request core over real HTTP (cheroot): the tree of applications,
application config, request and response attributes, hooks, timeouts,
errors and error pages, per-path config and form parameters.

Protocol-level behaviour (keep-alive, pipelining, chunked bodies,
100-continue, malformed requests, size limits) is in test_http_protocol.py.
"""

from __future__ import annotations

import html
import io
import json
import logging
import threading
import time

import pytest
import requests

import pyframe
from live import live, wait_until  # noqa: F401  (``live`` is a fixture)
from support import wsgi_get


def as_json(value) -> str:
    pyframe.response.headers['Content-Type'] = 'application/json'
    return json.dumps(value)


def error_records(caplog, app) -> list[str]:
    """Messages logged to ``app``'s own error log."""
    return [r.getMessage() for r in caplog.records if r.name == app.log.error_log.name]


# -- Tree: mount, graft, apps, script_name ------------------------------------


class Named:
    """A root answering with its name and where it was reached."""

    def __init__(self, name):
        self.name = name

    @pyframe.expose
    def default(self, *segments):
        request = pyframe.request
        return f'{self.name} script_name={request.script_name!r} path_info={request.path_info!r}'


def test_tree_sends_each_request_to_the_longest_matching_mount(live):
    tree = pyframe.Tree()
    tree.mount(Named('root'))
    tree.mount(Named('blog'), '/blog')
    tree.mount(Named('admin'), '/blog/admin/')  # trailing slash ignored
    site = live(tree=tree)

    assert site.get('/about').text == "root script_name='' path_info='/about'"
    assert site.get('/blog/post/1').text == "blog script_name='/blog' path_info='/post/1'"
    assert site.get('/blog/admin/users').text == (
        "admin script_name='/blog/admin' path_info='/users'")
    # A mount point is a whole path segment, not a string prefix.
    assert site.get('/blogger').text == "root script_name='' path_info='/blogger'"
    assert sorted(tree.apps) == ['', '/blog', '/blog/admin']
    assert tree.script_name('/blog/admin/x') == '/blog/admin'


def test_paths_outside_every_mount_are_404(live):
    tree = pyframe.Tree()
    tree.mount(Named('shop'), '/shop')
    site = live(tree=tree)

    assert site.get('/shop/cart').status_code == 200
    for path in ('/', '/elsewhere', '/shopping'):
        response = site.get(path)
        assert response.status_code == 404, path
    assert tree.script_name('/elsewhere') is None


def test_a_grafted_wsgi_app_gets_script_name_and_path_info(live):
    def plain(environ, start_response):
        body = f"{environ['SCRIPT_NAME']}|{environ['PATH_INFO']}|{environ['QUERY_STRING']}".encode()
        start_response('200 OK', [('Content-Type', 'text/plain'),
                                  ('Content-Length', str(len(body)))])
        return [body]

    tree = pyframe.Tree()
    tree.mount(Named('root'))
    tree.graft(plain, '/legacy')
    site = live(tree=tree)

    assert site.get('/legacy/a/b?x=1').text == '/legacy|/a/b|x=1'
    assert site.get('/legacy').text == '/legacy||'
    assert tree.apps['/legacy'] is plain
    assert site.get('/other').text.startswith('root ')


def test_an_application_is_a_wsgi_callable_served_directly(live):
    app = pyframe.Application(Named('direct'))
    site = live(tree=app)  # no Tree in between
    assert site.get('/x/y').text == "direct script_name='' path_info='/x/y'"
    # The same application answers an in-process WSGI call.
    status, headers, body = wsgi_get(app, '/z')
    assert status == '200 OK'
    assert body == b"direct script_name='' path_info='/z'"
    assert headers['Content-Length'] == str(len(body))


# -- Application config: dict, INI file, merge, find_config --------------------


class ConfigShow:
    @pyframe.expose
    def default(self, *segments):
        request = pyframe.request
        return as_json({
            'flavor': request.config.get('flavor'),
            'driver': request.app.config.get('Databases', {}).get('driver'),
            'found': request.app.find_config('/deep/er/path', 'flavor', 'none'),
            'missing': request.app.find_config('/deep', 'nosuchkey', 'fallback'),
        })


def test_app_config_from_a_dict_applies_per_path_section(live):
    site = live(ConfigShow(), config={
        '/': {'flavor': 'vanilla', 'response.headers.X-Section': 'root'},
        '/deep': {'flavor': 'chocolate', 'response.headers.X-Section': 'deep'},
    })
    top = site.get('/top')
    assert top.json()['flavor'] == 'vanilla'
    assert top.headers['X-Section'] == 'root'
    deep = site.get('/deep/er')
    assert deep.json()['flavor'] == 'chocolate'
    assert deep.headers['X-Section'] == 'deep'
    assert deep.json()['found'] == 'chocolate'
    assert deep.json()['missing'] == 'fallback'


def test_app_config_from_an_ini_file_with_python_values_and_app_sections(live, tmp_path):
    path = tmp_path / 'app.conf'
    path.write_text(
        "[/]\n"
        "flavor = 'vanilla'\n"
        "response.headers.X-Answer = 6 * 7\n"
        "\n"
        "[/deep]\n"
        "flavor = 'from file'\n"
        "\n"
        "[Databases]\n"
        "driver = 'sqlite'\n"
    )
    site = live(ConfigShow(), config=str(path))
    top = site.get('/')
    assert top.json() == {'flavor': 'vanilla', 'driver': 'sqlite',
                          'found': 'from file', 'missing': 'fallback'}
    assert top.headers['X-Answer'] == '42'
    assert site.get('/deep').json()['flavor'] == 'from file'


def test_merging_config_into_a_running_app_takes_effect_on_the_next_request(live):
    site = live(ConfigShow(), config={'/': {'flavor': 'vanilla'}})
    assert site.get('/deep').json()['flavor'] == 'vanilla'
    site.app.merge({'/deep': {'flavor': 'mint'}})
    assert site.get('/deep').json()['flavor'] == 'mint'
    assert site.get('/').json()['flavor'] == 'vanilla'


# -- Request attributes -------------------------------------------------------


class Echo:
    @pyframe.expose
    def default(self, *segments, **params):
        request = pyframe.request
        return as_json({
            'method': request.method,
            'scheme': request.scheme,
            'base': request.base,
            'local_port': request.local.port,
            'remote_ip': request.remote.ip,
            'remote_port': request.remote.port,
            'request_line': request.request_line,
            'protocol': list(request.protocol),
            'server_protocol': request.server_protocol,
            'query_string': request.query_string,
            'params': request.params,
            'kwargs': params,
        })

    @pyframe.expose
    def header(self, name):
        headers = pyframe.request.headers
        return as_json([headers.get(name), headers.get(name.upper()),
                        headers.get(name.lower()), name.swapcase() in headers])

    @pyframe.expose
    def cookie(self, name):
        morsel = pyframe.request.cookie.get(name)
        return 'missing' if morsel is None else morsel.value


def test_request_attributes_describe_the_request(live):
    site = live(Echo())
    response = site.get('/some/where?a=1&b=two')
    data = response.json()
    assert data['method'] == 'GET'
    assert data['scheme'] == 'http'
    assert data['base'] == site.base
    assert data['local_port'] == site.port
    assert data['remote_ip'] == '127.0.0.1'
    assert data['request_line'] == 'GET /some/where?a=1&b=two HTTP/1.1'
    assert data['protocol'] == [1, 1]
    assert data['server_protocol'] == 'HTTP/1.1'
    assert data['query_string'] == 'a=1&b=two'
    assert data['params'] == {'a': '1', 'b': 'two'}


def test_remote_port_is_the_clients_port(live):
    site = live(Echo())
    with site.raw() as conn:
        conn.request('GET', '/')
        data = json.loads(conn.read_response().body)
        assert data['remote_port'] == conn.sock.getsockname()[1]


def test_repeated_query_keys_become_lists_and_reach_the_handler(live):
    site = live(Echo())
    data = site.get('/x?tag=a&tag=b&tag=c&one=1&sp=a+b%20c').json()
    assert data['params'] == {'tag': ['a', 'b', 'c'], 'one': '1', 'sp': 'a b c'}
    assert data['kwargs'] == data['params']


def test_a_non_utf8_query_string_is_404_unless_its_encoding_is_configured(live):
    site = live(Echo(), config={'/latin': {'request.query_string_encoding': 'latin-1'}})
    assert site.get('/plain?name=caf%E9').status_code == 404
    accepted = site.get('/latin?name=caf%E9')
    assert accepted.status_code == 200
    assert accepted.json()['kwargs'] == {'name': 'caf\u00e9'}
    # UTF-8 still works where nothing was configured.
    assert site.get('/plain?name=caf%C3%A9').json()['kwargs'] == {'name': 'caf\u00e9'}


def test_the_404_for_an_undecodable_query_string_says_why(live):
    site = live(Echo())
    refused = site.get('/plain?name=caf%E9')
    assert refused.status_code == 404
    text = html.unescape(refused.text)
    assert "must be encoded with 'utf8'" in text
    assert 'was not found' not in text


def test_request_headers_are_case_insensitive(live):
    site = live(Echo())
    response = site.get('/header?name=X-Custom-Thing', headers={'x-cUSTOM-thing': 'value'})
    assert response.json() == ['value', 'value', 'value', True]


def test_each_request_writes_one_access_log_line(live, caplog):
    site = live(Echo())
    caplog.set_level(logging.INFO, logger=site.app.log.access_log.name)
    site.get('/logged?q=1', headers={'Referer': 'http://ref.example/', 'User-Agent': 'probe/1'})
    site.get('/header')  # 404: the name argument is missing
    lines = [r.getMessage() for r in caplog.records if r.name == site.app.log.access_log.name]
    assert len(lines) == 2
    assert lines[0].startswith('127.0.0.1 - - [')
    length = len(site.get('/logged?q=1').content)
    assert lines[0].endswith(
        f'"GET /logged?q=1 HTTP/1.1" 200 {length} "http://ref.example/" "probe/1"')
    assert '"GET /header HTTP/1.1" 404 ' in lines[1]


def test_request_cookies_are_parsed(live):
    site = live(Echo())
    headers = {'Cookie': 'first=1; second="two words"'}
    assert site.get('/cookie?name=second', headers=headers).text == 'two words'
    assert site.get('/cookie?name=first', headers=headers).text == '1'
    assert site.get('/cookie?name=third', headers=headers).text == 'missing'


# -- Response: cookies, HEAD, bodies, headers, status ----------------------------


class Output:
    def __init__(self, tmp_path=None):
        self.tmp_path = tmp_path

    @pyframe.expose
    def login(self):
        cookie = pyframe.response.cookie
        cookie['sid'] = 'abc123'
        cookie['sid']['max-age'] = 3600
        cookie['sid']['path'] = '/'
        cookie['theme'] = 'dark'
        return 'logged in'

    @pyframe.expose
    def logout(self):
        cookie = pyframe.response.cookie
        cookie['sid'] = ''
        cookie['sid']['path'] = '/'
        cookie['sid']['expires'] = 0
        return 'logged out'

    @pyframe.expose
    def whoami(self):
        morsel = pyframe.request.cookie.get('sid')
        return morsel.value if morsel else 'anonymous'

    @pyframe.expose
    def text(self):
        pyframe.response.headers['X-Answer'] = '42'
        return 'caf\u00e9 au lait'

    @pyframe.expose
    def raw_bytes(self):
        pyframe.response.headers['Content-Type'] = 'application/octet-stream'
        return b'\x00\x01\xff'

    @pyframe.expose
    def listed(self):
        return ['one ', b'two ', 'three']

    @pyframe.expose
    def generated(self):
        yield 'gen'
        yield b'er'
        yield 'ated'

    @pyframe.expose
    def from_file(self):
        path = self.tmp_path / 'data.txt'
        path.write_bytes(b'file content\n' * 1000)
        return open(path, 'rb')

    @pyframe.expose
    def from_bytesio(self):
        return io.BytesIO(b'in memory')

    @pyframe.expose
    def sized_generator(self):
        pyframe.response.headers['Content-Length'] = '9'
        return iter([b'gen', b'erated'])

    @pyframe.expose
    def nothing(self):
        return None

    @pyframe.expose
    def status(self, value):
        pyframe.response.status = int(value) if value.isdigit() else value
        return f'status was {value}'

    @pyframe.expose
    def typed(self):
        pyframe.response.headers['Content-Type'] = 'text/plain'
        pyframe.response.headers['Cache-Control'] = 'no-store'
        return 'plain'

    @pyframe.expose
    def injected(self):
        pyframe.response.headers['X-Evil'] = 'a\r\nSet-Cookie: evil=1'
        return 'should not be sent'


def test_response_cookies_are_set_with_attributes(live):
    site = live(Output())
    response = site.get('/login')
    set_cookies = response.raw.headers.getlist('Set-Cookie')
    assert len(set_cookies) == 2
    sid = next(value for value in set_cookies if value.startswith('sid='))
    assert sid == 'sid=abc123; Max-Age=3600; Path=/'
    assert 'theme=dark' in set_cookies


def test_cookies_round_trip_and_expires_zero_deletes_them(live):
    site = live(Output())
    session = requests.Session()
    try:
        assert session.get(site.url('/whoami'), timeout=5).text == 'anonymous'
        session.get(site.url('/login'), timeout=5)
        assert session.get(site.url('/whoami'), timeout=5).text == 'abc123'
        logout = session.get(site.url('/logout'), timeout=5)
        assert 'expires=' in logout.headers['Set-Cookie'].lower()
        assert 'sid' not in session.cookies
        assert session.get(site.url('/whoami'), timeout=5).text == 'anonymous'
    finally:
        session.close()


@pytest.mark.parametrize('path, body', [
    ('/text', 'caf\u00e9 au lait'.encode()),
    ('/raw_bytes', b'\x00\x01\xff'),
    ('/listed', b'one two three'),
    ('/generated', b'generated'),
    ('/from_bytesio', b'in memory'),
    ('/nothing', b''),
])
def test_body_kinds_are_sent_with_their_content_length(live, path, body):
    site = live(Output())
    response = site.get(path)
    assert response.status_code == 200
    assert response.content == body
    assert response.headers['Content-Length'] == str(len(body))
    assert 'Transfer-Encoding' not in response.headers


def test_a_file_body_is_sent_whole(live, tmp_path):
    site = live(Output(tmp_path))
    response = site.get('/from_file')
    assert response.content == b'file content\n' * 1000
    assert response.headers['Content-Length'] == str(13 * 1000)


def test_a_lazy_body_with_a_handler_set_content_length_is_sent(live):
    site = live(Output())
    with site.raw() as conn:
        conn.request('GET', '/sized_generator')
        response = conn.read_response()
    assert response.headers['Content-Length'] == '9'
    assert response.body == b'generated'


def test_text_bodies_declare_their_charset(live):
    site = live(Output())
    assert site.get('/text').headers['Content-Type'] == 'text/html;charset=utf-8'
    typed = site.get('/typed')
    assert typed.headers['Content-Type'] == 'text/plain;charset=utf-8'
    assert typed.headers['Cache-Control'] == 'no-store'


@pytest.mark.parametrize('path', ['/text', '/generated', '/listed', '/from_file', '/status/404'])
def test_head_has_the_headers_of_get_but_no_body(live, tmp_path, path):
    site = live(Output(tmp_path))
    get = site.get(path)
    with site.raw() as conn:
        # HEAD then GET on one connection: a body sent after the HEAD's
        # headers would be read as the start of the second response.
        conn.request('HEAD', path)
        conn.request('GET', '/text')
        head = conn.read_response(method='HEAD')
        after = conn.read_response()
    assert head.status == get.status_code
    assert head.headers['Content-Length'] == get.headers['Content-Length']
    assert head.headers['Content-Type'] == get.headers['Content-Type']
    assert head.headers.get('X-Answer') == get.headers.get('X-Answer')
    assert after.status == 200
    assert after.body == 'caf\u00e9 au lait'.encode()


@pytest.mark.parametrize('value, code, reason', [
    ('201', 201, 'Created'),
    ('202 Accepted Gladly', 202, 'Accepted Gladly'),
    ('299', 299, ''),
    ('404', 404, 'Not Found'),
])
def test_handlers_set_status_as_int_or_string(live, value, code, reason):
    site = live(Output())
    with site.raw() as conn:
        conn.request('GET', f'/status/{value.replace(" ", "%20")}')
        response = conn.read_response()
    assert (response.status, response.reason) == (code, reason)
    assert response.body == f'status was {value}'.encode()


@pytest.mark.parametrize('value', ['abc', '1000', '99'])
def test_an_invalid_status_is_a_500(live, value):
    site = live(Output())
    response = site.get(f'/status/{value}')
    assert response.status_code == 500
    assert 'Illegal response status' in response.text


def test_statuses_without_body_drop_the_handlers_body(live):
    site = live(Output())
    with site.raw() as conn:
        conn.request('GET', '/status/204')
        conn.request('GET', '/status/304')
        conn.request('GET', '/text')
        no_content = conn.read_response()
        not_modified = conn.read_response()
        after = conn.read_response()
    assert no_content.status == 204 and 'Content-Length' not in no_content.headers
    assert not_modified.status == 304 and 'Content-Length' not in not_modified.headers
    assert after.status == 200 and after.body == 'caf\u00e9 au lait'.encode()


def test_a_header_value_with_a_line_break_is_a_500_never_an_injected_header(live):
    site = live(Output())
    response = site.get('/injected')
    assert response.status_code == 500
    assert 'evil' not in response.headers.get('Set-Cookie', '')
    assert 'should not be sent' not in response.text


# -- Streaming -------------------------------------------------------------------


class Streams:
    def __init__(self):
        self.gate = threading.Event()
        self.closed = threading.Event()

    @pyframe.expose
    @pyframe.config(**{'response.stream': True})
    def lazy(self):
        def produce():
            try:
                yield 'first\n'
                released = self.gate.wait(2)
                yield f'second {released}\n'
            finally:
                self.closed.set()
        return produce()

    @pyframe.expose
    def set_in_handler(self):
        pyframe.response.stream = True
        return iter(['a', 'b', 'c'])

    @pyframe.expose
    @pyframe.config(**{'response.stream': True})
    def broken(self):
        def produce():
            yield 'partial'
            raise RuntimeError('stream broke')
        return produce()


def test_a_streamed_body_is_chunked_and_produced_while_it_is_sent(live):
    root = Streams()
    site = live(root)
    with site.raw() as conn:
        conn.request('GET', '/lazy')
        head = conn.read_head()
        assert head.status == 200
        assert head.headers['Transfer-Encoding'] == 'chunked'
        assert 'Content-Length' not in head.headers
        # The first chunk arrives while the generator is still waiting.
        assert conn.read_chunk() == b'first\n'
        root.gate.set()
        assert conn.read_chunk() == b'second True\n'
        assert conn.read_chunk() is None
    assert root.closed.wait(2)


def test_stream_can_be_switched_on_by_the_handler(live):
    site = live(Streams())
    with site.raw() as conn:
        conn.request('GET', '/set_in_handler')
        response = conn.read_response()
    assert response.chunked
    assert response.body == b'abc'


def test_an_error_while_streaming_cuts_the_response_and_is_logged(live, caplog):
    site = live(Streams())
    with site.raw() as conn:
        conn.request('GET', '/broken')
        head = conn.read_head()
        assert head.status == 200
        assert conn.read_chunk() == b'partial'
        # No terminating chunk: the client can tell the body is incomplete.
        with pytest.raises((ConnectionError, ValueError, OSError)):
            conn.read_chunk()
    wait_until(lambda: any('stream broke' in m for m in error_records(caplog, site.app)))


# -- Hooks -----------------------------------------------------------------------


class Hooked:
    def __init__(self):
        self.calls = []

    def recorder(self, label, **attributes):
        def record():
            self.calls.append(label)
        for name, value in attributes.items():
            setattr(record, name, value)
        return record

    @pyframe.expose
    def index(self):
        self.calls.append('handler')
        return 'ok'

    @pyframe.expose
    def fail(self):
        self.calls.append('handler')
        raise ZeroDivisionError('handler failed')


def test_hooks_run_at_every_point_of_a_successful_request_in_order(live):
    root = Hooked()
    points = ['on_start_resource', 'before_request_body', 'before_handler',
              'before_finalize', 'on_end_resource', 'on_end_request']
    site = live(root, config={'/': {f'hooks.{p}': root.recorder(p) for p in points}})
    assert site.get('/').text == 'ok'
    wait_until(lambda: 'on_end_request' in root.calls)
    assert root.calls == points[:3] + ['handler'] + points[3:]


def test_error_hooks_run_around_the_error_response(live):
    root = Hooked()
    points = ['on_start_resource', 'before_handler', 'before_finalize', 'on_end_resource',
              'before_error_response', 'after_error_response', 'on_end_request']
    site = live(root, config={'/': {f'hooks.{p}': root.recorder(p) for p in points}})
    assert site.get('/fail').status_code == 500
    wait_until(lambda: 'on_end_request' in root.calls)
    assert root.calls == ['on_start_resource', 'before_handler', 'handler', 'on_end_resource',
                          'before_error_response', 'after_error_response', 'on_end_request']


def test_hooks_of_one_point_run_by_priority(live):
    root = Hooked()

    def attach_more():
        hooks = pyframe.request.hooks
        hooks.attach('before_handler', root.recorder('late'), priority=80)
        hooks.attach('before_handler', root.recorder('early'), priority=20)

    site = live(root, config={'/': {
        'hooks.on_start_resource': attach_more,
        'hooks.before_handler': root.recorder('middle'),  # default priority 50
        'hooks.before_finalize': root.recorder('own-priority', priority=10),
    }})
    assert site.get('/').text == 'ok'
    assert root.calls == ['early', 'middle', 'late', 'handler', 'own-priority']


def test_a_failing_hook_is_a_500_with_its_traceback_logged(live, caplog):
    root = Hooked()

    def explode():
        raise KeyError('hook exploded')

    site = live(root, config={'/': {'hooks.before_handler': explode}})
    response = site.get('/')
    assert response.status_code == 500
    assert 'handler' not in root.calls
    assert "KeyError: 'hook exploded'" in html.unescape(response.text)
    logged = '\n'.join(error_records(caplog, site.app))
    assert "Error in 'before_handler' hook" in logged
    assert "KeyError: 'hook exploded'" in logged


def test_after_a_failing_hook_only_failsafe_hooks_of_that_point_run(live):
    root = Hooked()

    def setup():
        hooks = pyframe.request.hooks
        hooks.attach('before_finalize', root.recorder('fails', failsafe=False), priority=10)
        hooks.attach('before_finalize', lambda: 1 / 0, priority=20)
        hooks.attach('before_finalize', root.recorder('skipped'), priority=30)
        hooks.attach('before_finalize', root.recorder('failsafe'), failsafe=True, priority=40)

    site = live(root, config={'/': {'hooks.on_start_resource': setup}})
    assert site.get('/').status_code == 500
    assert root.calls == ['handler', 'fails', 'failsafe']


def test_a_hook_may_answer_with_an_http_error_or_a_redirect(live):
    def guard():
        if pyframe.request.headers.get('X-Token') != 'secret':
            raise pyframe.HTTPError(401, 'Token required')

    def move():
        raise pyframe.HTTPRedirect('/', 301)

    root = Hooked()
    site = live(root, config={'/': {'hooks.before_handler': guard},
                              '/old': {'hooks.before_handler': move}})
    refused = site.get('/')
    assert refused.status_code == 401
    assert 'Token required' in refused.text
    assert site.get('/', headers={'X-Token': 'secret'}).text == 'ok'
    moved = site.get('/old')
    assert moved.status_code == 301
    assert moved.headers['Location'] == site.url('/')
    assert root.calls == ['handler']


# -- Timeouts ------------------------------------------------------------------------


class Slow:
    @pyframe.expose
    def sleepy(self):
        time.sleep(0.15)
        pyframe.response.check_timeout()
        return 'finished late'

    @pyframe.expose
    def flagged(self):
        pyframe.response.timed_out = True
        return 'flagged'

    @pyframe.expose
    def quick(self):
        pyframe.response.check_timeout()
        return f'timed_out={pyframe.response.timed_out}'


def test_a_response_past_its_timeout_becomes_a_500_timeout_error(live, caplog):
    site = live(Slow(), config={'/': {'response.timeout': 0.05}})
    response = site.get('/sleepy')
    assert response.status_code == 500
    assert 'TimeoutError' in response.text
    assert 'finished late' not in response.text
    assert any('TimeoutError' in m for m in error_records(caplog, site.app))


def test_timed_out_set_by_anyone_ends_the_request_with_a_500(live):
    site = live(Slow())
    response = site.get('/flagged')
    assert response.status_code == 500
    assert 'TimeoutError' in response.text


def test_a_quick_response_is_not_timed_out(live):
    site = live(Slow(), config={'/': {'response.timeout': 30}})
    assert site.get('/quick').text == 'timed_out=False'


# -- Errors -------------------------------------------------------------------------


class Failing:
    @pyframe.expose
    def forbidden(self):
        raise pyframe.HTTPError(403, 'Members <b>only</b>')

    @pyframe.expose
    def broken(self):
        raise ZeroDivisionError('handler bug')

    @pyframe.expose
    def missing(self):
        raise pyframe.NotFound()

    @pyframe.expose
    def move(self, *segments, to, status=None):
        raise pyframe.HTTPRedirect(to, int(status) if status else None)

    @pyframe.expose
    def internal(self, to='/target?via=internal', **ignored):
        raise pyframe.InternalRedirect(to)

    @pyframe.expose
    def target(self, **params):
        request = pyframe.request
        prev = request.prev
        return as_json({
            'method': request.method,
            'params': params,
            'flavor': request.config.get('flavor'),
            'prev_path': prev and prev.path_info,
            'prev_query': prev and prev.query_string,
            'prev_method': prev and prev.method,
            'prev_prev': prev and prev.prev,
        })

    @pyframe.expose
    def loop_a(self):
        raise pyframe.InternalRedirect('/loop_b')

    @pyframe.expose
    def loop_b(self):
        raise pyframe.InternalRedirect('/loop_a')

    @pyframe.expose
    def to_self(self):
        raise pyframe.InternalRedirect('/to_self')


def test_http_error_with_a_custom_message_is_an_escaped_error_page(live):
    site = live(Failing())
    response = site.get('/forbidden')
    assert response.status_code == 403
    assert response.reason == 'Forbidden'
    assert response.headers['Content-Type'] == 'text/html;charset=utf-8'
    assert 'Members &lt;b&gt;only&lt;/b&gt;' in response.text
    assert '<b>only</b>' not in response.text
    assert response.headers['Content-Length'] == str(len(response.content))


def test_unknown_paths_and_not_found_are_404(live):
    site = live(Failing())
    unknown = site.get('/no/such/page')
    assert unknown.status_code == 404
    assert "The path '/no/such/page' was not found." in html.unescape(unknown.text)
    raised = site.get('/missing')
    assert raised.status_code == 404
    assert "The path '/missing' was not found." in html.unescape(raised.text)


@pytest.mark.parametrize('status', [301, 302, 303, 307])
def test_redirects_resolve_relative_urls_against_the_request(live, status):
    site = live(Failing(), script_name='/app')
    response = site.get(f'/app/move/deeper?to=sibling&status={status}')
    assert response.status_code == status
    assert response.headers['Location'] == site.url('/app/move/sibling')
    assert site.url('/app/move/sibling') in response.text
    up = site.get(f'/app/move?to=../elsewhere&status={status}')
    assert up.headers['Location'] == site.url('/elsewhere')
    absolute = site.get(f'/app/move?to=/top&status={status}')
    assert absolute.headers['Location'] == site.url('/top')


def test_redirect_status_defaults_to_303_for_http11_and_302_for_http10(live):
    site = live(Failing())
    assert site.get('/move?to=/x').status_code == 303
    with site.raw() as conn:
        conn.request('GET', '/move?to=/x', protocol='HTTP/1.0')
        response = conn.read_response()
    assert response.status == 302
    assert response.headers['Location'] == f'http://127.0.0.1:{site.port}/x'


def test_internal_redirect_serves_another_handler_with_its_own_config(live):
    site = live(Failing(), config={
        '/internal': {'flavor': 'origin', 'response.headers.X-Origin': 'yes'},
        '/target': {'flavor': 'target'},
    })
    response = site.post('/internal?x=1', data={'field': 'value'})
    assert response.status_code == 200
    data = response.json()
    assert data == {
        'method': 'GET',
        'params': {'via': 'internal'},
        'flavor': 'target',
        'prev_path': '/internal',
        'prev_query': 'x=1',
        'prev_method': 'POST',
        'prev_prev': None,
    }
    # The redirected request has a fresh response: no header from /internal's config.
    assert 'X-Origin' not in response.headers


def test_an_internal_redirect_loop_is_a_500_not_a_hang(live, caplog):
    site = live(Failing())
    for path in ('/loop_a', '/to_self'):
        started = time.monotonic()
        response = site.get(path)
        assert response.status_code == 500, path
        assert 'InternalRedirect loop' in response.text
        assert time.monotonic() - started < 2
    assert any('InternalRedirect loop' in m for m in error_records(caplog, site.app))


def test_a_handler_exception_is_a_500_with_the_traceback_logged_and_shown(live, caplog):
    site = live(Failing())
    response = site.get('/broken')
    assert response.status_code == 500
    assert 'Traceback (most recent call last)' in response.text
    assert 'ZeroDivisionError: handler bug' in response.text
    logged = '\n'.join(error_records(caplog, site.app))
    assert 'Traceback (most recent call last)' in logged
    assert 'ZeroDivisionError: handler bug' in logged


def test_the_logged_error_names_the_stage_that_failed(live, caplog):
    site = live(Failing())
    assert site.get('/broken').status_code == 500
    first_lines = [m.splitlines()[0] for m in error_records(caplog, site.app)]
    assert first_lines and not any('on_end_resource' in line for line in first_lines)


def test_tracebacks_are_hidden_from_clients_when_show_tracebacks_is_off(live, caplog):
    site = live(Failing(), config={'/': {'request.show_tracebacks': False}})
    response = site.get('/broken')
    assert response.status_code == 500
    assert 'ZeroDivisionError' not in response.text
    assert 'Traceback' not in response.text
    assert any('ZeroDivisionError: handler bug' in m for m in error_records(caplog, site.app))


def test_the_traceback_goes_to_the_apps_error_file(live, tmp_path):
    error_file = tmp_path / 'error.log'
    site = live(Failing(), config={'/': {'log.error_file': str(error_file)}})
    try:
        assert site.app.log.error_file == str(error_file)
        assert site.get('/broken').status_code == 500
        text = error_file.read_text()
        assert 'ZeroDivisionError: handler bug' in text
        assert 'Traceback (most recent call last)' in text
    finally:
        site.app.log.error_file = None


def test_throw_errors_bypasses_error_pages_and_hooks(live, caplog):
    custom = []

    def error_response():
        custom.append('called')
        pyframe.response.body = 'custom'

    site = live(Failing(), config={'/': {
        'request.throw_errors': True,
        'request.error_response': error_response,
    }})
    response = site.get('/broken')
    assert response.status_code == 500
    assert custom == []
    assert response.headers['Content-Type'].startswith('text/plain')
    assert 'Unrecoverable error in the server.' in response.text
    assert any('ZeroDivisionError: handler bug' in m for m in error_records(caplog, site.app))
    # The server itself survives.
    assert site.get('/forbidden').status_code == 403


class QuietThrower:
    @pyframe.expose
    @pyframe.config(**{'request.throw_errors': True, 'request.show_tracebacks': False})
    def broken(self):
        raise ZeroDivisionError('handler bug')


@pytest.mark.parametrize('where', ['app-config', '_cp_config'])
def test_throw_errors_respects_show_tracebacks(live, where):
    if where == 'app-config':
        site = live(Failing(), config={'/': {
            'request.throw_errors': True,
            'request.show_tracebacks': False,
        }})
    else:
        site = live(QuietThrower())
    response = site.get('/broken')
    assert response.status_code == 500
    assert 'Unrecoverable error in the server.' in response.text
    assert 'ZeroDivisionError' not in response.text


def test_a_custom_error_response_replaces_the_500_page(live):
    def error_response():
        pyframe.response.status = 503
        pyframe.response.headers['Retry-After'] = '120'
        pyframe.response.body = b'<html><body>Sorry, try later</body></html>'

    site = live(Failing(), config={'/': {'request.error_response': error_response}})
    response = site.get('/broken')
    assert response.status_code == 503
    assert response.text == '<html><body>Sorry, try later</body></html>'
    assert response.headers['Retry-After'] == '120'
    # HTTPErrors keep their own pages.
    assert site.get('/forbidden').status_code == 403


def test_error_page_templates_fill_status_message_traceback_and_version(live, tmp_path):
    page_404 = tmp_path / '404.html'
    page_404.write_text('<h1>%(status)s</h1><p>%(message)s</p><v>%(version)s</v>')
    default = tmp_path / 'default.html'
    default.write_text('DEFAULT %(status)s|%(message)s|%(traceback)s')
    site = live(Failing(), config={'/': {
        'error_page.404': str(page_404),
        'error_page.default': str(default),
    }})

    missing = site.get('/nowhere')
    assert missing.status_code == 404
    assert missing.text == (f"<h1>404 Not Found</h1><p>The path &#x27;/nowhere&#x27; "
                            f"was not found.</p><v>{pyframe.__version__}</v>")
    forbidden = site.get('/forbidden')
    assert forbidden.status_code == 403
    assert forbidden.text.startswith('DEFAULT 403 Forbidden|Members &lt;b&gt;only&lt;/b&gt;|')
    broken = site.get('/broken')
    assert broken.status_code == 500
    assert broken.text.startswith('DEFAULT 500 Internal Server Error|')
    assert 'ZeroDivisionError: handler bug' in broken.text


def test_an_error_page_callable_receives_the_fields(live):
    seen = []

    def page(status, message, traceback, version):
        seen.append((status, message, version))
        return f'callable page for {status}: {message}'

    site = live(Failing(), config={'/': {'error_page.403': page}})
    response = site.get('/forbidden')
    assert response.status_code == 403
    assert response.text == 'callable page for 403 Forbidden: Members <b>only</b>'
    assert seen == [('403 Forbidden', 'Members <b>only</b>', pyframe.__version__)]


def test_a_broken_error_page_falls_back_to_the_default_page(live, tmp_path):
    def page(**fields):
        raise RuntimeError('page broke')

    site = live(Failing(), config={'/': {
        'error_page.403': page,
        'error_page.404': str(tmp_path / 'no-such-template.html'),
    }})
    forbidden = site.get('/forbidden')
    assert forbidden.status_code == 403
    assert 'Members &lt;b&gt;only&lt;/b&gt;' in forbidden.text
    assert 'the custom error page failed' in forbidden.text
    missing = site.get('/nowhere')
    assert missing.status_code == 404
    assert 'the custom error page failed' in missing.text


# -- Config: _cp_config, @pyframe.config, request.*/response.* keys per path ------------


class Section:
    _cp_config = {'flavor': 'class', 'response.headers.X-Level': 'class'}

    @pyframe.expose
    def plain(self):
        return pyframe.request.config['flavor']

    @pyframe.expose
    @pyframe.config(**{'flavor': 'decorator', 'response.headers.X-Level': 'decorator'})
    def decorated(self):
        return pyframe.request.config['flavor']

    @pyframe.expose
    def attributed(self):
        return pyframe.request.config['flavor']
    attributed._cp_config = {'flavor': 'attribute'}

    @pyframe.expose
    def overridden(self):
        return pyframe.request.config['flavor']
    overridden._cp_config = {'flavor': 'attribute'}


class ConfigRoot:
    _cp_config = {'flavor': 'root-class'}

    def __init__(self):
        self.section = Section()

    @pyframe.expose
    def index(self):
        return pyframe.request.config['flavor']

    @pyframe.expose
    def broken(self):
        raise ZeroDivisionError('handler bug')

    @pyframe.expose
    def sleepy(self):
        time.sleep(0.1)
        pyframe.response.check_timeout()
        return 'done'


def test_cp_config_and_app_sections_merge_along_the_path(live):
    site = live(ConfigRoot(), config={
        '/': {'flavor': 'app-root'},
        '/section/overridden': {'flavor': 'app-path'},
    })
    assert site.get('/').text == 'app-root'
    plain = site.get('/section/plain')
    assert plain.text == 'class'
    assert plain.headers['X-Level'] == 'class'
    decorated = site.get('/section/decorated')
    assert decorated.text == 'decorator'
    assert decorated.headers['X-Level'] == 'decorator'
    assert site.get('/section/attributed').text == 'attribute'
    assert site.get('/section/overridden').text == 'app-path'


def test_request_and_response_keys_apply_only_to_their_path(live):
    site = live(ConfigRoot(), config={
        '/': {'response.headers.X-Frame-Options': 'DENY'},
        '/broken': {'request.show_tracebacks': False},
        '/sleepy': {'response.timeout': 0.01},
    })
    broken = site.get('/broken')
    assert broken.status_code == 500
    assert 'ZeroDivisionError' not in broken.text
    slow = site.get('/sleepy')
    assert slow.status_code == 500 and 'TimeoutError' in slow.text
    index = site.get('/')
    assert index.headers['X-Frame-Options'] == 'DENY'
    assert broken.headers.get('X-Frame-Options') == 'DENY'


def test_a_config_entry_naming_an_unknown_hook_point_is_a_500(live):
    site = live(ConfigRoot(), config={'/': {'hooks.before_everything': lambda: None}})
    assert site.get('/').status_code == 500


# -- Form parameters ----------------------------------------------------------------


class Forms:
    @pyframe.expose
    def submit(self, **params):
        return as_json(params)

    @pyframe.expose
    def named(self, name, age='?'):
        return f'{name} is {age}'


def test_urlencoded_form_fields_are_merged_into_the_handlers_kwargs(live):
    site = live(Forms())
    response = site.post('/submit?source=query&tag=q',
                         data={'name': 'Ann', 'tag': ['b1', 'b2'], 'text': 'caf\u00e9 & co'})
    assert response.json() == {
        'source': 'query',
        'tag': ['q', 'b1', 'b2'],
        'name': 'Ann',
        'text': 'caf\u00e9 & co',
    }
    assert site.post('/named', data={'name': 'Bob', 'age': '7'}).text == 'Bob is 7'


def test_a_form_in_a_declared_charset_is_decoded_with_it(live):
    site = live(Forms())
    response = site.post('/submit', data='name=caf%E9'.encode(),
                         headers={'Content-Type': 'application/x-www-form-urlencoded;charset=latin-1'})
    assert response.json() == {'name': 'caf\u00e9'}
    undecodable = site.post('/submit', data=b'name=caf%E9',
                            headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert undecodable.status_code == 400
