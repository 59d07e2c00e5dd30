"""Server-side sessions, keyed by a cookie: the ``sessions`` tool.

Turn them on with ``tools.sessions.on = True``; handlers then read and write
``pyframe.session`` like a dict::

    pyframe.session['count'] = pyframe.session.get('count', 0) + 1

Data lives in RAM by default (:class:`RamSession`); pick
``tools.sessions.storage_class = pyframe.lib.sessions.FileSession`` and
``tools.sessions.storage_path = '/abs/dir'`` to keep it on disk across
restarts, or subclass :class:`Session` for another store.

Safety rules this module keeps:

* Ids are 40 hex digits from :func:`secrets.token_hex`. An id sent by a
  client that is malformed, or that the store does not know (never saved,
  expired, corrupt), is replaced by a fresh one: a client can never choose
  its id (no session fixation). A session becomes known once it is saved,
  so a site that never stores anything hands out a new id each time.
* Locks are always released: at the latest when the request ends, and for
  files by the operating system when the process dies.
* Session files are replaced atomically, so a reader never sees half a file.

``tools.sessions.locking`` decides when the session is locked against
concurrent requests of the same client: ``'implicit'`` (the default) before
the handler runs, ``'early'`` right after the session is created (before the
request body is read), ``'explicit'`` only when the handler calls
``acquire_lock()``. In every mode the lock is given up when the data is
saved, or when the request ends.
"""

from __future__ import annotations

import datetime
import fcntl
import os
import pickle
import re
import secrets
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from ..context import ThreadLocalProxy, _attrname, serving, target_of
from ..request import _plain_attribute_text, _plain_name
from ..tools import Tool
from . import httputil
from . import locking as _locking

__all__ = ['Session', 'RamSession', 'FileSession', 'MemcachedSession', 'RedisSession',
           'LockTimeout', 'SessionTool',
           'SessionProxy', 'session', 'init', 'save', 'close', 'expire',
           'set_response_cookie']

#: Bytes of randomness in an id (shown as twice as many hex digits).
ID_BYTES = 20
_datetime_now = datetime.datetime.now
_VALID_ID = re.compile(r'[0-9a-f]{%d}\Z' % (2 * ID_BYTES))
_valid_ids: set[str] = set()
_MISSING = object()


# Raised when a lock_timeout runs out (the same class as lib.locking.LockTimeout).
LockTimeout = _locking.LockTimeout


def _site_log(message: str) -> None:
    # pyframe imports this module while it is itself being imported.
    sys.modules['pyframe'].log(message, 'TOOLS.SESSIONS')


def _engine():
    return sys.modules['pyframe'].engine


def _raise(error: Exception) -> None:
    """A hook failing with ``error`` (a config mistake found beforehand)."""
    raise error


def _seconds(value: Any) -> float | None:
    """A lock timeout given as seconds or a timedelta, in seconds."""
    if value is None:
        return None
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return float(value)


