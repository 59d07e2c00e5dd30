"""Dispatchers: find the page handler and the config for a request path.

A dispatcher is a callable taking the request's ``path_info``. It sets
three attributes of the current request:

* ``handler``: a zero-argument callable producing the body (a
  :class:`LateParamPageHandler`), or an :class:`~pyframe.HTTPError` that
  raises itself when called;
* ``config``: the global config merged with every ``_cp_config`` and
  application config section met along the path;
* ``is_index``: whether the handler is an ``index`` (the path names an
  object, so its canonical URL ends with a slash).

:class:`Dispatcher` walks the application's object tree; the others
(:class:`MethodDispatcher`, :class:`RoutesDispatcher`,
:func:`XMLRPCDispatcher`, :func:`VirtualHost`) build on it or replace it.
"""

from __future__ import annotations

import inspect
import sys
import weakref
import xmlrpc.client
from collections.abc import Callable
from types import MethodType, ModuleType
from typing import Any

from .context import serving
from .decorators import popargs
from .errors import HTTPError, HTTPRedirect, NotFound, PyframeException
from .lib.httputil import urljoin

__all__ = [
    'Dispatcher', 'MethodDispatcher', 'RoutesDispatcher', 'XMLRPCDispatcher',
    'VirtualHost', 'PageHandler', 'LateParamPageHandler', 'test_callable_spec',
    'popargs',
]

_STATICDIR_KEY = 'tools.staticdir.dir'
_STATICDIR_SECTION = 'tools.staticdir.section'


def _global_config() -> dict:
    """A fresh plain-dict copy of the site-wide config (empty if not set up).

    Looked up through ``sys.modules`` because ``pyframe/__init__`` imports
    this module; ``pyframe.config`` may also still be the submodule of that
    name while the package is being set up, hence the type check.
    """
    conf = getattr(sys.modules.get('pyframe'), 'config', None)
    # dict.copy: a plain dict, copied in C even from a dict subclass.
    return dict.copy(conf) if isinstance(conf, dict) else {}


# --------------------------------------------------------------------------
# Page handlers and argument checking

class _Spec:
    """What a handler's signature accepts, reduced to what the checks need."""

    __slots__ = ('positional', 'keywords', 'required', 'varargs', 'varkw')

    def __init__(self, signature: inspect.Signature, skip_first: bool) -> None:
        params = list(signature.parameters.values())
        if skip_first and params and params[0].kind in (
                params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
            params = params[1:]
        positional_kinds = (inspect.Parameter.POSITIONAL_ONLY,
                            inspect.Parameter.POSITIONAL_OR_KEYWORD)
        keyword_kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                         inspect.Parameter.KEYWORD_ONLY)
        self.positional = tuple(p.name for p in params if p.kind in positional_kinds)
        self.keywords = frozenset(p.name for p in params if p.kind in keyword_kinds)
        self.required = tuple(
            p.name for p in params
            if p.default is p.empty and p.kind in positional_kinds + keyword_kinds
        )
        self.varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
        self.varkw = any(p.kind is p.VAR_KEYWORD for p in params)


# Signatures are only needed when a call fails, but then once per failing
# request: keep them per function. Weak keys let reloaded code go.
_specs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _spec_for(func: Callable) -> _Spec | None:
    """Return the cached :class:`_Spec` of ``func``, or None if unknowable."""
    # A bound method is a new object at every attribute access: key on the
    # function underneath and drop its first (self/cls) parameter.
    bound = inspect.ismethod(func)
    key = func.__func__ if bound else func
    try:
        return _specs[key]
    except KeyError:
        pass
    except TypeError:
        key = None  # not weak-referenceable: compute without caching
    try:
        spec = _Spec(inspect.signature(key if bound else func), skip_first=bound)
    except (TypeError, ValueError):
        return None
    if key is not None:
        _specs[key] = spec
    return spec


def _names(names) -> str:
    return ', '.join(sorted(names))


