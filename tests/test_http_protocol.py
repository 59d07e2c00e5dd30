"""HTTP/1.x on the wire through cheroot: keep-alive, pipelining, chunked
request bodies, 100-continue, custom methods, malformed requests, body
size limits, and PEP 3333 compliance of what pyframe hands the server.

These tests talk over raw sockets (``site.raw()``) where ``requests``
would hide what is being checked.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
import wsgiref.validate

import pytest
import requests

import pyframe
from live import build_request, chunked, live  # noqa: F401  (``live`` is a fixture)
from support import REPO, child_env


class Root:
    def __init__(self):
        self.remote_ports = []

    @pyframe.expose
    def index(self):
        return 'index'

    @pyframe.expose
    def echo(self, *segments, **params):
        self.remote_ports.append(pyframe.request.remote.port)
        pyframe.response.headers['Content-Type'] = 'application/json'
        return json.dumps({
            'method': pyframe.request.method,
            'segments': list(segments),
            'params': params,
            'protocol': list(pyframe.request.protocol),
            'base': pyframe.request.base,
        })

    @pyframe.expose
    def body(self, **params):
        """The raw entity, for bodies pyframe does not parse."""
        pyframe.response.headers['Content-Type'] = 'application/octet-stream'
        return pyframe.request.body.read()

    @pyframe.expose
    def trailer(self):
        body = pyframe.request.body.read()
        return f'{body!r} X-Checksum={pyframe.request.headers.get("X-Checksum")}'

    @pyframe.expose
    def broken(self):
        raise ZeroDivisionError('handler bug')

    @pyframe.expose
    def forbidden(self):
        raise pyframe.HTTPError(403)

    @pyframe.expose
    def propfind(self, **params):
        request = pyframe.request
        return f'{request.method} depth={request.headers.get("Depth")} ' \
               f'params={sorted(params.items())} body={request.body.read()!r}'

    @pyframe.expose
    def unread(self):
        return 'did not read the body'

    @pyframe.expose
    def loop(self):
        raise pyframe.InternalRedirect('/loop')

    @pyframe.expose
    @pyframe.config(**{'request.throw_errors': True})
    def thrown(self):
        raise ZeroDivisionError('handler bug')

    @pyframe.expose
    @pyframe.config(**{'response.stream': True})
    def streamed(self):
        yield 'streamed '
        yield 'body'

    @pyframe.expose
    def slow_echo(self, value):
        # Long enough for the requests to overlap on several threads.
        time.sleep(0.05)
        return f'{value} {pyframe.request.query_string}'


FORM = {'Content-Type': 'application/x-www-form-urlencoded'}


def echo_of(response) -> dict:
    assert response.status == 200, response
    return json.loads(response.body)


# -- Keep-alive -------------------------------------------------------------------


def test_several_requests_share_one_connection(live):
    site = live(Root())
    with site.raw() as conn:
        for number in range(3):
            conn.request('GET', f'/echo/{number}')
            response = conn.read_response()
            assert echo_of(response)['segments'] == [str(number)]
            assert response.headers.get('Connection', '').lower() != 'close'
    ports = site.tree.apps[''].root.remote_ports
    assert len(set(ports)) == 1


def test_a_requests_session_reuses_its_connection(live):
    root = Root()
    site = live(root)
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(site.url('/echo'), timeout=5).status_code == 200
    assert len(root.remote_ports) == 3 and len(set(root.remote_ports)) == 1


def test_connection_close_is_honoured(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('GET', '/echo', headers={'Connection': 'close'})
        response = conn.read_response()
        assert response.status == 200
        assert response.headers['Connection'].lower() == 'close'
        assert conn.closed_by_server()


def test_http10_closes_the_connection_unless_asked_to_keep_it(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('GET', '/echo', protocol='HTTP/1.0')
        response = conn.read_response()
        assert echo_of(response)['protocol'] == [1, 0]
        assert conn.closed_by_server()
    with site.raw() as conn:
        conn.request('GET', '/echo', headers={'Connection': 'Keep-Alive'}, protocol='HTTP/1.0')
        assert conn.read_response().status == 200
        conn.request('GET', '/echo/again', headers={'Connection': 'Keep-Alive'},
                     protocol='HTTP/1.0')
        assert echo_of(conn.read_response())['segments'] == ['again']


@pytest.mark.parametrize('method, path, status', [
    ('GET', '/no/such/thing', 404),
    ('GET', '/forbidden', 403),
    ('GET', '/broken', 500),
    ('POST', '/echo', 411),  # no Content-Length
])
def test_the_connection_survives_error_responses(live, method, path, status):
    site = live(Root())
    with site.raw() as conn:
        conn.request(method, path)
        assert conn.read_response().status == status
        conn.request('GET', '/echo/next')
        assert echo_of(conn.read_response())['segments'] == ['next']


def test_a_body_the_handler_did_not_read_does_not_leak_into_the_next_request(live):
    site = live(Root(), config={'/unread': {'request.process_request_body': False}})
    with site.raw() as conn:
        conn.request('POST', '/unread', headers=FORM, body=b'GET /evil HTTP/1.1\r\n\r\n')
        assert conn.read_response().body == b'did not read the body'
        conn.request('GET', '/echo/next')
        assert echo_of(conn.read_response())['segments'] == ['next']


HEAD_PATHS = [
    pytest.param('/app/forbidden', 403, id='error-page'),
    pytest.param('/app-less/outside', 404, id='outside-every-mount'),
    pytest.param('/app/loop', 500, id='internal-redirect-loop'),
    pytest.param('/app/thrown', 500, id='throw-errors'),
]


@pytest.mark.parametrize('path, status', HEAD_PATHS)
def test_head_never_gets_a_body_whoever_answers(live, path, status):
    tree = pyframe.Tree()
    tree.mount(Root(), '/app')
    site = live(tree=tree)
    with site.raw() as conn:
        conn.request('HEAD', path)
        conn.request('GET', '/app/index')
        head = conn.read_response(method='HEAD')
        assert head.status == status
        after = conn.read_response()
        assert (after.status, after.body) == (200, b'index')


# -- Pipelining ------------------------------------------------------------------------


def test_pipelined_requests_are_answered_in_order(live):
    site = live(Root())
    with site.raw() as conn:
        conn.send(build_request('GET', '/echo/first', host=f'127.0.0.1:{site.port}')
                  + build_request('GET', '/echo/second', host=f'127.0.0.1:{site.port}')
                  + build_request('GET', '/index', host=f'127.0.0.1:{site.port}'))
        assert echo_of(conn.read_response())['segments'] == ['first']
        assert echo_of(conn.read_response())['segments'] == ['second']
        assert conn.read_response().body == b'index'


def test_a_pipelined_post_body_ends_where_its_content_length_says(live):
    site = live(Root())
    with site.raw() as conn:
        conn.send(build_request('POST', '/echo', FORM, b'a=1&b=2')
                  + build_request('GET', '/echo?c=3'))
        assert echo_of(conn.read_response())['params'] == {'a': '1', 'b': '2'}
        assert echo_of(conn.read_response())['params'] == {'c': '3'}


def test_streamed_responses_are_delimited_for_http11_and_http10(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('GET', '/streamed')
        conn.request('GET', '/index')
        first = conn.read_response()
        assert first.chunked and first.body == b'streamed body'
        assert conn.read_response().body == b'index'
    with site.raw() as conn:
        conn.request('GET', '/streamed', protocol='HTTP/1.0')
        old = conn.read_response()  # no chunking in HTTP/1.0: the body ends at close
        assert not old.chunked and old.body == b'streamed body'


# -- Concurrency ------------------------------------------------------------------------


def test_concurrent_requests_each_see_their_own_request(live):
    site = live(Root(), thread_pool=8, socket_queue_size=32)
    results = {}

    def fetch(number):
        response = requests.get(site.url(f'/slow_echo?value={number}'), timeout=5)
        results[number] = response.text

    threads = [threading.Thread(target=fetch, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == {n: f'{n} value={n}' for n in range(8)}


# -- Chunked request bodies --------------------------------------------------------------


def test_a_chunked_form_is_read_and_merged_into_params(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('POST', '/echo?q=1', headers={**FORM, 'Transfer-Encoding': 'chunked'},
                     body=chunked(b'name=chun', b'ked&tag=a', b'&tag=b'))
        assert echo_of(conn.read_response())['params'] == {
            'q': '1', 'name': 'chunked', 'tag': ['a', 'b']}
        # The connection is still in step afterwards.
        conn.request('GET', '/echo/after')
        assert echo_of(conn.read_response())['segments'] == ['after']


def test_a_chunked_body_is_available_raw_to_the_handler(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('PUT', '/body', headers={'Content-Type': 'text/plain',
                                              'Transfer-Encoding': 'chunked'},
                     body=chunked(b'hello ', b'world'))
        assert conn.read_response().body == b'hello world'
        conn.request('GET', '/index')
        assert conn.read_response().body == b'index'


def test_chunked_trailers_are_consumed_and_become_request_headers(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('PUT', '/trailer', headers={'Content-Type': 'text/plain',
                                                 'Transfer-Encoding': 'chunked',
                                                 'Trailer': 'X-Checksum'},
                     body=chunked(b'hello ', b'world', trailers='X-Checksum: 42\r\n'))
        assert conn.read_response().body == b"b'hello world' X-Checksum=42"
        conn.request('GET', '/index')
        assert conn.read_response().body == b'index'


def test_a_chunked_body_the_handler_ignores_does_not_break_the_next_request(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('PUT', '/unread', headers={'Content-Type': 'application/octet-stream',
                                                'Transfer-Encoding': 'chunked'},
                     body=chunked(b'abc', b'def'))
        conn.request('GET', '/index')
        assert conn.read_response().body == b'did not read the body'
        # Either the next request is answered or the server closed the
        # connection after the first response; never a 400 for body bytes.
        try:
            after = conn.read_response()
        except ConnectionError:
            return
        assert (after.status, after.body) == (200, b'index')


# Run in a child process: the bug spins a cheroot worker thread forever,
# which would keep this process from stopping its server or exiting.
READLINE_CHILD = textwrap.dedent('''
    import os, sys
    import pyframe
    from live import serve, chunked

    class Root:
        @pyframe.expose
        def lines(self):
            body = pyframe.request.body
            return repr([body.readline(), body.readline(4), body.readline(), body.read()])

    site = serve(Root())
    try:
        with site.raw(timeout=2) as conn:
            conn.request('PUT', '/lines', headers={'Content-Type': 'text/plain',
                                                   'Transfer-Encoding': 'chunked'},
                         body=chunked(b'one\\ntw', b'o\\nthree\\nrest'))
            print('RESULT:', conn.read_response().body.decode()[:300])
    except OSError as exc:
        print('RESULT: no answer:', exc)
    sys.stdout.flush()
    os._exit(0)
''')


def test_reading_a_chunked_body_line_by_line_terminates():
    env = child_env()
    env['PYTHONPATH'] = f"{REPO / 'tests'}:{env['PYTHONPATH']}"
    result = subprocess.run([sys.executable, '-c', READLINE_CHILD], env=env, cwd=REPO,
                            capture_output=True, text=True, timeout=20)
    lines = [line for line in result.stdout.splitlines() if line.startswith('RESULT: ')]
    assert lines == ["RESULT: [b'one\\n', b'two\\n', b'three\\n', b'rest']"], result.stderr


def test_a_streaming_client_upload_arrives_whole(live):
    site = live(Root())

    def parts():
        yield b'x=' + b'1' * 5000
        yield b'&y=2'

    response = requests.post(site.url('/echo'), data=parts(), headers=FORM, timeout=5)
    assert response.status_code == 200
    assert response.json()['params'] == {'x': '1' * 5000, 'y': '2'}


# -- Expect: 100-continue ---------------------------------------------------------------


def test_expect_100_continue_gets_an_interim_response_before_the_body(live):
    site = live(Root())
    body = b'first=1&second=2'
    with site.raw() as conn:
        conn.request('POST', '/echo', headers={**FORM, 'Expect': '100-continue',
                                               'Content-Length': str(len(body))})
        interim = conn.read_head()
        assert (interim.version, interim.status, interim.reason) == ('HTTP/1.1', 100, 'Continue')
        conn.send(body)
        final = conn.read_response()
        assert echo_of(final)['params'] == {'first': '1', 'second': '2'}


def test_expect_100_continue_with_a_chunked_body(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('POST', '/echo', headers={**FORM, 'Expect': '100-continue',
                                               'Transfer-Encoding': 'chunked'})
        assert conn.read_head().status == 100
        conn.send(chunked(b'k=v'))
        assert echo_of(conn.read_response())['params'] == {'k': 'v'}


# -- Methods -------------------------------------------------------------------------------


def test_a_custom_method_reaches_an_exposed_handler_with_its_body_unparsed(live):
    site = live(Root())
    xml = b'<?xml version="1.0"?><propfind xmlns="DAV:"><allprop/></propfind>'
    response = site.request('PROPFIND', '/propfind?x=1', data=xml,
                            headers={'Depth': '1', 'Content-Type': 'application/xml'})
    assert response.status_code == 200
    assert response.text == f"PROPFIND depth=1 params=[('x', '1')] body={xml!r}"


def test_methods_with_bodies_can_include_a_custom_method(live):
    site = live(Root(), config={'/propfind': {
        'request.methods_with_bodies': ('POST', 'PUT', 'PROPFIND')}})
    response = site.request('PROPFIND', '/propfind', data={'a': '1'})
    assert response.text == "PROPFIND depth=None params=[('a', '1')] body=b''"


@pytest.mark.parametrize('method', ['PUT', 'PATCH', 'DELETE', 'OPTIONS'])
def test_common_methods_reach_the_handler(live, method):
    site = live(Root())
    response = site.request(method, '/echo', data={'a': '1'} if method != 'DELETE' else None)
    assert response.status_code == 200
    data = response.json()
    assert data['method'] == method
    if method in ('PUT', 'PATCH'):
        assert data['params'] == {'a': '1'}


# -- Malformed and refused requests --------------------------------------------------


@pytest.mark.parametrize('request_line', [
    b'NONSENSE\r\n\r\n',
    b'GET /\r\n\r\n',
    b'GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n',
    b'GET  HTTP/1.1\r\nHost: x\r\n\r\n',
])
def test_a_malformed_request_line_is_a_400(live, request_line):
    site = live(Root())
    with site.raw() as conn:
        conn.send(request_line)
        assert conn.read_response().status == 400


def test_an_http11_request_without_host_is_a_400(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('GET', '/echo', headers=[('Accept', '*/*')])
        response = conn.read_response()
    assert response.status == 400
    assert b'Host' in response.body


def test_an_http10_request_without_host_uses_the_servers_name(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('GET', '/echo', headers=[], protocol='HTTP/1.0')
        data = echo_of(conn.read_response())
    assert data['base'].startswith('http://127.0.0.1')


def test_an_invalid_content_length_is_a_400(live):
    site = live(Root())
    with site.raw() as conn:
        conn.request('POST', '/echo', headers={**FORM, 'Content-Length': 'many'})
        assert conn.read_response().status == 400


@pytest.mark.parametrize('method', ['POST', 'PUT', 'PATCH'])
def test_a_body_method_without_content_length_is_a_411(live, method):
    site = live(Root())
    with site.raw() as conn:
        conn.request(method, '/echo', headers=FORM)
        response = conn.read_response()
    assert response.status == 411


def test_a_body_method_may_skip_the_body_when_processing_is_off(live):
    site = live(Root(), config={'/echo': {'request.process_request_body': False}})
    with site.raw() as conn:
        conn.request('POST', '/echo/x', headers=FORM)
        assert echo_of(conn.read_response())['segments'] == ['x']


def test_a_body_over_max_request_body_size_is_a_413(live):
    site = live(Root(), max_request_body_size=64)
    with site.raw() as conn:
        conn.request('POST', '/echo', headers=FORM, body=b'a=' + b'x' * 100)
        assert conn.read_response().status == 413
    ok = site.post('/echo', data={'a': 'x' * 10})
    assert ok.status_code == 200


@pytest.mark.parametrize('parts', [
    # The announced size of a chunk would pass the limit (cheroot: IOError).
    pytest.param((b'a=' + b'x' * 100,), id='chunk-too-large'),
    # A chunk-size line passes the limit (cheroot: MaxSizeExceeded).
    pytest.param((b'a=' + b'x' * 58, b'x'), id='size-line-over'),
])
def test_a_chunked_body_over_max_request_body_size_is_a_413(live, parts):
    site = live(Root(), max_request_body_size=64)
    with site.raw() as conn:
        conn.request('POST', '/echo', headers={**FORM, 'Transfer-Encoding': 'chunked'},
                     body=chunked(*parts))
        assert conn.read_response().status == 413


def test_a_body_over_request_body_maxbytes_is_a_413(live):
    site = live(Root(), config={'/echo': {'request.body.maxbytes': 10}})
    assert site.post('/echo', data={'a': 'x' * 20}).status_code == 413
    assert site.post('/echo', data={'a': 'x'}).status_code == 200
    assert site.post('/body', data=b'x' * 20).status_code == 200


def test_a_chunked_body_over_request_body_maxbytes_is_a_413(live):
    site = live(Root(), config={'/echo': {'request.body.maxbytes': 10}})
    with site.raw() as conn:
        conn.request('POST', '/echo', headers={**FORM, 'Transfer-Encoding': 'chunked'},
                     body=chunked(b'a=' + b'x' * 20))
        assert conn.read_response().status == 413


# -- PEP 3333 ----------------------------------------------------------------------------


class Validated:
    @pyframe.expose
    def index(self):
        return 'plain'

    @pyframe.expose
    def generated(self):
        yield 'a'
        yield b'b'

    @pyframe.expose
    def form(self, **params):
        return json.dumps(params)

    @pyframe.expose
    def broken(self):
        raise ZeroDivisionError('handler bug')

    @pyframe.expose
    def hooked(self):
        return 'hooked'


def validated_site(live):
    """The tree wrapped in wsgiref's validator, which checks the environ,
    start_response calls, wsgi.input use, the body iterable and close():
    a violation raises AssertionError, which the client sees as a 500."""
    tree = pyframe.Tree()
    tree.mount(Validated(), '/app', config={'/hooked': {'hooks.on_end_request': lambda: None}})
    return live(tree=wsgiref.validate.validator(tree))


def test_responses_pass_the_wsgi_validator(live):
    site = validated_site(live)
    assert site.get('/app/').text == 'plain'
    assert site.head('/app/').headers['Content-Length'] == '5'
    assert site.get('/app/generated').text == 'ab'
    assert site.get('/app/hooked').text == 'hooked'  # the AppResponse path
    broken = site.get('/app/broken')
    assert broken.status_code == 500 and 'ZeroDivisionError' in broken.text
    assert site.get('/outside').status_code == 404


def test_reading_a_form_body_passes_the_wsgi_validator(live):
    site = validated_site(live)
    response = site.post('/app/form', data={'k': 'v'})
    assert response.status_code == 200
    assert response.json() == {'k': 'v'}
