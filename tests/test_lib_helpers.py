"""pyframe.lib's small helpers: iterator tests and lock deadlines."""

from __future__ import annotations

import datetime
import io
import time

import pytest

from pyframe import lib
from pyframe.lib import locking, sessions


def test_iterators_are_told_from_iterables():
    def numbers():
        yield 1

    assert lib.is_iterator(iter([1, 2]))
    assert lib.is_iterator(numbers())
    assert lib.is_iterator(io.BytesIO(b'x'))
    for iterable in ([1], 'text', b'bytes', {'a': 1}, range(3)):
        assert not lib.is_iterator(iterable)


def test_closable_iterators_are_generators_and_iterators_with_close():
    def numbers():
        yield 1

    assert lib.is_closable_iterator(numbers())
    assert lib.is_closable_iterator(io.BytesIO(b'x'))
    assert not lib.is_closable_iterator(iter([1]))
    assert not lib.is_closable_iterator([1])


def test_file_generators_are_reachable_from_lib():
    chunks = list(lib.file_generator(io.BytesIO(b'abcdef'), 4))
    assert chunks == [b'abcd', b'ef']


def test_lock_checker_without_timeout_never_expires():
    assert locking.LockChecker('abc', None).expired() is False


def test_lock_checker_raises_once_the_timeout_has_passed():
    checker = locking.LockChecker('abc', 0.05)
    assert checker.expired() is False
    time.sleep(0.06)
    with pytest.raises(locking.LockTimeout, match="'abc'"):
        checker.expired()


def test_timer_accepts_a_timedelta():
    assert not locking.Timer.after(datetime.timedelta(seconds=60)).expired()
    assert locking.Timer.after(datetime.timedelta(seconds=-1)).expired()


def test_sessions_raise_the_same_lock_timeout():
    assert sessions.LockTimeout is locking.LockTimeout
    assert issubclass(locking.LockTimeout, RuntimeError)
