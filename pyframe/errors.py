"""Exceptions a page handler raises to shape the response."""

from __future__ import annotations

import html
import traceback as _traceback

from .lib.httputil import valid_status

__all__ = ['PyframeException', 'HTTPError', 'NotFound', 'format_exc']


class PyframeException(Exception):
    """Base class for pyframe's own exceptions."""


class HTTPError(PyframeException):
    """Answer the request with an error status and page.

    ``raise HTTPError(403, 'Members only')`` stops the handler; the client
    receives status 403 and an error page showing the message.
    """

    def __init__(self, status=500, message: str | None = None) -> None:
        self.status = status
        self.code, self.reason, description = valid_status(status)
        if self.code < 400:
            raise ValueError(f'status {status!r} is not an error; use 4xx or 5xx')
        self._message = message or description
        super().__init__(status, message)

    def __call__(self):
        """Raise this error: an instance can stand in for a page handler."""
        raise self

    def set_response(self) -> None:
        """Put this error's status, headers and page on the current response."""
        from .context import serving

        response = serving.response
        request = serving.request
        response.status = f'{self.code} {self.reason}'
        tb = None
        if getattr(request, 'show_tracebacks', False):
            tb = format_exc()
        response.headers.pop('Content-Length', None)
        response.headers['Content-Type'] = 'text/html;charset=utf-8'
        response.body = error_page(response.status, self._message, tb).encode('utf-8')


class NotFound(HTTPError):
    """404: nothing answers at this path."""

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            from .context import serving

            request = serving.request
            path = request.script_name + request.path_info
        self.args = (path,)
        HTTPError.__init__(self, 404, f"The path '{path}' was not found.")


def format_exc(exc_info=None) -> str:
    """Return the traceback of the exception being handled, as text."""
    if exc_info is None:
        return _traceback.format_exc()
    return ''.join(_traceback.format_exception(*exc_info))


def error_page(status: str, message: str, traceback: str | None = None) -> str:
    """Return the default HTML page for an error response."""
    from . import __version__

    parts = [
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n',
        f'<title>{html.escape(status)}</title>\n</head>\n<body>\n',
        f'<h2>{html.escape(status)}</h2>\n<p>{html.escape(message)}</p>\n',
    ]
    if traceback:
        parts.append(f'<pre id="traceback">{html.escape(traceback)}</pre>\n')
    parts.append(f'<p><small>Powered by pyframe {__version__}</small></p>\n</body>\n</html>\n')
    return ''.join(parts)
