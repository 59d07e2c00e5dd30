"""WebCase: a unittest.TestCase serving its application over real HTTP.

A subclass mounts its application(s) on ``pyframe.tree`` in
``setup_server()``; the class then starts ``pyframe.engine`` with the
default server on 127.0.0.1 and a port the system chooses, and every
test talks to it with :meth:`WebCase.getPage` and the ``assert*``
methods. The engine is stopped (not exited, so that the next WebCase
class can start it again) and the global state put back when the class
is done.
"""

from __future__ import annotations

import http.client
import unittest
from typing import Any
from urllib.parse import urlsplit

import pyframe
from pyframe.httpserver import WSGIServer
from pyframe.process import wspbus

from .asserts import ResponseAssertions

__all__ = ['QuickStopServer', 'WebCase']

HOST = '127.0.0.1'

# Global settings a WebCase changes and restores: (object getter, attribute).
_SAVED_ATTRIBUTES = [
    (lambda: pyframe.server, 'socket_host'),
    (lambda: pyframe.server, 'socket_port'),
    (lambda: pyframe.server, 'socket_file'),
    (lambda: pyframe.server, 'shutdown_timeout'),
    (lambda: pyframe.server, 'instance'),
    (lambda: pyframe.checker, 'on'),
    (lambda: pyframe.log, 'screen'),
]


class QuickStopServer(WSGIServer):
    """The default WSGI server, noticing a stop request within 20 ms
    (instead of half a second), so that a server per class or per test
    stays cheap."""

    expiration_interval = 0.02


def _autoreload_subscribed() -> bool:
    engine = pyframe.engine
    return engine.autoreload.start in engine.listeners.get('start', ())


class _Connection(http.client.HTTPConnection):
    """An HTTPConnection whose request line names a chosen HTTP version."""

    def __init__(self, *args: Any, protocol: str = 'HTTP/1.1', **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._http_vsn_str = protocol
        self._http_vsn = 10 if protocol == 'HTTP/1.0' else 11


class WebCase(ResponseAssertions, unittest.TestCase):
    """Functional tests against a live pyframe server, one per class.

    Override :meth:`setup_server` (a staticmethod or classmethod) to mount
    applications on ``pyframe.tree``. Class attributes tune the run:
    ``global_config`` (extra global config entries), ``script_name``
    (prefixed to relative URLs given to :meth:`getPage`) and ``timeout``.
    """

    #: Extra global config applied before ``setup_server`` runs.
    global_config: dict = {}
    #: Prefixed to every URL passed to getPage that is not absolute.
    script_name: str = ''
    #: Seconds a request may take before getPage gives up.
    timeout: float = 10.0
    #: The interface the server listens on.
    host: str = HOST
    #: The port the server got (set by setUpClass).
    port: int = 0

    status: str | None = None
    headers: list = []
    body: bytes = b''

    @staticmethod
    def setup_server() -> None:
        """Mount the applications under test on ``pyframe.tree``."""

    # -- class fixture ------------------------------------------------------

    @classmethod
    def setUpClass(cls) -> None:
        """Reset the config, call :meth:`setup_server` and start the engine."""
        super().setUpClass()
        engine = pyframe.engine
        if engine.state == wspbus.states.EXITING:
            raise RuntimeError(
                'pyframe.engine has exited and cannot be started again; '
                'stop it with engine.stop() instead of exit() between tests.')
        if engine.state != wspbus.states.STOPPED:
            engine.stop()
        cls._saved_apps = dict(pyframe.tree.apps)
        cls._saved_config = dict(pyframe.config)
        cls._saved_attributes = [(get(), name, getattr(get(), name))
                                 for get, name in _SAVED_ATTRIBUTES]
        cls._autoreload_was_on = _autoreload_subscribed()
        pyframe.tree.apps.clear()
        pyframe.config.reset()
        try:
            pyframe.config.update({
                'environment': 'test_suite',
                'engine.autoreload.on': False,
                'server.socket_host': cls.host,
                'server.socket_port': 0,
                'server.socket_file': None,
                'server.shutdown_timeout': 1,
                'server.instance': f'{__name__}.QuickStopServer',
            })
            if cls.global_config:
                pyframe.config.update(dict(cls.global_config))
            cls.setup_server()
            engine.start()
        except BaseException:
            cls._restore()
            raise
        cls.port = pyframe.server.bound_addr[1]

    @classmethod
    def tearDownClass(cls) -> None:
        """Stop the engine and restore the tree and config found before."""
        try:
            if pyframe.engine.state not in (wspbus.states.STOPPED, wspbus.states.EXITING):
                pyframe.engine.stop()
        finally:
            cls._restore()
            super().tearDownClass()

    @classmethod
    def _restore(cls) -> None:
        pyframe.tree.apps.clear()
        pyframe.tree.apps.update(cls._saved_apps)
        dict.clear(pyframe.config)
        dict.update(pyframe.config, cls._saved_config)
        # Cached per-request plans watch this counter to notice changes.
        pyframe.config.version += 1
        for target, name, value in cls._saved_attributes:
            setattr(target, name, value)
        if cls._autoreload_was_on and not _autoreload_subscribed():
            pyframe.engine.autoreload.subscribe()

    # -- requests -----------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``: the root of the live server."""
        return f'http://{self.host}:{self.port}'

    def getPage(self, url: str, headers=None, method: str = 'GET', body=None,
                protocol: str | None = None) -> tuple[str, list, bytes]:
        """Request ``url`` from the live server and remember the response.

        ``url`` is a path (``script_name`` is prefixed) or an absolute URL;
        ``headers`` a list of (name, value) pairs or a dict; ``body`` bytes
        or str (encoded as UTF-8); ``protocol`` the HTTP version of the
        request line ('HTTP/1.1' by default). Sets ``self.status`` (such
        as ``'200 OK'``), ``self.headers`` (a list of (name, value)
        pairs) and ``self.body`` (bytes), and returns them as a tuple.
        """
        if '://' in url:
            parts = urlsplit(url)
            host, port = parts.hostname or self.host, parts.port or 80
            target = parts.path or '/'
            if parts.query:
                target += '?' + parts.query
        else:
            host, port = self.host, self.port
            target = url if url.startswith('/') else '/' + url
            target = self.script_name.rstrip('/') + target
        pairs = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
        names = {name.lower() for name, _ in pairs}
        if isinstance(body, str):
            body = body.encode('utf-8')
        if body is not None and 'content-length' not in names \
                and 'transfer-encoding' not in names:
            pairs.append(('Content-Length', str(len(body))))
        self._last_request = f'{method} {target}'
        connection = _Connection(host, port, timeout=self.timeout,
                                 protocol=protocol or 'HTTP/1.1')
        try:
            connection.putrequest(method, target, skip_host='host' in names,
                                  skip_accept_encoding=True)
            for name, value in pairs:
                connection.putheader(name, value)
            connection.endheaders(body)
            response = connection.getresponse()
            self.body = response.read()
            self.status = f'{response.status} {response.reason}'
            self.headers = response.getheaders()
        finally:
            connection.close()
        return self.status, self.headers, self.body

    def _fail(self, msg: str) -> None:
        raise self.failureException(msg)
