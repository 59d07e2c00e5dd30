"""Decorators for page handlers: ``expose``, ``config`` and ``popargs``."""

from __future__ import annotations

import sys
from collections.abc import Callable

__all__ = ['expose', 'config', 'popargs']


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


def popargs(*names: str, handler=None) -> Callable:
    """Name the leading path segments a class's tree node cannot resolve.

    ``@popargs('band_name')`` on a class (or ``_cp_dispatch =
    popargs('band_name')`` in its body) makes the dispatcher store the
    next segment in ``request.params['band_name']`` instead of looking
    for an attribute of that name; several names take several segments.
    Dispatch then goes on from the same object (whose ``index`` or other
    handlers receive the values as keyword arguments) or, when given,
    from ``handler``; a callable ``handler`` (a class, say) is called with
    the popped values as keyword arguments and returns the next node.
    """
    for name in names:
        if not isinstance(name, str):
            # Catches the bare ``@popargs`` (without parameter names).
            raise TypeError(f'popargs takes parameter names, not {name!r}; '
                            "write @popargs('name', ...)")
    call_handler = handler is not None and callable(handler)

    def pop_segments(node, vpath: list | None = None):
        if isinstance(node, type):
            # Used as a class decorator: install as the class's dispatch hook.
            from .dispatch import Dispatcher

            setattr(node, Dispatcher.dispatch_method_name, pop_segments)
            return node
        popped = {}
        for name in names:
            if not vpath:
                break
            popped[name] = vpath.pop(0)
        if call_handler:
            return handler(**popped)
        from .context import serving

        serving.request.params.update(popped)
        if handler is not None:
            return handler
        if vpath:
            # Resolve the next segment here rather than returning ``node``:
            # otherwise an unknown segment would come back to this hook and
            # overwrite the values just popped.
            return getattr(node, vpath.pop(0).replace('.', '_'), None)
        return node

    return pop_segments
