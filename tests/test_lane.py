"""The fast lane and routes give the same answers as the long way.

``pyframe.wsgi.serve_route`` makes a request whose route is ready in one
go; every other request goes through ``_run_request`` and
``Request.run``. Each case here is served both ways (the lane switched
off with ``RouteTable.lane``) and the answers, and what the handler saw
of the request, must be identical. Every case is also checked to really
take the lane when it should, so the comparison cannot pass vacuously.
"""

from __future__ import annotations

import gzip
import io
import json

import pytest

import pyframe
from pyframe.lib import reprconf
from pyframe.route import RouteTable


def call(app, path='/', query='', method='GET', headers=None, body=b'', script_name=''):
    """One WSGI call: (status, header list without Date, body)."""
    environ = {
        'REQUEST_METHOD': method, 'SCRIPT_NAME': script_name, 'PATH_INFO': path,
        'QUERY_STRING': query, 'SERVER_NAME': '127.0.0.1', 'SERVER_PORT': '8080',
        'SERVER_PROTOCOL': 'HTTP/1.1', 'REMOTE_ADDR': '127.0.0.9', 'REMOTE_PORT': '4321',
        'HTTP_HOST': 'example.test:8080', 'wsgi.url_scheme': 'http',
        'wsgi.input': io.BytesIO(body), 'wsgi.errors': io.StringIO(),
        'wsgi.multithread': True, 'wsgi.multiprocess': False,
    }
    if body:
        environ['CONTENT_LENGTH'] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace('-', '_')
        environ[key if key in ('CONTENT_TYPE', 'CONTENT_LENGTH') else 'HTTP_' + key] = value
    seen = {}

    def start_response(status, header_list, exc_info=None):
        seen['status'] = status
        seen['headers'] = [(k, v) for k, v in header_list if k != 'Date']

    result = app(environ, start_response)
    try:
        content = b''.join(result)
    finally:
        if hasattr(result, 'close'):
            result.close()
    return seen['status'], seen['headers'], content


def lane_ready(app, path, script_name=''):
    """Whether a GET of ``path`` would take the fast lane now."""
    environ = {'PATH_INFO': path, 'SCRIPT_NAME': script_name}
    return app.routes.ready(environ) is not None


@pytest.fixture
def no_lane(monkeypatch):
    """A context switch: ``with no_lane():`` serves the long way."""
    import contextlib

    @contextlib.contextmanager
    def switch():
        monkeypatch.setattr(RouteTable, 'lane', False)
        reprconf.config_changed()  # tables recompute whether the lane is allowed
        try:
            yield
        finally:
            monkeypatch.setattr(RouteTable, 'lane', True)
            reprconf.config_changed()
    return switch


def snapshot():
    """What a handler sees of the request, as JSON-able values."""
    r = pyframe.request
    return {
        'method': r.method, 'path_info': r.path_info, 'script_name': r.script_name,
        'query_string': r.query_string, 'params': r.params, 'protocol': list(r.protocol),
        'base': r.base, 'request_line': r.request_line, 'is_index': r.is_index,
        'login': r.login, 'scheme': r.scheme, 'server_protocol': r.server_protocol,
        'local': [r.local.ip, r.local.port, r.local.name],
        'remote': [r.remote.ip, r.remote.port, r.remote.name],
        'multithread': r.multithread, 'multiprocess': r.multiprocess,
        'stage': r.stage, 'show_tracebacks': r.show_tracebacks,
        'config': sorted(k for k in r.config if not k.startswith('tools.staticdir')),
        'toolmaps': {ns: sorted(m) for ns, m in r.toolmaps.items()},
        'hooks': sorted(point for point, hooks in r.hooks.items() if hooks),
        'header_host': r.headers.get('Host'), 'body': r.body is not None,
        'process_request_body': r.process_request_body, 'closed': r.closed,
        'prev': r.prev is not None, 'error_page': sorted(map(str, r.error_page)),
    }


class Child:
    @pyframe.expose
    def index(self):
        return 'child index'

    @pyframe.expose
    def default(self, *args, **kwargs):
        return f'child default {args} {sorted(kwargs.items())}'


