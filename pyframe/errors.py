"""Exceptions a page handler raises to shape the response.

* :class:`HTTPError` answers with an error status and page.
* :class:`HTTPRedirect` sends the client elsewhere (3xx and Location).
* :class:`InternalRedirect` serves another path of the same application
  without the client noticing.
* :class:`NotFound` is the 404 :class:`HTTPError`.
* :class:`TimeoutError` is raised when a response ran past its timeout.
"""

from __future__ import annotations

import contextlib
import html
import traceback as _traceback
import urllib.parse

from .lib.httputil import valid_status

__all__ = [
    'PyframeException', 'HTTPError', 'HTTPRedirect', 'InternalRedirect',
    'NotFound', 'TimeoutError', 'format_exc', 'get_error_page',
    'clean_headers',
]


class PyframeException(Exception):
    """Base class for pyframe's own exceptions."""


class TimeoutError(PyframeException):
    """The response ran longer than ``response.timeout`` seconds."""


class InternalRedirect(PyframeException):
    """Serve another path of this application instead, within this request.

    ``raise InternalRedirect('/login?next=/cart')``: the client sees the
    login page at its original URL. The new request is a GET; it gets its
    own config for the new path and keeps the old request in
    ``request.prev``. A path without a leading slash is relative to the
    current one.
    """

    def __init__(self, path: str, query_string: str = '') -> None:
        from .context import serving

        request = serving.request
        self.query_string = query_string
        if '?' in path:
            path, self.query_string = path.split('?', 1)
        # Relative targets resolve against the current path, like links.
        self.path = urllib.parse.urljoin(request.path_info, path)
        self.request = request
        super().__init__(self.path, self.query_string)


# Characters that stay as they are in a Location header: everything legal
# in a URL, so that already-encoded URLs are not encoded twice.
_URL_SAFE = "/:?#[]@!$&'()*+,;=-._~%"


def _absolute_url(url: str) -> str:
    """Resolve ``url`` against the current request's URL and encode it."""
    if '\r' in url or '\n' in url:
        raise ValueError(f'Redirect URL {url!r} contains a line break')
    from .context import serving

    request = serving.request
    base = getattr(request, 'base', '') + request.script_name + request.path_info
    absolute = urllib.parse.urljoin(base, url)
    # Non-ASCII characters must be percent-encoded for a header value.
    return urllib.parse.quote(absolute, safe=_URL_SAFE)


_REDIRECT_TEMPLATES = {
    300: 'This resource can be found at ',
    301: 'This resource has permanently moved to ',
    302: 'This resource resides temporarily at ',
    303: 'This resource can be found at ',
    307: 'This resource has moved temporarily to ',
    308: 'This resource has been moved to ',
}


class HTTPRedirect(PyframeException):
    """Send the client to another URL (status 300-308).

    ``urls`` is one URL or a list (several make sense for 300 Multiple
    Choices); relative URLs resolve against the current request's URL, and
    line breaks are refused so a redirect can never inject headers.
    Without ``status``, HTTP/1.1 requests get 303 See Other and older ones
    302 Found.
    """

    def __init__(self, urls, status=None, encoding: str | None = None) -> None:
        from .context import serving

        if isinstance(urls, (str, bytes)):
            urls = [urls]
        urls = [u.decode(encoding or 'utf-8') if isinstance(u, bytes) else u for u in urls]
        self.urls = [_absolute_url(url) for url in urls]
        self.encoding = encoding or 'utf-8'
        if status is None:
            protocol = getattr(serving.request, 'protocol', (1, 1))
            status = 303 if protocol >= (1, 1) else 302
        else:
            status = int(status)
            if not 300 <= status <= 308 or status == 306:
                raise ValueError(f'status {status!r} is not a redirection (300-305, 307, 308)')
        self.status = status
        super().__init__(self.urls, status)

    @property
    def code(self) -> int:
        """The redirect's status code."""
        return self.status

    def __call__(self):
        """Raise this redirect: an instance can stand in for a handler."""
        raise self

    def set_response(self) -> None:
        """Put this redirect's status, Location and body on the response."""
        from .context import serving

        response = serving.response
        status = self.status
        response.status = status
        headers = response.headers
        if status == 304:
            # Not Modified carries no body and no entity headers.
            for key in ('Content-Type', 'Content-Length', 'Content-Language',
                        'Content-Location', 'Content-Range', 'Content-Encoding',
                        'Content-MD5', 'Expires', 'Last-Modified'):
                headers.pop(key, None)
            response.body = b''
            return
        headers['Location'] = self.urls[0]
        if status == 305:
            response.body = b''
            headers.pop('Content-Type', None)
            return
        headers['Content-Type'] = 'text/html;charset=utf-8'
        prefix = _REDIRECT_TEMPLATES.get(status, 'This resource can be found at ')
        body = '<br />\n'.join(
            f'{prefix}<a href="{html.escape(url)}">{html.escape(url)}</a>.'
            for url in self.urls
        )
        response.body = body.encode('utf-8', 'xmlcharrefreplace')
        headers.pop('Content-Length', None)


