"""Reusable helpers behind pyframe's tools: HTTP utilities, config parsing,
static files, sessions, encodings and more."""

from __future__ import annotations

import inspect
from typing import Any

__all__ = ['file_generator', 'file_generator_limited', 'is_closable_iterator', 'is_iterator']


def is_iterator(obj: Any) -> bool:
    """True when ``obj`` is an iterator (it is its own iterator and has
    ``__next__``), as opposed to a re-iterable like a list or a str."""
    return hasattr(type(obj), '__next__') and hasattr(type(obj), '__iter__')


def is_closable_iterator(obj: Any) -> bool:
    """True for a generator, or any iterator with a ``close()`` method:
    something that holds resources until it is exhausted or closed."""
    if inspect.isgenerator(obj):
        return True
    return is_iterator(obj) and callable(getattr(obj, 'close', None))


def __getattr__(name):
    # The static module imports the request machinery; load it on first use.
    if name in ('file_generator', 'file_generator_limited'):
        from . import static

        return getattr(static, name)
    raise AttributeError(name)
