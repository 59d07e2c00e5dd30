"""Ready-made plugins for the process bus.

A plugin is any object that subscribes callables to bus channels. The ones
here cover what a long-running server process usually needs: reacting to
OS signals, detaching as a daemon, dropping root privileges, keeping a PID
file, running callbacks periodically, re-executing itself when its source
files change, and telling per-thread resources when request threads come
and go.

Like the bus, this module uses the standard library only.
"""

from __future__ import annotations

import logging
import os
import re
import signal as _signal
import sys
import tempfile
import threading
import zipimport
from collections.abc import Callable, Iterable, Mapping
from types import ModuleType
from typing import Any

from .wspbus import Bus, ChannelFailures

try:  # Unix only; DropPrivileges refuses uid/gid where these are missing.
    import grp
    import pwd
except ImportError:  # pragma: no cover - exercised on Windows only
    grp = pwd = None

__all__ = [
    'SimplePlugin',
    'SignalHandler',
    'Daemonizer',
    'DropPrivileges',
    'PIDFile',
    'PerpetualTimer',
    'BackgroundTask',
    'Monitor',
    'Autoreloader',
    'ThreadManager',
]


class SimplePlugin:
    """Base class for plugins whose methods are named after bus channels.

    :meth:`subscribe` attaches every method called like a channel the bus
    already knows (``start``, ``stop``, ``exit``, ``graceful``, ``main``,
    ``log`` or any custom channel); give a method a ``priority`` attribute
    to control where it runs among the channel's listeners.
    """

    def __init__(self, bus: Bus) -> None:
        #: The bus this plugin serves, usually ``pyframe.engine``.
        self.bus = bus

    def _channel_methods(self):
        # A snapshot, because subscribing may add channels to the dict.
        for channel in list(self.bus.listeners):
            method = getattr(self, channel, None)
            if callable(method):
                yield channel, method

    def subscribe(self) -> None:
        """Attach this plugin's channel-named methods to the bus."""
        for channel, method in self._channel_methods():
            self.bus.subscribe(
                channel, method, priority=getattr(method, 'priority', None)
            )

    def unsubscribe(self) -> None:
        """Detach this plugin's channel-named methods from the bus."""
        for channel, method in self._channel_methods():
            self.bus.unsubscribe(channel, method)


