"""Client: call a pyframe application in-process, without a socket.

The client builds a WSGI environ for each request, calls the application
(a :class:`pyframe.Tree`, an :class:`pyframe.Application`, any WSGI
callable, or a root object it mounts on a fresh tree) and returns a
:class:`Response`. Cookies set by the application are kept in a small
jar and sent back on later requests, so sessions work across calls.
"""

from __future__ import annotations

import io
import json as _json
import mimetypes
import time
import uuid
from email.utils import parsedate_to_datetime
from http.cookies import CookieError, SimpleCookie
from typing import Any
from urllib.parse import urlencode

import pyframe
from pyframe.lib.httputil import HeaderMap

from .asserts import ResponseAssertions

__all__ = ['Client', 'Response']

_ASSERTIONS = ('assertStatus', 'assertHeader', 'assertNoHeader', 'assertBody',
               'assertInBody', 'assertNotInBody', 'assertMatchesBody', 'assertErrorPage')


class Response(ResponseAssertions):
    """One response: ``status`` ('200 OK'), ``status_code`` (200),
    ``headers`` (case-insensitive; ``header_list`` keeps every pair in
    order), ``body`` (bytes), ``text`` and :meth:`json`. It also carries
    the ``assert*`` methods of :class:`~pyframe.testing.WebCase`."""

    def __init__(self, status: str, header_list: list[tuple[str, str]], body: bytes,
                 request: str = '') -> None:
        self.status = status
        self.header_list = header_list
        self.headers = HeaderMap(header_list)
        self.body = body
        self._last_request = request

    def _header_pairs(self) -> list[tuple[str, str]]:
        return self.header_list

    @property
    def status_code(self) -> int:
        """The status as a number (200)."""
        return int(self.status.split(' ', 1)[0])

    @property
    def charset(self) -> str:
        """The charset of the Content-Type header (default utf-8)."""
        for element in self.headers.elements('Content-Type')[:1]:
            charset = element.params.get('charset')
            if charset:
                return charset
        return 'utf-8'

    @property
    def text(self) -> str:
        """The body decoded with :attr:`charset`."""
        return self.body.decode(self.charset, 'replace')

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.body.decode(self.charset))

    def get_all(self, name: str) -> list[str]:
        """Every value of header ``name``, in order."""
        key = name.lower()
        return [value for header, value in self.header_list if header.lower() == key]

    def __repr__(self) -> str:
        return f'<Response {self.status!r} ({len(self.body)} bytes)>'


class _CookieJar:
    """name -> (value, path, expires-at or None); no domain matching, since
    every request goes to the same application."""

    def __init__(self) -> None:
        self.cookies: dict[str, tuple[str, str, float | None]] = {}

    def update_from(self, set_cookie_values: list[str]) -> None:
        for raw in set_cookie_values:
            parsed = SimpleCookie()
            try:
                parsed.load(raw)
            except CookieError:
                continue
            for name, morsel in parsed.items():
                expires_at = None
                if morsel['max-age'] != '':
                    try:
                        expires_at = time.time() + int(morsel['max-age'])
                    except ValueError:
                        pass
                elif morsel['expires']:
                    try:
                        expires_at = parsedate_to_datetime(morsel['expires']).timestamp()
                    except (TypeError, ValueError):
                        pass
                if expires_at is not None and expires_at <= time.time():
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = (morsel.value, morsel['path'] or '/', expires_at)

    def header_for(self, path: str) -> str | None:
        now = time.time()
        for name, (_, _, expires_at) in list(self.cookies.items()):
            if expires_at is not None and expires_at <= now:
                del self.cookies[name]
        pairs = [f'{name}={value}' for name, (value, cookie_path, _) in self.cookies.items()
                 if path.startswith(cookie_path.rstrip('/') + '/') or path == cookie_path
                 or cookie_path == '/']
        return '; '.join(pairs) or None

    def __getitem__(self, name: str) -> str:
        return self.cookies[name][0]

    def __contains__(self, name: object) -> bool:
        return name in self.cookies

    def clear(self) -> None:
        self.cookies.clear()


