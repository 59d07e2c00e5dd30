"""Serve pyframe applications over real HTTP (cheroot) in tests.

``live`` is a factory fixture: ``site = live(Root(), config={...})`` mounts
the root on a fresh :class:`pyframe.Tree`, serves that tree on 127.0.0.1
(a free port) with its own :class:`~pyframe.process.wspbus.Bus` and
:class:`pyframe.Server`, and stops it at teardown. The global
``pyframe.engine`` is never started or stopped.

``site.raw()`` opens a :class:`RawConnection` for what ``requests`` hides:
pipelining, ``Expect: 100-continue``, malformed requests, exact bytes.
Every socket operation has a timeout, so no test can hang. Keyword
arguments other than the mount's set attributes of the ``pyframe.Server``
(``max_request_body_size=64``, ``thread_pool=8``...).

Import the fixture into a test module with ``from live import live``.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

import pyframe
from pyframe.httpserver import WSGIServer
from pyframe.lib.httputil import HeaderMap
from pyframe.process import wspbus

__all__ = ['Live', 'RawConnection', 'RawResponse', 'build', 'build_request',
           'chunked', 'live', 'serve', 'wait_until']

HOST = '127.0.0.1'
#: Seconds any client socket operation may take before the test fails.
TIMEOUT = 5.0


@dataclass
class RawResponse:
    """One response as read off a socket."""

    version: str
    status: int
    reason: str
    header_list: list[tuple[str, str]]
    body: bytes = b''
    chunked: bool = False
    #: Trailer lines of a chunked body.
    trailers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def headers(self) -> HeaderMap:
        """The headers, case-insensitive (repeated names: the last wins)."""
        return HeaderMap(self.header_list)

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        return [value for key, value in self.header_list if key.lower() == name.lower()]


class RawConnection:
    """A client socket that writes bytes and parses whole responses.

    ``read_response`` understands Content-Length, chunked bodies and
    bodies ending at connection close; interim (1xx) responses are
    returned as responses of their own.
    """

    def __init__(self, port: int, timeout: float = TIMEOUT) -> None:
        self.port = port
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.rfile = self.sock.makefile('rb')

    def __enter__(self) -> RawConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.rfile.close()
        self.sock.close()

    def send(self, data: bytes | str) -> None:
        """Write ``data`` (a str is encoded as latin-1) as it is."""
        if isinstance(data, str):
            data = data.encode('latin-1')
        self.sock.sendall(data)

    def request(self, method: str = 'GET', path: str = '/', headers=None,
                body: bytes = b'', protocol: str = 'HTTP/1.1') -> None:
        """Send one request; Host is added unless ``headers`` has it (or is
        given as a list, which is sent exactly)."""
        self.send(build_request(method, path, headers, body, protocol,
                                host=f'{HOST}:{self.port}'))

    def _line(self) -> bytes:
        line = self.rfile.readline(65537)
        if not line:
            raise ConnectionError('the server closed the connection')
        return line

    def read_head(self) -> RawResponse:
        """Read a status line and headers (no body)."""
        status_line = self._line().decode('latin-1').rstrip('\r\n')
        version, _, rest = status_line.partition(' ')
        code, _, reason = rest.partition(' ')
        headers = []
        while True:
            line = self._line().decode('latin-1').rstrip('\r\n')
            if not line:
                break
            name, _, value = line.partition(':')
            headers.append((name.strip(), value.strip()))
        return RawResponse(version, int(code), reason, headers)

    def read_chunk(self) -> bytes | None:
        """Read one chunk of a chunked body; None for the last (0) chunk."""
        size = int(self._line().split(b';')[0].strip(), 16)
        if size == 0:
            return None
        data = self.rfile.read(size)
        assert self.rfile.read(2) == b'\r\n', 'chunk not followed by CRLF'
        return data

    def read_response(self, method: str = 'GET') -> RawResponse:
        """Read one whole response to a ``method`` request."""
        response = self.read_head()
        headers = response.headers
        if (method == 'HEAD' or response.status < 200
                or response.status in (204, 304)):
            return response
        if 'chunked' in headers.get('Transfer-Encoding', '').lower():
            response.chunked = True
            parts = []
            while (chunk := self.read_chunk()) is not None:
                parts.append(chunk)
            response.body = b''.join(parts)
            while line := self._line().decode('latin-1').rstrip('\r\n'):
                name, _, value = line.partition(':')
                response.trailers.append((name.strip(), value.strip()))
        elif 'Content-Length' in headers:
            length = int(headers['Content-Length'])
            response.body = self.rfile.read(length)
            assert len(response.body) == length, 'body shorter than Content-Length'
        else:
            response.body = self.rfile.read()
        return response

    def closed_by_server(self) -> bool:
        """True when the server closed its side (the next read gets EOF)."""
        try:
            return self.rfile.read(1) == b''
        except ConnectionResetError:
            return True


def build_request(method: str = 'GET', path: str = '/', headers=None,
                  body: bytes = b'', protocol: str = 'HTTP/1.1', host: str = HOST) -> bytes:
    """The bytes of one request.

    ``headers`` as a dict gets Host (and Content-Length for a body) added
    when missing; as a list of pairs it is sent exactly as given.
    """
    if isinstance(headers, list):
        pairs = headers
    else:
        given = dict(headers or {})
        lower = {key.lower() for key in given}
        pairs = []
        if 'host' not in lower:
            pairs.append(('Host', host))
        pairs.extend(given.items())
        if body and 'content-length' not in lower and 'transfer-encoding' not in lower:
            pairs.append(('Content-Length', str(len(body))))
    head = f'{method} {path} {protocol}\r\n'
    head += ''.join(f'{name}: {value}\r\n' for name, value in pairs)
    return head.encode('latin-1') + b'\r\n' + body


def chunked(*parts: bytes, trailers: str = '') -> bytes:
    """Encode ``parts`` as a chunked body."""
    out = b''.join(b'%x\r\n%s\r\n' % (len(part), part) for part in parts if part)
    return out + b'0\r\n' + trailers.encode('latin-1') + b'\r\n'


class QuickStopWSGIServer(WSGIServer):
    """pyframe's cheroot server, whose selector loop notices a stop request
    within 20 ms instead of 500 ms (cheroot's default), so that starting a
    server per test stays cheap. Nothing else differs."""

    expiration_interval = 0.02


class Live:
    """A tree of applications served over HTTP on 127.0.0.1."""

    def __init__(self, tree, app=None, **server_attributes) -> None:
        self.tree = tree
        #: The Application given to ``live`` (None when a tree was given).
        self.app = app
        self.bus = wspbus.Bus()
        self.bus_log: list[tuple[str, int]] = []
        self.bus.subscribe('log', lambda msg, level=20: self.bus_log.append((msg, level)))
        self.server = pyframe.Server(self.bus)
        self.server.socket_host = HOST
        self.server.socket_port = 0
        self.server.wsgi_app = tree
        self.server.shutdown_timeout = 1
        self.server.instance = f'{__name__}.QuickStopWSGIServer'
        for name, value in server_attributes.items():
            if not hasattr(self.server, name):
                raise AttributeError(f'pyframe.Server has no attribute {name!r}')
            setattr(self.server, name, value)
        self.server.subscribe()

    def start(self) -> Live:
        self.bus.start()
        return self

    def stop(self) -> None:
        if self.bus.state not in (wspbus.states.STOPPED, wspbus.states.EXITING):
            self.bus.exit()

    @property
    def port(self) -> int:
        return self.server.bound_addr[1]

    @property
    def base(self) -> str:
        return f'http://{HOST}:{self.port}'

    def url(self, path: str = '/') -> str:
        return self.base + path

    def request(self, method: str, path: str = '/', **kwargs) -> requests.Response:
        """A request through ``requests`` (new connection, no redirects
        followed, with a timeout)."""
        kwargs.setdefault('timeout', TIMEOUT)
        kwargs.setdefault('allow_redirects', False)
        return requests.request(method, self.url(path), **kwargs)

    def get(self, path: str = '/', **kwargs) -> requests.Response:
        return self.request('GET', path, **kwargs)

    def post(self, path: str = '/', **kwargs) -> requests.Response:
        return self.request('POST', path, **kwargs)

    def head(self, path: str = '/', **kwargs) -> requests.Response:
        return self.request('HEAD', path, **kwargs)

    def raw(self, timeout: float = TIMEOUT) -> RawConnection:
        """A new raw client connection to this server."""
        return RawConnection(self.port, timeout)


def build(root=None, script_name: str = '', config=None, tree=None,
          **server_attributes) -> Live:
    """A Live not started yet.

    Give a root object (mounted at ``script_name`` with ``config``), an
    Application, or a ready ``tree`` (a Tree or any WSGI callable).
    """
    app = None
    if tree is None:
        tree = pyframe.Tree()
        if root is not None:
            app = tree.mount(root, script_name, config)
    return Live(tree, app, **server_attributes)


def serve(*args, **kwargs) -> Live:
    """Start serving (see :func:`build`); the caller must ``stop()`` it."""
    return build(*args, **kwargs).start()


@pytest.fixture
def live():
    """Factory: ``live(root, script_name='', config=None, tree=None,
    **server_attributes)`` returns a started :class:`Live`; every server it
    started is stopped at teardown."""
    sites: list[Live] = []

    def start(*args, **kwargs) -> Live:
        site = build(*args, **kwargs)
        sites.append(site)
        return site.start()

    yield start
    for site in sites:
        site.stop()


def wait_until(predicate, timeout: float = TIMEOUT, interval: float = 0.005):
    """Poll ``predicate`` until true (for effects after the response is sent)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout}s waiting for {predicate}')
        time.sleep(interval)
    return value


def hammer_session_counter(site, path: str, threads: int = 8, per_thread: int = 25) -> int:
    """Increment one session's counter from many threads; return the final count."""
    first = site.get(path)
    assert first.text == '1'
    cookie = {'session_id': first.cookies['session_id']}
    errors: list[BaseException] = []

    def work():
        try:
            with requests.Session() as http:
                for _ in range(per_thread):
                    response = http.get(site.url(path), cookies=cookie, timeout=TIMEOUT)
                    assert response.status_code == 200, response.text
                    assert response.cookies['session_id'] == cookie['session_id']
        except BaseException as exc:  # reported below
            errors.append(exc)
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert not errors, errors[0]
    return int(site.get(path, cookies=cookie).text)
