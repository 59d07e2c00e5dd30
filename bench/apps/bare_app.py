"""The benchmark app as a bare WSGI callable: the floor the others stand on.

No framework: a dict maps paths to functions, the static file is streamed
by hand, and the upload's single part is located with two byte searches
(enough for this benchmark's well-formed body, not a general parser).
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Iterable
from urllib.parse import parse_qs

from . import common

#: No sessions: ``/typical`` returns the payload without ``visits``.
SESSIONS = False

_Start = Callable[..., Any]


def _hello(environ: dict, start_response: _Start) -> Iterable[bytes]:
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(common.HELLO)))])
    return [common.HELLO]


def _typical(environ: dict, start_response: _Start) -> Iterable[bytes]:
    query = parse_qs(environ.get('QUERY_STRING', ''))
    name = query.get('name', ['world'])[0]
    count = int(query.get('count', ['1'])[0])
    body = json.dumps(common.typical_payload(name, count)).encode()
    start_response('200 OK', [('Content-Type', 'application/json'),
                              ('Content-Length', str(len(body)))])
    return [body]


def _file_blocks(handle: Any) -> Iterable[bytes]:
    # A generator's close() runs the finally, so the server closes the file.
    try:
        yield from iter(lambda: handle.read(65536), b'')
    finally:
        handle.close()


def _static(static_dir: str) -> Callable[[dict, _Start], Iterable[bytes]]:
    path = os.path.join(static_dir, common.STATIC_NAME)

    def serve(environ: dict, start_response: _Start) -> Iterable[bytes]:
        handle = open(path, 'rb')
        size = os.fstat(handle.fileno()).st_size
        start_response('200 OK', [('Content-Type', 'application/octet-stream'),
                                  ('Content-Length', str(size))])
        wrapper = environ.get('wsgi.file_wrapper')
        return wrapper(handle, 65536) if wrapper else _file_blocks(handle)

    return serve


def _upload(environ: dict, start_response: _Start) -> Iterable[bytes]:
    length = int(environ.get('CONTENT_LENGTH') or 0)
    data = environ['wsgi.input'].read(length)
    boundary = environ['CONTENT_TYPE'].partition('boundary=')[2].encode()
    start = data.index(b'\r\n\r\n') + 4
    end = data.rindex(b'\r\n--' + boundary)
    body = str(end - start).encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(body)))])
    return [body]


def make_app(static_dir: str) -> Callable[[dict, _Start], Iterable[bytes]]:
    """Return the bare WSGI callable serving the benchmark endpoints."""
    routes = {
        '/': _hello,
        '/typical': _typical,
        f'/static/{common.STATIC_NAME}': _static(static_dir),
        '/upload': _upload,
    }

    def application(environ: dict, start_response: _Start) -> Iterable[bytes]:
        handler = routes.get(environ.get('PATH_INFO', ''))
        if handler is None:
            start_response('404 Not Found', [('Content-Type', 'text/plain'),
                                             ('Content-Length', '0')])
            return [b'']
        return handler(environ, start_response)

    return application
