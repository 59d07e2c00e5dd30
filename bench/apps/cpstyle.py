"""The benchmark app for the CherryPy programming model.

pyframe and CherryPy 18 share one API, so one source serves both: the
caller passes the imported package (``pyframe`` or ``cherrypy``). That is
also a small proof of the compatibility claim.

Settings are what a production user would choose: ``environment:
'production'`` (no autoreload, no config checker, no tracebacks shown,
no screen logging) and otherwise each framework's default tools.
"""

from __future__ import annotations

import types
from typing import Any

from . import common


def _root(cp: types.ModuleType) -> Any:
    """Build the root object whose exposed methods are the endpoints."""

    class Root:
        @cp.expose
        def index(self) -> bytes:
            """The hello world page."""
            cp.response.headers['Content-Type'] = 'text/plain'
            return common.HELLO

        @cp.expose
        @cp.tools.json_out()
        def typical(self, name: str = 'world', count: str = '1') -> dict:
            """JSON from the query params, counting visits in the session."""
            visits = cp.session.get('visits', 0) + 1
            cp.session['visits'] = visits
            return common.typical_payload(name, int(count), visits)

        @cp.expose
        def upload(self, file: Any) -> str:
            """Read the uploaded part and answer its size."""
            size = 0
            # Read in blocks, as a handler storing the file would.
            for block in iter(lambda: file.file.read(65536), b''):
                size += len(block)
            return str(size)

    return Root()


def make_app(cp: types.ModuleType, static_dir: str, start_engine: bool = True) -> Any:
    """Mount the app on ``cp.tree`` and return the tree (the WSGI callable).

    With ``start_engine`` the engine starts without its HTTP server, as
    when the tree is handed to another WSGI server; otherwise the caller
    starts the engine (and so ``cp.server``) itself.
    """
    cp.config.update({'environment': 'production', 'log.screen': False})
    cp.tree.mount(_root(cp), '', {
        '/typical': {'tools.sessions.on': True},
        '/static': {
            'tools.staticdir.on': True,
            'tools.staticdir.dir': static_dir,
        },
    })
    if start_engine:
        cp.server.unsubscribe()
        cp.engine.start()
    return cp.tree


def shutdown(cp: types.ModuleType) -> None:
    """Stop the engine (and its threads) so the process can end."""
    cp.engine.exit()