def test_callable_spec(callable: Callable, callable_args, callable_kwargs) -> None:
    """Raise the HTTP error matching a call that ``callable`` cannot accept.

    ``callable_args`` come from the URL path and ``callable_kwargs`` from
    the query string or the request body. Missing parameters and extra
    path segments give 404; unexpected or doubled keyword parameters give
    404 when they came from the query string (part of the URI) and 400
    when they all came from the body. With
    ``request.show_mismatched_params`` the message names the parameters.
    Returns None when the arguments fit the signature (or it is unknown).
    """
    spec = _spec_for(callable)
    if spec is None:
        return
    request = serving.request
    show = getattr(request, 'show_mismatched_params', False)

    filled = set(spec.positional[:len(callable_args)])
    too_many_positional = len(callable_args) > len(spec.positional) and not spec.varargs
    doubled, unexpected = [], []
    for key in callable_kwargs:
        if key in spec.keywords:
            if key in filled:
                doubled.append(key)
            filled.add(key)
        elif not spec.varkw:
            unexpected.append(key)
    missing = [name for name in spec.required if name not in filled]

    if missing:
        # Whether the absent value was due in the path, the query string or
        # the body cannot be known; the URI is the likelier culprit.
        raise HTTPError(404, f'Missing parameters: {_names(missing)}' if show else None)
    if too_many_positional:
        raise HTTPError(404, 'Unexpected path segments' if show else None)

    body = getattr(request, 'body', None)
    body_params = (getattr(body, 'params', None) or {}) if body is not None else {}
    if doubled:
        status = 400 if all(key in body_params for key in doubled) else 404
        raise HTTPError(status, f'Multiple values for parameters: {_names(doubled)}'
                        if show else None)
    if unexpected:
        from_query = [key for key in unexpected if key not in body_params]
        if from_query:
            raise HTTPError(404, f'Unexpected query string parameters: {_names(from_query)}'
                            if show else None)
        raise HTTPError(400, f'Unexpected body parameters: {_names(unexpected)}'
                        if show else None)


# Its name starts with 'test_' for compatibility; it is no test to collect.
test_callable_spec.__test__ = False


def _invoke(func: Callable, args: tuple, kwargs: dict) -> Any:
    try:
        return func(*args, **kwargs)
    except TypeError:
        _explain_type_error(func, args, kwargs)
        raise


def _explain_type_error(func: Callable, args: tuple, kwargs: dict) -> None:
    """Raise the 4xx for a TypeError from calling a handler, if it was one.

    Checked only after a failure, so the normal path pays nothing. If
    the arguments do not fit the signature the body never ran, and the
    client sent a URL or form the handler cannot take: a 4xx. If they
    fit, the TypeError came from inside the handler: a real bug, which
    the caller re-raises.
    """
    try:
        test_callable_spec(func, args, kwargs)
    except HTTPError:
        raise
    except Exception:
        pass  # the diagnosis failed; the original error is what matters


class PageHandler:
    """A found handler with the positional (path) and keyword arguments to
    call it with; calling the PageHandler produces the response body."""

    __slots__ = ('callable', 'args', '_kwargs')

    def __init__(self, callable: Callable, *args: Any, **kwargs: Any) -> None:
        self.callable = callable
        self.args = args
        self._kwargs = kwargs

    @property
    def kwargs(self) -> dict:
        """The keyword arguments the handler will be called with."""
        return self._kwargs

    @kwargs.setter
    def kwargs(self, value: dict) -> None:
        self._kwargs = value

    def __call__(self) -> Any:
        return _invoke(self.callable, self.args, self.kwargs)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.callable!r}, args={self.args!r})'


class LateParamPageHandler(PageHandler):
    """A page handler whose keyword arguments are ``request.params`` as they
    are when it is called (tools running before it may change them),
    updated with its own keyword arguments."""

    __slots__ = ()

    @property
    def kwargs(self) -> dict:
        """``request.params`` updated with this handler's own kwargs."""
        params = serving.request.params
        if self._kwargs:
            return {**params, **self._kwargs}
        return params

    @kwargs.setter
    def kwargs(self, value: dict) -> None:
        self._kwargs = value


# --------------------------------------------------------------------------
# The object-tree dispatcher

