"""Server attributes, the cheroot server built from them, and adapter details
that need no real traffic."""

from __future__ import annotations

import importlib.util
import logging
import socket
import threading

import cheroot.wsgi
import pytest

from pyframe.httpserver import WSGIServer
from pyframe.process import servers
from pyframe.process.servers import (
    FlupCGIServer,
    FlupFCGIServer,
    FlupSCGIServer,
    PortInUseError,
    ServerAdapter,
)
from pyframe.server import Server


def app(environ, start_response):
    start_response('200 OK', [])
    return [b'']


@pytest.fixture
def server(bus):
    instance = Server(bus)
    instance.wsgi_app = app
    return instance


# -- attributes ---------------------------------------------------------------


def test_defaults(server):
    expected = {
        'socket_host': '127.0.0.1', 'socket_port': 8080, 'socket_file': None,
        'socket_queue_size': 5, 'socket_timeout': 10,
        'accepted_queue_size': -1, 'accepted_queue_timeout': 10,
        'shutdown_timeout': 5, 'protocol_version': 'HTTP/1.1',
        'thread_pool': 10, 'thread_pool_max': -1,
        'max_request_header_size': 500 * 1024,
        'max_request_body_size': 100 * 1024 * 1024,
        'instance': None, 'ssl_module': 'builtin', 'ssl_certificate': None,
        'ssl_private_key': None, 'ssl_certificate_chain': None,
        'ssl_ciphers': None, 'ssl_context': None, 'nodelay': True,
        'statistics': False, 'wsgi_version': (1, 0), 'peercreds': False,
        'peercreds_resolve': False, 'httpserver': None,
        'bind_addr': ('127.0.0.1', 8080),
    }
    assert {name: getattr(server, name) for name in expected} == expected
    assert Server.wsgi_app is None


@pytest.mark.parametrize('host', ['', None])
def test_empty_socket_host_is_refused_with_a_hint(server, host):
    with pytest.raises(ValueError, match=r"'0\.0\.0\.0'"):
        server.socket_host = host
    assert server.socket_host == '127.0.0.1'


def test_bind_addr_round_trip(server, tmp_path):
    server.bind_addr = ('::1', 9000)
    assert (server.socket_host, server.socket_port, server.bind_addr) == (
        '::1', 9000, ('::1', 9000))

    path = str(tmp_path / 's.sock')
    server.bind_addr = path
    assert (server.socket_file, server.bind_addr) == (path, path)

    server.bind_addr = None
    assert (server.socket_file, server.bind_addr) == (None, ('::1', 9000))

    server.bind_addr = path
    server.bind_addr = ('127.0.0.1', 8081)
    assert (server.socket_file, server.bind_addr) == (None, ('127.0.0.1', 8081))

    with pytest.raises(ValueError):
        server.bind_addr = ('', 80)


@pytest.mark.parametrize('attributes, url', [
    ({}, 'http://127.0.0.1:8080'),
    ({'socket_port': 80}, 'http://127.0.0.1'),
    ({'socket_port': 443}, 'http://127.0.0.1:443'),
    ({'socket_port': 443, 'ssl_certificate': 'c.pem'}, 'https://127.0.0.1'),
    ({'socket_port': 8443, 'ssl_context': object()}, 'https://127.0.0.1:8443'),
    ({'socket_host': '::1'}, 'http://[::1]:8080'),
    ({'socket_host': 'example.test', 'socket_port': 80}, 'http://example.test'),
    ({'socket_host': '0.0.0.0'}, f'http://{socket.gethostname()}:8080'),
    ({'socket_file': '/run/app.sock'}, '/run/app.sock'),
])
def test_base(server, attributes, url):
    for name, value in attributes.items():
        setattr(server, name, value)
    assert server.base() == url


def test_base_uses_the_real_port_once_bound(server):
    server.socket_port = 0
    server.start()
    try:
        assert server.base() == f'http://127.0.0.1:{server.bound_addr[1]}'
        assert server.bound_addr[1] != 0
    finally:
        server.stop()


