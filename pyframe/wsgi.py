"""The WSGI side of an application: from ``environ`` to a response.

:func:`respond` builds the Request and Response for one WSGI call, runs
the dispatcher and the page handler, turns exceptions into error pages and
hands status, headers and body back to the WSGI server.
"""

from __future__ import annotations

import logging

from .context import serving
from .dispatch import Dispatcher
from .errors import HTTPError, HTTPRedirect, format_exc
from .lib.httputil import Host, valid_status

__all__ = ['respond']

_default_dispatcher = Dispatcher()


def _hosts(environ: dict) -> tuple[Host, Host]:
    local = Host(environ.get('SERVER_NAME', ''), int(environ.get('SERVER_PORT') or 80))
    remote = Host(
        environ.get('REMOTE_ADDR', ''),
        int(environ.get('REMOTE_PORT') or -1),
        environ.get('REMOTE_HOST'),
    )
    return local, remote


def _wsgi_path(environ: dict, key: str) -> str:
    # PEP 3333 hands paths over as latin-1 decoded bytes; URLs are UTF-8.
    raw = environ.get(key, '')
    try:
        return raw.encode('latin-1').decode('utf-8')
    except UnicodeError:
        return raw


def _base_url(environ: dict) -> str:
    """``scheme://host[:port]`` as the client addressed this server."""
    scheme = environ.get('wsgi.url_scheme', 'http')
    host = environ.get('HTTP_HOST')
    if not host:
        host = environ.get('SERVER_NAME', '')
        port = environ.get('SERVER_PORT', '')
        if port and port != ('443' if scheme == 'https' else '80'):
            host = f'{host}:{port}'
    return f'{scheme}://{host}'


def _body_bytes(body) -> bytes:
    if body is None:
        return b''
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode('utf-8')
    return b''.join(
        chunk.encode('utf-8') if isinstance(chunk, str) else chunk for chunk in body
    )


def respond(app, environ: dict, start_response):
    """Serve one WSGI call for ``app``; return the response body iterable."""
    local, remote = _hosts(environ)
    request = app.request_class(
        local, remote, environ.get('wsgi.url_scheme', 'http'),
        environ.get('SERVER_PROTOCOL', 'HTTP/1.1'),
    )
    response = app.response_class()
    serving.load(request, response)
    try:
        request.app = app
        request.wsgi_environ = environ
        request.method = environ.get('REQUEST_METHOD', 'GET')
        request.script_name = _wsgi_path(environ, 'SCRIPT_NAME')
        request.path_info = _wsgi_path(environ, 'PATH_INFO') or '/'
        request.query_string = environ.get('QUERY_STRING', '')
        request.base = _base_url(environ)
        try:
            _default_dispatcher(request.path_info)
            response.body = _body_bytes(request.handler())
        except (HTTPError, HTTPRedirect) as error:
            error.set_response()
        except Exception:
            app.log.error(format_exc(), 'HTTP', severity=logging.ERROR)
            HTTPError(500).set_response()

        body = response.body if isinstance(response.body, bytes) else _body_bytes(response.body)
        if request.method == 'HEAD':
            payload = []
        else:
            payload = [body]
        code, reason, _ = valid_status(response.status)
        headers = dict(response.headers)
        if code in (204, 304) or code < 200:
            # These statuses never carry a body (RFC 9110, 6.4.1).
            payload = []
            headers.pop('Content-Length', None)
        else:
            headers['Content-Length'] = str(len(body))
        start_response(f'{code} {reason}', list(headers.items()))
        return payload
    finally:
        serving.clear()
