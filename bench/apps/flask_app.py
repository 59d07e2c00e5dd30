"""The benchmark app on Flask."""

from __future__ import annotations

from typing import Any

import flask

from . import common

#: Flask's built-in session lives in a signed cookie, not on the server.
SESSIONS = False


def make_app(static_dir: str) -> Any:
    """Return a Flask application serving the benchmark endpoints."""
    app = flask.Flask(__name__, static_folder=static_dir, static_url_path='/static')

    @app.get('/')
    def hello() -> Any:
        return common.HELLO, 200, {'Content-Type': 'text/plain'}

    @app.get('/typical')
    def typical() -> dict:
        args = flask.request.args
        # Flask sends a returned dict as JSON.
        return common.typical_payload(args.get('name', 'world'),
                                      int(args.get('count', '1')))

    @app.post('/upload')
    def upload() -> str:
        handle = flask.request.files['file'].stream
        size = 0
        for block in iter(lambda: handle.read(65536), b''):
            size += len(block)
        return str(size)

    return app