class Root:
    _cp_config = {'request.show_tracebacks': False}

    def __init__(self):
        self.child = Child()

    @pyframe.expose
    def index(self):
        return 'hello ünïcode'

    @pyframe.expose
    def raw(self):
        pyframe.response.headers['Content-Type'] = 'text/plain'
        return b'raw bytes'

    @pyframe.expose
    def seen(self, **params):
        pyframe.response.headers['Content-Type'] = 'application/json'
        return json.dumps(snapshot(), sort_keys=True)

    @pyframe.expose
    def missing(self):
        raise pyframe.HTTPError(418, 'short and stout')

    @pyframe.expose
    def moved(self):
        raise pyframe.HTTPRedirect('/raw')

    @pyframe.expose
    def broken(self):
        raise ValueError('on purpose')

    @pyframe.expose
    def inside(self):
        raise pyframe.InternalRedirect('/seen', 'from=inside')

    @pyframe.expose
    def args(self, a, b='2'):
        return f'{a}-{b}'

    @pyframe.expose
    def stream(self):
        def chunks():
            yield 'one '
            yield 'two'
        return chunks()
    stream._cp_config = {'response.stream': True}

    @pyframe.expose
    @pyframe.tools.json_out()
    def data(self, n='1'):
        return {'n': int(n), 'list': list(range(int(n)))}

    @pyframe.expose
    def counter(self):
        count = pyframe.session.get('count', 0) + 1
        pyframe.session['count'] = count
        return str(count)

    @pyframe.expose
    def big(self):
        return 'zip me ' * 200

    @pyframe.expose
    def ended(self):
        pyframe.request.hooks.attach('on_end_request', lambda: ENDED.append(1))
        return 'ended'


ENDED: list = []


def _mark_finalize():
    pyframe.response.headers['X-Hooked'] = pyframe.request.path_info


def make_app():
    return pyframe.Application(Root(), '', {
        '/': {'response.headers.X-Site': 'lane', 'error_page.404': _page_404},
        '/counter': {'tools.sessions.on': True},
        '/big': {'tools.gzip.on': True},
        '/raw': {'hooks.before_finalize': _mark_finalize, 'response.timeout': 7},
        '/child': {'request.show_tracebacks': True},
    })


def make_plain_app():
    """The same site without config for every path: most routes are straight
    (nothing before the handler but the encode tool)."""
    return pyframe.Application(Root(), '', {
        '/counter': {'tools.sessions.on': True},
        '/big': {'tools.gzip.on': True},
        '/raw': {'hooks.before_finalize': _mark_finalize, 'response.timeout': 7},
        '/child': {'request.show_tracebacks': True},
    })


def _page_404(status, message, traceback, version):
    return f'custom 404: {message}'


CASES = [
    ('/', '', 'GET', {}),
    ('/', '', 'HEAD', {}),
    ('/', '', 'GET', {'Accept-Charset': 'iso-8859-1'}),
    ('/', '', 'GET', {'Accept-Charset': 'ascii'}),
    ('/raw', '', 'GET', {}),
    ('/seen', 'x=1&y=2&y=3', 'GET', {'User-Agent': 'lane-test'}),
    ('/seen', '', 'OPTIONS', {}),
    ('/missing', '', 'GET', {}),
    ('/moved', '', 'GET', {}),
    ('/broken', '', 'GET', {}),
    ('/inside', '', 'GET', {}),
    ('/args', 'a=1', 'GET', {}),
    ('/args', 'a=1&c=3', 'GET', {}),
    ('/args', '', 'GET', {}),
    ('/stream', '', 'GET', {}),
    ('/data', 'n=3', 'GET', {}),
    ('/big', '', 'GET', {'Accept-Encoding': 'gzip'}),
    ('/big', '', 'GET', {}),
    ('/nowhere', '', 'GET', {}),
    ('/child', '', 'GET', {}),
    ('/child/', '', 'GET', {}),
    ('/child/a/b', 'k=v', 'GET', {}),
    ('/ended', '', 'GET', {}),
    ('/seen', '', 'GET', {'Host': 'bad host,twice'}),
]


@pytest.mark.parametrize('make', [make_app, make_plain_app])
@pytest.mark.parametrize('path,query,method,headers', CASES,
                         ids=[f'{m} {p}?{q} {sorted(h)}' for p, q, m, h in CASES])
