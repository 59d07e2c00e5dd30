"""Routes: what a path resolves to, worked out once and rechecked cheaply.

For the plain object-tree :class:`~pyframe.dispatch.Dispatcher`, the
handler of a path, the config merged along the walk and the plan that
applies that config are a function of the path, the objects the walk
meets and the config in force. A :class:`RouteTable` (one per
:class:`~pyframe.Application`) keeps a :class:`Route` per path: a later
request of the path repeats only the attribute lookups of the walk (one
per segment), and reuses the rest while they find the same objects and
no config, tool or namespace changed. Walks where a ``_cp_dispatch`` took
part run user code and are never kept.

Like the merged-config cache before it, a route assumes that an object
met along the walk keeps its own ``_cp_config``, ``exposed`` and
``default``: replace the object (or change config) to change those.
"""

from __future__ import annotations

import sys
from types import MethodType
from typing import Any

from .dispatch import Dispatcher, _merge_trail, walk_still_holds
from .plan import RequestPlan
from .tools import Toolbox

__all__ = ['Route', 'RouteTable']


class Route:
    """One path's handler, merged config and request plan."""

    __slots__ = ('dispatcher', 'root', 'checks', 'handler', 'vpath', 'is_index',
                 'config', 'plan')

    def __init__(self, dispatcher: Dispatcher, root: Any, checks: tuple,
                 handler: Any, vpath: tuple, is_index: bool | None,
                 config: dict, plan: RequestPlan) -> None:
        self.dispatcher = dispatcher
        self.root = root
        #: The walk's lookups, for :func:`~pyframe.dispatch.walk_still_holds`.
        self.checks = checks
        #: The callable found (None: 404).
        self.handler = handler
        #: Positional arguments the path gives the handler.
        self.vpath = vpath
        self.is_index = is_index
        #: The merged config; each request gets a copy.
        self.config = config
        self.plan = plan

    def holds(self, dispatcher: Dispatcher, root: Any) -> bool:
        """True while walking the path again would meet the same objects."""
        return (dispatcher is self.dispatcher and root is self.root
                and walk_still_holds(root, self.checks, dispatcher.dispatch_method_name))


def _recorded(checks: list) -> tuple:
    """The walk's lookups with bound methods as (function, instance)."""
    return tuple(
        (name, (found.__func__, found.__self__) if type(found) is MethodType else found, probed)
        for name, found, probed in checks
    )


class RouteTable:
    """An application's routes by path, dropped whenever config changes."""

    #: Most routes kept; past it the table starts again.
    max_routes = 2048

    def __init__(self, app: Any) -> None:
        self.app = app
        self.routes: dict[str, Route] = {}
        self.stamp: tuple | None = None

    def find(self, dispatcher: Dispatcher, path: str, namespaces: dict) -> Route | None:
        """The route of ``path`` (made now if needed), or None if it cannot be kept."""
        app = self.app
        stamp = (sys.modules['pyframe'].config.version, app.config_version,
                 Toolbox.version, id(namespaces), len(namespaces))
        routes = self.routes
        if stamp != self.stamp:
            routes.clear()
            self.stamp = stamp
        root = app.root
        route = routes.get(path)
        if route is not None and route.holds(dispatcher, root):
            return route
        route = self.build(dispatcher, path, namespaces)
        if route is not None:
            if len(routes) >= self.max_routes:
                routes.clear()
            routes[path] = route
        return route

    def build(self, dispatcher: Dispatcher, path: str, namespaces: dict) -> Route | None:
        """Walk ``path`` and make its route; None when a ``_cp_dispatch`` took part."""
        app = self.app
        checks: list = []
        trail, names, hooked = dispatcher._walk(app.root, path, checks)
        if hooked:
            return None
        found = dispatcher._choose(path, trail, names)
        config = _merge_trail(trail, names, app.config)
        handler, vpath, is_index = found if found is not None else (None, (), None)
        plan = RequestPlan(config, namespaces, keepalive=namespaces,
                           request_class=app.request_class, response_class=app.response_class)
        return Route(dispatcher, app.root, _recorded(checks), handler, tuple(vpath),
                     is_index, config, plan)