def _file_part(name: str, spec: Any) -> tuple[str, bytes, str]:
    """(filename, content, content type) from a ``files`` value."""
    content_type = None
    if isinstance(spec, tuple):
        filename, content = spec[0], spec[1]
        if len(spec) > 2:
            content_type = spec[2]
    else:
        filename, content = getattr(spec, 'name', name), spec
    if hasattr(content, 'read'):
        content = content.read()
    if isinstance(content, str):
        content = content.encode('utf-8')
    filename = str(filename).replace('\\', '/').rsplit('/', 1)[-1]
    content_type = (content_type or mimetypes.guess_type(filename)[0]
                    or 'application/octet-stream')
    return filename, content, content_type


def _multipart(fields: dict, files: dict) -> tuple[bytes, str]:
    boundary = 'pyframe-' + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        for item in (value if isinstance(value, (list, tuple)) else [value]):
            out.write(f'--{boundary}\r\nContent-Disposition: form-data; '
                      f'name="{name}"\r\n\r\n'.encode('utf-8'))
            out.write(item if isinstance(item, bytes) else str(item).encode('utf-8'))
            out.write(b'\r\n')
    for name, spec in files.items():
        filename, content, content_type = _file_part(name, spec)
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                  f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
                  .encode('utf-8'))
        out.write(content)
        out.write(b'\r\n')
    out.write(f'--{boundary}--\r\n'.encode('ascii'))
    return out.getvalue(), f'multipart/form-data; boundary={boundary}'