class Dispatcher:
    """Map URL path segments onto attributes of the application's root.

    ``/a/b`` finds ``root.a.b``; a path ending at an object uses its
    ``index``; when a segment is no attribute, the node's ``_cp_dispatch``
    (if any) may consume segments and return the next node; when nothing
    more matches, the deepest exposed ``default`` or exposed callable takes
    the remaining segments as positional arguments. Dots in segments become
    underscores (``translate``), so ``/page.html`` finds ``page_html``.
    """

    #: The name of the per-node hook for custom segment handling.
    dispatch_method_name = '_cp_dispatch'

    # Whether an exposed object must be callable to answer; MethodDispatcher
    # resources are plain objects whose GET/POST... methods answer instead.
    _answer_needs_call = True

    def __init__(self, dispatch_method_name: str | None = None,
                 translate: dict = str.maketrans('.', '_')) -> None:
        if dispatch_method_name:
            self.dispatch_method_name = dispatch_method_name
        self.translate = translate

    @property
    def translate(self) -> dict:
        """The ``str.maketrans`` table turning segments into attribute names."""
        return self._translate

    @translate.setter
    def translate(self, table: dict) -> None:
        self._translate = table
        # str.translate costs more than the rest of a step; with a one-entry
        # table (the usual '.' -> '_'), a substring test tells when to skip it.
        key = next(iter(table)) if len(table) == 1 else None
        self._translate_trigger = chr(key) if isinstance(key, int) else None

    def __call__(self, path_info: str) -> None:
        """Set ``request.handler``, ``config`` and ``is_index`` for the path."""
        request = serving.request
        func, vpath = self.find_handler(path_info)
        if func is None:
            request.handler = NotFound()
        else:
            request.handler = LateParamPageHandler(func, *vpath)

    def find_handler(self, path: str) -> tuple[Callable | None, list[str]]:
        """Return ``(handler, positional path args)`` or ``(None, [])``.

        Also sets ``request.config`` and ``request.is_index``, because both
        come out of the same walk.
        """
        request = serving.request
        app = request.app
        trail, names, _ = self._walk(app.root, path)
        found = self._choose(path, trail, names)
        _set_config(request, app, path, trail, names)
        if found is None:
            return None, []
        handler, vpath, request.is_index = found
        return handler, vpath

    def _walk(self, root: object, path: str, checks: list | None = None
              ) -> tuple[list, list[str], bool]:
        """Follow the segments of ``path`` from ``root``.

        Returns ``(trail, names, hooked)``: the (node or None, segments
        left after reaching it) pairs, the segments plus 'index', and
        whether some ``_cp_dispatch`` took part. With ``checks``, every
        lookup made is recorded there as ``(name, found, probed)`` (see
        :class:`pyframe.route.Route`).
        """
        table = self._translate
        trigger = self._translate_trigger

        # 'index' stands for "the object the path names"; it is never shown
        # to _cp_dispatch.
        stripped = path.strip('/')
        names = stripped.split('/') if stripped else []
        if '' in names:
            names = [segment for segment in names if segment]
        names.append('index')
        total = len(names)

        trail = [(root, total)]
        node = root
        walk = names  # replaced, never mutated, when a _cp_dispatch rewrites it
        position = 0
        left = total
        hooked = False
        while left:
            found = None
            if node is not None:
                name = walk[position]
                if trigger is None or trigger in name:
                    name = name.translate(table)
                found = _lookup(node, name)
                probed = False
                if found is None and left > 1:
                    probed = True
                    hook = getattr(node, self.dispatch_method_name, None)
                    if (hook is not None and callable(hook)
                            and not getattr(hook, 'exposed', False)):
                        hooked = True
                        found, walk = self._call_hook(hook, node, walk[position:-1], names)
                        position = -1  # the rewritten walk starts at the next step
                if checks is not None:
                    checks.append((name, found, probed))
            position += 1
            left = len(walk) - position
            node = found
            trail.append((found, left))
        return trail, names, hooked

    def _choose(self, path: str, trail: list, names: list[str]
                ) -> tuple[Callable, list[str], bool] | None:
        """Pick the handler of a walk: ``(handler, vpath, is_index)`` or None.

        The deepest node answering wins: its exposed ``default``, or the
        node itself when it is exposed (and callable, unless the
        dispatcher calls methods of resources). A chosen ``default`` joins
        ``trail``, so its ``_cp_config`` applies.
        """
        total = len(names)
        last = len(trail) - 1
        for index in range(last, -1, -1):
            candidate, left = trail[index]
            if candidate is None:
                continue
            owner = _attribute_owner(candidate)
            default = getattr(owner, 'default', None)
            if default is not None and getattr(default, 'exposed', False):
                trail.insert(index + 1, (default, left))
                return default, names[total - left:-1], path.endswith('/')
            if getattr(owner, 'exposed', False) and (
                    callable(candidate) or not self._answer_needs_call):
                return candidate, names[total - left:-1], index == last
        return None

    def _call_hook(self, hook: Callable, node: object, pending: list[str],
                   names: list[str]) -> tuple[Any, list[str]]:
        """Run a node's ``_cp_dispatch`` on the remaining real segments.

        Returns the node it found and the walk to go on with: the segments
        it left, then 'index'.
        """
        before = len(pending)
        found = hook(pending)
        if len(pending) > before:
            raise PyframeException(
                f'{self.dispatch_method_name} of {node!r} added segments to '
                f'{names[:-1]!r}; it may only remove them'
            )
        if len(pending) == before:
            # It used the current segment without popping it.
            del pending[0]
        pending.append('index')
        return found, pending