def test_lane_answers_as_the_long_way(path, query, method, headers, make, no_lane, monkeypatch):
    from pyframe.request import Request

    # Tracebacks name the functions each way went through.
    monkeypatch.setattr(Request, 'show_tracebacks', False)
    app = make()
    call(app, path, query, method)  # the first request makes the route
    assert lane_ready(app, path), 'the case must exercise the lane'
    fast = call(app, path, query, method, headers)
    with no_lane():
        assert not lane_ready(app, path)
        slow = call(app, path, query, method, headers)
    assert fast == slow
    # A fresh app answering its very first request agrees too.
    assert call(make(), path, query, method, headers) == slow


def test_plain_routes_are_straight_and_configured_ones_are_not():
    app = make_plain_app()
    for path in ('/', '/args', '/seen', '/raw', '/counter', '/data'):
        call(app, path)
    routes = app.routes.routes
    assert routes['/'].straight and routes['/args'].straight and routes['/seen'].straight
    # response.timeout is set per request; sessions start before the body;
    # json_out wraps the handler.
    assert not any(routes[path].straight for path in ('/raw', '/counter', '/data'))
    app = make_app()
    call(app, '/')
    assert not app.routes.routes['/'].straight  # response.headers.* for every path


def test_lane_requests_publish_to_request_listeners():
    engine = pyframe.engine
    seen = []

    def before():
        seen.append(('before', pyframe.request.path_info))

    def after():
        seen.append(('after', pyframe.request.path_info))

    app = make_plain_app()
    call(app, '/raw')
    assert lane_ready(app, '/raw')
    engine.subscribe('before_request', before)
    engine.subscribe('after_request', after)
    try:
        call(app, '/raw')
        call(app, '/raw')
    finally:
        engine.unsubscribe('before_request', before)
        engine.unsubscribe('after_request', after)
    call(app, '/raw')
    assert seen == [('before', '/raw'), ('after', '/raw')] * 2


def test_lane_registers_each_thread_once_and_the_response_while_it_runs():
    import threading

    engine = pyframe.engine
    started = []
    seen = {}

    def start_thread(index):
        started.append(index)

    class Watched:
        @pyframe.expose
        def index(self):
            ident = threading.get_ident()
            seen['monitored'] = engine.timeout_monitor.servings.get(ident) is pyframe.serving.response
            return 'ok'

    app = pyframe.Application(Watched(), '')
    manager = engine.thread_manager
    was_listening = manager.acquire_thread in engine.listeners.get('acquire_thread', ())
    manager.subscribe()  # other tests may have left the engine's plugins off
    engine.subscribe('start_thread', start_thread)
    try:
        def serve_three():
            # A dead thread of an earlier test may have left this ident
            # registered (idents are reused): start from a clean slate.
            engine.publish('release_thread')
            for _ in range(3):
                assert call(app, '/')[2] == b'ok'
            engine.publish('release_thread')  # as a server's ending thread does
        worker = threading.Thread(target=serve_three)
        worker.start()
        worker.join()
        assert lane_ready(app, '/')
    finally:
        engine.unsubscribe('start_thread', start_thread)
        if not was_listening:
            manager.unsubscribe()
    assert len(started) == 1
    assert seen['monitored'] is True
    assert worker.ident not in engine.timeout_monitor.servings


def test_lane_keeps_a_session_going(no_lane):
    app = make_app()
    status, headers, body = call(app, '/counter')
    cookie = dict(headers)['Set-Cookie'].split(';')[0]
    assert lane_ready(app, '/counter')
    answers = [call(app, '/counter', headers={'Cookie': cookie})[2] for _ in range(3)]
    with no_lane():
        answers += [call(app, '/counter', headers={'Cookie': cookie})[2] for _ in range(2)]
    assert answers == [b'2', b'3', b'4', b'5', b'6']


def test_on_end_request_hooks_run_once_per_request():
    app = make_app()
    ENDED.clear()
    for _ in range(3):
        assert call(app, '/ended')[2] == b'ended'
    assert lane_ready(app, '/ended')
    assert ENDED == [1, 1, 1]


