"""Routes: what a path resolves to, worked out once and rechecked cheaply.

For the plain object-tree :class:`~pyframe.dispatch.Dispatcher`, the
handler of a path, the config merged along the walk and the plan that
applies that config are a function of the path, the objects the walk
meets and the config in force. A :class:`RouteTable` (one per
:class:`~pyframe.Application`) keeps a :class:`Route` per path: a later
request of the path repeats only the attribute lookups of the walk (one
per segment), and reuses the rest while they find the same objects and
no config, tool or namespace changed (see
:data:`pyframe.lib.reprconf.generation`).

Walks where a ``_cp_dispatch`` took part ran user code and are never
kept, nor are paths whose config chooses another dispatcher: those go
through the dispatcher on every request, as before.

Like the merged-config cache before it, a route assumes that an object
met along the walk keeps its own ``_cp_config``, ``exposed`` and
``default``: replace the object (or change config) to change those.
"""

from __future__ import annotations

from types import MethodType
from typing import Any

from .dispatch import Dispatcher, _merge_trail
from .lib import reprconf
from .plan import RequestPlan
from .request import Request, Response

__all__ = ['Route', 'RouteTable']


class Route:
    """One path's handler, merged config and request plan."""

    __slots__ = ('root', 'hook_name', 'checks', 'handler', 'vpath', 'is_index', 'config',
                 'plan', 'fused', 'lane', 'request_state', 'straight', 'encode', 'template',
                 'overrides')

    def __init__(self, root: Any, hook_name: str, checks: tuple, handler: Any, vpath: tuple,
                 is_index: bool | None, config: dict, plan: RequestPlan) -> None:
        self.root = root
        #: The dispatcher's ``dispatch_method_name`` ('_cp_dispatch').
        self.hook_name = hook_name
        #: The walk's lookups: (attribute name, object found, whether a
        #: ``_cp_dispatch`` was looked for there, whether the name is
        #: looked up on the function of a bound method, whether the object
        #: found is a bound method). The last two follow from the objects
        #: found, which holds() checks, so they are worked out once here.
        self.checks = _with_kinds(root, checks)
        #: The callable found (None: 404).
        self.handler = handler
        #: Positional arguments the path gives the handler.
        self.vpath = vpath
        self.is_index = is_index
        #: The merged config; each request gets a copy.
        self.config = config
        self.plan = plan
        #: The plan's :class:`~pyframe.plan.FusedPlan`, or None.
        self.fused = plan.fused
        #: Whether requests of the path may take the fast lane (set when kept).
        self.lane = False
        #: What the fused plan puts in the request's __dict__, for this path.
        self.request_state = None
        #: Whether nothing but the encode tool is attached before the
        #: handler, so the request may skip those hook points
        #: (``Request._run_straight``); set with :attr:`request_state`.
        self.straight = False
        #: The encode tool's arguments when the request encodes the body
        #: itself (see ``plan._encode_split``), else None.
        self.encode = None
        #: What the fast lane puts in every request's ``__dict__`` of this
        #: route (each request fills in :data:`LANE_KEYS`), and the plan's
        #: values for some of those keys, which win.
        self.template: dict = {}
        self.overrides: dict = {}

    def holds(self, root: Any) -> bool:
        """True while walking the path from ``root`` meets the same objects."""
        if root is not self.root:
            return False
        node = root
        for name, expected, probed, on_function, bound in self.checks:
            # What Dispatcher._walk looks up (dispatch._lookup, inlined).
            found = getattr(node.__func__ if on_function else node, name, None)
            if bound:
                # Bound methods are new at each lookup; two are equal when
                # they bind the same function to the same instance.
                if type(found) is not MethodType or found != expected:
                    return False
            elif found is not expected:
                return False
            if probed:
                hook = getattr(node, self.hook_name, None)
                if hook is not None and callable(hook) and not getattr(hook, 'exposed', False):
                    return False
            node = found
        return True


def _with_kinds(root: Any, checks: tuple) -> tuple:
    """``checks`` of a walk from ``root``, each with the two flags holds() needs."""
    kinds = []
    node = root
    for name, expected, probed in checks:
        kinds.append((name, expected, probed, type(node) is MethodType and name[:2] != '__',
                      type(expected) is MethodType))
        node = expected
    return tuple(kinds)


#: The request attributes the fast lane sets from each WSGI call.
LANE_KEYS = frozenset({
    'scheme', 'server_protocol', 'wsgi_environ', 'method', 'query_string', 'params',
    'protocol', '_request_target', 'rfile', 'script_name', 'hooks', 'handler', 'config',
    'base'})


class _EachTime:
    """The table's entry for a path that must be dispatched on every request."""

    __slots__ = ()
    lane = False


_DISPATCH_EACH_TIME = _EachTime()


