"""The benchmark app on Bottle."""

from __future__ import annotations

from typing import Any

import bottle

from . import common

#: Bottle has no server-side sessions.
SESSIONS = False


def make_app(static_dir: str) -> Any:
    """Return a Bottle application serving the benchmark endpoints."""
    app = bottle.Bottle()

    @app.get('/')
    def hello() -> bytes:
        bottle.response.content_type = 'text/plain'
        return common.HELLO

    @app.get('/typical')
    def typical() -> dict:
        query = bottle.request.query
        # A dict return value is sent as JSON by Bottle's default plugin.
        return common.typical_payload(query.get('name', 'world'),
                                      int(query.get('count', '1')))

    @app.get('/static/<filename:path>')
    def static(filename: str) -> Any:
        return bottle.static_file(filename, root=static_dir)

    @app.post('/upload')
    def upload() -> str:
        handle = bottle.request.files.get('file').file
        size = 0
        for block in iter(lambda: handle.read(65536), b''):
            size += len(block)
        return str(size)

    return app