# -- the cheroot server built from the attributes -----------------------------


def test_wsgi_server_takes_every_setting(server):
    settings = {
        'socket_port': 0, 'socket_queue_size': 7, 'socket_timeout': 3,
        'accepted_queue_size': 4, 'accepted_queue_timeout': 2,
        'shutdown_timeout': 1, 'protocol_version': 'HTTP/1.0',
        'thread_pool': 3, 'thread_pool_max': 6,
        'max_request_header_size': 1000, 'max_request_body_size': 2000,
        'nodelay': False, 'statistics': True, 'peercreds': True,
        'peercreds_resolve': True,
    }
    for name, value in settings.items():
        setattr(server, name, value)
    httpserver, bind_addr = server.httpserver_from_self()

    assert isinstance(httpserver, WSGIServer)
    assert bind_addr == httpserver.bind_addr == ('127.0.0.1', 0)
    assert httpserver.wsgi_app is app
    assert (httpserver.requests.min, httpserver.requests.max) == (3, 6)
    assert httpserver.requests._queue.maxsize == 4
    assert httpserver.requests._queue_put_timeout == 2
    assert (httpserver.request_queue_size, httpserver.timeout,
            httpserver.shutdown_timeout) == (7, 3, 1)
    assert httpserver.protocol == 'HTTP/1.0'
    assert (httpserver.max_request_header_size,
            httpserver.max_request_body_size) == (1000, 2000)
    assert httpserver.nodelay is False
    assert httpserver.stats['Enabled'] is True
    assert (httpserver.peercreds_enabled,
            httpserver.peercreds_resolve_enabled) == (True, True)
    assert httpserver.server_name == '127.0.0.1'
    assert httpserver.ssl_adapter is None


def test_wsgi_version_picks_the_gateway(server):
    server.wsgi_version = ('u', 0)
    httpserver, _ = server.httpserver_from_self()
    assert httpserver.gateway is cheroot.wsgi.WSGIGateway_u0
    assert httpserver.wsgi_version == ('u', 0)

    server.wsgi_version = (2, 0)
    with pytest.raises(ValueError, match=r'wsgi_version \(2, 0\)'):
        server.httpserver_from_self()


def test_unknown_ssl_module_is_refused_by_name(server):
    server.ssl_module = 'pyopenssl'
    with pytest.raises(ValueError, match="'pyopenssl'"):
        server.start()
    assert not server.running


def test_cheroot_messages_go_to_the_bus_log(server, bus):
    httpserver, _ = server.httpserver_from_self()
    httpserver.error_log('worker trouble', level=logging.WARNING)
    try:
        raise KeyError('lost key')
    except KeyError:
        httpserver.error_log('with traceback', logging.ERROR, traceback=True)

    assert ('worker trouble', logging.WARNING) in bus.logged.records
    message, level = bus.logged.records[-1]
    assert level == logging.ERROR
    assert message.startswith('with traceback') and "KeyError: 'lost key'" in message


def test_instance_may_be_an_object_or_a_dotted_class_name(server):
    marker = object()
    server.instance = marker
    assert server.httpserver_from_self()[0] is marker

    server.instance = 'pyframe.httpserver.WSGIServer'
    httpserver, _ = server.httpserver_from_self()
    assert isinstance(httpserver, WSGIServer)
    assert httpserver.server_adapter is server

    server.instance = 'WSGIServer'
    with pytest.raises(ValueError, match='dotted name'):
        server.httpserver_from_self()


def test_each_start_builds_a_fresh_server_but_keeps_one_set_by_hand(server):
    server.socket_port = 0
    server.start()
    first = server.httpserver
    server.stop()
    server.thread_pool = 2
    server.start()
    try:
        assert server.httpserver is not first
        assert server.httpserver.requests.min == 2
    finally:
        server.stop()

    own = WSGIServer(server)
    server.httpserver = own
    server.start()
    try:
        assert server.httpserver is own
    finally:
        server.stop()


# -- the adapter ---------------------------------------------------------------