#: Most merged configs kept per application before the cache restarts.
_MAX_MERGED = 2048


def _set_config(request, app, path: str, trail: list, names: list[str]) -> None:
    """Set ``request.config`` (and ``request.trail``) for a finished walk.

    The merge of the global config, app sections and ``_cp_config`` along
    the walk gives the same result for the same path, objects and config
    versions, so it is computed once and each request gets a copy.
    """
    objects = _trail_objects(trail)
    request.trail = objects
    site = getattr(sys.modules.get('pyframe'), 'config', None)
    cache = app.__dict__.get('_merged_configs')
    if cache is None or not isinstance(site, dict):
        request.config = _merge_trail(trail, names, app.config)
        return
    key = (path, tuple(map(id, objects)), app.config_version, site.version)
    # Application.apply_request_config keys its plans on the same walk.
    request._walk_key = key
    entry = cache.get(key)
    if entry is None:
        # The objects ride along so their ids stay theirs while cached.
        entry = (_merge_trail(trail, names, app.config), objects)
        if len(cache) >= _MAX_MERGED:
            cache.clear()
        cache[key] = entry
    request.config = dict(entry[0])


def _trail_objects(trail: list) -> tuple:
    """The objects the walk went through, for recognizing the same walk later.

    A bound method is a new object on every attribute access, so its
    function and instance stand for it.
    """
    objects = []
    for node, _ in trail:
        if type(node) is MethodType:
            objects.append(node.__func__)
            objects.append(node.__self__)
        else:
            objects.append(node)
    return tuple(objects)


def _attribute_owner(node: object) -> object:
    """The object whose attributes ``node`` shows: a bound method's function.

    Looking up a missing attribute on a bound method raises and catches an
    exception inside (~10x slower than on the function itself), and
    dispatch probes every handler for ``default`` and ``_cp_config``.
    """
    return node.__func__ if type(node) is MethodType else node


def _lookup(node: object, name: str) -> Any:
    """``getattr(node, name, None)``, faster on bound methods.

    A bound method forwards every name its own type lacks (they are all
    dunders) to its function; asking the function directly spares the
    exception a bound method raises and catches inside for a missing one.
    """
    if type(node) is MethodType and name[:2] != '__':
        node = node.__func__
    return getattr(node, name, None)


def _update(merged: dict, conf: dict | None) -> bool:
    """Merge ``conf`` in; tell whether it configures a static directory."""
    if not conf:
        return False
    merged.update(conf)
    return _STATICDIR_KEY in conf


def _merge_trail(trail: list, names: list[str], appconf: dict | None) -> dict:
    """The request config: the global config updated, step by step, with
    each node's ``_cp_config`` and then the app sections of the segments
    consumed to reach it. Sections apply even where no node was found, so
    that '[/static]' reaches a default handler or a static tool."""
    merged = _global_config()
    total = len(names)
    curpath = ''
    reached = -1  # segments consumed before this step; -1 before the root
    for node, left in trail:
        static = False
        if node is not None:
            # Inlined _attribute_owner: this loop runs on every request.
            conf = getattr(node.__func__ if type(node) is MethodType else node,
                           '_cp_config', None)
            if conf:
                merged.update(conf)
                static = _STATICDIR_KEY in conf
        if appconf:
            if reached < 0:
                static = _update(merged, appconf.get('/')) or static
            else:
                for segment in names[reached:total - left]:
                    curpath += '/' + segment
                    conf = appconf.get(curpath)
                    if conf:
                        static = _update(merged, conf) or static
        reached = total - left
        if static:
            # The static tool serves paths relative to this node's URL.
            merged[_STATICDIR_SECTION] = '/' + '/'.join(names[:reached])
    return merged


# --------------------------------------------------------------------------
# HTTP-method dispatch

# The Allow header value per resource class: dir() is far too slow per request.
_allow_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _allowed_methods(resource: object) -> str:
    """``'GET, HEAD, POST'``: the upper-case callables of ``resource``."""
    cls = type(resource)
    # A class or module resource has its own methods, not its type's.
    cacheable = not isinstance(resource, (type, ModuleType))
    if cacheable:
        cached = _allow_cache.get(cls)
        if cached is not None:
            return cached
    methods = {name for name in dir(resource)
               if name.isupper() and callable(getattr(resource, name, None))}
    if 'GET' in methods:
        methods.add('HEAD')
    value = ', '.join(sorted(methods))
    if cacheable:
        _allow_cache[cls] = value
    return value


