"""The benchmark app on Falcon."""

from __future__ import annotations

from typing import Any

import falcon

from . import common

#: Falcon has no sessions.
SESSIONS = False


class _Hello:
    def on_get(self, req: Any, resp: Any) -> None:
        resp.content_type = falcon.MEDIA_TEXT
        resp.data = common.HELLO


class _Typical:
    def on_get(self, req: Any, resp: Any) -> None:
        resp.media = common.typical_payload(req.get_param('name', default='world'),
                                            req.get_param_as_int('count', default=1))


class _Upload:
    def on_post(self, req: Any, resp: Any) -> None:
        size = 0
        for part in req.get_media():
            if part.name == 'file':
                for block in iter(lambda: part.stream.read(65536), b''):
                    size += len(block)
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = str(size)


def make_app(static_dir: str) -> Any:
    """Return a Falcon application serving the benchmark endpoints."""
    app = falcon.App()
    app.add_route('/', _Hello())
    app.add_route('/typical', _Typical())
    app.add_route('/upload', _Upload())
    app.add_static_route('/static', static_dir)
    return app
