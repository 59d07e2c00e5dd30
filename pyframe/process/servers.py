"""Run HTTP servers as bus plugins: start them with the bus, stop them with it.

A :class:`ServerAdapter` wraps any server object that can ``start()`` and
``stop()`` (and, better, ``prepare()`` and ``serve()`` as cheroot's servers
do) and subscribes it to a bus. Several adapters can share one bus, so a
process can listen on many ports, sockets or protocols at once::

    first = ServerAdapter(bus, SomeWSGIServer(('0.0.0.0', 80)),
                          bind_addr=('0.0.0.0', 80))
    second = ServerAdapter(bus, OtherServer('/run/app.sock'),
                           bind_addr='/run/app.sock')
    first.subscribe()
    second.subscribe()
    bus.start()

For TCP addresses the adapter uses ``portend`` to make sure the port is free
before binding it, that it answers once the server runs, and that it is
released after the server stops. This module knows nothing about HTTP
applications: it manages server objects only.
"""

from __future__ import annotations

import errno
import importlib
import logging
import threading
import time
from typing import Any

import portend

__all__ = [
    'FlupCGIServer',
    'FlupFCGIServer',
    'FlupSCGIServer',
    'PortInUseError',
    'ServerAdapter',
    'START_PRIORITY',
    'check_port',
    'client_host',
    'wait_for_free_port',
    'wait_for_occupied_port',
]

#: Priority of a server's ``start`` listener: after the daemonizer (65) has
#: forked, so the listening socket belongs to the daemon, and before
#: DropPrivileges (77), so that privileged ports can still be bound.
START_PRIORITY = 75

#: A bind address: ``(host, port)`` for TCP, a path for a unix socket.
BindAddr = tuple | str | bytes | None