class FakeServer:
    """Listens nowhere; enough for the adapter's bookkeeping."""

    def __init__(self):
        self.ready = False
        self.stopped = threading.Event()

    def prepare(self):
        self.ready = True

    def serve(self):
        self.stopped.wait(10)

    def stop(self):
        self.ready = False
        self.stopped.set()


def test_start_priority_sits_between_daemonizer_and_drop_privileges(bus, tmp_path):
    order = []
    bus.subscribe('start', lambda: order.append('daemonize'), priority=65)
    bus.subscribe('start', lambda: order.append('drop privileges'), priority=77)
    adapter = ServerAdapter(bus, FakeServer(), str(tmp_path / 'x.sock'))
    adapter.subscribe()
    bus.subscribe('start', lambda: order.append(adapter.running), priority=76)

    bus.start()
    assert order == ['daemonize', True, 'drop privileges']
    assert ServerAdapter.start.priority == Server.start.priority == 75

    adapter.unsubscribe()
    assert adapter.start not in bus.listeners['start']
    assert adapter.stop not in bus.listeners['stop']
    adapter.stop()


def test_double_start_and_double_stop_are_harmless(bus, tmp_path):
    path = str(tmp_path / 'x.sock')
    adapter = ServerAdapter(bus, FakeServer(), path)
    adapter.start()
    adapter.start()
    assert f'Already serving on {path}' in bus.logged.messages
    adapter.restart()
    assert adapter.running
    adapter.stop()
    adapter.stop()
    assert f'HTTP Server {path} already shut down' in bus.logged.messages
    assert not adapter.running


def test_start_without_an_httpserver_is_an_error(bus):
    with pytest.raises(ValueError, match='No HTTP server'):
        ServerAdapter(bus).start()


@pytest.mark.parametrize('bind_addr, secure, text', [
    (('127.0.0.1', 8080), False, 'http://127.0.0.1:8080'),
    (('::1', 8080), False, 'http://[::1]:8080'),
    (('localhost', 443), True, 'https://localhost:443'),
    ('/run/app.sock', False, '/run/app.sock'),
    (b'/run/bytes.sock', False, '/run/bytes.sock'),
])
def test_description(bus, bind_addr, secure, text):
    httpserver = FakeServer()
    httpserver.ssl_adapter = object() if secure else None
    assert ServerAdapter(bus, httpserver, bind_addr).description == text


def test_port_in_use_error_names_host_and_port():
    error = PortInUseError('127.0.0.1', 8080)
    assert isinstance(error, OSError)
    assert 'Port 8080 on 127.0.0.1 is already in use' in str(error)


def test_port_helpers(bus):
    with socket.create_server(('127.0.0.1', 0)) as listener:
        port = listener.getsockname()[1]
        servers.wait_for_occupied_port('127.0.0.1', port, timeout=1)
        with pytest.raises(PortInUseError):
            servers.check_port('127.0.0.1', port)
        with pytest.raises(PortInUseError):
            servers.wait_for_free_port('127.0.0.1', port, timeout=0.1)
    servers.check_port('127.0.0.1', port)
    servers.wait_for_free_port('127.0.0.1', port, timeout=1)
    with pytest.raises(TimeoutError):
        servers.wait_for_occupied_port('127.0.0.1', port, timeout=0.1)
    assert servers.client_host('0.0.0.0') == '127.0.0.1'
    assert servers.client_host('::') == '::1'


@pytest.mark.skipif(importlib.util.find_spec('flup') is not None,
                    reason='flup is installed')
@pytest.mark.parametrize('adapter_class, protocol', [
    (FlupFCGIServer, 'FastCGI'),
    (FlupSCGIServer, 'SCGI'),
    (FlupCGIServer, 'CGI'),
])
def test_flup_adapters_explain_that_flup_is_missing(adapter_class, protocol):
    adapter = adapter_class(application=app)
    with pytest.raises(ImportError, match=f'install flup to use {protocol}'):
        adapter.start()
    assert not adapter.ready
    adapter.stop()
