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

It also keeps the listening sockets a process inherits the systemd way
(``LISTEN_PID``/``LISTEN_FDS``, descriptors 3 and up): from systemd socket
activation, or from this same process before :meth:`Bus.restart
<pyframe.process.wspbus.Bus.restart>` re-executed it. When the bus is about
to re-execute, :meth:`ServerAdapter.stop` lets in-flight requests finish and
hands the still-open listening socket to the bus instead of closing it, so
connections arriving during the restart wait in the kernel's backlog and are
served by the new image.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import socket
import threading
import time
from typing import Any
from urllib.parse import quote

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
    'handover_name',
    'inherited_sockets',
    'release_unclaimed_handovers',
    'take_inherited_socket',
    'wait_for_free_port',
    'wait_for_occupied_port',
]

#: Priority of a server's ``start`` listener: after the daemonizer (65) has
#: forked, so the listening socket belongs to the daemon, and before
#: DropPrivileges (77), so that privileged ports can still be bound.
START_PRIORITY = 75

#: Priority of a server's ``stop`` listener: first, so that requests in
#: flight end before plugins (threads, sessions, databases) are torn down.
STOP_PRIORITY = 25

#: A bind address: ``(host, port)`` for TCP, a path for a unix socket.
BindAddr = tuple | str | bytes | None

#: The first descriptor of sockets passed the systemd way (``SD_LISTEN_FDS_START``).
LISTEN_FDS_START = 3

#: Environment variables of the systemd socket-passing protocol.
LISTEN_VARIABLES = ('LISTEN_PID', 'LISTEN_FDS', 'LISTEN_FDNAMES')

# Prefix of the LISTEN_FDNAMES entries written for a re-exec hand-over.
_HANDOVER_PREFIX = 'pyframe.'


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


# -- sockets inherited the systemd way --------------------------------------


class _InheritedSocket:
    """One listening socket passed to this process, and whether it is taken."""

    __slots__ = ('fd', 'name', 'taken')

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name
        self.taken = False

    def address(self) -> BindAddr:
        """The socket's own address, or None if the descriptor is no socket."""
        try:
            with socket.socket(fileno=os.dup(self.fd)) as sock:
                return _normal_addr(sock)
        except OSError:
            return None


# Descriptors claimed from the LISTEN_* variables; a list, not a fresh read
# of the environment, because the claim must survive a daemonizing fork
# (which changes the pid that LISTEN_PID names).
_inherited: list[_InheritedSocket] = []
_inherited_lock = threading.Lock()


def _normal_addr(sock: socket.socket) -> BindAddr:
    address = sock.getsockname()
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        return tuple(address[:2])
    return address


def _claim_listen_fds() -> None:
    """Record the descriptors the LISTEN_* variables pass to this process.

    Like ``sd_listen_fds(3)`` they count only when ``LISTEN_PID`` is this
    process. The claim happens when pyframe is imported, before a daemon
    forks away from the pid that LISTEN_PID names, and again whenever a
    server asks, for variables set later. Variables meant for another
    process are removed so that neither cheroot (which takes descriptor 3
    whenever LISTEN_PID is set) nor our child processes act on them.
    """
    try:
        ours = int(os.environ['LISTEN_PID']) == os.getpid()
        count = int(os.environ.get('LISTEN_FDS', '0')) if ours else 0
    except (KeyError, ValueError):
        ours, count = False, 0
    if not ours:
        for name in LISTEN_VARIABLES:
            os.environ.pop(name, None)
        return
    names = os.environ.get('LISTEN_FDNAMES', '').split(':')
    with _inherited_lock:
        known = {item.fd for item in _inherited}
        for index in range(count):
            fd = LISTEN_FDS_START + index
            if fd not in known:
                name = names[index] if index < len(names) else ''
                _inherited.append(_InheritedSocket(fd, name))


def inherited_sockets() -> list[tuple[int, str, BindAddr]]:
    """``(fd, name, address)`` of every inherited socket no server took yet."""
    _claim_listen_fds()
    with _inherited_lock:
        return [
            (item.fd, item.name, item.address())
            for item in _inherited if not item.taken
        ]


def handover_name(bind_addr: BindAddr) -> str:
    """The LISTEN_FDNAMES entry under which a re-exec passes this server's socket.

    It is made of the *configured* address, so that a server asking for
    port 0 finds the port it had before the restart. systemd forbids
    ':' in names, hence the quoting.
    """
    if _is_tcp(bind_addr):
        text = f'tcp/{bind_addr[0]}/{bind_addr[1]}'
    else:
        text = f'unix/{_addr_text(bind_addr)}'
    return _HANDOVER_PREFIX + quote(text, safe='/')