class PortInUseError(OSError):
    """A TCP port could not be bound because something already listens there."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(
            errno.EADDRINUSE,
            f'Port {port} on {host} is already in use; '
            f'is another server running there?',
        )
        self.host = host
        self.port = port


def client_host(server_host: str) -> str:
    """Return the address a client on this machine should connect to.

    The wildcard addresses ('0.0.0.0', '::') accept connections but cannot
    be connected to portably, so they map to the matching loopback address.
    """
    return portend.client_host(server_host)


def check_port(host: str, port: int, timeout: float = 1.0) -> None:
    """Raise :class:`PortInUseError` if something answers on ``host:port``.

    ``timeout`` bounds each connection attempt.
    """
    try:
        portend.Checker(timeout=timeout).assert_free(client_host(host), port)
    except portend.PortNotFree:
        raise PortInUseError(host, port) from None


def wait_for_free_port(host: str, port: int, timeout: float | None = None) -> None:
    """Wait until nothing answers on ``host:port``.

    Raise :class:`PortInUseError` if the port is still busy after
    ``timeout`` seconds (None waits forever).
    """
    try:
        portend.free(client_host(host), port, timeout=_forever(timeout))
    except portend.Timeout:
        raise PortInUseError(host, port) from None


def wait_for_occupied_port(
    host: str, port: int, timeout: float | None = None
) -> None:
    """Wait until a server answers on ``host:port``.

    Raise ``TimeoutError`` if none does within ``timeout`` seconds (None
    waits forever).
    """
    try:
        portend.occupied(client_host(host), port, timeout=_forever(timeout))
    except portend.Timeout:
        raise TimeoutError(
            f'No server answered on port {port} of {host} '
            f'within {timeout} seconds'
        ) from None


def _forever(timeout: float | None) -> float:
    # portend spells "no limit" as infinity.
    return float('inf') if timeout is None else timeout


def _is_tcp(addr: BindAddr) -> bool:
    return isinstance(addr, tuple)


def _host_text(host: str) -> str:
    # An IPv6 literal needs brackets wherever a port may follow it.
    return f'[{host}]' if ':' in host else host


def _addr_text(addr: BindAddr) -> str:
    """Render a bind address for people: 'host:port' or the socket path."""
    if _is_tcp(addr):
        return f'{_host_text(addr[0])}:{addr[1]}'
    if isinstance(addr, bytes):
        return addr.decode(errors='replace')
    return str(addr)


def _address_in_use(exc: OSError) -> bool:
    """True when a failed bind was refused because the address is taken."""
    if exc.errno == errno.EADDRINUSE:
        return True
    # cheroot folds the errors of every address it tried into the message
    # of a new OSError that carries no errno of its own.
    return f'[Errno {errno.EADDRINUSE}]' in str(exc)


class ServerAdapter:
    """Start and stop an HTTP server together with a bus.

    ``httpserver`` is any object with ``start()`` and ``stop()`` methods
    and a ``ready`` flag; one that also offers ``prepare()`` (bind and
    listen) and ``serve()`` (the accept loop), as cheroot's servers do, is
    bound in the thread that starts the bus, so that a bind failure is
    raised from ``bus.start()`` itself. ``bind_addr`` is where it listens:
    ``(host, port)`` for TCP (port 0 picks a free port) or a unix socket
    path.

    An httpserver whose listening socket was handed to the process
    (systemd socket activation) says so with a true ``socket_inherited``
    attribute; the adapter then skips its checks that the port is free,
    since the socket is meant to stay open across restarts.
    """

    #: Seconds to wait for a busy TCP port to be released before binding
    #: it (a previous server may still be shutting down).
    free_port_timeout = 1.0

    #: Seconds to wait for the port to answer once the server started, and
    #: for it to fall silent once the server stopped.
    port_timeout = 5.0

    def __init__(
        self, bus: Any, httpserver: Any = None, bind_addr: BindAddr = None
    ) -> None:
        self.bus = bus
        self.httpserver = httpserver
        self.bind_addr = bind_addr
        #: The exception that ended the server thread, if one did.
        self.interrupt: BaseException | None = None
        #: True from a successful :meth:`start` until :meth:`stop`.
        self.running = False
        self._thread: threading.Thread | None = None
        # The port the OS chose when port 0 was asked for; kept after stop
        # so that callers can still check that the port was released.
        self._chosen_port: int | None = None

    def subscribe(self) -> None:
        """Start and stop this server with the bus."""
        self.bus.subscribe('start', self.start, priority=START_PRIORITY)
        self.bus.subscribe('stop', self.stop)

    def unsubscribe(self) -> None:
        """Detach this server from the bus."""
        self.bus.unsubscribe('start', self.start)
        self.bus.unsubscribe('stop', self.stop)

    @property
    def bound_addr(self) -> BindAddr:
        """The bind address, with the real port when port 0 was asked for."""
        addr = self.bind_addr
        if _is_tcp(addr) and addr[1] == 0 and self._chosen_port is not None:
            return (addr[0], self._chosen_port)
        return addr

    @property
    def description(self) -> str:
        """Where the server listens: a URL for TCP, else the socket path."""
        addr = self.bound_addr
        if not _is_tcp(addr):
            return _addr_text(addr)
        secure = getattr(self.httpserver, 'ssl_adapter', None) is not None
        return f'{"https" if secure else "http"}://{_addr_text(addr)}'

    def _checks_ports(self) -> bool:
        return _is_tcp(self.bind_addr) and not getattr(
            self.httpserver, 'socket_inherited', False
        )

    def start(self) -> None:
        """Bind the server, run it in a new thread and wait until it answers."""
        if self.running:
            self.bus.log(f'Already serving on {self.description}')
            return
        if self.httpserver is None:
            raise ValueError(
                'No HTTP server to start: give the adapter an httpserver first.'
            )
        self.interrupt = None
        self._chosen_port = None
        if self._checks_ports() and self.bind_addr[1] != 0:
            wait_for_free_port(*self.bind_addr, timeout=self.free_port_timeout)

        prepared = hasattr(self.httpserver, 'prepare') and hasattr(
            self.httpserver, 'serve'
        )
        if prepared:
            self._prepare()
            self._chosen_port = self._listening_port()
        # Non-daemon: the interpreter must not exit under in-flight requests.
        self._thread = threading.Thread(
            target=self._serve if prepared else self._run_start,
            name=f'HTTPServer {_addr_text(self.bound_addr)}',
        )
        self.running = True
        self._thread.start()
        try:
            self.wait()
            if not prepared:
                self._confirm_listening()
        except BaseException:
            self.stop()
            raise
        self.bus.log(f'Serving on {self.description}')

    # Marks the listener's order for anyone subscribing it by hand.
    start.priority = START_PRIORITY

    def _prepare(self) -> None:
        """Bind and listen in the calling thread, naming a taken port."""
        try:
            self.httpserver.prepare()
        except OSError as exc:
            if _is_tcp(self.bind_addr) and _address_in_use(exc):
                raise PortInUseError(*self.bind_addr[:2]) from exc
            raise

    def _confirm_listening(self) -> None:
        """Learn the port a self-binding server got and check that it answers.

        A prepared server needs no such probe: its listen() has returned,
        so the kernel already accepts connections, and a probe would only
        make an HTTPS server log a dropped handshake.
        """
        self._chosen_port = self._listening_port()
        if self._checks_ports() and self.bound_addr[1] != 0:
            wait_for_occupied_port(*self.bound_addr, timeout=self.port_timeout)

    def _listening_port(self) -> int | None:
        """The port the server's socket is bound to, when it can be told."""
        if not _is_tcp(self.bind_addr) or self.bind_addr[1] != 0:
            return None
        sock = getattr(self.httpserver, 'socket', None)
        if sock is None:
            return None
        return sock.getsockname()[1]

    def _serve(self) -> None:
        """Thread body for servers that were prepared in the caller."""
        self._run_guarded(self.httpserver.serve)

    def _run_start(self) -> None:
        """Thread body for servers that bind and serve inside ``start()``."""
        self._run_guarded(self.httpserver.start)

    def _run_guarded(self, run) -> None:
        """Run the server loop; if it dies, record why and exit the bus.

        A server that stops serving while the bus believes it runs would
        leave a process that looks alive and answers nothing.
        """
        try:
            run()
        except KeyboardInterrupt as exc:
            self.interrupt = exc
            self.bus.log('Keyboard Interrupt: shutting down bus')
            self.bus.exit()
        except SystemExit as exc:
            self.interrupt = exc
            self.bus.log('SystemExit raised: shutting down bus')
            self.bus.exit()
        except Exception as exc:
            self.interrupt = exc
            self.bus.log(
                'Error in HTTP server: shutting down',
                level=logging.ERROR,
                traceback=True,
            )
            self.bus.exit()

    def wait(self) -> None:
        """Wait until the HTTP server is ready to receive requests.

        Raises the exception that ended the server thread, if it ended
        before the server became ready.
        """
        while not getattr(self.httpserver, 'ready', False):
            if self.interrupt:
                raise self.interrupt
            if self._thread is not None and not self._thread.is_alive():
                raise RuntimeError(
                    f'The HTTP server for {self.description} ended '
                    f'before it was ready'
                )
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the server (in-flight requests finish) and free its address."""
        description = self.description
        if not self.running:
            self.bus.log(f'HTTP Server {description} already shut down')
            return
        self.running = False
        thread, self._thread = self._thread, None
        try:
            self.httpserver.stop()
        finally:
            # stop() runs in the server thread itself when that thread
            # failed and exited the bus; a thread cannot join itself.
            if thread is not None and thread is not threading.current_thread():
                thread.join()
        if self._checks_ports():
            try:
                wait_for_free_port(*self.bound_addr, timeout=self.port_timeout)
            except PortInUseError:
                self.bus.log(
                    f'Port of {description} still answers after shutdown; '
                    f'another process may have taken it',
                    level=logging.WARNING,
                )
        self.bus.log(f'HTTP Server {description} shut down')

    def restart(self) -> None:
        """Stop, then start the server again."""
        self.stop()
        self.start()


def _import_flup(module: str, protocol: str) -> Any:
    """Import a flup server module, explaining how to get flup if missing."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f'install flup to use {protocol} (pip install flup)'
        ) from exc


