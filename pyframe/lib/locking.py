"""Deadlines for code that waits on a lock (``pyframe.lib.locking``).

A waiter creates a :class:`LockChecker` before it starts polling and calls
:meth:`LockChecker.expired` on each round; once the timeout has passed,
the call raises :class:`LockTimeout` naming what was being waited for.
"""

from __future__ import annotations

import datetime
import time

__all__ = ['LockChecker', 'LockTimeout', 'NeverExpires', 'Timer']


class LockTimeout(RuntimeError):
    """A lock could not be acquired before its deadline."""


class NeverExpires:
    """A deadline that never comes (a timeout of None)."""

    def expired(self) -> bool:
        """Always False."""
        return False


class Timer:
    """A deadline at a moment of the monotonic clock."""

    def __init__(self, expiration: float) -> None:
        #: The :func:`time.monotonic` value after which the timer has expired.
        self.expiration = expiration

    @classmethod
    def after(cls, elapsed: float | datetime.timedelta) -> Timer:
        """A timer expiring ``elapsed`` seconds (or a timedelta) from now."""
        if isinstance(elapsed, datetime.timedelta):
            elapsed = elapsed.total_seconds()
        return cls(time.monotonic() + elapsed)

    def expired(self) -> bool:
        """True once the deadline has passed."""
        return time.monotonic() >= self.expiration


class LockChecker:
    """Watch the time spent waiting for the lock of ``session_id``.

    ``timeout`` is in seconds (or a timedelta); None waits forever.
    """

    def __init__(self, session_id: str, timeout: float | datetime.timedelta | None) -> None:
        self.session_id = session_id
        self.timer = NeverExpires() if timeout is None else Timer.after(timeout)

    def expired(self) -> bool:
        """Return False, or raise :class:`LockTimeout` once the time is up."""
        if self.timer.expired():
            raise LockTimeout(f'timed out waiting for the lock of {self.session_id!r}')
        return False
