"""Dispatchers: find the page handler for a request path."""

from __future__ import annotations

from .context import serving
from .errors import NotFound

__all__ = ['Dispatcher', 'PageHandler', 'LateParamPageHandler']


class PageHandler:
    """A found handler together with the positional path arguments."""

    __slots__ = ('callable', 'args', 'kwargs')

    def __init__(self, callable, *args, **kwargs) -> None:
        self.callable = callable
        self.args = args
        self.kwargs = kwargs

    def __call__(self):
        return self.callable(*self.args, **self.kwargs)


class LateParamPageHandler(PageHandler):
    """A handler whose keyword arguments are read from ``request.params``
    when it is called, so tools running before it may change them."""

    __slots__ = ()

    def __call__(self):
        kwargs = serving.request.params
        if self.kwargs:
            kwargs = {**kwargs, **self.kwargs}
        return self.callable(*self.args, **kwargs)


class Dispatcher:
    """Map URL path segments onto attributes of the application's root.

    ``/a/b`` finds ``root.a.b``; a path ending at an object uses its
    ``index``; when no attribute matches, the deepest ``default`` method
    takes the remaining segments as positional arguments. Only objects
    marked by :func:`pyframe.expose` answer.
    """

    def __call__(self, path_info: str) -> None:
        request = serving.request
        func, vpath = self.find_handler(path_info)
        if func is None:
            request.handler = NotFound()
        else:
            request.handler = LateParamPageHandler(func, *vpath)

    def find_handler(self, path: str):
        """Return ``(callable, positional args)``, or ``(None, [])``.

        The walk records every object met along the path; the search then
        runs from the deepest one back towards the root, so the most
        specific ``index``, exposed object or ``default`` wins.
        """
        request = serving.request
        segments = [s for s in path.split('/') if s]
        node = request.app.root
        # (object, number of segments consumed to reach it)
        trail = [(node, 0)]
        for depth, name in enumerate(segments, 1):
            node = getattr(node, name.replace('.', '_'), None)
            if node is None:
                break
            trail.append((node, depth))
        else:
            trail.append((getattr(node, 'index', None), len(segments)))

        full_index = len(segments) + 1
        for position in range(len(trail) - 1, -1, -1):
            candidate, depth = trail[position]
            if candidate is None:
                continue
            default = getattr(candidate, 'default', None)
            if default is not None and getattr(default, 'exposed', False):
                request.is_index = path.endswith('/')
                return default, segments[depth:]
            if getattr(candidate, 'exposed', False) and callable(candidate):
                request.is_index = position == full_index
                return candidate, segments[depth:]
        return None, []