class RouteTable:
    """An application's routes by path, dropped whenever config changes."""

    #: Most routes kept; past it the table starts again.
    max_routes = 2048

    #: Serve ready routes through the fast lane (``pyframe.wsgi``); False
    #: sends every request the long way (the tests compare both).
    lane = True

    def __init__(self, app: Any) -> None:
        self.app = app
        self.routes: dict[str, Any] = {}
        self.stamp: tuple | None = None
        #: Whether the stamp's classes and the app allow the fast lane.
        self.lane_ok = False
        # An Application subclass may do its own thing when serving starts.
        from .tree import Application  # tree imports this module

        cls = type(app)
        self._plain_app = (getattr(cls, 'get_serving', None) is Application.get_serving
                           and getattr(cls, 'release_serving', None) is Application.release_serving)

    def ready(self, environ: dict) -> Route | None:
        """The route of this WSGI call if it can take the fast lane, else None.

        It can when the path was served before and its route still holds,
        its plan is fused, the request and response classes are pyframe's
        own (a subclass may change any stage), no class-wide hooks are set,
        the URL is plain ASCII and the request carries no body.
        """
        route = self.routes.get(environ.get('PATH_INFO', ''))
        if route is None or not route.lane:
            return None
        app = self.app
        if self.stamp != (reprconf.generation, app.request_class, app.response_class,
                          len(app.toolboxes), Request.dispatch) or Request.hooks:
            return None
        script_name = environ.get('SCRIPT_NAME', '')
        # The path itself was checked when the route was kept (_keep); the
        # long way would recode a non-ASCII script name.
        if script_name != app._script_name or (script_name and not script_name.isascii()):
            return None
        length = environ.get('CONTENT_LENGTH')
        if ((length and length != '0') or 'HTTP_TRANSFER_ENCODING' in environ
                or 'pyframe.previous_request' in environ):
            return None
        if not route.holds(app.root):
            return None
        return route

    def find(self, request: Any, path: str) -> Route | None:
        """The route of ``path`` for ``request``, or None: dispatch it the usual way.

        A route made now for a walk that cannot be kept is returned all
        the same (once), so that no ``_cp_dispatch`` runs twice.
        """
        app = self.app
        # What else decides dispatch and plans besides config.
        stamp = (reprconf.generation, app.request_class, app.response_class,
                 len(app.toolboxes), request.dispatch)
        routes = self.routes
        if stamp != self.stamp:
            routes.clear()
            self.stamp = stamp
            self.lane_ok = (self.lane and self._plain_app and stamp[1] is Request
                            and stamp[2] is Response)
        route = routes.get(path)
        if route is not None:
            if route is _DISPATCH_EACH_TIME:
                return None
            if route.holds(app.root):
                return route
        dispatcher = request.dispatcher_for(path)
        if type(dispatcher) is not Dispatcher:
            # Its own logic (methods, routes, hosts) decides each request.
            self._keep(path, _DISPATCH_EACH_TIME)
            return None
        route, kept = self.build(dispatcher, path, request)
        if kept:
            # A path the long way would rewrite (slashes, non-ASCII to
            # recode) always goes that way.
            route.lane = (self.lane_ok and route.fused is not None and path[:1] == '/'
                          and '//' not in path and path.isascii())
            self._keep(path, route)
        else:
            self._keep(path, _DISPATCH_EACH_TIME)
        return route

    def _keep(self, path: str, entry: Any) -> None:
        routes = self.routes
        if len(routes) >= self.max_routes:
            routes.clear()
        routes[path] = entry

    def build(self, dispatcher: Dispatcher, path: str, request: Any) -> tuple[Route, bool]:
        """Walk ``path``; return its route and whether it may be kept."""
        app = self.app
        checks: list = []
        trail, names, hooked = dispatcher._walk(app.root, path, checks)
        found = dispatcher._choose(path, trail, names)
        config = _merge_trail(trail, names, app.config)
        handler, vpath, is_index = found if found is not None else (None, (), None)
        namespaces = app._request_namespace_set()
        plan = RequestPlan(config, namespaces, request_class=app.request_class,
                           response_class=app.response_class)
        route = Route(app.root, dispatcher.dispatch_method_name, tuple(checks), handler,
                      tuple(vpath), is_index, config, plan)
        fused = plan.fused
        if fused is not None:
            state = route.request_state = fused.state_for(path, is_index)
            # Every key of a lane request from the start (LANE_KEYS are
            # placeholders), so that copying the template sizes the dict.
            route.template = {'app': app, 'stage': 'respond', 'path_info': path,
                              '_route': route, 'is_index': is_index, '_body_ready': True,
                              '_request_body': None, 'closed': False,
                              **dict.fromkeys(LANE_KEYS)}
            for key, value in state.items():
                (route.overrides if key in LANE_KEYS else route.template)[key] = value
            split = state.get('_encode_split')
            route.encode = split[2] if split is not None else None
            points = dict(fused.hooks)
            route.straight = (
                handler is not None and not fused.rest
                and 'on_start_resource' not in points and 'before_request_body' not in points
                and ('before_handler' not in points
                     or (split is not None and not split[1])))
        return route, not hooked