def _same_address(wanted: BindAddr, actual: BindAddr) -> bool:
    if _is_tcp(wanted) and _is_tcp(actual):
        return wanted[1] != 0 and tuple(wanted[:2]) == tuple(actual[:2])
    return wanted is not None and _addr_text(wanted) == _addr_text(actual)


def take_inherited_socket(bind_addr: BindAddr) -> socket.socket | None:
    """Return the inherited listening socket meant for ``bind_addr``, or None.

    Preference order: the socket a re-exec handed over under this very
    configured address; one whose real address equals ``bind_addr``; and
    lastly any socket systemd passed (socket activation decides the
    address in the ``.socket`` unit, whatever the config says). Sockets
    handed over for another address are never given to the wrong server.
    Each socket is given out once.

    The LISTEN_* variables are removed here, once claimed: child processes
    must not act on them, and cheroot would take descriptor 3 whenever
    LISTEN_PID is set, whoever it was meant for.
    """
    _claim_listen_fds()
    for name in LISTEN_VARIABLES:
        os.environ.pop(name, None)
    with _inherited_lock:
        free = [item for item in _inherited if not item.taken]
        chosen = (
            next((i for i in free if i.name == handover_name(bind_addr)), None)
            or next(
                (i for i in free if _same_address(bind_addr, i.address())), None
            )
            or next(
                (
                    i for i in free
                    if not i.name.startswith(_HANDOVER_PREFIX)
                    and i.address() is not None
                ),
                None,
            )
        )
        if chosen is None:
            return None
        chosen.taken = True
    # fileno= lets the socket module detect the real family and type.
    sock = socket.socket(fileno=os.dup(chosen.fd))
    os.close(chosen.fd)
    return sock


def release_unclaimed_handovers() -> None:
    """Close sockets a re-exec handed over that no server took.

    That happens when the address changed in the config before the
    restart; left open, the old port would accept connections that no one
    serves. Sockets from systemd are left alone: systemd owns them.
    """
    with _inherited_lock:
        for item in _inherited:
            if not item.taken and item.name.startswith(_HANDOVER_PREFIX):
                item.taken = True
                try:
                    os.close(item.fd)
                except OSError:
                    pass


# Subscribed by every ServerAdapter: runs after all servers (75) took their
# sockets and before DropPrivileges (77).
release_unclaimed_handovers.priority = START_PRIORITY + 1

_claim_listen_fds()


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
    (systemd socket activation, or a re-exec) says so with a true
    ``socket_inherited`` attribute; the adapter then skips its checks that
    the port is free, since the socket is meant to stay open across
    restarts. An httpserver with a ``stop_and_detach()`` method (stop
    serving, return the listening socket still open) keeps its socket
    across :meth:`Bus.restart <pyframe.process.wspbus.Bus.restart>`.
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
        # Before the other stop listeners (the thread manager's among them):
        # requests still in flight finish while what they use still exists.
        self.bus.subscribe('stop', self.stop, priority=STOP_PRIORITY)
        # Shared by all adapters (subscribing it twice keeps one copy).
        self.bus.subscribe('start', release_unclaimed_handovers)

    def unsubscribe(self) -> None:
        """Detach this server from the bus."""
        self.bus.unsubscribe('start', self.start)
        self.bus.unsubscribe('stop', self.stop)
        others = [listener for listener in self.bus.listeners.get('start', ())
                  if isinstance(getattr(listener, '__self__', None), ServerAdapter)]
        if not others:
            self.bus.unsubscribe('start', release_unclaimed_handovers)

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
        handing_over = self._hands_over()
        try:
            if handing_over:
                kept = self.httpserver.stop_and_detach()
                if kept is not None:
                    self.bus.hand_over(kept, handover_name(self.bind_addr))
            else:
                self.httpserver.stop()
        finally:
            # stop() runs in the server thread itself when that thread
            # failed and exited the bus; a thread cannot join itself.
            if thread is not None and thread is not threading.current_thread():
                thread.join()
        if handing_over:
            self.bus.log(
                f'HTTP Server {description} stopped; its socket stays open '
                f'for the restarted process'
            )
            return
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

    def _hands_over(self) -> bool:
        """True when this stop precedes a re-exec that can take the socket.

        ``bus.execv`` is set by :meth:`Bus.restart` before it stops the
        bus; a plain :meth:`restart` of this adapter must close the socket,
        because it binds the address again in this same process.
        """
        stopping = getattr(getattr(self.bus, 'states', None), 'STOPPING', None)
        return (
            getattr(self.bus, 'execv', False) is True
            and stopping is not None
            and getattr(self.bus, 'state', None) is stopping
            and callable(getattr(self.bus, 'hand_over', None))
            and callable(getattr(self.httpserver, 'stop_and_detach', None))
        )

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