class SignalHandler:
    """Turn OS signals into messages on bus channels named after them.

    When signal ``SIGTERM`` arrives, ``'Caught signal SIGTERM.'`` is logged
    and channel ``'SIGTERM'`` is published. :attr:`handlers` decides which
    signals are caught and what listens; by default:

    * ``SIGTERM``: ``bus.exit``
    * ``SIGHUP``: :meth:`handle_SIGHUP` (restart a daemon, exit otherwise)
    * ``SIGUSR1``: ``bus.graceful``

    Add entries freely, even for signals some platforms lack:
    :meth:`subscribe` skips the ones this platform does not have.
    """

    #: Signal number -> canonical name, for every signal of this platform.
    signals: dict[int, str] = {int(sig): sig.name for sig in _signal.Signals}

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        #: Signal name -> listener that :meth:`subscribe` installs.
        self.handlers: dict[str, Callable] = {
            'SIGTERM': bus.exit,
            'SIGHUP': self.handle_SIGHUP,
            'SIGUSR1': bus.graceful,
        }
        # Signal number -> the handler in place before ours, for unsubscribe.
        self._previous_handlers: dict[int, Any] = {}
        # A daemon is a forked copy of this process, so its pid differs.
        self._original_pid = os.getpid()

    def subscribe(self) -> None:
        """Install a handler for every signal in :attr:`handlers`.

        Signals unknown on this platform are skipped. Outside the main
        thread nothing can be installed (Python allows signal handlers only
        there), which is logged as a warning.
        """
        if threading.current_thread() is not threading.main_thread():
            self.bus.log(
                'Not installing signal handlers: only the main thread may.',
                level=logging.WARNING,
            )
            return
        for name, listener in self.handlers.items():
            try:
                self.set_handler(name, listener)
            except ValueError as exc:
                self.bus.log(f'Skipping signal {name}: {exc}', level=logging.DEBUG)

    def unsubscribe(self) -> None:
        """Put back the handlers that were in place before :meth:`subscribe`."""
        for signum, previous in self._previous_handlers.items():
            name = self.signals[signum]
            # None means the old handler was not set from Python; the
            # default action is the closest thing we can restore.
            if previous is None:
                previous = _signal.SIG_DFL
            self.bus.log(f'Restoring {name} handler {previous!r}.')
            try:
                _signal.signal(signum, previous)
            except ValueError as exc:
                self.bus.log(
                    f'Could not restore {name} handler: {exc}',
                    level=logging.WARNING,
                )
        self._previous_handlers.clear()

    def set_handler(self, signal: str | int, listener: Callable | None = None) -> None:
        """Catch ``signal`` (a name like ``'SIGHUP'`` or a number).

        The signal is then published on the bus channel named after it;
        ``listener``, if given, is subscribed to that channel. Raises
        ``ValueError`` if this platform has no such signal.
        """
        try:
            if isinstance(signal, str):
                sig = _signal.Signals[signal]
            else:
                sig = _signal.Signals(signal)
        except (KeyError, ValueError):
            raise ValueError(f'No such signal on this platform: {signal!r}') from None
        # Aliases such as SIGCLD resolve to the canonical name, so the
        # channel matches what _handle_signal publishes.
        name = sig.name

        previous = _signal.signal(sig, self._handle_signal)
        # Keep the first previous handler: installing twice must not make
        # our own handler the one that unsubscribe restores.
        self._previous_handlers.setdefault(int(sig), previous)
        self.bus.log(f'Listening for {name}.')
        if listener is not None:
            self.bus.subscribe(name, listener)

    def _handle_signal(self, signum: int, frame: Any = None) -> None:
        """Python-level signal handler: log and publish the signal's channel."""
        name = self.signals[signum]
        self.bus.log(f'Caught signal {name}.')
        self.bus.publish(name)

    def _is_daemonized(self) -> bool:
        # A different pid alone is not enough: CI runners and supervisors
        # fork too. A daemon has also lost its terminal.
        return os.getpid() != self._original_pid and not _stdin_is_tty()

    def handle_SIGHUP(self) -> None:
        """Restart the bus if this process is a daemon, else exit it.

        A terminal sends SIGHUP to its processes when it closes, and then
        exiting is what the user wants; a daemon has no terminal, so for it
        SIGHUP is the conventional "reload" request.
        """
        if self._is_daemonized():
            self.bus.log('SIGHUP received by a daemon: restarting.')
            self.bus.restart()
        else:
            self.bus.log('SIGHUP received and not daemonized: exiting.')
            self.bus.exit()


def _stdin_is_tty() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError, OSError):
        # None, closed or broken stdin: certainly no terminal.
        return False