class _FlupThreadedServer:
    """Common start/stop for flup's threaded WSGI servers (FastCGI, SCGI)."""

    _module = ''
    _protocol = ''

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.ready = False
        self.flupserver = None

    def start(self) -> None:
        """Create the flup server and run its accept loop until stopped."""
        module = _import_flup(self._module, self._protocol)
        self.flupserver = module.WSGIServer(*self.args, **self.kwargs)
        # flup would install its own SIGINT/SIGTERM/SIGHUP handlers, which
        # fails outside the main thread; signals belong to the bus anyway.
        self.flupserver._installSignalHandlers = lambda: None
        self.flupserver._restoreSignalHandlers = lambda: None
        self.ready = True
        self.flupserver.run()

    def stop(self) -> None:
        """Ask the accept loop to end; flup then joins its worker threads."""
        self.ready = False
        if self.flupserver is not None:
            # _exit() is flup's own way to leave its loop from another thread.
            self.flupserver._exit()


class FlupFCGIServer(_FlupThreadedServer):
    """Adapter for flup's FastCGI WSGI server (``flup.server.fcgi``).

    Takes the arguments of ``flup.server.fcgi.WSGIServer``, for example
    ``FlupFCGIServer(application=app, bindAddress=('127.0.0.1', 4000))``.
    """

    _module = 'flup.server.fcgi'
    _protocol = 'FastCGI'


class FlupSCGIServer(_FlupThreadedServer):
    """Adapter for flup's SCGI WSGI server (``flup.server.scgi``)."""

    _module = 'flup.server.scgi'
    _protocol = 'SCGI'


class FlupCGIServer:
    """Adapter for flup's CGI WSGI server (``flup.server.cgi``).

    A CGI server answers the single request described by the process's
    environment and standard input, then returns.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args
        self.kwargs = kwargs
        self.ready = False

    def start(self) -> None:
        """Answer the CGI request."""
        module = _import_flup('flup.server.cgi', 'CGI')
        self.ready = True
        module.WSGIServer(*self.args, **self.kwargs).run()

    def stop(self) -> None:
        """Mark the server stopped (a CGI run cannot be interrupted)."""
        self.ready = False