class MethodDispatcher(Dispatcher):
    """Find the resource by walking the tree, then call its method named
    after the HTTP method (``GET``, ``POST``...).

    The resource must be exposed (typically its class is); its methods need
    not be. HEAD falls back to GET; a missing method gives 405 with an
    ``Allow`` header listing what the resource offers.
    """

    _answer_needs_call = False

    def __call__(self, path_info: str) -> None:
        """Set ``request.handler``, ``config`` and ``is_index`` for the path."""
        request = serving.request
        resource, vpath = self.find_handler(path_info)
        if resource is None:
            request.handler = NotFound()
            return
        serving.response.headers['Allow'] = _allowed_methods(resource)
        method = request.method.upper()
        func = getattr(resource, method, None)
        if func is None and method == 'HEAD':
            func = getattr(resource, 'GET', None)
        if func is None or not callable(func):
            request.handler = HTTPError(405)
            return
        conf = getattr(func, '_cp_config', None)
        if conf:
            request.config.update(conf)
        # A server that keeps %2F encoded lets a segment carry a slash.
        vpath = [segment.replace('%2F', '/') for segment in vpath]
        request.handler = LateParamPageHandler(func, *vpath)


# --------------------------------------------------------------------------
# Routes-based dispatch

class RoutesDispatcher:
    """Dispatch with a ``routes`` Mapper (``pip install pyframe[routes]``).

    ``connect(name, route, controller, **kwargs)`` registers a route whose
    matches go to ``controller`` (an object, or a class instantiated per
    request); the matched ``action`` names the controller's method
    (``index`` when the route gives none and the controller is not itself
    callable). Route variables land in ``request.params``.
    """

    def __init__(self, full_result: bool = False, **mapper_options: Any) -> None:
        try:
            import routes
        except ImportError as exc:
            raise ImportError(
                'RoutesDispatcher needs the Routes package: install Routes '
                '(pip install pyframe[routes])'
            ) from exc
        self._routes = routes
        self.full_result = full_result
        self.controllers: dict = {}
        self.mapper = routes.Mapper(**mapper_options)
        # Lets routes tell registered controller names in ':controller' routes.
        self.mapper.controller_scan = self.controllers.keys

    def connect(self, name: str, route: str, controller: Any, **kwargs: Any) -> None:
        """Route URLs matching ``route`` to ``controller``, registered as ``name``."""
        self.controllers[name] = controller
        self.mapper.connect(name, route, controller=name, **kwargs)

    def redirect(self, url: str) -> None:
        """Redirect the client to ``url`` (used by routes' own redirects)."""
        raise HTTPRedirect(url)

    def __call__(self, path_info: str) -> None:
        """Set ``request.handler`` and ``request.config`` for the path."""
        func = self.find_handler(path_info)
        serving.request.handler = NotFound() if func is None else LateParamPageHandler(func)

    def find_handler(self, path_info: str) -> Callable | None:
        """Return the handler routes maps ``path_info`` to, or None.

        Also sets ``request.config`` and puts the route variables in
        ``request.params``.
        """
        request = serving.request
        routes_config = self._routes.request_config()
        routes_config.mapper = self.mapper
        environ = getattr(request, 'wsgi_environ', None)
        if environ:
            # Makes routes' conditions (method=...) and url_for() work.
            routes_config.environ = environ
        routes_config.host = request.headers.get('Host')
        routes_config.protocol = getattr(request, 'scheme', 'http')
        routes_config.redirect = self.redirect
        match = self.mapper.routematch(path_info)
        result, route = match if match else (None, None)
        routes_config.mapper_dict = result
        routes_config.route = route

        if result:
            params = dict(result)
            if not self.full_result:
                params.pop('controller', None)
                params.pop('action', None)
            request.params.update(params)

        app = request.app
        appconf = app.config or {}
        merged = _global_config()
        curpath = ''

        def merge(conf: dict | None) -> None:
            if conf:
                merged.update(conf)
                if _STATICDIR_KEY in conf:
                    merged[_STATICDIR_SECTION] = curpath or '/'

        merge(getattr(app.root, '_cp_config', None))
        merge(appconf.get('/'))
        atoms = [atom for atom in path_info.split('/') if atom]
        last = atoms.pop() if atoms else None
        for atom in atoms:
            curpath += '/' + atom
            merge(appconf.get(curpath))

        handler = None
        if result:
            controller = result.get('controller')
            if isinstance(controller, str):
                controller = self.controllers.get(controller)
            if isinstance(controller, type):
                controller = controller()
            if controller is not None:
                merge(getattr(controller, '_cp_config', None))
                action = result.get('action')
                if action is not None:
                    handler = getattr(controller, action, None)
                elif callable(controller):
                    handler = controller
                else:
                    handler = getattr(controller, 'index', None)
                if handler is not None:
                    merge(getattr(handler, '_cp_config', None))
        if last:
            curpath += '/' + last
            merge(appconf.get(curpath))
        request.config = merged
        return handler