class HTTPError(PyframeException):
    """Answer the request with an error status and page.

    ``raise HTTPError(403, 'Members only')`` stops the handler; the client
    receives status 403 and an error page showing the message.
    """

    def __init__(self, status=500, message: str | None = None) -> None:
        self.status = status
        self.code, self.reason, description = valid_status(status)
        if self.code < 400 or self.code > 599:
            raise ValueError(f'status {status!r} is not an error; use 4xx or 5xx')
        self._message = message or description
        super().__init__(status, message)

    def __call__(self):
        """Raise this error: an instance can stand in for a page handler."""
        raise self

    @classmethod
    @contextlib.contextmanager
    def handle(cls, exception, status=500, message: str = ''):
        """Turn ``exception`` (a class or tuple) raised inside into this error.

        ``with HTTPError.handle(FileNotFoundError, 404): open(path)``
        """
        try:
            yield
        except exception as exc:
            raise cls(status, message or str(exc)) from exc

    def set_response(self) -> None:
        """Put this error's status, headers and page on the current response."""
        from .context import serving

        response = serving.response
        request = serving.request
        clean_headers(self.code)
        response.status = f'{self.code} {self.reason}'
        tb = format_exc() if getattr(request, 'show_tracebacks', False) else None
        response.headers.pop('Content-Length', None)
        # Set before the page is made: a callable error page may answer in
        # another type (JSON, say) and set its own Content-Type.
        response.headers['Content-Type'] = 'text/html;charset=utf-8'
        content = get_error_page(response.status, traceback=tb, message=self._message)
        response.body = content


class NotFound(HTTPError):
    """404: nothing answers at this path."""

    def __init__(self, path: str | None = None) -> None:
        if path is None:
            from .context import serving

            request = serving.request
            path = request.script_name + request.path_info
        self.args = (path,)
        HTTPError.__init__(self, 404, f"The path '{path}' was not found.")


# Headers that describe a response body which an error page replaces.
_ENTITY_HEADERS = (
    'Accept-Ranges', 'Age', 'Allow', 'Cache-Control', 'Content-Encoding',
    'Content-Language', 'Content-Length', 'Content-Location', 'Content-MD5',
    'Content-Range', 'Content-Type', 'ETag', 'Expires', 'Last-Modified',
    'Location', 'Retry-After', 'Vary',
)


def clean_headers(status: int) -> None:
    """Drop the headers of the page an error response replaces.

    ``Allow`` stays on 405 and ``Location`` on redirects, where they belong.
    """
    from .context import serving

    headers = serving.response.headers
    keep = {405: ('Allow',), 416: ('Content-Range',)}.get(status, ())
    for key in _ENTITY_HEADERS:
        if key not in keep:
            headers.pop(key, None)


def format_exc(exc_info=None) -> str:
    """Return the traceback of the exception being handled, as text."""
    if exc_info is None:
        return _traceback.format_exc()
    return ''.join(_traceback.format_exception(*exc_info))


_DEFAULT_PAGE = '''<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>%(status)s</title>
<style>
body { font-family: sans-serif; margin: 2em; }
#traceback { color: #800; white-space: pre-wrap; }
#powered { color: #777; font-size: small; }
</style>
</head>
<body>
<h2>%(status)s</h2>
<p>%(message)s</p>
<pre id="traceback">%(traceback)s</pre>
<p id="powered">Powered by pyframe %(version)s</p>
</body>
</html>
'''


def get_error_page(status, **fields) -> bytes:
    """Return the error page for ``status`` as bytes.

    ``fields`` may give ``message`` and ``traceback``. The page comes from
    ``request.error_page``: an entry for the status code (or ``'default'``)
    is either a template file path, filled with ``%(status)s``,
    ``%(message)s``, ``%(traceback)s`` and ``%(version)s``, or a callable
    taking those as keyword arguments and returning the page.
    """
    from . import __version__
    from .context import serving

    code, reason, description = valid_status(status)
    values = {
        'status': f'{code} {reason}',
        'message': fields.get('message') or description,
        'traceback': fields.get('traceback') or '',
        'version': __version__,
    }
    pages = getattr(serving.request, 'error_page', None) or {}
    source = pages.get(code) or pages.get(str(code)) or pages.get('default')
    template = _DEFAULT_PAGE
    if source is not None:
        try:
            if callable(source):
                result = source(**values)
                return result.encode('utf-8') if isinstance(result, str) else result
            with open(source, encoding='utf-8') as file:
                template = file.read()
        except Exception:
            # A broken custom page must not hide the original error: fall
            # back on the built-in page and say what went wrong with it.
            values['message'] += (
                f'\nIn addition, the custom error page failed:\n{format_exc()}'
            )
            template = _DEFAULT_PAGE
    escaped = {key: html.escape(str(value)) for key, value in values.items()}
    try:
        return (template % escaped).encode('utf-8')
    except (KeyError, ValueError, TypeError) as exc:
        values['message'] += f'\nIn addition, the error page template is invalid: {exc!r}'
        escaped = {key: html.escape(str(value)) for key, value in values.items()}
        return (_DEFAULT_PAGE % escaped).encode('utf-8')

