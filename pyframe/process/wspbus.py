"""The Web Site Process Bus: one state machine and message hub per process.

The bus knows nothing about HTTP. It models the life of the whole process
(STOPPED -> STARTING -> STARTED -> STOPPING -> STOPPED -> EXITING) and, on
every transition, publishes to a channel of the same name so that servers,
monitors, PID files, database pools and anything else can follow along::

                 O
                 |
                 V
    STOPPING --> STOPPED --> EXITING -> X
       A   A         |
       |    \\___     |
       |        \\    |
       |         V   V
     STARTED <-- STARTING

Besides the state channels (``start``, ``stop``, ``exit``, ``graceful``) the
bus carries ``log`` (every message the bus or a plugin wants recorded) and
``main`` (published periodically by :meth:`Bus.block`). Any other string is a
valid channel too: publishing to a channel nobody listens on does nothing.

A re-exec (:meth:`Bus.restart`) keeps the PID, so listening sockets that
servers hand over with :meth:`Bus.hand_over` are passed to the new image
the way systemd passes sockets (descriptors 3 and up, ``LISTEN_FDS``,
``LISTEN_PID``, ``LISTEN_FDNAMES``): clients connecting during the restart
wait in the kernel's backlog instead of being refused.

This module depends on the standard library only, so that it can drive
processes which are not web servers at all.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
import traceback as _traceback
import warnings
import weakref
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ['Bus', 'ChannelFailures', 'State', 'states', 'EX_SOFTWARE']

#: Exit status used when a listener failed while the process was exiting
#: (the BSD ``sysexits.h`` value for "internal software error").
EX_SOFTWARE = 70

#: Channels every bus has from the start.
BUILTIN_CHANNELS = ('start', 'stop', 'exit', 'graceful', 'log', 'main')

#: Priority given to a listener that names none (lower runs first).
DEFAULT_PRIORITY = 50


class State:
    """One state of the bus; compared by identity."""

    __slots__ = ('name',)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f'states.{self.name}'


class _States:
    """The bus states, reachable as attributes (``states.STARTED``)."""

    STOPPED = State('STOPPED')
    STARTING = State('STARTING')
    STARTED = State('STARTED')
    STOPPING = State('STOPPING')
    EXITING = State('EXITING')

    def __iter__(self):
        return iter(
            (self.STOPPED, self.STARTING, self.STARTED, self.STOPPING,
             self.EXITING)
        )


#: The five states a :class:`Bus` moves through.
states = _States()


class ChannelFailures(Exception):
    """Raised by :meth:`Bus.publish` after listeners of a channel failed.

    Every listener still ran; the exceptions of the ones that failed are
    kept, in order, and :meth:`get_instances` returns them.
    """

    #: Separator between the failures in ``str(exc)``.
    delimiter = '\n'

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._exceptions: list[BaseException] = []

    def handle_exception(self) -> None:
        """Record the exception currently being handled."""
        self._exceptions.append(sys.exc_info()[1])

    def get_instances(self) -> list[BaseException]:
        """Return the recorded exceptions, oldest first."""
        return list(self._exceptions)

    def __str__(self) -> str:
        return self.delimiter.join(
            f'{type(exc).__name__}: {exc}' for exc in self._exceptions
        )

    def __bool__(self) -> bool:
        return bool(self._exceptions)


def _is_collection(value: Any) -> bool:
    return isinstance(value, (tuple, list, set, frozenset))


class Bus:
    """Process state machine and publish/subscribe hub.

    Every listener of a channel runs even when an earlier one fails; the
    failures are logged one by one and raised together afterwards as a
    :class:`ChannelFailures`. Only ``KeyboardInterrupt`` and ``SystemExit``
    cut a publish short.
    """

    states = states

    def __init__(self) -> None:
        self.execv = False
        self.exit_status = 0
        self._state = states.STOPPED
        # An RLock, because signal handlers run on the main thread and may
        # change the state while that same thread is inside wait().
        self._state_changed = threading.Condition(threading.RLock())
        #: channel name -> set of listeners (read it; change it through
        #: subscribe/unsubscribe so that the ordering cache stays right).
        self.listeners: dict[str, set[Callable]] = {
            channel: set() for channel in BUILTIN_CHANNELS
        }
        self._order: dict[tuple[str, Callable], tuple[int, int]] = {}
        self._sequence = 0
        self._ordered: dict[str, tuple[set, int, tuple[Callable, ...]]] = {}
        #: Incremented by every subscribe and unsubscribe: whoever worked
        #: something out from the listeners knows whether it still holds.
        self.version = 0
        self._startup_cwd = os.getcwd()
        # (socket, name) pairs to pass to the image a re-exec starts.
        self._handed_over: list[tuple[socket.socket, str]] = []
        _watch_main_thread_exit(self)

    # -- state ------------------------------------------------------------

    @property
    def state(self) -> State:
        """The current :class:`State`; setting it wakes :meth:`wait`."""
        return self._state

    @state.setter
    def state(self, value: State) -> None:
        with self._state_changed:
            self._state = value
            self._state_changed.notify_all()

    # -- channels ---------------------------------------------------------

    def subscribe(
        self,
        channel: str,
        callback: Callable | None = None,
        priority: int | None = None,
    ):
        """Add ``callback`` to ``channel`` (once), in priority order.

        Lower priorities run first. Without an explicit ``priority`` the
        callback's own ``priority`` attribute is used, else 50. Listeners
        of equal priority run in the order they subscribed.

        Called without a callback, it returns a decorator::

            @bus.subscribe('start', priority=20)
            def open_pool():
                ...
        """
        if callback is None:
            def decorator(func: Callable) -> Callable:
                self.subscribe(channel, func, priority)
                return func
            return decorator

        if priority is None:
            priority = getattr(callback, 'priority', DEFAULT_PRIORITY)
        listeners = self.listeners.setdefault(channel, set())
        key = (channel, callback)
        if callback not in listeners:
            listeners.add(callback)
            self._sequence += 1
            self._order[key] = (priority, self._sequence)
        else:
            self._order[key] = (priority, self._order[key][1])
        self._ordered.pop(channel, None)
        self.version += 1
        return callback

    def unsubscribe(self, channel: str, callback: Callable) -> None:
        """Remove ``callback`` from ``channel`` (if it is there)."""
        listeners = self.listeners.get(channel)
        if listeners and callback in listeners:
            listeners.discard(callback)
            self._order.pop((channel, callback), None)
            self._ordered.pop(channel, None)
            self.version += 1

    def _listeners_in_order(self, channel: str) -> tuple[Callable, ...]:
        listeners = self.listeners.get(channel)
        if not listeners:
            return ()
        cached = self._ordered.get(channel)
        # The cache is keyed on the set object and its size so that code
        # which replaced or edited ``listeners`` directly is still obeyed.
        if cached and cached[0] is listeners and cached[1] == len(listeners):
            return cached[2]

        def order(callback):
            return self._order.get(
                (channel, callback),
                (getattr(callback, 'priority', DEFAULT_PRIORITY), 0),
            )

        ordered = tuple(sorted(listeners, key=order))
        self._ordered[channel] = (listeners, len(listeners), ordered)
        return ordered

    def publish(self, channel: str, *args: Any, **kwargs: Any) -> list:
        """Call every listener of ``channel``; return their results in order.

        A failing listener is logged and the rest still run; the failures
        are then raised together as :class:`ChannelFailures`.
        """
        listening = self.listeners.get(channel)
        if not listening:
            return []  # the usual case for per-request channels
        cached = self._ordered.get(channel)
        if cached and cached[0] is listening and cached[1] == len(listening):
            listeners = cached[2]  # what _listeners_in_order answers, minus a call
        else:
            listeners = self._listeners_in_order(channel)
        output = []
        failures = None
        for callback in listeners:
            try:
                output.append(callback(*args, **kwargs))
            except KeyboardInterrupt:
                raise
            except SystemExit as exc:
                # Earlier failures must not turn into a clean exit status.
                if failures and exc.code in (0, None):
                    exc.code = 1
                raise
            except Exception:
                if failures is None:
                    failures = ChannelFailures()
                failures.handle_exception()
                # A broken log listener must not log about itself forever.
                if channel != 'log':
                    self.log(
                        f'Error in {channel!r} listener {callback!r}',
                        level=logging.ERROR,
                        traceback=True,
                    )
        if failures:
            raise failures
        return output

    # -- transitions ------------------------------------------------------

    def start(self) -> None:
        """Start every service: STOPPED -> STARTING -> STARTED.

        If any ``start`` listener fails, the bus logs the error, stops
        (so that the services which did start are stopped again) and
        re-raises the failure.
        """
        self.state = states.STARTING
        self.log('Bus STARTING')
        # Sockets kept for a re-exec that never came would hold their
        # ports; the servers starting now bind afresh.
        self._close_handed_over()
        try:
            self.publish('start')
        except BaseException:
            self.log(
                'Shutting down due to error in start listener:',
                level=logging.ERROR,
                traceback=True,
            )
            try:
                self.stop()
            except ChannelFailures:
                pass  # each failure has been logged by publish
            raise
        self.state = states.STARTED
        self.log('Bus STARTED')

    def stop(self) -> None:
        """Stop every service: -> STOPPING -> STOPPED.

        The bus reaches STOPPED even when a ``stop`` listener fails; the
        failures are raised afterwards.
        """
        self.state = states.STOPPING
        self.log('Bus STOPPING')
        try:
            self.publish('stop')
        finally:
            self.state = states.STOPPED
            self.log('Bus STOPPED')

    def exit(self, status: int = 0) -> None:
        """Stop every service, then publish ``exit`` and enter EXITING.

        ``status`` becomes :attr:`exit_status`, the code with which
        :meth:`block` ends the process. This method is often called from
        signal handlers, atexit hooks or other threads, where an exception
        would have nowhere useful to go, so listener failures are logged
        and turn the exit status into :data:`EX_SOFTWARE` instead of being
        raised.
        """
        self.exit_status = status
        failed = False
        try:
            self.stop()
        except ChannelFailures:
            failed = True
        self.state = states.EXITING
        self.log('Bus EXITING')
        try:
            self.publish('exit')
        except ChannelFailures:
            failed = True
        if failed and not self.exit_status:
            self.exit_status = EX_SOFTWARE
        self.log('Bus EXITED')

    def graceful(self) -> None:
        """Ask every service to reload (publish ``graceful``)."""
        self.log('Bus graceful')
        self.publish('graceful')

    def restart(self) -> None:
        """Restart the process by re-executing it.

        The bus exits here; the main thread, waiting in :meth:`block`,
        performs the ``execv`` once every other thread has ended (some
        platforms only allow ``execv`` from the main thread). :attr:`execv`
        is already true while the ``stop`` listeners run, so servers can
        :meth:`hand_over` their listening sockets instead of closing them.
        """
        self.execv = True
        self.exit()

    def hand_over(self, sock: socket.socket, name: str = '') -> None:
        """Keep the listening socket ``sock`` open for the re-executed process.

        Called by servers that stop because of :meth:`restart`. The new
        image receives the sockets as descriptors 3, 4, ... in the order
        they were handed over, with ``LISTEN_PID`` (the unchanged PID),
        ``LISTEN_FDS`` and ``LISTEN_FDNAMES`` (the ``name`` of each, which
        must not contain ':') set as systemd would. If the bus starts again
        without re-executing, the sockets are closed.
        """
        if ':' in name:
            raise ValueError(f'socket name {name!r} must not contain ":"')
        self._handed_over.append((sock, name))

    def _close_handed_over(self) -> None:
        for sock, _name in self._handed_over:
            sock.close()
        self._handed_over.clear()

    def _pass_handed_over(self) -> None:
        """Put the handed-over sockets at descriptors 3... for the next image."""
        if not self._handed_over:
            return
        import fcntl  # Unix only, like the systemd protocol itself.

        first = 3
        count = len(self._handed_over)
        # Logged first: descriptors 3... may belong to a log file until
        # they are overwritten below.
        self.log(f'Passing {count} listening socket(s) to the new process')
        # Move every socket above the target range first, so that placing
        # one cannot overwrite another that still sits at 3, 4, ...
        lifted = [
            fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, first + count)
            for sock, _name in self._handed_over
        ]
        for offset, fd in enumerate(lifted):
            os.dup2(fd, first + offset)  # dup2 leaves the copy inheritable
            os.close(fd)
        names = [name for _sock, name in self._handed_over]
        for sock, _name in self._handed_over:
            # Detached, not closed: an old descriptor may be one of 3, 4...
            # by now. The others are close-on-exec and vanish with execv.
            sock.detach()
        self._handed_over.clear()
        os.environ['LISTEN_PID'] = str(os.getpid())
        os.environ['LISTEN_FDS'] = str(count)
        os.environ['LISTEN_FDNAMES'] = ':'.join(names)

    # -- waiting ----------------------------------------------------------

    def wait(
        self,
        state: State | Iterable[State],
        interval: float = 0.1,
        channel: str | None = None,
    ) -> None:
        """Block until the bus is in ``state`` (or one of several states).

        Every ``interval`` seconds without the state being reached,
        ``channel`` (if given) is published.
        """
        wanted = tuple(state) if _is_collection(state) else (state,)
        condition = self._state_changed
        while True:
            with condition:
                if self._state in wanted:
                    return
                condition.wait(interval)
                if self._state in wanted:
                    return
            if channel:
                self.publish(channel)

    def block(self, interval: float = 0.1) -> None:
        """Wait for EXITING, then for other threads, then maybe re-exec.

        Meant for the main thread. While waiting it publishes ``main``
        every ``interval`` seconds. Ctrl-C or ``SystemExit`` exits the bus.
        Once EXITING, it joins every non-daemon thread and then, if
        :meth:`restart` was called, replaces the process with a fresh copy
        of itself. If the bus exited with a non-zero :attr:`exit_status`,
        ``SystemExit`` with that status is raised last.
        """
        try:
            self.wait(states.EXITING, interval=interval, channel='main')
        except (KeyboardInterrupt, InterruptedError):
            self.log('Keyboard Interrupt: shutting down bus')
            self.exit()
        except SystemExit:
            self.log('SystemExit raised: shutting down bus')
            self.exit()
            raise

        self.log('Waiting for child threads to terminate...')
        current = threading.current_thread()
        for thread in threading.enumerate():
            if (
                thread is current
                or thread is threading.main_thread()
                or thread.daemon
            ):
                continue
            self.log(f'Waiting for thread {thread.name}.')
            thread.join()

        if self.execv:
            self._do_execv()
        if self.exit_status:
            raise SystemExit(self.exit_status)

    def _restart_argv(self) -> list[str]:
        """Return the argv that starts this same program again.

        ``sys.orig_argv`` keeps interpreter options and ``-m module`` forms
        intact, which ``sys.argv`` does not.
        """
        original = list(getattr(sys, 'orig_argv', None) or [''] + sys.argv)
        return [sys.executable, *original[1:]]

    def _do_execv(self) -> None:
        """Replace the current process with a fresh copy of itself."""
        self.execv = False
        args = self._restart_argv()
        self.log(f'Re-spawning {" ".join(args)}')
        # Relative paths in argv were relative to where we started.
        os.chdir(self._startup_cwd)
        sys.stdout.flush()
        sys.stderr.flush()
        # Last step before execv: it may overwrite descriptors in use.
        self._pass_handed_over()
        os.execv(sys.executable, args)

    def start_with_callback(
        self,
        func: Callable,
        args: Iterable | None = None,
        kwargs: dict | None = None,
    ) -> threading.Thread:
        """Start the bus, then run ``func`` in a new thread; return it.

        ``func`` runs only once the bus has STARTED (not at all if the
        start fails).
        """
        args = tuple(args or ())
        kwargs = dict(kwargs or {})
        start_done = threading.Event()

        def run_when_started():
            start_done.wait()
            if self.state is states.STARTED:
                func(*args, **kwargs)

        name = getattr(func, '__name__', repr(func))
        thread = threading.Thread(
            target=run_when_started, name=f'Bus Callback {name}'
        )
        thread.start()
        try:
            self.start()
        finally:
            start_done.set()
        return thread

    # -- logging ----------------------------------------------------------

    def log(
        self, msg: str = '', level: int = logging.INFO, traceback: bool = False
    ) -> None:
        """Publish ``msg`` on the ``log`` channel, with the current traceback
        appended when ``traceback`` is true."""
        if traceback:
            msg += '\n' + ''.join(_traceback.format_exception(*sys.exc_info()))
        self.publish('log', msg, level)


def _watch_main_thread_exit(bus: Bus) -> None:
    """Warn (and exit the bus) if the main thread ends while it runs.

    Registered with threading's own exit hooks where available, because
    those run before non-daemon threads (such as server workers) are
    joined; plain ``atexit`` hooks would never be reached in that case.
    """
    ref = weakref.ref(bus)

    def check():
        running = ref()
        if running is None:
            return
        if running.state in (states.STARTING, states.STARTED):
            msg = (
                f'The main thread is exiting while the bus is in the '
                f'{running.state!r} state; shutting it down now. Call '
                f'bus.block() after bus.start(), or bus.exit() before the '
                f'main thread ends.'
            )
            warnings.warn(msg, RuntimeWarning, stacklevel=1)
            running.log(msg, level=logging.WARNING)
            running.exit()

    register = getattr(threading, '_register_atexit', None)
    try:
        if register is None:
            raise RuntimeError
        register(check)
    except RuntimeError:
        import atexit

        atexit.register(check)