class Daemonizer(SimplePlugin):
    """Detach the process from its terminal with the classic double fork.

    The original process exits with status 0 as soon as the first fork
    succeeds, so its exit status says nothing about whether the daemon
    went on to start; check the daemon's log or PID file for that.

    The three standard streams are redirected to ``stdin``, ``stdout`` and
    ``stderr`` (the latter two are appended to). The working directory and
    umask are left alone: :class:`DropPrivileges` owns the umask, and
    relative paths in the application keep meaning what they meant.

    Threads do not survive a fork, so this runs at ``start`` with priority
    65, before the HTTP server starts its workers (75); it warns if other
    threads are already running. Unix only.
    """

    def __init__(
        self,
        bus: Bus,
        stdin: str = '/dev/null',
        stdout: str = '/dev/null',
        stderr: str = '/dev/null',
    ) -> None:
        super().__init__(bus)
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        #: True once this process has daemonized; a later start (after a
        #: graceful stop/start cycle) must not fork again.
        self.finalized = False

    def start(self) -> None:
        """Daemonize, unless this process already did."""
        if self.finalized:
            self.bus.log('Already daemonized.')
            return
        others = threading.active_count() - 1
        if others:
            self.bus.log(
                f'Forking while {others} other thread(s) run: they will not '
                f'exist in the daemon and locks they hold stay locked there.',
                level=logging.WARNING,
            )
        self.daemonize(self.stdin, self.stdout, self.stderr, self.bus.log)
        self.finalized = True

    start.priority = 65

    @staticmethod
    def daemonize(
        stdin: str = '/dev/null',
        stdout: str = '/dev/null',
        stderr: str = '/dev/null',
        logger: Callable[[str], Any] = lambda msg: None,
    ) -> None:
        """Double-fork into a daemon and redirect the standard streams.

        Returns only in the daemon; both parents leave with ``os._exit(0)``
        so that no cleanup code (atexit hooks, bus listeners) runs twice.
        """
        # Unflushed output would otherwise be written by every copy.
        sys.stdout.flush()
        sys.stderr.flush()
        _fork_and_let_parent_exit()
        # A new session drops the controlling terminal...
        os.setsid()
        # ...and the second fork makes sure the daemon is not a session
        # leader, so it can never acquire a terminal again.
        _fork_and_let_parent_exit()

        _redirect_fd(0, stdin, os.O_RDONLY)
        for fd, path in ((1, stdout), (2, stderr)):
            _redirect_fd(fd, path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        logger(f'Daemonized to PID: {os.getpid()}')


def _fork_and_let_parent_exit() -> None:
    if os.fork():
        os._exit(0)


def _redirect_fd(fd: int, path: str, flags: int) -> None:
    new = os.open(path, flags, 0o666)
    try:
        os.dup2(new, fd)
    finally:
        os.close(new)


def _current_ids() -> str:
    return f'uid: {os.getuid()} gid: {os.getgid()}'


class DropPrivileges(SimplePlugin):
    """Switch to another user, group and umask once the server has started.

    Its ``start`` listener runs at priority 77, just after the HTTP server
    (75) has bound its socket, so a root process can listen on port 80 and
    then serve as an unprivileged user. Supplementary groups are cleared
    so that none of root's groups survive the switch. uid and gid are Unix
    only; the umask works everywhere. When only ``uid`` is given, the
    group becomes that user's primary group rather than staying root's.
    """

    def __init__(
        self,
        bus: Bus,
        umask: int | None = None,
        uid: int | str | None = None,
        gid: int | str | None = None,
    ) -> None:
        super().__init__(bus)
        #: True once the switch happened; it cannot be undone or repeated.
        self.finalized = False
        self.uid = uid
        self.gid = gid
        self.umask = umask

    @property
    def uid(self) -> int | None:
        """The user id to run as (set a number or a user name); Unix only."""
        return self._uid

    @uid.setter
    def uid(self, value: int | str | None) -> None:
        self._uid = _resolve_id(value, 'user', pwd.getpwnam if pwd else None, 'pw_uid')

    @property
    def gid(self) -> int | None:
        """The group id to run as (set a number or a group name); Unix only."""
        return self._gid

    @gid.setter
    def gid(self, value: int | str | None) -> None:
        self._gid = _resolve_id(value, 'group', grp.getgrnam if grp else None, 'gr_gid')

    @property
    def umask(self) -> int | None:
        """The umask to set for new files, e.g. ``0o027``; None keeps it."""
        return self._umask

    @umask.setter
    def umask(self, value: int | None) -> None:
        if value is not None and not isinstance(value, int):
            raise TypeError(f'umask must be an int such as 0o027, not {value!r}')
        self._umask = value

    def start(self) -> None:
        """Switch user, group and umask (once per process)."""
        if self.finalized:
            self.bus.log(f'Privileges already set; running as {_current_ids()}.')
            return
        if self.uid is None and self.gid is None and self.umask is None:
            self.bus.log(
                'DropPrivileges has nothing to do: uid, gid and umask are unset.',
                level=logging.WARNING,
            )
        if self.uid is not None or self.gid is not None:
            self.bus.log(f'Started as {_current_ids()}')
            self._switch_ids()
            self.bus.log(f'Running as {_current_ids()}')
        if self.umask is not None:
            old = os.umask(self.umask)
            self.bus.log(f'umask changed from {old:03o} to {self.umask:03o}.')
        self.finalized = True

    start.priority = 77

    def _switch_ids(self) -> None:
        uid, gid = self.uid, self.gid
        if uid is not None and gid is None:
            # Keeping root's group after dropping root's uid would leave
            # the process able to write whatever group 0 can: take the
            # user's own primary group unless a gid was asked for.
            try:
                gid = pwd.getpwuid(uid).pw_gid
            except KeyError:
                pass
        if (uid is None or uid == os.getuid()) and (gid is None or gid == os.getgid()):
            return  # already there; and a non-root user may not setgroups
        try:
            # Group first: after setuid we would no longer be allowed to.
            os.setgroups([])
            if gid is not None:
                os.setgid(gid)
            if uid is not None:
                os.setuid(uid)
        except PermissionError as exc:
            raise PermissionError(
                f'Cannot switch to uid {uid} gid {gid}: running as '
                f'{_current_ids()}, and only root may change ids '
                f'({exc.strerror}).'
            ) from exc


def _resolve_id(
    value: int | str | None,
    kind: str,
    lookup: Callable[[str], Any] | None,
    field: str,
) -> int | None:
    """Turn a user/group name or number into a number (None stays None)."""
    if value is None:
        return None
    if lookup is None:
        raise ValueError(f'A {kind} id can only be set on Unix.')
    if isinstance(value, str):
        try:
            return getattr(lookup(value), field)
        except KeyError:
            raise ValueError(f'Unknown {kind} name: {value!r}') from None
    return int(value)


class PIDFile(SimplePlugin):
    """Write the process id to a file at start and remove it at exit.

    Its ``start`` listener runs at priority 70, after :class:`Daemonizer`,
    so the file holds the daemon's pid rather than its parent's.
    """

    def __init__(self, bus: Bus, pidfile: str | os.PathLike) -> None:
        super().__init__(bus)
        # Absolute, so that a chdir after start cannot make exit miss it.
        self.pidfile = os.path.abspath(pidfile)
        #: True once this process wrote the file.
        self.finalized = False

    def start(self) -> None:
        """Write the current pid to :attr:`pidfile` (once per process)."""
        pid = os.getpid()
        if self.finalized:
            self.bus.log(f'PID {pid} already written to {self.pidfile!r}.')
            return
        directory = os.path.dirname(self.pidfile)
        fd, temp = tempfile.mkstemp(
            dir=directory, prefix='.' + os.path.basename(self.pidfile), suffix='.tmp'
        )
        try:
            with os.fdopen(fd, 'w') as file:
                file.write(f'{pid}\n')
            os.chmod(temp, 0o644)  # mkstemp makes it private; pid files are not
            # A rename is atomic: readers see the old file or the whole new one.
            os.replace(temp, self.pidfile)
        except BaseException:
            os.unlink(temp)
            raise
        self.bus.log(f'PID {pid} written to {self.pidfile!r}.')
        self.finalized = True

    start.priority = 70

    def exit(self) -> None:
        """Remove the PID file this process wrote."""
        # A process that never wrote the file (say, a second copy that
        # failed to start) must not delete the running copy's file.
        if not self.finalized:
            return
        try:
            os.remove(self.pidfile)
        except FileNotFoundError:
            return
        self.bus.log(f'PID file removed: {self.pidfile!r}.')


def _log_failure(bus: Bus | None, function: Callable, where: str) -> None:
    if bus is not None:
        bus.log(
            f'Error in {where} function {function!r}',
            level=logging.ERROR,
            traceback=True,
        )


class PerpetualTimer(threading.Timer):
    """A :class:`threading.Timer` that fires every ``interval`` until cancelled.

    Takes ``Timer``'s arguments plus an optional ``bus`` keyword. A failing
    ``function`` is logged on the bus (with its traceback) and then raised,
    which ends the timer.
    """

    def __init__(self, *args: Any, bus: Bus | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.bus = bus

    def run(self) -> None:
        """Call the function every interval until :meth:`cancel`."""
        while not self.finished.wait(self.interval):
            try:
                self.function(*self.args, **self.kwargs)
            except Exception:
                _log_failure(self.bus, self.function, 'perpetual timer')
                raise


class BackgroundTask(threading.Thread):
    """A daemon thread that calls ``function`` every ``interval`` seconds.

    :meth:`cancel` takes effect at once, even in the middle of a long
    interval (though not in the middle of a call). A failing ``function``
    is logged on ``bus`` (if given) and then raised, ending the task.
    """

    def __init__(
        self,
        interval: float,
        function: Callable,
        args: Iterable = (),
        kwargs: Mapping | None = None,
        bus: Bus | None = None,
    ) -> None:
        # Daemonic, so a forgotten task never keeps the process alive.
        super().__init__(daemon=True)
        self.interval = interval
        self.function = function
        self.args = tuple(args)
        self.kwargs = dict(kwargs or {})
        self.bus = bus
        self._cancelled = threading.Event()

    def cancel(self) -> None:
        """Stop repeating; an interval being waited out ends immediately."""
        self._cancelled.set()

    def run(self) -> None:
        """Call the function every interval until :meth:`cancel`."""
        while not self._cancelled.wait(self.interval):
            try:
                self.function(*self.args, **self.kwargs)
            except Exception:
                _log_failure(self.bus, self.function, 'background task')
                raise


class Monitor(SimplePlugin):
    """Run ``callback`` every ``frequency`` seconds while the bus runs.

    The callback runs in a :class:`BackgroundTask` named ``name`` (the
    class name by default), started at ``start`` (priority 70), cancelled
    at ``stop`` and replaced at ``graceful``. A frequency of 0 or less
    disables the monitor.
    """

    def __init__(
        self,
        bus: Bus,
        callback: Callable,
        frequency: float = 60,
        name: str | None = None,
    ) -> None:
        super().__init__(bus)
        #: The function to call at intervals.
        self.callback = callback
        #: Seconds between calls; read at each start.
        self.frequency = frequency
        #: The running :class:`BackgroundTask`, or None.
        self.thread: BackgroundTask | None = None
        self.name = name

    @property
    def _thread_name(self) -> str:
        return self.name or type(self).__name__

    def start(self) -> None:
        """Start the callback's thread (unless disabled or already running)."""
        if self.frequency <= 0:
            return
        if self.thread is not None:
            self.bus.log(f'Monitor thread {self._thread_name!r} already started.')
            return
        self.thread = BackgroundTask(self.frequency, self.callback, bus=self.bus)
        self.thread.name = self._thread_name
        self.thread.start()
        self.bus.log(f'Started monitor thread {self._thread_name!r}.')

    start.priority = 70

    def stop(self) -> None:
        """Cancel the callback's thread and wait for it to end."""
        thread = self.thread
        if thread is None:
            self.bus.log(
                f'No thread running for {self._thread_name}.', level=logging.DEBUG
            )
            return
        self.thread = None
        thread.cancel()
        # The callback itself may stop the bus (the autoreloader does);
        # a thread cannot join itself.
        if thread is not threading.current_thread():
            thread.join()
            self.bus.log(f'Stopped thread {thread.name!r}.')

    def graceful(self) -> None:
        """Replace the callback's thread with a fresh one."""
        self.stop()
        self.start()


class Autoreloader(Monitor):
    """Re-execute the process when one of its source files changes.

    Every ``frequency`` seconds it checks the modification time of each
    imported module's file (see :meth:`sysfiles`) and of each path in
    :attr:`files`. A file that changed or disappeared makes it restart
    the bus, and the main thread's ``bus.block()`` then re-executes the
    program with its original command line (``python -m pkg`` included).

    To add a file that is not a module, such as a config file::

        pyframe.engine.autoreload.files.add('/etc/myapp.conf')

    To stop watching pyframe itself, exclude it by module name::

        pyframe.engine.autoreload.match = r'^(?!pyframe).+'
    """

    def __init__(self, bus: Bus, frequency: float = 1, match: str = '.*') -> None:
        #: Extra paths to watch besides the imported modules.
        self.files: set[str] = set()
        #: Regular expression; only modules whose name matches are watched.
        self.match = match
        #: Path -> st_mtime_ns when first seen (None: did not exist).
        self.mtimes: dict[str, int | None] = {}
        super().__init__(bus, self.run, frequency)

    def start(self) -> None:
        """Record the files' current times and start polling them."""
        if self.thread is None and self.frequency > 0:
            # Record now rather than at the first poll, so an edit made
            # during the first interval is not taken as the original.
            self.mtimes = {path: _mtime_ns(path) for path in self._watched()}
        super().start()

    start.priority = 70

    def sysfiles(self) -> set[str]:
        """Return the absolute paths of the imported modules to watch."""
        pattern = re.compile(self.match)
        paths = set()
        # A copy: other threads may import while we iterate.
        for name, module in list(sys.modules.items()):
            if pattern.match(name):
                path = _module_path(module)
                if path:
                    paths.add(path)
        return paths

    def _watched(self) -> set[str]:
        return self.sysfiles() | set(self.files)

    def run(self) -> None:
        """Restart the bus if a watched file changed since first seen."""
        for path in self._watched():
            mtime = _mtime_ns(path)
            # Modules imported after start are recorded on first sight.
            if mtime == self.mtimes.setdefault(path, mtime):
                continue
            self.bus.log(f'Restarting because {path} changed.')
            if self.thread is not None:
                self.thread.cancel()
            self.bus.restart()
            return


def _module_path(module: ModuleType) -> str | None:
    """Return the file to watch for ``module``, or None if it has none."""
    loader = getattr(module, '__loader__', None)
    if isinstance(loader, zipimport.zipimporter):
        # The module's path points inside the archive; only the archive
        # itself has a modification time.
        path = loader.archive
    else:
        path = getattr(module, '__file__', None)
    if not path:
        return None
    return os.path.abspath(path)


def _mtime_ns(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


# The channels ThreadManager listens and publishes on.
_THREAD_CHANNELS = ('acquire_thread', 'start_thread', 'release_thread', 'stop_thread')


class ThreadManager(SimplePlugin):
    """Tell per-thread resources when request threads start and end.

    A thread publishes ``acquire_thread`` when it begins serving (every
    request may do so; only the first time counts) and, if it knows when
    it is done, ``release_thread``. The manager then publishes
    ``start_thread`` / ``stop_thread`` with the thread's index number, so
    listeners can open and close per-thread resources such as database
    connections. Threads still registered when the bus stops or reloads
    get their ``stop_thread`` then.
    """

    def __init__(self, bus: Bus) -> None:
        super().__init__(bus)
        # Make the channels known, so that subscribe() attaches our
        # acquire_thread/release_thread methods and others can listen.
        for channel in _THREAD_CHANNELS:
            bus.listeners.setdefault(channel, set())
        #: Thread ident -> index number (1, 2, ...) of registered threads.
        self.threads: dict[int, int] = {}
        self._lock = threading.Lock()

    def acquire_thread(self) -> None:
        """Register the calling thread and publish ``start_thread`` (once)."""
        ident = threading.get_ident()
        if ident in self.threads:
            return  # the usual case, every request after a thread's first
        with self._lock:
            if ident in self.threads:
                return
            # The smallest free number: indexes stay unique among live
            # threads and small enough to size per-thread pools.
            taken = set(self.threads.values())
            index = next(i for i in range(1, len(taken) + 2) if i not in taken)
            self.threads[ident] = index
        # Outside the lock: listeners may be slow or publish themselves.
        self.bus.publish('start_thread', index)

    def release_thread(self) -> None:
        """Unregister the calling thread and publish ``stop_thread``."""
        with self._lock:
            index = self.threads.pop(threading.get_ident(), None)
        if index is not None:
            self.bus.publish('stop_thread', index)

    def stop(self) -> None:
        """Publish ``stop_thread`` for every registered thread; forget them."""
        with self._lock:
            indexes = sorted(self.threads.values())
            self.threads.clear()
        failure = None
        # One failing listener must not leave the other threads' resources open.
        for index in indexes:
            try:
                self.bus.publish('stop_thread', index)
            except ChannelFailures as exc:
                failure = failure or exc
        if failure:
            raise failure

    graceful = stop
