"""The tree of mounted applications, and the Application class itself."""

from __future__ import annotations

import os
import sys
from threading import get_ident
from typing import Any

from .config import merge as merge_config
from .context import serving
from .lib import reprconf
from .log import LogManager
from .plan import RequestPlan
from .request import Request, Response
from .route import RouteTable
from .tools import Toolbox
from .wsgi import WSGIPipeline, end_request, engage, recover, respond, serve_route

__all__ = ['Application', 'Tree']

_DEFAULT_FAVICON = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'favicon.ico')


class Application:
    """A root object mounted at a script name; a PEP 3333 WSGI callable.

    ``config`` holds the application's configuration, one dict per path
    section (``{'/': {...}, '/static': {...}}``) plus any sections of the
    application's own (``{'Databases': {...}}``).
    """

    #: The class of the ``pyframe.request`` objects this app creates.
    request_class = Request
    #: The class of the ``pyframe.response`` objects this app creates.
    response_class = Response
    #: Let ``pyframe.url()`` build relative URLs ('server' for /-relative).
    relative_urls = False

    def __init__(self, root, script_name: str = '', config=None) -> None:
        self.log = LogManager(str(id(self)), _root_logger_name())
        self.root = root
        self.script_name = script_name
        self.wsgiapp = WSGIPipeline(self)
        #: App-scope config namespaces: ``log.*`` and ``wsgi.*`` in ``[/]``.
        self.namespaces = reprconf.NamespaceSet(
            log=lambda key, value: setattr(self.log, key, value),
            wsgi=self.wsgiapp.namespace_handler,
        )
        #: Toolbox namespace name -> Toolbox usable in this app's config.
        self.toolboxes: dict[str, Any] = {}

        self.config: dict = {}
        #: True when some section of :attr:`config` sets ``request.dispatch``
        #: (recomputed by :meth:`merge`).
        self.sets_dispatch = False
        #: Incremented by :meth:`merge`; cached request plans depend on it.
        self.config_version = 0
        self._plans: dict = {}
        self._merged_configs: dict = {}
        #: Paths served by the plain Dispatcher, resolved once (see pyframe.route).
        self.routes = RouteTable(self)
        if config:
            self.merge(config)

    @property
    def script_name(self) -> str:
        """Where the application is mounted ('' for the site root).

        ``None`` means "wherever the WSGI server says": the value then
        comes from each request's ``SCRIPT_NAME``.
        """
        if self._script_name is not None:
            return self._script_name
        return serving.request.wsgi_environ.get('SCRIPT_NAME', '').rstrip('/')

    @script_name.setter
    def script_name(self, value: str | None) -> None:
        self._script_name = value.rstrip('/') if value else value

    def merge(self, config) -> None:
        """Merge a dict, filename or open file of config sections."""
        merge_config(self.config, config)
        self._check_static_paths()
        self.config_version += 1
        reprconf.config_changed()
        #: Whether any section chooses a dispatcher (else the lookup is skipped).
        self.sets_dispatch = any(isinstance(entries, dict) and 'request.dispatch' in entries
                                 for entries in self.config.values())
        # App-wide entries of [/] configure the app itself (logs, pipeline).
        self.namespaces(self.config.get('/', {}))

    def _check_static_paths(self) -> None:
        """Refuse relative static directories and files without an absolute root.

        A relative path would be resolved against whatever the working
        directory happens to be when a request comes, so it is an error
        here, at configuration time, naming the section and the value.
        """
        site = sys.modules['pyframe'].config
        for section, entries in self.config.items():
            if not section.startswith('/') or not isinstance(entries, dict):
                continue
            for key, tool in (('tools.staticdir.dir', 'staticdir'),
                              ('tools.staticfile.filename', 'staticfile')):
                value = entries.get(key)
                if not value or os.path.isabs(value):
                    continue
                root = self.find_config(section, f'tools.{tool}.root',
                                        site.get(f'tools.{tool}.root'))
                if not root or not os.path.isabs(root):
                    raise ValueError(
                        f'{key} = {value!r} in section {section!r} is relative: give an '
                        f'absolute path, or an absolute tools.{tool}.root '
                        f'(it is {root!r})'
                    )

    def find_config(self, path: str, key: str, default: Any = None) -> Any:
        """Return ``key`` from the most specific section for ``path``."""
        trail = path or '/'
        while trail:
            section = self.config.get(trail)
            if section and key in section:
                return section[key]
            cut = trail.rfind('/')
            if cut == -1:
                break
            trail = '/' if (cut == 0 and trail != '/') else trail[:cut]
        return default

    # -- per request -------------------------------------------------------

    def request_namespaces(self, config: dict) -> None:
        """Apply a request's config through the request namespaces and the
        app's toolboxes (both may gain entries at any time)."""
        self._request_namespace_set()(config)

    def _request_namespace_set(self):
        namespaces = self.request_class.namespaces
        if self.toolboxes and any(
                namespaces.get(name) is not box for name, box in self.toolboxes.items()):
            namespaces = namespaces.copy()
            namespaces.update(self.toolboxes)
        return namespaces

    #: Most request plans kept per application; past it the cache restarts.
    max_plans = 2048

    def apply_request_config(self, request) -> None:
        """Apply ``request.config`` to the request, from a cached plan when
        the same path was served before with the same config and objects."""
        route = request.__dict__.get('_route')
        if route is not None:
            fused = route.fused
            if fused is None:
                route.plan.apply()
            else:
                fused.apply(request, serving.response, route.request_state)
            return
        namespaces = self._request_namespace_set()
        trail = request.trail
        if trail is None:
            namespaces(request.config)
            return
        walk = request.__dict__.get('_walk_key')
        if walk is None or walk[0] != request.path_info:
            walk = (request.path_info, tuple(map(id, trail)), self.config_version,
                    sys.modules['pyframe'].config.version)
        key = (walk, Toolbox.version, id(namespaces), len(namespaces))
        plan = self._plans.get(key)
        if plan is None:
            plan = RequestPlan(request.config, namespaces, keepalive=(trail, namespaces))
            if len(self._plans) >= self.max_plans:
                self._plans.clear()
            self._plans[key] = plan
        plan.apply()

    def get_serving(self, local, remote, scheme: str, sproto: str):
        """Create and make current the Request and Response of a request."""
        request = self.request_class(local, remote, scheme, sproto)
        request.app = self
        response = self.response_class()
        serving.request = request  # what serving.load does, minus a call
        serving.response = response
        engage(response)
        return request, response

    def release_serving(self) -> None:
        """Close the current request and forget it."""
        current = serving.__dict__
        request = current.get('request')
        if request is None:
            request = serving.request  # the stand-in outside of requests
        end_request(self, request, sys.modules['pyframe'].engine, get_ident(), current)

    def __call__(self, environ: dict, start_response):
        wsgiapp = self.wsgiapp
        if not wsgiapp.pipeline and type(wsgiapp) is WSGIPipeline:
            # No middleware: go straight to the end of the pipeline, taking
            # the fast lane when the path's route is ready for it (what
            # respond() does with a route, minus a call).
            route = self.routes.ready(environ)
            if route is None:
                return respond(self, environ, start_response)
            try:
                return serve_route(self, route, environ, start_response)
            except BaseException as exc:
                return recover(self, environ, start_response, exc)
        return wsgiapp(environ, start_response)

    def __repr__(self) -> str:
        return f'{type(self).__module__}.{type(self).__name__}({self.root!r}, {self._script_name!r})'