# --------------------------------------------------------------------------
# Wrapping dispatchers

def _read_body(request: Any) -> bytes:
    """The raw request body, from ``request.body`` or the WSGI input."""
    body = getattr(request, 'body', None)
    if body is not None:
        if hasattr(body, 'read'):
            return body.read()
        if getattr(body, 'fp', None) is not None:
            return body.fp.read()
    environ = getattr(request, 'wsgi_environ', None) or {}
    stream = getattr(request, 'rfile', None) or environ.get('wsgi.input')
    length = request.headers.get('Content-Length') or environ.get('CONTENT_LENGTH')
    try:
        length = int(length)
    except (TypeError, ValueError):
        length = 0
    # Without a length, reading could block on a kept-alive connection.
    return stream.read(length) if stream is not None and length > 0 else b''


def XMLRPCDispatcher(next_dispatcher: Callable[[str], Any] = Dispatcher()
                     ) -> Callable[[str], Any]:
    """Return a dispatcher for XML-RPC calls posted to the current path.

    The method name in the body turns into path segments below the posted
    path (``POST /api`` calling ``math.add`` dispatches ``/api/math/add``;
    a leading ``/RPC2``, the customary endpoint, is dropped), and the
    call's params become the handler's positional arguments, after any
    taken from the path. An unreadable body gives 400.
    """
    def xmlrpc_dispatch(path_info: str) -> Any:
        request = serving.request
        if path_info == '/RPC2' or path_info.startswith('/RPC2/'):
            path_info = path_info[5:] or '/'
        try:
            params, method = xmlrpc.client.loads(_read_body(request))
        except Exception:
            # Still dispatch the posted path, so its config (and the tools
            # that report errors as XML-RPC faults) apply.
            result = next_dispatcher(path_info)
            request.handler = HTTPError(400, 'The request body is not an XML-RPC call.')
            return result
        result = next_dispatcher(urljoin('/', path_info, *str(method).split('.')))
        handler = request.handler
        if params and isinstance(handler, PageHandler):
            handler.args = (*handler.args, *params)
        return result
    return xmlrpc_dispatch


def VirtualHost(next_dispatcher: Callable[[str], Any] = Dispatcher(),
                use_x_forwarded_host: bool = True, **domains: str
                ) -> Callable[[str], Any]:
    """Return a dispatcher that serves each host name from its own branch.

    ``VirtualHost(**{'company.com:8080': '/app1'})`` dispatches
    ``http://company.com:8080/x`` as ``/app1/x`` (handler and config
    alike). The host comes from ``X-Forwarded-Host`` when allowed and
    present (the first one, set by the proxy nearest the client), else
    from ``Host``; unknown hosts dispatch unchanged.
    """
    # Host names are case-insensitive: compare them lower-cased.
    prefixes = {host.lower(): prefix for host, prefix in domains.items()}

    def vhost_dispatch(path_info: str) -> Any:
        request = serving.request
        headers = request.headers
        host = headers.get('Host', '')
        if use_x_forwarded_host:
            forwarded = headers.get('X-Forwarded-Host')
            if forwarded:
                host = forwarded.split(',', 1)[0].strip()
        prefix = prefixes.get(host.lower(), '').rstrip('/')
        if prefix:
            # urljoin keeps a trailing slash: '/' becomes '/app1/'.
            path_info = urljoin(prefix, path_info)
        result = next_dispatcher(path_info)
        if prefix:
            # The static tool resolves files against the URL the client
            # used, which does not contain the prefix.
            config = getattr(request, 'config', None) or {}
            section = config.get(_STATICDIR_SECTION)
            if section and (section == prefix or section.startswith(prefix + '/')):
                config[_STATICDIR_SECTION] = section[len(prefix):] or '/'
        return result
    return vhost_dispatch
