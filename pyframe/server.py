"""The default server plugin: an HTTP server configured by plain attributes.

``pyframe.server`` is an instance of :class:`Server`. The ``server.*``
config namespace sets its attributes by name (``server.socket_port = 80``
sets ``socket_port``); each :meth:`Server.start` builds a fresh HTTP server
from their current values, so changes apply at the next start.
"""

from __future__ import annotations

import importlib
import socket
from typing import Any

from pyframe.process.servers import START_PRIORITY, BindAddr, ServerAdapter

__all__ = ['Server']

# Addresses meaning "every interface": fine to listen on, useless in a URL.
_WILDCARD_HOSTS = frozenset({'0.0.0.0', '::', '::0', '::0.0.0.0'})


def _class_from_dotted_name(name: str) -> type:
    """Import 'package.module.Class' and return the class."""
    module_name, _, attribute = name.rpartition('.')
    if not module_name:
        raise ValueError(
            f'server.instance {name!r} should be a dotted name such as '
            f"'package.module.ServerClass'"
        )
    return getattr(importlib.import_module(module_name), attribute)


class Server(ServerAdapter):
    """The HTTP server plugin of a bus, configured by attributes.

    By default it serves ``pyframe.tree`` with cheroot (see
    :class:`pyframe.httpserver.WSGIServer`) on 127.0.0.1:8080. Set
    ``socket_file`` to listen on a unix socket instead, ``ssl_certificate``
    and ``ssl_private_key`` (or ``ssl_context``) for HTTPS, ``instance`` to
    run another server, and ``wsgi_app`` to serve another WSGI callable.
    """

    socket_port: int = 8080
    """TCP port to listen on; 0 lets the OS choose a free one."""

    socket_file: str | None = None
    """Path of a unix socket to listen on; when set it wins over TCP."""

    socket_queue_size: int = 5
    """Backlog of connections not yet accepted (``listen()`` argument)."""

    socket_timeout: float = 10
    """Seconds an accepted connection may stay silent."""

    accepted_queue_size: int = -1
    """Accepted connections that may wait for a worker (-1: no limit)."""

    accepted_queue_timeout: float = 10
    """Seconds to wait to queue an accepted connection before answering 503."""

    shutdown_timeout: float = 5
    """Seconds in-flight requests get to finish when the server stops."""

    protocol_version: str = 'HTTP/1.1'
    """The HTTP version written in every status line."""

    thread_pool: int = 10
    """Worker threads started with the server."""

    thread_pool_max: int = -1
    """Most worker threads the pool may grow to (-1: no limit)."""

    max_request_header_size: int = 500 * 1024
    """Largest request head in bytes (0: no limit); larger gets 413."""

    max_request_body_size: int = 100 * 1024 * 1024
    """Largest request body in bytes (0: no limit); larger gets 413."""

    instance: Any = None
    """An HTTP server object, or the dotted name of a class called with
    this Server, to run instead of the default WSGI server."""

    ssl_module: str = 'builtin'
    """TLS implementation; only 'builtin' (Python's ssl module) is supported."""

    ssl_certificate: str | None = None
    """Path of the PEM certificate; setting it turns HTTPS on."""

    ssl_private_key: str | None = None
    """Path of the PEM private key for ``ssl_certificate``."""

    ssl_certificate_chain: str | None = None
    """Path of the PEM file of intermediate certificates (CA chain)."""

    ssl_ciphers: str | None = None
    """OpenSSL cipher list to allow, or None for Python's defaults."""

    ssl_context: Any = None
    """A ready ``ssl.SSLContext`` to use instead of the files above."""

    nodelay: bool = True
    """Set TCP_NODELAY on connections (send small responses at once)."""

    statistics: bool = False
    """Let cheroot count requests, bytes and times (``stats``)."""

    wsgi_version: tuple = (1, 0)
    """The WSGI version of the environ: (1, 0), or ('u', 0) for unicode."""

    peercreds: bool = False
    """Put the peer's pid/uid/gid of a unix socket connection in the environ."""

    peercreds_resolve: bool = False
    """Also resolve those ids to user and group names."""

    wsgi_app: Any = None
    """The WSGI callable to serve; None serves ``pyframe.tree``."""

    _socket_host = '127.0.0.1'

    def __init__(self, bus: Any = None) -> None:
        if bus is None:
            # Imported here: the pyframe package creates its default
            # Server while it is still being imported.
            from pyframe import engine as bus
        super().__init__(bus)
        self._built_httpserver = None

    @property
    def socket_host(self) -> str:
        """The interface to listen on ('127.0.0.1' by default)."""
        return self._socket_host

    @socket_host.setter
    def socket_host(self, value: str) -> None:
        if value in ('', None):
            raise ValueError(
                "socket_host cannot be '' or None. Use '0.0.0.0' to listen "
                "on every IPv4 interface, or '::' for IPv6."
            )
        self._socket_host = value

    @property
    def bind_addr(self) -> BindAddr:
        """``socket_file`` if set, else ``(socket_host, socket_port)``.

        Setting a str sets ``socket_file``; a (host, port) tuple sets the
        host and port and clears ``socket_file``; None clears
        ``socket_file``.
        """
        if self.socket_file:
            return self.socket_file
        return (self.socket_host, self.socket_port)

    @bind_addr.setter
    def bind_addr(self, value: BindAddr) -> None:
        if value is None:
            self.socket_file = None
        elif isinstance(value, (str, bytes)):
            self.socket_file = value
        elif isinstance(value, tuple):
            self.socket_host, self.socket_port = value[:2]
            self.socket_file = None
        else:
            raise ValueError(
                f'bind_addr must be a (host, port) tuple, a socket path or '
                f'None, not {value!r}'
            )

    def httpserver_from_self(self, httpserver: Any = None) -> tuple[Any, BindAddr]:
        """Return ``(httpserver, bind_addr)`` built from these attributes.

        ``httpserver`` defaults to :attr:`instance`, and that to a new
        :class:`~pyframe.httpserver.WSGIServer`. The address is the
        inherited socket's when systemd handed one to the process.
        """
        if httpserver is None:
            httpserver = self.instance
        if httpserver is None:
            from pyframe.httpserver import WSGIServer

            httpserver = WSGIServer(self)
        elif isinstance(httpserver, str):
            httpserver = _class_from_dotted_name(httpserver)(self)
        if getattr(httpserver, 'socket_inherited', False):
            return httpserver, httpserver.bind_addr
        return httpserver, self.bind_addr

    def start(self) -> None:
        """Build the HTTP server from the current attributes and start it.

        An ``httpserver`` assigned by hand is kept as it is.
        """
        if not self.running and self.httpserver in (None, self._built_httpserver):
            self.httpserver, self.bind_addr = self.httpserver_from_self()
            self._built_httpserver = self.httpserver
        super().start()

    # Marks the listener's order for anyone subscribing it by hand.
    start.priority = START_PRIORITY

    def base(self) -> str:
        """Return the server's base URL, such as 'http://127.0.0.1:8080'.

        The default port of the scheme (80, 443) is left out and IPv6 hosts
        are bracketed. A wildcard host ('0.0.0.0', '::') is no address to
        visit, so the machine's host name stands in for it. For a unix
        socket the socket path is returned.
        """
        if self.socket_file:
            return self.socket_file
        host = self.socket_host
        if host in _WILDCARD_HOSTS:
            host = socket.gethostname()
        if ':' in host:
            host = f'[{host}]'
        port = self.bound_addr[1]
        secure = bool(self.ssl_certificate or self.ssl_context)
        scheme = 'https' if secure else 'http'
        if port != (443 if secure else 80):
            host = f'{host}:{port}'
        return f'{scheme}://{host}'