def _root_logger_name() -> str:
    import pyframe

    log = getattr(pyframe, 'log', None)
    return log.logger_root if log is not None else 'pyframe'


class Tree:
    """The registry of applications by mount point; a WSGI app itself.

    A request goes to the application mounted at the longest script name
    that prefixes its path; paths outside every mount get 404.
    """

    def __init__(self) -> None:
        self.apps: dict[str, Any] = {}

    def mount(self, root, script_name: str = '', config=None) -> Application:
        """Mount ``root`` (an object or an Application) at ``script_name``."""
        if script_name is None:
            raise TypeError(
                "script_name must be a string ('' for the site root); "
                'None is only valid when building an Application yourself'
            )
        script_name = script_name.rstrip('/')
        if isinstance(root, Application):
            app = root
            if script_name and script_name != app.script_name:
                raise ValueError(
                    f'Application is mounted at {app.script_name!r}, '
                    f'not {script_name!r}'
                )
            script_name = app.script_name
        else:
            app = Application(root, script_name)
        if script_name == '' and app.root is not None and not hasattr(app.root, 'favicon_ico'):
            # Browsers ask every site for /favicon.ico; give them ours
            # (a [/favicon.ico] config section replaces it).
            try:
                app.root.favicon_ico = sys.modules['pyframe'].tools.staticfile.handler(
                    filename=_DEFAULT_FAVICON)
            except AttributeError:
                pass  # a root that takes no attributes (slots) keeps its 404
        if config:
            app.merge(config)
        self.apps[script_name] = app
        return app

    def graft(self, wsgi_callable, script_name: str = '') -> None:
        """Mount any WSGI callable at ``script_name``."""
        self.apps[script_name.rstrip('/')] = wsgi_callable

    def script_name(self, path: str | None = None) -> str | None:
        """Return the mount point serving ``path`` (longest prefix), or None."""
        if path is None:
            request = serving.request
            path = request.script_name + request.path_info
        path = path.rstrip('/')
        while True:
            if path in self.apps:
                return path
            if not path:
                return None
            path = path[:path.rfind('/')]

    def __call__(self, environ: dict, start_response):
        given = environ.get('SCRIPT_NAME', '')
        apps = self.apps
        if not given and len(apps) == 1 and '' in apps:
            # One site-root app: it gets every path, and the environ as it is.
            return apps[''](environ, start_response)
        path = given + environ.get('PATH_INFO', '')
        script_name = self.script_name(path or '/')
        if script_name is None:
            start_response('404 Not Found', [('Content-Type', 'text/plain'),
                                              ('Content-Length', '9')])
            return [] if environ.get('REQUEST_METHOD') == 'HEAD' else [b'Not Found']
        app = apps[script_name]
        if script_name == given:
            # SCRIPT_NAME and PATH_INFO are already what the app must see.
            return app(environ, start_response)
        environ = dict(environ)
        environ['SCRIPT_NAME'] = script_name
        environ['PATH_INFO'] = path[len(script_name):]
        return app(environ, start_response)

