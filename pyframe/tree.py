"""The tree of mounted applications, and the Application class itself."""

from __future__ import annotations

from .context import serving
from .log import LogManager
from .request import Request, Response
from .wsgi import respond

__all__ = ['Application', 'Tree']


class Application:
    """A root object mounted at a script name, callable as a WSGI app.

    ``config`` holds the application's configuration, one dict per path
    section (``{'/': {...}, '/static': {...}}``).
    """

    request_class = Request
    response_class = Response

    def __init__(self, root, script_name: str = '', config: dict | None = None) -> None:
        self.root = root
        self.script_name = script_name
        self.config: dict = {}
        self.log = LogManager(str(id(self)))
        if config:
            self.merge(config)

    @property
    def script_name(self) -> str:
        """Where the application is mounted ('' for the site root)."""
        if self._script_name is not None:
            return self._script_name
        # Mounted without a fixed place: the WSGI server tells per request.
        return serving.request.wsgi_environ.get('SCRIPT_NAME', '').rstrip('/')

    @script_name.setter
    def script_name(self, value: str | None) -> None:
        self._script_name = value.rstrip('/') if value else value

    def merge(self, config: dict) -> None:
        """Merge a dict of ``{section: {key: value}}`` into :attr:`config`."""
        for section, entries in config.items():
            self.config.setdefault(section, {}).update(entries)

    def __call__(self, environ: dict, start_response):
        return respond(self, environ, start_response)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.root!r}, {self.script_name!r})'


class Tree:
    """The registry of applications by mount point; a WSGI app itself.

    A request goes to the application mounted at the longest script name
    that prefixes its path; paths outside every mount get 404.
    """

    def __init__(self) -> None:
        self.apps: dict[str, object] = {}

    def mount(self, root, script_name: str = '', config: dict | None = None) -> Application:
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
        path = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
        script_name = self.script_name(path or '/')
        if script_name is None:
            start_response('404 Not Found', [('Content-Type', 'text/plain'),
                                              ('Content-Length', '9')])
            return [b'Not Found']
        app = self.apps[script_name]
        environ = dict(environ)
        environ['SCRIPT_NAME'] = script_name
        environ['PATH_INFO'] = path[len(script_name):]
        return app(environ, start_response)