class Client:
    """Make requests to a WSGI application in-process.

    ``Client(app)`` takes a Tree, an Application or any WSGI callable;
    ``Client(root, config=..., script_name=...)`` mounts a root object on
    a new :class:`pyframe.Tree` first. After each request the response is
    also available as :attr:`response`, and the client's ``assert*``
    methods check it (``client.get('/'); client.assertStatus(200)``).
    """

    def __init__(self, app_or_tree: Any, config: Any = None, script_name: str = '',
                 host: str = '127.0.0.1', headers: dict | None = None) -> None:
        if isinstance(app_or_tree, (pyframe.Tree, pyframe.Application)) or (
                callable(app_or_tree) and not hasattr(app_or_tree, 'exposed')
                and not isinstance(app_or_tree, type) and config is None
                and not script_name):
            self.app = app_or_tree
        else:
            self.app = pyframe.Tree()
            self.app.mount(app_or_tree, script_name, config)
        self.host = host
        #: Headers sent with every request (a request's own win).
        self.default_headers = dict(headers or {})
        #: The cookies the application has set (``'name' in client.cookies``).
        self.cookies = _CookieJar()
        #: The last response, or None.
        self.response: Response | None = None

    # -- requests -----------------------------------------------------------

    def request(self, method: str, path: str = '/', params=None, data=None, json=None,
                files=None, headers=None) -> Response:
        """Send one request and return its :class:`Response`.

        ``params`` (a dict or list of pairs) is added to the query string;
        ``data`` is a dict (form-encoded), str or bytes body; ``json`` is
        sent as ``application/json``; ``files`` maps field names to
        ``(filename, content[, content type])`` or open files and sends
        ``multipart/form-data`` (with the ``data`` dict as plain fields).
        """
        method = method.upper()
        path, _, query = path.partition('?')
        if not path.startswith('/'):
            path = '/' + path
        if params:
            query = '&'.join(filter(None, [query, urlencode(params, doseq=True)]))
        body, content_type = b'', None
        if files:
            body, content_type = _multipart(dict(data or {}), files)
        elif json is not None:
            body, content_type = _json.dumps(json).encode('utf-8'), 'application/json'
        elif isinstance(data, (dict, list, tuple)):
            body = urlencode(data, doseq=True).encode('ascii')
            content_type = 'application/x-www-form-urlencoded'
        elif data is not None:
            body = data.encode('utf-8') if isinstance(data, str) else bytes(data)
        all_headers = dict(self.default_headers)
        if isinstance(headers, dict):
            all_headers.update(headers)
        else:
            all_headers.update(dict(headers or []))
        lowered = {name.lower() for name in all_headers}
        if content_type and 'content-type' not in lowered:
            all_headers['Content-Type'] = content_type
        cookie = self.cookies.header_for(path)
        if cookie and 'cookie' not in lowered:
            all_headers['Cookie'] = cookie
        environ = self._environ(method, path, query, body, all_headers)
        target = path + ('?' + query if query else '')
        self.response = self._call(environ, f'{method} {target}')
        self.cookies.update_from(self.response.get_all('Set-Cookie'))
        return self.response

    def _environ(self, method: str, path: str, query: str, body: bytes,
                 headers: dict) -> dict:
        environ = {
            'REQUEST_METHOD': method,
            'SCRIPT_NAME': '',
            # WSGI carries the path as latin-1 decoded bytes (PEP 3333).
            'PATH_INFO': path.encode('utf-8').decode('latin-1'),
            'QUERY_STRING': query,
            'SERVER_NAME': self.host,
            'SERVER_PORT': '80',
            'SERVER_PROTOCOL': 'HTTP/1.1',
            'REMOTE_ADDR': '127.0.0.1',
            'REMOTE_PORT': '50000',
            'HTTP_HOST': self.host,
            'wsgi.version': (1, 0),
            'wsgi.url_scheme': 'http',
            'wsgi.input': io.BytesIO(body),
            'wsgi.errors': io.StringIO(),
            'wsgi.multithread': False,
            'wsgi.multiprocess': False,
            'wsgi.run_once': False,
        }
        if body:
            environ['CONTENT_LENGTH'] = str(len(body))
        for name, value in headers.items():
            key = name.upper().replace('-', '_')
            if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
                key = 'HTTP_' + key
            environ[key] = str(value)
        return environ

    def _call(self, environ: dict, description: str) -> Response:
        seen: dict[str, Any] = {}
        written: list[bytes] = []

        def start_response(status, response_headers, exc_info=None):
            if exc_info and seen.get('sent'):
                raise exc_info[1].with_traceback(exc_info[2])
            seen['status'] = status
            seen['headers'] = list(response_headers)
            return written.append

        result = self.app(environ, start_response)
        try:
            for chunk in result:
                if chunk:
                    seen['sent'] = True
                    written.append(chunk)
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                close()
        if 'status' not in seen:
            raise AssertionError(f'{description}: the application never called start_response')
        body = b''.join(written)
        if environ['REQUEST_METHOD'] == 'HEAD':
            body = b''
        return Response(seen['status'], seen['headers'], body, description)

    def get(self, path: str = '/', **kwargs: Any) -> Response:
        """Send a GET request; the keyword arguments are those of :meth:`request`."""
        return self.request('GET', path, **kwargs)

    def post(self, path: str = '/', **kwargs: Any) -> Response:
        """Send a POST request; the keyword arguments are those of :meth:`request`."""
        return self.request('POST', path, **kwargs)

    def put(self, path: str = '/', **kwargs: Any) -> Response:
        """Send a PUT request; the keyword arguments are those of :meth:`request`."""
        return self.request('PUT', path, **kwargs)

    def delete(self, path: str = '/', **kwargs: Any) -> Response:
        """Send a DELETE request; the keyword arguments are those of :meth:`request`."""
        return self.request('DELETE', path, **kwargs)

    def head(self, path: str = '/', **kwargs: Any) -> Response:
        """Send a HEAD request; the keyword arguments are those of :meth:`request`."""
        return self.request('HEAD', path, **kwargs)

    def patch(self, path: str = '/', **kwargs: Any) -> Response:
        """Send a PATCH request; the keyword arguments are those of :meth:`request`."""
        return self.request('PATCH', path, **kwargs)

    # -- the last response ----------------------------------------------------

    @property
    def status(self) -> str | None:
        """The status line of the last response ('200 OK'), or None."""
        return self.response.status if self.response else None

    @property
    def headers(self) -> HeaderMap | None:
        """The headers of the last response, or None."""
        return self.response.headers if self.response else None

    @property
    def body(self) -> bytes | None:
        """The body of the last response (bytes), or None."""
        return self.response.body if self.response else None


def _delegate(name: str):
    def method(self: Client, *args: Any, **kwargs: Any):
        if self.response is None:
            raise AssertionError(f'No response yet: make a request before {name}.')
        return getattr(self.response, name)(*args, **kwargs)

    method.__name__ = name
    method.__doc__ = f'Check the last response: see :meth:`Response.{name}`.'
    return method


for _name in _ASSERTIONS:
    setattr(Client, _name, _delegate(_name))
del _name