def test_requests_with_a_body_go_the_long_way():
    app = make_app()
    call(app, '/seen')
    environ = {'PATH_INFO': '/seen', 'SCRIPT_NAME': '', 'CONTENT_LENGTH': '3'}
    assert app.routes.ready(environ) is None
    environ = {'PATH_INFO': '/seen', 'SCRIPT_NAME': '', 'HTTP_TRANSFER_ENCODING': 'chunked'}
    assert app.routes.ready(environ) is None
    status, _, body = call(app, '/seen', method='POST', body=b'x=5',
                           headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert status == '200 OK' and json.loads(body)['params'] == {'x': '5'}


def test_a_subclassed_request_class_goes_the_long_way():
    from pyframe.request import Request

    class MyRequest(Request):
        pass

    app = make_app()
    app.request_class = MyRequest
    call(app, '/')
    assert not lane_ready(app, '/')
    assert call(app, '/')[0] == '200 OK'


def test_class_wide_hooks_send_requests_the_long_way(monkeypatch):
    from pyframe.request import HookMap, Request

    seen = []
    hooks = HookMap()
    hooks.attach('before_finalize', lambda: seen.append(pyframe.request.path_info))
    monkeypatch.setattr(Request, 'hooks', hooks)
    app = make_app()
    call(app, '/raw')
    assert not lane_ready(app, '/raw')
    call(app, '/raw')
    assert seen == ['/raw', '/raw']


def test_gzip_body_is_the_page():
    app = make_app()
    for _ in range(2):
        status, headers, body = call(app, '/big', headers={'Accept-Encoding': 'gzip'})
        assert dict(headers)['Content-Encoding'] == 'gzip'
        assert gzip.decompress(body) == b'zip me ' * 200


# -- routes follow the object tree and config ---------------------------------

def test_an_attribute_added_where_default_answered_is_found():
    app = make_app()
    assert call(app, '/child/new')[2] == b"child default ('new',) []"

    class New:
        @pyframe.expose
        def index(self):
            return 'new page'

    app.root.child.new = New()
    assert call(app, '/child/new/')[2] == b'new page'
    assert call(app, '/child/new')[0].startswith('301')


def test_a_replaced_handler_method_is_called():
    app = make_app()
    assert call(app, '/raw')[2] == b'raw bytes'
    app.root.raw = pyframe.expose(lambda: b'instance attribute')
    assert call(app, '/raw')[2] == b'instance attribute'
    del app.root.raw
    assert call(app, '/raw')[2] == b'raw bytes'


def test_a_replaced_root_is_walked():
    app = make_app()
    assert call(app, '/raw')[2] == b'raw bytes'

    class Other:
        @pyframe.expose
        def raw(self):
            return b'other root'

    app.root = Other()
    assert call(app, '/raw')[2] == b'other root'


def test_cp_dispatch_runs_once_per_request_and_is_never_kept():
    calls = []

    class Item:
        def __init__(self, name):
            self.name = name

        @pyframe.expose
        def index(self):
            return f'item {self.name}'

    class Items:
        def _cp_dispatch(self, vpath):
            calls.append(list(vpath))
            return Item(vpath.pop(0))

    root = Root()
    root.items = Items()
    app = pyframe.Application(root)
    for name in ('a', 'b', 'a'):
        assert call(app, f'/items/{name}/')[2] == f'item {name}'.encode()
    assert calls == [['a'], ['b'], ['a']]
    assert not lane_ready(app, '/items/a/')


def test_config_merged_after_the_first_request_applies():
    app = make_app()
    assert ('X-Late', 'yes') not in call(app, '/raw')[1]
    app.merge({'/raw': {'response.headers.X-Late': 'yes'}})
    assert ('X-Late', 'yes') in call(app, '/raw')[1]


def test_a_new_toolbox_namespace_applies_to_kept_routes():
    box = pyframe.Toolbox('lanebox')
    box.mark = pyframe.Tool('before_finalize',
                            lambda: pyframe.response.headers.__setitem__('X-Box', 'on'))
    app = make_app()
    call(app, '/raw')
    app.merge({'/raw': {'lanebox.mark.on': True}})
    assert ('X-Box', 'on') in call(app, '/raw')[1]


def test_a_dispatcher_chosen_by_config_is_used_each_time():
    class Resource:
        exposed = True

        def GET(self):
            return 'got'

        def POST(self):
            return 'posted'

    root = Root()
    root.api = Resource()
    app = pyframe.Application(root, '', {
        '/api': {'request.dispatch': pyframe.dispatch.MethodDispatcher()}})
    assert call(app, '/api')[2] == b'got'
    assert call(app, '/api', method='POST', body=b'x', headers={
        'Content-Type': 'application/octet-stream'})[2] == b'posted'
    assert call(app, '/api')[2] == b'got'
    assert not lane_ready(app, '/api')
