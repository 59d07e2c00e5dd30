"""Decorators for page handlers: ``expose`` and ``config``."""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ['expose', 'config']


def expose(func: Callable | str | list | tuple | None = None, alias=None):
    """Mark a function, method or class as reachable from a URL.

    Usable as ``@expose``, ``@expose()``, ``@expose(alias='other')`` or
    ``@expose(['a', 'b'])``: each alias is an extra attribute name (so an
    extra URL segment) for the same handler, added to the class being
    defined.
    """
    if isinstance(func, (str, list, tuple)):
        # @expose('alias') / @expose(['a', 'b']): the first argument is the alias.
        func, alias = None, func
    if func is None:
        # Called with arguments: capture the namespace of the class body
        # that is being executed, where the aliases must be added.
        namespace = sys._getframe(1).f_locals

        def decorate(target: Callable) -> Callable:
            return _expose(target, alias, namespace)
        return decorate
    return _expose(func, alias, sys._getframe(1).f_locals)


def _expose(target: Callable, alias, namespace: dict) -> Callable:
    target.exposed = True
    if alias is not None:
        names = [alias] if isinstance(alias, str) else list(alias)
        for name in names:
            namespace[name.replace('.', '_')] = target
    return target


def config(**settings) -> Callable:
    """Attach config entries to a handler or class (its ``_cp_config``).

    ``@pyframe.config(**{'tools.gzip.on': True})`` is the decorator form of
    ``handler._cp_config = {'tools.gzip.on': True}``.
    """
    def decorate(target: Callable) -> Callable:
        existing = getattr(target, '_cp_config', None)
        if existing is None or '_cp_config' not in vars(target):
            # Copy instead of updating a dict inherited from a base class.
            target._cp_config = dict(existing or {})
        target._cp_config.update(settings)
        return target
    return decorate
