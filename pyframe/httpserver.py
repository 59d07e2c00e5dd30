"""The default HTTP server: cheroot's WSGI server set up from a ``Server``.

:class:`WSGIServer` reads every knob (threads, queues, timeouts, size
limits, TLS, socket activation) from a :class:`pyframe.server.Server` and
sends cheroot's error messages to that server's bus log instead of stderr.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING, Any

import cheroot.ssl
import cheroot.wsgi
from cheroot.ssl.builtin import BuiltinSSLAdapter

if TYPE_CHECKING:
    from pyframe.server import Server

__all__ = ['WSGIServer', 'inherited_socket_address', 'ssl_adapter_for']

#: The first descriptor systemd passes to a socket-activated service.
SD_LISTEN_FDS_START = 3

_LISTEN_VARIABLES = ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES')


def inherited_socket_address() -> tuple | str | bytes | None:
    """Return the address of the listening socket systemd passed us, or None.

    Like ``sd_listen_fds(3)``, the ``LISTEN_*`` variables count only when
    ``LISTEN_PID`` is this process and ``LISTEN_FDS`` is at least 1; the
    socket is then descriptor 3. Variables that fail that test were meant
    for another process (an ancestor, or this one before it forked) and
    are removed: cheroot takes fd 3 whenever ``LISTEN_PID`` is merely set,
    and our own children must not act on them either.
    """
    try:
        ours = (
            int(os.environ['LISTEN_PID']) == os.getpid()
            and int(os.environ.get('LISTEN_FDS', '0')) >= 1
        )
    except (KeyError, ValueError):
        ours = False
    if not ours:
        for name in _LISTEN_VARIABLES:
            os.environ.pop(name, None)
        return None

    duplicate = os.dup(SD_LISTEN_FDS_START)
    try:
        # fileno= lets the socket module detect the real family and type.
        sock = socket.socket(fileno=duplicate)
    except OSError as exc:
        os.close(duplicate)
        raise OSError(
            exc.errno,
            f'LISTEN_PID names this process, but descriptor '
            f'{SD_LISTEN_FDS_START} is not a socket: {exc.strerror}',
        ) from exc
    with sock:
        address = sock.getsockname()
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            return tuple(address[:2])
        return address


class _ContextSSLAdapter(BuiltinSSLAdapter):
    """cheroot's builtin TLS adapter around a ready-made ``ssl.SSLContext``.

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
        return BuiltinSSLAdapter(
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

    ``socket_inherited`` is true when systemd handed the process its
    listening socket; the server then serves on descriptor 3 instead of
    binding ``server.bind_addr``.
    """

    def __init__(self, server: Server) -> None:
        self.server_adapter = server
        gateway = _gateway_for(server.wsgi_version)
        inherited = inherited_socket_address()
        self.socket_inherited = inherited is not None
        super().__init__(
            inherited if self.socket_inherited else server.bind_addr,
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

    def prepare(self) -> None:
        """Bind (or adopt the inherited socket), listen and start the workers."""
        super().prepare()
        if self.socket_inherited:
            # cheroot wraps descriptor 3 as AF_INET whatever it really is;
            # wrap it again so that accept() parses peer addresses of the
            # right family (AF_INET6, AF_UNIX).
            timeout = self.socket.gettimeout()
            self.socket = socket.socket(fileno=self.socket.detach())
            self.socket.settimeout(timeout)

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
