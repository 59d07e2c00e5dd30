"""The default HTTP server: cheroot's WSGI server set up from a ``Server``.

:class:`WSGIServer` reads every knob (threads, queues, timeouts, size
limits, TLS, socket activation) from a :class:`pyframe.server.Server` and
sends cheroot's error messages to that server's bus log instead of stderr.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Any

import cheroot.errors
import cheroot.server
import cheroot.ssl
import cheroot.wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

from pyframe.process.servers import inherited_sockets, take_inherited_socket

if TYPE_CHECKING:
    from pyframe.server import Server

__all__ = ['WSGIServer', 'inherited_socket_address', 'ssl_adapter_for']


def inherited_socket_address() -> tuple | str | bytes | None:
    """Return the address of a passed-in listening socket not yet in use, or None.

    Sockets count when systemd (socket activation) or a re-exec of this
    process (:meth:`~pyframe.process.wspbus.Bus.restart`) passed them with
    ``LISTEN_PID`` naming this process; see
    :func:`pyframe.process.servers.take_inherited_socket` for how each
    server finds its own.
    """
    for _fd, _name, address in inherited_sockets():
        if address is not None:
            return address
    return None


_PLAIN_HTTP_ANSWER = (
    b'HTTP/1.1 400 Bad Request\r\n'
    b'Content-Type: text/plain\r\n'
    b'Content-Length: 57\r\n'
    b'Connection: close\r\n'
    b'\r\n'
    b'This port speaks HTTPS only; use an https:// URL instead.'
)


class _TLSAdapter(BuiltinSSLAdapter):
    """cheroot's builtin TLS adapter, answering plain HTTP with a real 400.

    cheroot notices a plain HTTP request on a TLS port only after the
    failed handshake has closed the connection, so the 400 it then tries
    to write never leaves, and the client sees a reset instead.
    """

    def wrap(self, sock: socket.socket) -> tuple:
        """Run the TLS handshake on ``sock``; answer a plain HTTP request with 400."""
        # A TLS connection starts with a handshake record (byte 0x16); an
        # HTTP request starts with the letters of its method. Peeking
        # blocks no longer than the handshake itself would.
        try:
            first = sock.recv(1, socket.MSG_PEEK)
        except OSError:
            first = b''
        if first.isalpha():
            _answer_plain_http(sock)
            raise cheroot.errors.NoSSLError('plain HTTP request on the HTTPS port')
        return super().wrap(sock)


def _answer_plain_http(sock: socket.socket) -> None:
    """Send the 400, read what has arrived of the request, and close.

    Reading first matters: closing with unread input makes the kernel
    reset the connection, and the client may then never see the answer.
    The request is not waited for: this runs in the accepting thread.
    """
    # MSG_DONTWAIT is missing on Windows; there the input stays unread.
    dont_wait = getattr(socket, 'MSG_DONTWAIT', None)
    try:
        sock.sendall(_PLAIN_HTTP_ANSWER)
        sock.shutdown(socket.SHUT_WR)
        while dont_wait is not None and sock.recv(65536, dont_wait):
            pass
    except OSError:
        pass  # BlockingIOError (all read), or a client that already left
    finally:
        sock.close()


class _ContextSSLAdapter(_TLSAdapter):
    """The TLS adapter around a ready-made ``ssl.SSLContext``.

    The context already holds the certificate and key, so unlike its parent
    this adapter reads no key files.
    """

    # The parent fills this from the certificate files in its __init__ and
    # merges it into every request's environ; a bare context has none.
    _server_env: dict = {}

    def __init__(self, context: Any) -> None:
        cheroot.ssl.Adapter.__init__(self, None, None)
        self.context = context


def ssl_adapter_for(server: Server) -> BuiltinSSLAdapter | None:
    """Return the TLS adapter ``server``'s ssl_* settings ask for, or None.

    ``ssl_context``, when set, is used as it is (it carries its own
    certificate and key); otherwise ``ssl_certificate`` turns TLS on.
    """
    module = server.ssl_module
    if not isinstance(module, str) or module.lower() != 'builtin':
        raise ValueError(
            f'ssl_module {module!r} is not supported: pyframe serves TLS '
            f"with Python's ssl module only, so use 'builtin'"
        )
    if server.ssl_context is not None:
        return _ContextSSLAdapter(server.ssl_context)
    if server.ssl_certificate:
        return _TLSAdapter(
            server.ssl_certificate,
            server.ssl_private_key,
            server.ssl_certificate_chain,
            server.ssl_ciphers,
        )
    return None


def _application(server: Server) -> Any:
    """The WSGI callable ``server`` serves: its wsgi_app, else pyframe.tree."""
    if server.wsgi_app is not None:
        return server.wsgi_app
    # Imported on use: the pyframe package imports this module while it is
    # itself being set up, before its ``tree`` exists.
    from pyframe import tree

    return tree


# cheroot's own version map lists only the direct subclasses of its Gateway,
# which leaves out the ('u', 0) gateway.
_GATEWAYS = {
    gateway.version: gateway
    for gateway in (cheroot.wsgi.WSGIGateway_10, cheroot.wsgi.WSGIGateway_u0)
}


def _gateway_for(version: Any) -> type:
    """The cheroot gateway class producing WSGI environs of ``version``."""
    try:
        return _GATEWAYS[tuple(version)]
    except (KeyError, TypeError):
        raise ValueError(
            f'wsgi_version {version!r} is not supported; use one of '
            f'{", ".join(map(repr, _GATEWAYS))}'
        ) from None


class WSGIServer(cheroot.wsgi.Server):
    """cheroot's WSGI server configured from a :class:`~pyframe.server.Server`.

    ``socket_inherited`` is true when the process was handed a listening
    socket for this server (systemd socket activation, or the process
    itself before a re-exec); the server then serves on that socket
    instead of binding ``server.bind_addr``.
    """

    def __init__(self, server: Server) -> None:
        self.server_adapter = server
        gateway = _gateway_for(server.wsgi_version)
        self._inherited_socket = take_inherited_socket(server.bind_addr)
        self.socket_inherited = self._inherited_socket is not None
        bind_addr = server.bind_addr
        if self.socket_inherited:
            bind_addr = cheroot.server.HTTPServer.resolve_real_bind_addr(
                self._inherited_socket
            )
        super().__init__(
            bind_addr,
            _application(server),
            numthreads=server.thread_pool,
            server_name=server.socket_host,
            max=server.thread_pool_max,
            request_queue_size=server.socket_queue_size,
            timeout=server.socket_timeout,
            shutdown_timeout=server.shutdown_timeout,
            accepted_queue_size=server.accepted_queue_size,
            accepted_queue_timeout=server.accepted_queue_timeout,
            peercreds_enabled=server.peercreds,
            peercreds_resolve_enabled=server.peercreds_resolve,
        )
        self.wsgi_version = gateway.version
        self.gateway = gateway
        self.protocol = server.protocol_version
        self.max_request_header_size = server.max_request_header_size
        self.max_request_body_size = server.max_request_body_size
        self.nodelay = server.nodelay
        self.stats['Enabled'] = bool(server.statistics)
        self.ssl_adapter = ssl_adapter_for(server)

    # cheroot's prepare() calls one of these two to create the listening
    # socket; an inherited socket is already bound (and listening), and
    # a unix socket's file must not be unlinked from under it.

    def bind(self, family: int, type: int, proto: int = 0) -> None:
        """Create and bind the TCP socket, or adopt the inherited one."""
        if self._adopt_inherited_socket():
            return
        super().bind(family, type, proto)

    def bind_unix_socket(self, bind_addr: Any) -> None:
        """Create and bind the unix socket, or adopt the inherited one."""
        if self._adopt_inherited_socket():
            return
        super().bind_unix_socket(bind_addr)

    def _adopt_inherited_socket(self) -> bool:
        sock, self._inherited_socket = self._inherited_socket, None
        if sock is None:
            return False
        if self.nodelay and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.socket = sock
        return True

    def stop_and_detach(self) -> socket.socket | None:
        """Stop like :meth:`stop`, but return the listening socket still open.

        In-flight requests finish as in a normal stop; connections that
        arrive meanwhile wait in the socket's backlog for whoever serves
        the returned socket next (the process image a re-exec starts).
        Returns None if the server was not serving.
        """
        if not self.ready:
            return None
        # End the accept loop while the socket is still open, then take
        # the socket away so that stop() neither pokes nor closes it.
        self._connections.stop()
        kept, self.socket = self.socket, None
        self.stop()
        return kept

    @staticmethod
    def bind_socket(socket_: socket.socket, bind_addr: Any) -> socket.socket:
        """Bind ``socket_`` to ``bind_addr``, closing it if that fails.

        cheroot drops the socket of a failed TCP bind without closing it,
        which leaks a descriptor for every failed start.
        """
        try:
            socket_.bind(bind_addr)
        except OSError:
            socket_.close()
            raise
        return socket_

    def error_log(
        self, msg: str = '', level: int = logging.INFO, traceback: bool = False
    ) -> None:
        """Send cheroot's messages to the bus log, keeping level and traceback."""
        self.server_adapter.bus.log(msg, level=level, traceback=traceback)