class Session:
    """The session data of one request: a dict loaded on first use.

    ``id`` is None-free: a fresh id is made when the client sent none, or
    one the store does not recognise (``missing`` is then True and
    ``originalid`` keeps what the client sent). Extra keyword arguments set
    attributes (``timeout``, ``locking``, storage options...).
    """

    #: Minutes after which unsaved-to data expires.
    timeout: float = 60
    #: Minutes between two runs of :meth:`clean_up` in the background.
    clean_freq: float = 5
    #: Class-level Monitor running :meth:`clean_up` (one per class).
    clean_thread = None
    #: When the lock is taken: 'implicit', 'early' or 'explicit'.
    locking: str = 'implicit'
    #: Log what the session does.
    debug: bool = False
    #: True once the data was read from the store.
    loaded: bool = False
    #: True while this instance holds the lock on its id.
    locked: bool = False
    #: True when the client's id was unknown (and so replaced).
    missing: bool = False
    #: The id the client sent (possibly malformed or unknown), or None.
    originalid: str | None = None
    #: True when the application called :meth:`regenerate`.
    regenerated: bool = False
    # The record _exists_id found alive (see load).
    _alive = None

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        #: Callables given each new id (the tool updates the cookie).
        self.id_observers: list[Callable[[str], Any]] = []
        self._data: dict = {}
        for name, value in kwargs.items():
            setattr(self, name, value)
        self.originalid = id
        self._id: str | None = None
        self.missing = False
        if id is not None and self.valid_id(id) and self._exists_id(id):
            self._id = id
        else:
            # A client-chosen id is never adopted: that would let an
            # attacker plant an id and later ride the victim's session.
            self.missing = id is not None
            self._new_id()
        if self.debug:
            _site_log(f'Session id {self._id!r} (client sent {id!r})')

    # -- ids -------------------------------------------------------------

    @property
    def id(self) -> str:
        """The current session id."""
        return self._id

    @id.setter
    def id(self, value: str) -> None:
        self._id = value
        for observer in self.id_observers:
            observer(value)

    @staticmethod
    def valid_id(id: Any) -> bool:
        """True if ``id`` has the shape of an id this module makes."""
        if not isinstance(id, str):
            return False
        if id in _valid_ids:
            return True
        if _VALID_ID.match(id) is None:
            return False
        # A client sends its id on each request (bounded: clients choose it).
        if len(_valid_ids) >= 4096:
            _valid_ids.clear()
        _valid_ids.add(id)
        return True

    def generate_id(self) -> str:
        """A new random id (from the OS's cryptographic generator)."""
        return secrets.token_hex(ID_BYTES)

    def _exists_id(self, id: str) -> bool:
        data = self._load_id(id)
        if data is not None and data[1] > self.now():
            # load() takes it as it is if the store still holds this very
            # record: the session was alive when the request began.
            self._alive = data
            return True
        return False

    def _new_id(self) -> None:
        """Switch to a fresh id unknown to the store (data kept)."""
        while True:
            candidate = self.generate_id()
            # 160 random bits never collide in practice; checking is cheap.
            if not self._exists_id(candidate):
                break
        self.id = candidate

    def regenerate(self) -> None:
        """Give the session a new id, keeping its data; the old id dies.

        Call it after a login, so an id seen before it is worthless.
        """
        self.regenerated = True
        if not self.loaded:
            self.load()
        was_locked = self.locked
        if was_locked:
            self.release_lock()
        old = self._id
        data = self._data
        self._delete_id(old)
        self._new_id()
        self._data = data
        if was_locked:
            self.acquire_lock()

    def now(self) -> datetime.datetime:
        """The current time, as session expiry sees it (override for tz)."""
        return _datetime_now()

    # -- loading and saving ----------------------------------------------

    def load(self) -> None:
        """Read the data from the store (expired or absent: empty)."""
        found = self._load_id(self._id)
        if found is None or (found is not self._alive and found[1] <= self.now()):
            self._data = {}
        else:
            self._data = found[0]
        self.loaded = True
        if self.clean_freq and type(self).__dict__.get('clean_thread') is None:
            self._start_clean_thread()

    def save(self) -> None:
        """Store the data (if it was loaded since the last save) and release
        the lock."""
        try:
            if self.loaded:
                expiration = self.now() + _minutes(self.timeout)
                self._save_id(self._id, self._data, expiration)
                # Once the lock is gone, what we hold may go stale: touching
                # the data again reads it afresh, and a second save (the
                # tool's, after the handler saved) writes nothing old back.
                self.loaded = False
            elif self.debug:
                _site_log('Session not loaded: nothing to save')
        finally:
            if self.locked:
                self.release_lock()

    def delete(self) -> None:
        """Remove the data from the store (and forget it here)."""
        self._delete_id(self._id)
        self._data = {}
        # Touching the session again starts from an empty store.
        self.loaded = False

    def clean_up(self) -> None:
        """Remove expired sessions from the store."""
        raise NotImplementedError

    def _start_clean_thread(self) -> None:
        cls = type(self)
        if not self.clean_freq or cls.__dict__.get('clean_thread') is not None:
            return
        from ..process.plugins import Monitor

        engine = _engine()
        monitor = Monitor(engine, self.clean_up, self.clean_freq * 60,
                          name=f'Session cleanup ({cls.__name__})')
        with _CLASS_LOCK:
            if cls.__dict__.get('clean_thread') is not None:
                return
            cls.clean_thread = monitor
        monitor.subscribe()
        # While the engine runs, start now; otherwise its start does it.
        # Never starting a thread outside a running engine means servers
        # driven without the engine (and tests) leave no thread behind.
        from ..process.wspbus import states

        if engine.state is states.STARTED:
            monitor.start()

    @classmethod
    def stop_clean_thread(cls) -> None:
        """Stop and unsubscribe this class's clean-up Monitor, if any."""
        monitor = cls.__dict__.get('clean_thread')
        if monitor is None:
            return
        cls.clean_thread = None
        monitor.stop()
        monitor.unsubscribe()

    # -- storage interface for subclasses ----------------------------------

    def _load_id(self, id: str) -> tuple[dict, datetime.datetime] | None:
        """(data, expiration) stored for ``id``, or None."""
        raise NotImplementedError

    def _save_id(self, id: str, data: dict, expiration: datetime.datetime) -> None:
        raise NotImplementedError

    def _delete_id(self, id: str) -> None:
        raise NotImplementedError

    def acquire_lock(self) -> None:
        """Get exclusive use of this session's data (blocks)."""
        raise NotImplementedError

    def release_lock(self) -> None:
        """Give up exclusive use of the data."""
        raise NotImplementedError

    def __len__(self) -> int:
        """Number of sessions in the store (not keys in this one)."""
        raise NotImplementedError

    # -- dict interface (loads on first use) -------------------------------

    def _loaded_data(self) -> dict:
        if not self.loaded:
            self.load()
        return self._data

    def __getitem__(self, key: Any) -> Any:
        return self._loaded_data()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        if not self.loaded:
            self.load()
        self._data[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._loaded_data()[key]

    def __contains__(self, key: Any) -> bool:
        return key in self._loaded_data()

    def __iter__(self) -> Iterator:
        return iter(self._loaded_data())

    def get(self, key: Any, default: Any = None) -> Any:
        """Return the value of ``key``, or ``default`` when it is absent."""
        if not self.loaded:
            self.load()
        return self._data.get(key, default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """Return the value of ``key``, storing ``default`` first when it is absent."""
        return self._loaded_data().setdefault(key, default)

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        """Remove ``key`` and return its value (or ``default``; KeyError
        when absent and no default is given)."""
        data = self._loaded_data()
        if default is _MISSING:
            return data.pop(key)
        return data.pop(key, default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Store several values at once, as :meth:`dict.update` does."""
        self._loaded_data().update(*args, **kwargs)

    def keys(self):
        """The keys of the session data."""
        return self._loaded_data().keys()

    def values(self):
        """The values of the session data."""
        return self._loaded_data().values()

    def items(self):
        """The (key, value) pairs of the session data."""
        return self._loaded_data().items()

    def clear(self) -> None:
        """Remove every value (the session id stays the same)."""
        self._loaded_data().clear()

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self._id}>'


# Session timeouts in minutes -> timedelta: making one costs more than the
# rest of a save, and a site has a timeout or two.
_timeouts: dict[Any, datetime.timedelta] = {}


def _minutes(timeout: float) -> datetime.timedelta:
    delta = _timeouts.get(timeout)
    if delta is None:
        delta = datetime.timedelta(minutes=timeout)
        if len(_timeouts) < 64:
            _timeouts[timeout] = delta
    return delta


_CLASS_LOCK = threading.Lock()
_new_lock = threading.Lock


class _LockTable:
    """Per-id locks, made on first use and dropped once free (no leak).

    Taking a lock costs a dict lookup besides the lock itself: a free lock
    stays in the table for the next request of its session, and
    :meth:`prune` (run by the store's clean-up, and whenever the table has
    doubled since the last prune) drops the free ones. A thread that took
    a lock just as it was dropped notices it and takes the id's new one.
    """

    def __init__(self) -> None:
        self._locks: dict[str, threading.Lock] = {}
        self._prune_at = 1024

    def acquire(self, id: str, timeout: float | None) -> threading.Lock | None:
        """Take the lock of ``id`` (waiting ``timeout`` seconds at most,
        None: forever); return it, or None when the time ran out."""
        locks = self._locks
        wait = -1 if timeout is None else max(timeout, 0)
        while True:
            lock = locks.get(id)
            if lock is None:
                if len(locks) >= self._prune_at:
                    self.prune()
                lock = locks.setdefault(id, _new_lock())  # atomic: one lock per id
            if not lock.acquire(True, wait):
                return None
            if locks.get(id) is lock:
                return lock
            lock.release()  # pruned while we waited: take the id's current lock

    def prune(self) -> None:
        """Drop the locks nobody holds."""
        locks = self._locks
        for id, lock in list(locks.items()):
            if lock.acquire(False):
                if locks.get(id) is lock:
                    del locks[id]
                lock.release()
        self._prune_at = max(1024, 2 * len(locks))

    def __len__(self) -> int:
        """The number of locks held right now."""
        return sum(1 for lock in list(self._locks.values()) if lock.locked())


class RamSession(Session):
    """Sessions kept in this process's memory (lost on restart).

    Only for single-process deployments: other processes do not see them.
    """

    #: id -> (data, expiration), shared by every instance.
    cache: dict[str, tuple[dict, datetime.datetime]] = {}
    #: The per-id locks.
    locks = _LockTable()
    #: Seconds to wait for the lock (None: forever).
    lock_timeout: float | None = None
    #: The lock held while :attr:`locked`.
    _lock = None

    def _load_id(self, id):
        return self.cache.get(id)

    def _save_id(self, id, data, expiration):
        # A copy: later changes by this request must not leak to others
        # before they are saved.
        self.cache[id] = (dict(data), expiration)

    def _delete_id(self, id):
        self.cache.pop(id, None)

    def clean_up(self) -> None:
        now = self.now()
        for id, (_, expiration) in list(self.cache.items()):
            if expiration <= now:
                self.cache.pop(id, None)
        self.locks.prune()

    def acquire_lock(self) -> None:
        if self.locked:
            return
        timeout = self.lock_timeout
        lock = self.locks.acquire(self._id, None if timeout is None else _seconds(timeout))
        if lock is None:
            raise LockTimeout(f'timed out waiting for the lock of session {self._id}')
        self._lock = lock
        self.locked = True

    def release_lock(self) -> None:
        if self.locked:
            self.locked = False
            self._lock.release()

    def __len__(self) -> int:
        return len(self.cache)


class FileSession(Session):
    """Sessions stored as one pickle file each in ``storage_path``.

    File ``session-<id>`` holds ``(data, expiration)``; it is replaced
    atomically. The lock is ``fcntl.flock`` on ``session-<id>.lock``, so
    it also excludes other processes and vanishes with a killed process.
    ``lock_timeout`` (seconds or timedelta; None waits forever) makes a
    blocked acquire raise :class:`LockTimeout`.
    """

    SESSION_PREFIX = 'session-'
    LOCK_SUFFIX = '.lock'
    pickle_protocol = pickle.HIGHEST_PROTOCOL
    storage_path: str | None = None
    lock_timeout: float | datetime.timedelta | None = None

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        path = kwargs.get('storage_path', self.storage_path)
        if not path or not os.path.isabs(path):
            raise ValueError(
                f'FileSession storage_path must be an absolute directory, got {path!r}'
            )
        kwargs['storage_path'] = path
        self._lock_fd: int | None = None
        super().__init__(id, **kwargs)

    def _path(self, id: str) -> str:
        # valid_id() guards against ids that would step out of the directory.
        if not self.valid_id(id):
            raise ValueError(f'invalid session id {id!r}')
        return os.path.join(self.storage_path, self.SESSION_PREFIX + id)

    def _load_id(self, id):
        try:
            with open(self._path(id), 'rb') as file:
                found = pickle.load(file)
        except FileNotFoundError:
            return None
        except Exception as exc:
            # Corrupt or foreign content: as if absent, never a 500.
            _site_log(f'Unreadable session file for {id}: {exc!r}')
            return None
        if (isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], dict)
                and isinstance(found[1], datetime.datetime)):
            return found
        return None

    def _save_id(self, id, data, expiration):
        path = self._path(id)
        fd, temp = tempfile.mkstemp(prefix='.tmp-' + self.SESSION_PREFIX,
                                    dir=self.storage_path)
        try:
            with os.fdopen(fd, 'wb') as file:
                pickle.dump((data, expiration), file, self.pickle_protocol)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise

    def _delete_id(self, id):
        try:
            os.unlink(self._path(id))
        except (FileNotFoundError, ValueError):
            pass

    def _lock_path(self) -> str:
        return self._path(self._id) + self.LOCK_SUFFIX

    def acquire_lock(self) -> None:
        if self.locked:
            return
        path = self._lock_path()
        timeout = _seconds(self.lock_timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if not self._flock(fd, deadline):
                    raise LockTimeout(f'timed out waiting for the lock of session {self._id}')
                # The holder before us unlinks the file before unlocking; if
                # we locked such an unlinked file, ours is stale: try again.
                try:
                    same = os.path.samestat(os.fstat(fd), os.stat(path))
                except FileNotFoundError:
                    same = False
            except BaseException:
                os.close(fd)
                raise
            if same:
                self._lock_fd = fd
                self.locked = True
                return
            os.close(fd)

    @staticmethod
    def _flock(fd: int, deadline: float | None) -> bool:
        if deadline is None:
            fcntl.flock(fd, fcntl.LOCK_EX)
            return True
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.005)

    def release_lock(self) -> None:
        if not self.locked:
            return
        fd, self._lock_fd = self._lock_fd, None
        self.locked = False
        try:
            # Unlink while still holding it, so no lock file is left behind
            # and waiters on this inode notice it is stale.
            os.unlink(self._lock_path())
        except OSError:
            pass
        finally:
            os.close(fd)

    def clean_up(self) -> None:
        """Remove expired and unreadable session files, and stale locks."""
        now = self.now()
        prefix, suffix = self.SESSION_PREFIX, self.LOCK_SUFFIX
        try:
            names = os.listdir(self.storage_path)
        except FileNotFoundError:
            return
        for name in names:
            full = os.path.join(self.storage_path, name)
            if name.startswith('.tmp-' + prefix):
                # A writer killed mid-write; live writers finish in far less.
                self._remove_if_older(full, 3600)
                continue
            if not name.startswith(prefix) or name.endswith(suffix):
                continue
            id = name[len(prefix):]
            if not self.valid_id(id):
                continue
            cleaner = type(self)(storage_path=self.storage_path, lock_timeout=0)
            cleaner._id = id
            try:
                cleaner.acquire_lock()
            except LockTimeout:
                continue  # in use right now
            try:
                found = self._load_id(id)
                if found is None or found[1] <= now:
                    self._delete_id(id)
            finally:
                cleaner.release_lock()

    @staticmethod
    def _remove_if_older(path: str, seconds: float) -> None:
        try:
            if time.time() - os.stat(path).st_mtime > seconds:
                os.unlink(path)
        except OSError:
            pass

    def __len__(self) -> int:
        prefix, suffix = self.SESSION_PREFIX, self.LOCK_SUFFIX
        return sum(1 for name in os.listdir(self.storage_path)
                   if name.startswith(prefix) and not name.endswith(suffix))


# -- shared stores (memcached, redis) ----------------------------------------

#: Clients shared by every session of a process, keyed by their settings:
#: connecting per request would cost a round trip, and both client kinds
#: used here are safe to share between threads (they pool connections).
_CLIENTS: dict[tuple, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _shared_client(key: tuple, make: Callable[[], Any]) -> Any:
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = make()
        return client


def _valid_stored(found: Any) -> bool:
    return (isinstance(found, tuple) and len(found) == 2 and isinstance(found[0], dict)
            and isinstance(found[1], datetime.datetime))


class _NetworkSession(Session):
    """What the memcached and redis stores share: pickled ``(data,
    expiration)`` values under ``key_prefix + id``, the store's own expiry
    instead of a clean-up thread, and a lock that is a key of its own.

    The lock key holds a random token and has a time to live
    (``lock_ttl`` seconds), so it excludes other threads, processes and
    machines alike, and a process killed while holding it blocks the others
    for at most ``lock_ttl``. A request that holds the lock longer than
    that loses its exclusivity: keep ``lock_ttl`` above the slowest
    request. ``lock_timeout`` (seconds or timedelta; None waits forever)
    makes a blocked acquire raise :class:`LockTimeout`.

    The store must be trusted: its values are unpickled.
    """

    key_prefix: str = 'pyframe-session-'
    lock_suffix: str = '.lock'
    pickle_protocol = pickle.HIGHEST_PROTOCOL
    lock_timeout: float | datetime.timedelta | None = None
    #: Seconds after which a lock left behind (by a dead process) expires.
    lock_ttl: float = 60
    #: Longest pause between two attempts at a busy lock, in seconds.
    lock_poll_max: float = 0.05

    def __init__(self, id: str | None = None, **kwargs: Any) -> None:
        self._lock_key: str | None = None
        self._lock_token: bytes | None = None
        super().__init__(id, **kwargs)

    def _key(self, id: str) -> str:
        # Ids come from clients: only well-formed ones may become keys
        # (memcached keys must not hold spaces or control characters).
        if not self.valid_id(id):
            raise ValueError(f'invalid session id {id!r}')
        return self.key_prefix + id

    def _dump(self, data: dict, expiration: datetime.datetime) -> bytes:
        return pickle.dumps((data, expiration), self.pickle_protocol)

    def _undump(self, id: str, raw: bytes | None) -> tuple[dict, datetime.datetime] | None:
        if raw is None:
            return None
        try:
            found = pickle.loads(raw)
        except Exception as exc:
            # Corrupt or foreign content: as if absent, never a 500.
            _site_log(f'Unreadable stored session {id}: {exc!r}')
            return None
        return found if _valid_stored(found) else None

    def _ttl_seconds(self, expiration: datetime.datetime) -> int:
        """Whole seconds (at least 1) the store should keep data that
        expires at ``expiration``."""
        return max(1, int((expiration - self.now()).total_seconds() + 0.999))

    # -- locking: the store-specific parts are _try_lock and _unlock ------

    def _try_lock(self, key: str, token: bytes) -> bool:
        """Create ``key`` holding ``token`` if it does not exist."""
        raise NotImplementedError

    def _unlock(self, key: str, token: bytes) -> bool:
        """Delete ``key`` if it still holds ``token``; True if it did."""
        raise NotImplementedError

    def acquire_lock(self) -> None:
        if self.locked:
            return
        key = self._key(self._id) + self.lock_suffix
        # Unique per acquisition, so a holder whose lock expired and was
        # taken over can never release the new holder's lock.
        token = secrets.token_hex(16).encode('ascii')
        timeout = _seconds(self.lock_timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.002
        while not self._try_lock(key, token):
            if deadline is not None and time.monotonic() >= deadline:
                raise LockTimeout(f'timed out waiting for the lock of session {self._id}')
            time.sleep(pause)
            # Back off a little: a long wait need not hammer the store.
            pause = min(pause * 2, self.lock_poll_max)
        self._lock_key, self._lock_token = key, token
        self.locked = True

    def release_lock(self) -> None:
        if not self.locked:
            return
        key, token = self._lock_key, self._lock_token
        self.locked = False
        self._lock_key = self._lock_token = None
        if not self._unlock(key, token) and self.debug:
            _site_log(f'Lock of session {self._id} had expired before its release')

    def clean_up(self) -> None:
        """Nothing to do: the store expires data and locks by itself."""

    def _start_clean_thread(self) -> None:
        # The store expires entries itself: a clean-up thread would only
        # wake up to do nothing.
        return


class MemcachedSession(_NetworkSession):
    """Sessions stored in memcached, shared by every process using it.

    ``servers`` (``tools.sessions.servers``) lists ``'host:port'``
    addresses; with several, ids are spread over them by hashing. Needs
    ``pymemcache`` (``pip install pyframe[memcached]``). Memcached may
    evict data early when it runs out of memory: such a session simply
    starts afresh. Lock TTLs are whole seconds.
    """

    servers: list[str] = ['127.0.0.1:11211']
    #: Seconds to wait for memcached to connect or answer.
    socket_timeout: float = 5.0

    #: Memcached reads a time to live above 30 days as a Unix time.
    _MAX_RELATIVE_TTL = 30 * 24 * 3600

    @staticmethod
    def _address(server: str) -> tuple[str, int]:
        host, sep, port = server.rpartition(':')
        if not sep:
            return server, 11211
        return host.strip('[]'), int(port)

    @property
    def client(self) -> Any:
        """The pymemcache client for ``servers`` (shared by the process)."""
        servers = [self.servers] if isinstance(self.servers, str) else list(self.servers)
        addresses = tuple(self._address(server) for server in servers)
        return _shared_client(('memcached', addresses, self.socket_timeout),
                              lambda: self._make_client(addresses))

    def _make_client(self, addresses: tuple[tuple[str, int], ...]) -> Any:
        try:
            from pymemcache.client.base import PooledClient
            from pymemcache.client.hash import HashClient
        except ImportError as exc:
            raise ImportError('MemcachedSession needs pymemcache: '
                              'pip install pyframe[memcached]') from exc
        # Replies are always awaited (noreply off): a lock `add` without
        # its answer could not tell who won.
        options = dict(connect_timeout=self.socket_timeout, timeout=self.socket_timeout,
                       default_noreply=False)
        if len(addresses) == 1:
            return PooledClient(addresses[0], **options)
        return HashClient(list(addresses), use_pooling=True, **options)

    def _expire(self, seconds: int) -> int:
        if seconds > self._MAX_RELATIVE_TTL:
            return int(time.time()) + seconds
        return seconds

    def _load_id(self, id):
        return self._undump(id, self.client.get(self._key(id)))

    def _save_id(self, id, data, expiration):
        self.client.set(self._key(id), self._dump(data, expiration),
                        expire=self._expire(self._ttl_seconds(expiration)))

    def _delete_id(self, id):
        try:
            self.client.delete(self._key(id))
        except ValueError:
            pass

    def _lock_expire(self) -> int:
        return max(1, int(_seconds(self.lock_ttl) + 0.999))

    def _try_lock(self, key, token):
        return bool(self.client.add(key, token, expire=self._lock_expire()))

    def _unlock(self, key, token):
        client = self.client
        value, cas = client.gets(key)
        if value != token:
            return False
        # Memcached has no "delete if unchanged"; a compare-and-swap to a
        # tombstone is. It fails if the lock expired and someone else took
        # it since our read. The tombstone keeps the lock's TTL so that, if
        # we die right here, it still expires like a lock would.
        if not client.cas(key, b'released', cas, expire=self._lock_expire()):
            return False
        client.delete(key)
        return True


class RedisSession(_NetworkSession):
    """Sessions stored in redis, shared by every process using it.

    Connects to ``url`` (``tools.sessions.url``), or to ``host``/``port``/
    ``db`` when ``host`` is set. Needs ``redis`` (``pip install
    pyframe[redis]``). Data and locks expire by redis's own TTLs.
    """

    url: str = 'redis://127.0.0.1:6379/0'
    host: str | None = None
    port: int = 6379
    db: int = 0
    #: Seconds to wait for redis to connect or answer.
    socket_timeout: float = 5.0

    # Deletes the lock only while it still holds our token; run by redis
    # as one step, so no other client can take the lock in between.
    _RELEASE_SCRIPT = (
        "if redis.call('get', KEYS[1]) == ARGV[1] then "
        "return redis.call('del', KEYS[1]) else return 0 end"
    )

    @property
    def client(self) -> Any:
        """The redis-py client for this configuration (shared by the process)."""
        where = (self.host, self.port, self.db) if self.host is not None else (self.url,)
        return _shared_client(('redis', where, self.socket_timeout), self._make_client)

    def _make_client(self) -> Any:
        try:
            import redis
        except ImportError as exc:
            raise ImportError('RedisSession needs redis-py: '
                              'pip install pyframe[redis]') from exc
        options = dict(socket_timeout=self.socket_timeout,
                       socket_connect_timeout=self.socket_timeout)
        if self.host is not None:
            client = redis.Redis(host=self.host, port=int(self.port), db=int(self.db),
                                 **options)
        else:
            client = redis.Redis.from_url(self.url, **options)
        client.pyframe_release = client.register_script(self._RELEASE_SCRIPT)
        return client

    def _load_id(self, id):
        return self._undump(id, self.client.get(self._key(id)))

    def _save_id(self, id, data, expiration):
        self.client.set(self._key(id), self._dump(data, expiration),
                        ex=self._ttl_seconds(expiration))

    def _delete_id(self, id):
        try:
            self.client.delete(self._key(id))
        except ValueError:
            pass

    def _try_lock(self, key, token):
        ttl_ms = max(1, int(_seconds(self.lock_ttl) * 1000))
        return bool(self.client.set(key, token, nx=True, px=ttl_ms))

    def _unlock(self, key, token):
        client = self.client
        return bool(client.pyframe_release(keys=[key], args=[token], client=client))

    def __len__(self) -> int:
        """Number of sessions stored (scans the keys with the prefix)."""
        return sum(1 for key in self.client.scan_iter(match=self.key_prefix + '*', count=500)
                   if not key.endswith(self.lock_suffix.encode()))


# -- the tool's hooks --------------------------------------------------------

_SAMESITE = (None, 'Lax', 'Strict', 'None')


def _storage_class_by_name(storage_type: str) -> type:
    warnings.warn("tools.sessions.storage_type is deprecated; use "
                  "tools.sessions.storage_class", DeprecationWarning, stacklevel=3)
    name = storage_type.title() + 'Session'
    cls = globals().get(name)
    if not (isinstance(cls, type) and issubclass(cls, Session)):
        raise ValueError(f'unknown session storage_type {storage_type!r} (no {name})')
    return cls


def init(storage_type: str | None = None, path: str | None = None,
         path_header: str | None = None, name: str = 'session_id',
         timeout: float = 60, domain: str | None = None, secure: bool = False,
         clean_freq: float = 5, persistent: bool = True, httponly: bool = False,
         debug: bool = False, **kwargs: Any) -> None:
    """Create the request's session (``pyframe.serving.session``) from its
    cookie, and set the response cookie.

    ``storage_class`` (default :class:`RamSession`) picks the store;
    ``storage_type`` ('ram', 'file'...) is its deprecated spelling. ``path``
    (or the request header ``path_header``; else '/'), ``domain``,
    ``secure``, ``httponly`` and ``samesite`` go into the cookie, named
    ``name``. ``timeout`` minutes is the data's lifetime and, when
    ``persistent``, the cookie's too (otherwise it is a browser-session
    cookie). Other keyword arguments (``locking``, ``storage_path``...) set
    attributes of the session.
    """
    _SessionStart(storage_type, path, path_header, name, timeout, domain, secure,
                  clean_freq, persistent, httponly, debug, **kwargs)()


init.priority = 50


class _CookieFollower:
    """An id observer keeping the response cookie ``name`` on the session's id."""

    __slots__ = ('name',)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, new_id: str) -> None:
        # Assigning keeps the morsel's attributes (path, expiry...).
        serving.response.cookie[self.name] = new_id


class _SessionStart:
    """:func:`init` with its arguments checked and worked out once.

    The tool's request plans keep one per config, so a request only does
    what depends on it: read the cookie, make the session, set the cookie.
    """

    __slots__ = ('name', 'storage_class', 'session_args', 'path', 'path_header',
                 'cookie_seconds', 'fixed_attributes', 'follower', 'plain_name', 'cookie')

    # It changes neither the request's path nor its hooks (see plan.state_for).
    leaves_route = True

    def __init__(self, storage_type: str | None = None, path: str | None = None,
                 path_header: str | None = None, name: str = 'session_id',
                 timeout: float = 60, domain: str | None = None, secure: bool = False,
                 clean_freq: float = 5, persistent: bool = True, httponly: bool = False,
                 debug: bool = False, **kwargs: Any) -> None:
        samesite = kwargs.pop('samesite', None)
        if samesite not in _SAMESITE:
            raise ValueError(f'tools.sessions.samesite must be one of {_SAMESITE}, '
                             f'got {samesite!r}')
        locking = kwargs.get('locking', 'implicit')
        if locking not in ('implicit', 'early', 'explicit'):
            raise ValueError(f"tools.sessions.locking must be 'implicit', 'early' or "
                             f"'explicit', got {locking!r}")
        storage_class = kwargs.pop('storage_class', None)
        if storage_class is None:
            storage_class = (_storage_class_by_name(storage_type) if storage_type
                             else RamSession)
        self.name = name
        self.storage_class = storage_class
        self.session_args = {**kwargs, 'timeout': timeout, 'clean_freq': clean_freq,
                             'debug': debug}
        self.path = path
        self.path_header = path_header
        cookie_timeout = timeout if persistent else 0
        self.cookie_seconds = int(cookie_timeout * 60) if cookie_timeout else 0
        self.fixed_attributes = _cookie_attributes(domain, secure, httponly, samesite)
        self.follower = _CookieFollower(name)
        self.plain_name = _plain_name(name)
        #: (Expires value, attributes, their text) of the last cookie sent:
        #: the same for every response of one second.
        self.cookie: tuple = (None, None, None)

    def __call__(self) -> None:
        current = serving.__dict__  # one lookup of the thread's storage
        request = current['request']
        state = request.__dict__
        # A second run (an internal redirect) keeps the session already made.
        if state.get('_session_init_flag'):
            return
        state['_session_init_flag'] = True
        name = self.name
        state['_session_cookie_name'] = name
        sess = current['session'] = self.storage_class(request._cookie_value(name),
                                                       **self.session_args)
        sess.id_observers.append(self.follower)
        seconds = self.cookie_seconds
        if self.path_header is None and seconds and self.plain_name:
            expires = httputil.http_date(time.time() + seconds)
            cookie = self.cookie
            if cookie[0] != expires:
                attributes = _cookie_attributes_for(request, self.path, None, seconds,
                                                    expires, self.fixed_attributes)
                cookie = self.cookie = (expires, attributes, _plain_attribute_text(attributes))
            if cookie[2] is not None:
                current['response']._set_cookie_with_text(name, sess.id, cookie[1], cookie[2])
                return
        _send_cookie(request, current['response'], name, sess.id, self.path,
                     self.path_header, seconds, self.fixed_attributes)


def _cookie_attributes(domain: str | None, secure: bool, httponly: bool,
                       samesite: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if domain is not None:
        attributes['domain'] = domain
    if secure:
        attributes['secure'] = True
    if httponly:
        attributes['httponly'] = True
    if samesite is not None:
        attributes['samesite'] = samesite
    return attributes


def _cookie_attributes_for(request, path: str | None, path_header: str | None,
                           seconds: int, expires: str | None, fixed: dict) -> dict[str, Any]:
    """The session cookie's attributes (Max-Age and ``expires`` when ``seconds``)."""
    attributes = {'path': path or (path_header and request.headers.get(path_header)) or '/'}
    if seconds:
        attributes['max-age'] = seconds
        attributes['expires'] = expires
    if fixed:
        attributes.update(fixed)
    return attributes


def _send_cookie(request, response, name: str, value: str, path: str | None,
                 path_header: str | None, seconds: int, fixed: dict) -> None:
    expires = httputil.http_date(time.time() + seconds) if seconds else None
    # As response.cookie[name] = id plus those attributes, without a Morsel
    # unless somebody reads response.cookie.
    response.set_plain_cookie(name, value, _cookie_attributes_for(
        request, path, path_header, seconds, expires, fixed))


def set_response_cookie(path: str | None = None, path_header: str | None = None,
                        name: str = 'session_id', timeout: float = 60,
                        domain: str | None = None, secure: bool = False,
                        httponly: bool = False, samesite: str | None = None) -> None:
    """Put the session id in the response cookie ``name``.

    A false ``timeout`` (minutes) leaves out Max-Age and Expires: the
    browser then forgets the cookie when it closes.
    """
    _send_cookie(serving.request, serving.response, name, serving.session.id, path,
                 path_header, int(timeout * 60) if timeout else 0,
                 _cookie_attributes(domain, secure, httponly, samesite))


def save() -> None:
    """Save the session at the end of the handler's work (before_finalize).

    A streamed body is produced after this hook, possibly touching the
    session: saving then waits for the end of the request.
    """
    current = serving.__dict__  # one lookup of the thread's storage for three
    sess = current.get('session')
    request, response = current['request'], current['response']
    if sess is None or getattr(request, '_session_saved', False):
        return
    request._session_saved = True
    if response.stream:
        request.hooks.attach('on_end_request', sess.save)
        return
    if not isinstance(response.body, list):
        # A generator body runs now, so what it writes is saved too.
        response.collapse_body()
    sess.save()


def close() -> None:
    """Release the session lock, whatever happened (on_end_request)."""
    sess = serving.__dict__.get('session')
    if sess is not None and sess.locked:
        sess.release_lock()
        if sess.debug:
            _site_log('Lock released at the end of the request')


close.failsafe = True
close.priority = 90


def _close_when_locked() -> None:
    """Have :func:`close` run when the request ends, if the lock is still held.

    ``save`` releases the lock before finalize; it is still held after an
    error, or for a streamed body (saved at the end). Attaching ``close``
    only then spares the usual request an ``on_end_request`` hook, which
    would keep the request open until the server has sent the body.
    """
    current = serving.__dict__
    sess = current.get('session')
    if sess is not None and sess.locked:
        current['request'].hooks.attach('on_end_request', close)


def expire() -> None:
    """End the current session: delete its data and make the browser drop
    its cookie."""
    request, response = serving.request, serving.response
    name = getattr(request, '_session_cookie_name', 'session_id')
    sess = getattr(serving, 'session', None)
    if sess is not None:
        sess.delete()
        # Nothing of it may be written back when the request ends.
        request._session_saved = True
        if sess.locked:
            sess.release_lock()
    response.cookie[name] = ''
    morsel = response.cookie[name]
    morsel['max-age'] = 0
    morsel['expires'] = httputil.http_date(time.time() - 365 * 24 * 3600)
    morsel['path'] = morsel['path'] or '/'


class SessionTool(Tool):
    """The ``sessions`` tool: a session per request, saved and unlocked
    at the end.

    Config entries are :func:`init`'s arguments, plus ``locking``,
    ``storage_class`` and the storage's own (``storage_path``...).
    """

    def __init__(self, name: str | None = None) -> None:
        super().__init__('before_request_body', init, name)

    def _lock_session(self) -> None:
        serving.session.acquire_lock()

    # Neither changes the request's path nor its hooks (see plan.state_for).
    _lock_session.leaves_route = True

    def _setup(self) -> None:
        hooks = serving.request.hooks
        for point, hook in self._ready_hooks(self._merged_args()):
            hooks.add(point, hook)

    def _ready_hooks(self, args: dict) -> list:
        """The (point, Hook) pairs the tool attaches for config ``args``.

        They depend on the config alone, so request plans make them once.
        """
        from ..request import Hook

        args = dict(args)
        priority = self._priority_for(args)
        if self.callable is init:
            # Checked and worked out now rather than on every request; a
            # bad argument fails each request the same way, as a 500.
            try:
                start = Hook(_SessionStart(**args), priority=priority)
            except (TypeError, ValueError) as exc:
                start = Hook(_raise, priority=priority, error=exc)
        else:
            start = Hook(self.callable, priority=priority, **args)
        hooks = [(self._point, start)]
        locking = args.get('locking', 'implicit')
        if locking == 'implicit':
            hooks.append(('before_handler', Hook(self._lock_session)))
        elif locking == 'early':
            # Just after init (priority 50) made the session.
            hooks.append(('before_request_body', Hook(self._lock_session, priority=60)))
        hooks.append(('before_finalize', Hook(save)))
        hooks.append(('on_end_resource', Hook(_close_when_locked)))
        return hooks

    def regenerate(self) -> None:
        """Give the current session a new id (the cookie follows)."""
        serving.session.regenerate()


class SessionProxy(ThreadLocalProxy):
    """``pyframe.session``: the current thread's session, dict access too."""

    __slots__ = ()
    missing = 'no session for this request: turn on tools.sessions'

    def __getitem__(self, key):
        return target_of(self)[key]

    def __setitem__(self, key, value):
        target_of(self)[key] = value

    def __delitem__(self, key):
        del target_of(self)[key]

    def __contains__(self, key):
        return key in target_of(self)

    def __iter__(self):
        return iter(target_of(self))

    def __len__(self):
        return len(target_of(self))

    def __repr__(self) -> str:
        return repr(getattr(serving, _attrname(self), None))

    def __bool__(self) -> bool:
        return hasattr(serving, _attrname(self))


#: The proxy ``pyframe.session`` (reads ``pyframe.serving.session``).
session = SessionProxy('session')
