"""The Request and Response objects, and the hooks that run between them.

A request goes through fixed stages; at eight of them, *hook points*, the
callbacks attached to ``request.hooks`` run (tools attach theirs there):

``on_start_resource``      the handler and config are known
``before_request_body``    the body is about to be read
``before_handler``         the page handler is about to be called
``before_finalize``        the handler returned; status/headers not final
``on_end_resource``        the response is complete (maybe not sent)
``before_error_response``  an unexpected error is about to become a page
``after_error_response``   the error page is set, not yet finalized
``on_end_request``         everything was written to the client

Both objects are created for every request, so they stay cheap: class
attributes carry the defaults (config keys ``request.*`` and
``response.*`` override them per request).
"""

from __future__ import annotations

import bisect
import http.cookies
import re
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from .body import RequestBody
from .context import serving
from .dispatch import Dispatcher, LateParamPageHandler, _explain_type_error, _invoke
from .errors import HTTPError, HTTPRedirect, InternalRedirect, NotFound
from .errors import TimeoutError as ResponseTimeout
from .errors import format_exc
from .lib import httputil, reprconf
from .lib.encoding import ResponseEncoder, encode_handler_body
from .log import log_request_error

__all__ = ['Hook', 'HookMap', 'Request', 'Response', 'hookpoints', 'translate_headers']

#: The hook points, in the order a successful request reaches them.
hookpoints = (
    'on_start_resource', 'before_request_body', 'before_handler',
    'before_finalize', 'on_end_resource', 'on_end_request',
    'before_error_response', 'after_error_response',
)
_HOOKPOINTS = frozenset(hookpoints)

# A Cookie header of plain name=value pairs (token names, unquoted values):
# what nearly every client sends, and safe to split by hand.
_COOKIE_NAME = r"[A-Za-z0-9!#%&'*+\-.^_`|~]+"
_COOKIE_VALUE = r"[A-Za-z0-9!#%&'()*+\-./:<>?@\[\]^_`{|}~]*"
_PLAIN_COOKIES = re.compile(
    rf'{_COOKIE_NAME}={_COOKIE_VALUE}(?:; ?{_COOKIE_NAME}={_COOKIE_VALUE})*;?')

# A client sends the same Cookie header on each of its requests: plain
# headers -> their name -> value dict (None: not plain), a bounded cache.
_cookie_pairs: dict[str, dict[str, str] | None] = {}


def _plain_cookie_pairs(header: str) -> dict[str, str] | None:
    """The cookies of a plain Cookie header by name, or None if not plain."""
    try:
        return _cookie_pairs[header]
    except KeyError:
        pass
    pairs = None
    if _PLAIN_COOKIES.fullmatch(header):
        pairs = {}
        for pair in header.split(';'):
            key, _, found = pair.strip().partition('=')
            pairs[key] = found  # the last one wins, as in SimpleCookie
    if len(_cookie_pairs) >= 1024:
        _cookie_pairs.clear()
    _cookie_pairs[header] = pairs
    return pairs


# Names the stdlib parser reads as attributes of the previous cookie.
_COOKIE_ATTRIBUTES = frozenset(http.cookies.Morsel._reserved)

# CGI-style environ keys that carry request headers without an HTTP_ prefix.
_SPECIAL_HEADERS = {
    'CONTENT_TYPE': 'Content-Type',
    'CONTENT_LENGTH': 'Content-Length',
    'HTTP_CGI_AUTHORIZATION': 'Authorization',
}
# HTTP_FOO_BAR -> Foo-Bar, computed once per distinct key.
_header_names: dict[str, str] = {}
# The other way: Foo-Bar -> HTTP_FOO_BAR, for single-header lookups.
# Authorization may arrive under two keys, so it always goes through the map.
_ENVIRON_KEYS: dict[str, str | None] = {
    'Content-Type': 'CONTENT_TYPE', 'Content-Length': 'CONTENT_LENGTH', 'Authorization': None,
    'Host': 'HTTP_HOST', 'Transfer-Encoding': 'HTTP_TRANSFER_ENCODING',
    'Accept-Charset': 'HTTP_ACCEPT_CHARSET', 'Accept-Encoding': 'HTTP_ACCEPT_ENCODING',
    'Cookie': 'HTTP_COOKIE',
}


def translate_headers(environ: dict) -> list[tuple[str, str]]:
    """Return the request headers of a WSGI environ as (name, value) pairs."""
    headers = []
    for key, value in environ.items():
        name = _header_names.get(key)
        if name is None:
            if key in _SPECIAL_HEADERS:
                name = _SPECIAL_HEADERS[key]
            elif key.startswith('HTTP_'):
                name = key[5:].replace('_', '-').title()
            else:
                continue
            if len(_header_names) < 1024:
                _header_names[key] = name
        headers.append((name, value))
    return headers


# (client protocol, server protocol) -> the version in effect.
_protocols: dict[tuple[str, str], tuple[int, int]] = {}


def _protocol(req_protocol: str, server_protocol: str) -> tuple[int, int]:
    protocol = min(httputil.protocol_from_http(req_protocol),
                   httputil.protocol_from_http(server_protocol))
    if len(_protocols) < 64:
        _protocols[(req_protocol, server_protocol)] = protocol
    return protocol


def _priority(hook: Hook) -> int:
    return hook.priority


class Hook:
    """A callback attached to a hook point, with its keyword arguments.

    ``priority`` (1-100, lower runs first; default 50 or the callback's own
    ``priority`` attribute) orders hooks of one point; equal priorities
    run in the order they were attached. A ``failsafe`` hook still runs
    after an earlier hook of its point failed.
    """

    __slots__ = ('callback', 'failsafe', 'priority', 'kwargs')

    def __init__(self, callback: Callable, failsafe: bool | None = None,
                 priority: int | None = None, **kwargs: Any) -> None:
        self.callback = callback
        self.failsafe = getattr(callback, 'failsafe', False) if failsafe is None else failsafe
        self.priority = getattr(callback, 'priority', 50) if priority is None else priority
        self.kwargs = kwargs

    def __lt__(self, other: Hook) -> bool:
        return self.priority < other.priority

    def __call__(self) -> Any:
        return self.callback(**self.kwargs)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(callback={self.callback!r}, '
                f'failsafe={self.failsafe!r}, priority={self.priority!r}, '
                f'kwargs={self.kwargs!r})')


def run_hooks(point: str, hooks: tuple) -> None:
    """Run ``hooks`` (of hook ``point``) as :meth:`HookMap.run` does."""
    if len(hooks) == 1:
        # One hook, the usual case: its own failure is the one raised.
        hook = hooks[0]
        try:
            if type(hook) is Hook:
                hook.callback(**hook.kwargs)
            else:
                hook()
        except (KeyboardInterrupt, SystemExit, HTTPError, HTTPRedirect, InternalRedirect):
            raise
        except Exception:
            log_request_error(f'Error in {point!r} hook {hook.callback!r}')
            raise
        return
    failure = None
    for hook in hooks:
        if failure is None or hook.failsafe:
            try:
                if type(hook) is Hook:
                    hook.callback(**hook.kwargs)  # Hook.__call__, minus a frame
                else:
                    hook()
            except (KeyboardInterrupt, SystemExit):
                raise
            except (HTTPError, HTTPRedirect, InternalRedirect) as exc:
                failure = failure or exc
            except Exception as exc:
                failure = failure or exc
                log_request_error(f'Error in {point!r} hook {hook.callback!r}')
    if failure is not None:
        raise failure


class HookMap(dict):
    """Hook point name -> list of :class:`Hook`, kept in run order.

    Points nobody attached to are absent, so running them costs one dict
    lookup; reading ``hooks[point]`` for a known point gives a list.
    """

    def __init__(self, points=None) -> None:
        super().__init__()
        for point in points or ():
            self[point] = []

    def __missing__(self, point: str) -> list:
        if point not in _HOOKPOINTS:
            raise KeyError(point)
        hooks = self[point] = []
        return hooks

    def attach(self, point: str, callback: Callable, failsafe: bool | None = None,
               priority: int | None = None, **kwargs: Any) -> None:
        """Attach ``callback`` (called with ``kwargs``) to hook ``point``."""
        if point not in _HOOKPOINTS:
            raise ValueError(f'{point!r} is not a hook point; use one of {", ".join(hookpoints)}')
        self.add(point, Hook(callback, failsafe, priority, **kwargs))

    def add(self, point: str, hook: Hook) -> None:
        """Insert a ready :class:`Hook` at ``point`` in priority order."""
        hooks = self[point]
        if type(hooks) is not list:
            # A request plan's shared tuple: this request gets its own list.
            hooks = list(hooks)
            dict.__setitem__(self, point, hooks)
        # insort_right keeps attach order among equal priorities.
        bisect.insort_right(hooks, hook, key=_priority)

    def run(self, point: str) -> None:
        """Run the hooks of ``point``.

        After a hook fails, only failsafe hooks still run; then the first
        failure is raised. Unexpected exceptions are logged with their
        traceback as they happen, so later failures cannot hide them.
        """
        hooks = self.get(point)
        if hooks:
            # A snapshot: hooks attached meanwhile wait for the next run.
            run_hooks(point, tuple(hooks))

    def copy(self) -> HookMap:
        """Return a copy whose lists can change without touching this one."""
        new = type(self)()
        for point, hooks in self.items():
            new[point] = list(hooks)
        return new

    def __repr__(self) -> str:
        return f'{type(self).__module__}.{type(self).__name__}({dict.__repr__(self)})'


# -- request-scope config namespaces ------------------------------------------


def hook_from_config(value: Any) -> Hook:
    """The Hook of a ``hooks.<point>`` config value: a Hook, a callable,
    or the dotted name of one."""
    if isinstance(value, str):
        value = reprconf.attributes(value)
    if not isinstance(value, Hook):
        value = Hook(value)
    return value


def _hooks_namespace(key: str, value: Any) -> None:
    """``hooks.<point> = callable`` attaches a hook to the current request."""
    serving.request.hooks.add(key.split('.', 1)[0], hook_from_config(value))


def _request_namespace(key: str, value: Any) -> None:
    """``request.<attr>`` (and ``request.body.<attr>``) set request attributes."""
    request = serving.request
    if key.startswith('body.'):
        setattr(request.body, key[5:], value)
    else:
        setattr(request, key, value)


def _response_namespace(key: str, value: Any) -> None:
    """``response.<attr>`` sets response attributes; ``response.headers.<name>``
    sets a response header."""
    response = serving.response
    if key.startswith('headers.'):
        response.headers[key[8:]] = value
    else:
        setattr(response, key, value)


def _error_page_namespace(key: str, value: Any) -> None:
    """``error_page.<status>`` / ``error_page.default``: a template path or callable."""
    request = serving.request
    if 'error_page' not in vars(request):
        # Copy before writing: the class-level dict is every request's default.
        request.error_page = dict(request.error_page)
    request.error_page[key if key == 'default' else int(key)] = value


def _default_error_response() -> None:
    HTTPError(500).set_response()


class _LazyUUID4:
    """A UUID made only when somebody looks at it (the access log may)."""

    __slots__ = ('_uuid',)

    def __init__(self) -> None:
        self._uuid = None

    def __str__(self) -> str:
        if self._uuid is None:
            self._uuid = uuid.uuid4()
        return str(self._uuid)

    def uuid4(self) -> uuid.UUID:
        """Return (and create on first use) the UUID."""
        str(self)
        return self._uuid


_DEFAULT_LOCAL = httputil.Host('127.0.0.1', 80)
_DEFAULT_REMOTE = httputil.Host('127.0.0.1', 1111)


class Request:
    """One HTTP request, as the application sees it (``pyframe.request``)."""

    #: The request this one replaced by an InternalRedirect, or None.
    prev = None
    #: 'http' or 'https', as the server received it.
    scheme = 'http'
    #: The protocol the server speaks, e.g. 'HTTP/1.1'.
    server_protocol = 'HTTP/1.1'
    #: ``scheme://host[:port]`` the client used (from the Host header).
    base = ''
    #: The HTTP method, e.g. 'GET'.
    method = 'GET'
    #: The raw query string (without '?').
    query_string = ''
    #: The charset query strings are decoded with; others give 404.
    query_string_encoding = 'utf8'
    #: The HTTP version in effect: the lower of the client's and the server's.
    protocol = (1, 1)
    #: Parameters from the query string and the body; repeated keys give lists.
    params: dict = {}
    #: The WSGI environ the request came from (None outside of WSGI).
    wsgi_environ = None
    #: The request body stream (``wsgi.input``).
    rfile = None
    #: Read and parse the body before the handler runs.
    process_request_body = True
    #: Methods whose requests carry a body to process.
    methods_with_bodies = ('POST', 'PUT', 'PATCH')
    #: The dispatcher used to find the handler (config ``request.dispatch``).
    dispatch = Dispatcher()
    #: Where the application is mounted.
    script_name = ''
    #: The path below the mount point.
    path_info = '/'
    #: The Application serving the request.
    app = None
    #: The page handler the dispatcher found.
    handler = None
    #: The config in effect for this request.
    config: dict | None = None
    #: True when the handler is an index (the URL named a directory).
    is_index = None
    #: The hooks to run for this request.
    hooks = HookMap()
    #: Callable (no arguments) that sets the response for an unexpected
    #: error; the default gives a 500 error page.
    error_response = staticmethod(_default_error_response)
    #: Status code (or 'default') -> error page template path or callable.
    error_page: dict = {}
    #: Name missing/unexpected handler parameters in 404/400 pages.
    show_mismatched_params = True
    #: Put tracebacks into error pages.
    show_tracebacks = True
    #: Exceptions that pass through request handling untouched.
    throws = (KeyboardInterrupt, SystemExit, InternalRedirect)
    #: Let unexpected errors propagate to the WSGI server (for debugging).
    throw_errors = False
    #: True once the request has been closed.
    closed = False
    #: The stage the request is in (for error messages).
    stage = None
    #: The charset path_info is decoded with.
    uri_encoding = 'utf-8'
    #: The objects the default dispatcher walked through (None otherwise).
    trail = None
    _failed_stage = None
    #: (the plan's before_handler hooks, those to run, the encode tool's
    #: arguments) when the plan leaves encoding to the request.
    _encode_split = None

    #: Request-scope config namespaces (toolboxes are added per app).
    namespaces = reprconf.NamespaceSet(
        hooks=_hooks_namespace,
        request=_request_namespace,
        response=_response_namespace,
        error_page=_error_page_namespace,
    )

    def __init__(self, local_host: httputil.Host | None, remote_host: httputil.Host | None,
                 scheme: str = 'http', server_protocol: str = 'HTTP/1.1') -> None:
        # None for a host means "read it from wsgi_environ when asked".
        state = self.__dict__
        if local_host is not None:
            state['_local'] = local_host
        if remote_host is not None:
            state['_remote'] = remote_host
        state['scheme'] = scheme
        state['server_protocol'] = server_protocol

    # -- made on first use ----------------------------------------------------
    # Most requests never look at these; each costs nothing until read.

    @property
    def local(self) -> httputil.Host:
        """The server's address (a :class:`~pyframe.lib.httputil.Host`)."""
        host = self.__dict__.get('_local')
        if host is None:
            environ = self.wsgi_environ
            if environ is None:
                return _DEFAULT_LOCAL
            host = self.__dict__['_local'] = httputil.Host(
                '', int(environ.get('SERVER_PORT') or 80), environ.get('SERVER_NAME', ''))
        return host

    @local.setter
    def local(self, value: httputil.Host) -> None:
        self.__dict__['_local'] = value

    @property
    def remote(self) -> httputil.Host:
        """The client's address."""
        host = self.__dict__.get('_remote')
        if host is None:
            environ = self.wsgi_environ
            if environ is None:
                return _DEFAULT_REMOTE
            host = self.__dict__['_remote'] = httputil.Host(
                environ.get('REMOTE_ADDR', ''), int(environ.get('REMOTE_PORT') or -1),
                environ.get('REMOTE_HOST', ''))
        return host

    @remote.setter
    def remote(self, value: httputil.Host) -> None:
        self.__dict__['_remote'] = value

    @property
    def login(self) -> str | None:
        """The authenticated user name, set by auth tools or the WSGI server."""
        state = self.__dict__
        if '_login' in state:
            return state['_login']
        environ = self.wsgi_environ
        if environ is None:
            return None
        login = state['_login'] = environ.get('LOGIN_USER') or environ.get('REMOTE_USER') or None
        return login

    @login.setter
    def login(self, value: str | None) -> None:
        self.__dict__['_login'] = value

    @property
    def multithread(self) -> bool:
        """Whether the WSGI server may run other requests at the same time."""
        state = self.__dict__
        if '_multithread' in state:
            return state['_multithread']
        environ = self.wsgi_environ
        return True if environ is None else environ.get('wsgi.multithread', True)

    @multithread.setter
    def multithread(self, value: bool) -> None:
        self.__dict__['_multithread'] = value

    @property
    def multiprocess(self) -> bool:
        """Whether other processes may serve the same application."""
        state = self.__dict__
        if '_multiprocess' in state:
            return state['_multiprocess']
        environ = self.wsgi_environ
        return False if environ is None else environ.get('wsgi.multiprocess', False)

    @multiprocess.setter
    def multiprocess(self, value: bool) -> None:
        self.__dict__['_multiprocess'] = value

    @property
    def unique_id(self) -> _LazyUUID4:
        """This request's id; ``str()`` of it is a UUID4, made when first shown."""
        value = self.__dict__.get('_unique_id')
        if value is None:
            value = self.__dict__['_unique_id'] = _LazyUUID4()
        return value

    @unique_id.setter
    def unique_id(self, value: Any) -> None:
        self.__dict__['_unique_id'] = value

    @property
    def request_line(self) -> str:
        """The first line of the request, e.g. 'GET /page?x=1 HTTP/1.1'."""
        state = self.__dict__
        line = state.get('_request_line')
        if line is None:
            target = state.get('_request_target')
            if target is None:
                return ''
            path, query_string, req_protocol = target
            url = path or '/'
            if query_string:
                url = f'{url}?{query_string}'
            line = state['_request_line'] = f'{self.method} {url} {req_protocol}'
        return line

    @request_line.setter
    def request_line(self, value: str) -> None:
        self.__dict__['_request_line'] = value

    @property
    def toolmaps(self) -> dict:
        """Toolbox namespace -> tool name -> its config for this request."""
        state = self.__dict__
        maps = state.get('_toolmaps')
        if maps is None:
            # A fused request plan leaves its maps to copy on first use:
            # tools may read and change theirs.
            planned = state.pop('_plan_toolmaps', None) or {}
            maps = state['_toolmaps'] = {
                namespace: {name: dict(args) for name, args in toolmap.items()}
                for namespace, toolmap in planned.items()}
        return maps

    @toolmaps.setter
    def toolmaps(self, value: dict) -> None:
        self.__dict__.pop('_plan_toolmaps', None)
        self.__dict__['_toolmaps'] = value

    @property
    def cookie(self) -> http.cookies.SimpleCookie:
        """The request cookies (parsed on first use)."""
        jar = self.__dict__.get('_cookie')
        if jar is None:
            jar = http.cookies.SimpleCookie()
            value = self._header('Cookie')
            if value:
                try:
                    jar.load(value)
                except http.cookies.CookieError as exc:
                    raise HTTPError(400, f'Illegal cookie: {exc}') from None
            self.__dict__['_cookie'] = jar
        return jar

    @cookie.setter
    def cookie(self, value: http.cookies.SimpleCookie) -> None:
        self.__dict__['_cookie'] = value

    def _cookie_value(self, name: str) -> str | None:
        """The value of request cookie ``name``, or None.

        A plain ``a=1; b=2`` header is read without building
        :attr:`cookie` (the stdlib parser is slow); anything else (quotes,
        ``$`` attributes, odd characters) goes through :attr:`cookie`, so
        the answer, and a 400 for a malformed header, are the same.
        """
        state = self.__dict__
        if '_cookie' not in state and name.lower() not in _COOKIE_ATTRIBUTES:
            if '_headers' in state or '_header_list' in state or self.wsgi_environ is None:
                header = self.headers.get('Cookie')
            else:
                header = self.wsgi_environ.get('HTTP_COOKIE')  # _header('Cookie')
            if not header:
                return None
            pairs = _plain_cookie_pairs(header)
            if pairs is not None:
                return pairs.get(name)
        morsel = self.cookie.get(name)
        return morsel.value if morsel is not None else None

    # Headers and body are built on first use: a plain GET whose handler
    # never looks at them costs neither the translation of the environ
    # nor a RequestBody.

    @property
    def header_list(self) -> list[tuple[str, str]]:
        """The request headers as received: a list of (name, value)."""
        pairs = self.__dict__.get('_header_list')
        if pairs is None:
            environ = self.wsgi_environ
            pairs = translate_headers(environ) if environ is not None else []
            self.__dict__['_header_list'] = pairs
        return pairs

    @header_list.setter
    def header_list(self, value: list) -> None:
        self.__dict__['_header_list'] = value
        self.__dict__.pop('_headers', None)

    @property
    def headers(self) -> httputil.HeaderMap:
        """The request headers (a case-insensitive :class:`~pyframe.lib.httputil.HeaderMap`)."""
        headers = self.__dict__.get('_headers')
        if headers is None:
            if '_header_list' in self.__dict__ or self.wsgi_environ is None:
                headers = httputil.HeaderMap(self.header_list)
            else:
                # translate_headers gives names already in title case.
                headers = httputil.HeaderMap()
                dict.update(headers, self.header_list)
            self.__dict__['_headers'] = headers
        return headers

    @headers.setter
    def headers(self, value: httputil.HeaderMap) -> None:
        self.__dict__['_headers'] = value

    def _unread_environ(self) -> dict | None:
        """The environ to read headers from while neither :attr:`headers`
        nor :attr:`header_list` exists (or was replaced); else None."""
        state = self.__dict__
        if '_headers' in state or '_header_list' in state:
            return None
        return self.wsgi_environ

    def _header(self, name: str, default: str | None = None) -> str | None:
        """One request header by its title-case name, without building the map."""
        state = self.__dict__
        # What _unread_environ answers, minus a call: this runs per request.
        environ = None if '_headers' in state or '_header_list' in state else self.wsgi_environ
        if environ is None:
            return self.headers.get(name, default)
        key = _ENVIRON_KEYS.get(name, '')
        if key:
            return environ.get(key, default)
        if key == '':
            key = 'HTTP_' + name.upper().replace('-', '_')
            if len(_ENVIRON_KEYS) < 1024:
                _ENVIRON_KEYS[name] = key
        elif key is None:
            return self.headers.get(name, default)
        return environ.get(key, default)

    @property
    def body(self):
        """The request body (a :class:`~pyframe.body.RequestBody`) once
        dispatch has run; None before."""
        body = self.__dict__.get('_request_body')
        if body is None and self.__dict__.get('_body_ready'):
            body = self.__dict__['_request_body'] = RequestBody(
                self.rfile, self.headers, request_params=self.params)
        return body

    @body.setter
    def body(self, value) -> None:
        self.__dict__['_request_body'] = value

    def _has_entity(self) -> bool:
        """True when the request says a body follows its headers."""
        state = self.__dict__
        environ = None if '_headers' in state or '_header_list' in state else self.wsgi_environ
        if environ is not None:
            length = environ.get('CONTENT_LENGTH')
            chunked = 'HTTP_TRANSFER_ENCODING' in environ
        else:
            length = self.headers.get('Content-Length')
            chunked = 'Transfer-Encoding' in self.headers
        return bool(length and length != '0') or chunked

    def close(self) -> None:
        """Run the ``on_end_request`` hooks (once) and drop an unread body."""
        if not self.closed:
            self.closed = True
            self.stage = 'on_end_request'
            try:
                ready = self.hooks.get('on_end_request')
                if ready:
                    run_hooks('on_end_request', tuple(ready))
            finally:
                self.stage = 'close'
                # Requests announcing a body got their RequestBody in
                # _do_respond; one never made has nothing to drain.
                body = self.__dict__.get('_request_body')
                if body is not None:
                    body.drain()

    # -- the whole request --------------------------------------------------

    def run(self, method: str, path: str, query_string: str, req_protocol: str,
            headers: list, rfile) -> Response:
        """Process a request and return the Response, never raising except
        for ``throws``.

        ``path`` includes the script name; ``headers`` is a list of
        (name, value) pairs; ``rfile`` the body stream.
        """
        response = serving.response
        state = self.__dict__
        self.stage = 'run'
        try:
            self.method = method
            self.query_string = query_string = query_string or ''
            self.params = {}
            protocol = _protocols.get((req_protocol, self.server_protocol))
            if protocol is None:
                protocol = _protocol(req_protocol, self.server_protocol)
            self.protocol = protocol
            # request_line is written when somebody reads it.
            state['_request_target'] = (path, query_string, req_protocol)
            state.pop('_request_line', None)
            if headers is not None:
                # Given explicitly; None means "from wsgi_environ, on first use".
                self.header_list = headers
            self.rfile = rfile
            state['_body_ready'] = False
            state.pop('_request_body', None)
            self.handler = None
            self.script_name = script_name = self.app.script_name
            self.path_info = path_info = (path or '/')[len(script_name):] or '/'
            self.stage = 'respond'
            self.respond(path_info)
        except self.throws:
            raise
        except Exception:
            self._failed(response)
        self._finish(response)
        return response

    def _failed(self, response: Response) -> None:
        """Answer a bare 500 for an error outside of the handler's reach
        (setup, the error handler, finalize): no hooks, no templates."""
        if self.throw_errors:
            raise
        log_request_error(f'Error while {self.stage}')
        response.status = 500
        response.output_status, response.header_list, response._body = bare_error(
            format_exc() if self.show_tracebacks else '')

    def _finish(self, response: Response) -> None:
        """What follows a responded request: HEAD bodies go, the access log line."""
        if self.method == 'HEAD':
            # Headers (Content-Length included) are those of the GET.
            response.body = []
        try:
            self.app.log.access()
        except Exception:
            log_request_error('Error while writing the access log')

    def respond(self, path_info: str, route: Any = None, response: Response | None = None
                ) -> None:
        """Dispatch, call the handler and finalize; errors become pages.

        ``route`` and ``response`` are for pyframe's own fast lane
        (``pyframe.wsgi``): the request was made with that route's handler,
        config and hooks, and ``response`` is the current one.
        """
        if response is None:
            response = serving.response
        try:
            try:
                try:
                    if route is None:
                        self._do_respond(path_info)
                    elif route.straight:
                        self._run_straight(route, response)
                    else:
                        self._do_route(route, response)
                except (HTTPRedirect, HTTPError) as inst:
                    inst.set_response()
                    self.stage = 'before_finalize (HTTPError)'
                    self.hooks.run('before_finalize')
                    response.finalize()
                except BaseException:
                    # on_end_resource below changes the stage; the error
                    # report must name the stage that failed.
                    self._failed_stage = self.stage
                    raise
            finally:
                self.stage = 'on_end_resource'
                ready = self.hooks.get('on_end_resource')
                if ready:
                    run_hooks('on_end_resource', tuple(ready))  # hooks.run, minus a call
        except self.throws:
            raise
        except Exception:
            if self.throw_errors:
                raise
            self.handle_error()

    def _do_respond(self, path_info: str) -> None:
        response = serving.response
        state = self.__dict__
        if self.app is None:
            raise NotFound()
        hooks = type(self).hooks
        # HookMap.__new__: an empty map without a Python __init__ call.
        self.hooks = hooks.copy() if hooks else HookMap.__new__(HookMap)

        self.stage = 'process_headers'
        self.process_headers()

        self.stage = 'get_resource'
        self.get_resource(path_info)

        state['_body_ready'] = True
        if self._has_entity():
            # Made now so that a bad Content-Length is a 400 whatever the
            # handler does; bodyless requests make theirs on first use.
            self.body  # noqa: B018
        self.app.apply_request_config(self)
        self._run_stages(response)

    def _do_route(self, route: Any, response: Response) -> None:
        """:meth:`_do_respond` for a request made with its route already
        known (see ``pyframe.wsgi.serve_route``): the Host was checked,
        and handler, config, hooks and the plan's plain attributes set."""
        fused = route.fused
        if fused.rest:
            fused.apply_rest(self, response)
        self._run_stages(response)

    def _run_straight(self, route: Any, response: Response) -> None:
        """:meth:`_run_stages` for a route whose plan attaches no hook
        before the handler but the encode tool (``Route.straight``): the
        same steps, without visiting the hook points nobody can have
        attached to."""
        if self.query_string:
            self.stage = 'process_query_string'
            self.process_query_string()
        if self.process_request_body:
            if self.method not in self.methods_with_bodies:
                self.process_request_body = False
            else:
                self.stage = 'before_request_body'
                self.body.process()
        if response.timed_out:
            raise ResponseTimeout()
        self.stage = 'handler'
        handler = route.handler
        params = self.params
        try:
            body = handler(*route.vpath, **params)
        except TypeError:
            _explain_type_error(handler, route.vpath, params)
            raise
        self._after_handler(response, body, route.encode)

    def _run_stages(self, response: Response) -> None:
        """From ``on_start_resource`` to ``finalize``, once config applies."""
        # Hook points nobody attached to are skipped without a call; the
        # timeout check is inlined for the same reason (this runs per request).
        hooks = self.hooks
        # run_hooks(point, tuple(...)) is what hooks.run(point) does, minus a call.
        self.stage = 'on_start_resource'
        ready = hooks.get('on_start_resource')
        if ready:
            run_hooks('on_start_resource', tuple(ready))
        if response.timed_out:
            raise ResponseTimeout()

        self.stage = 'process_query_string'
        self.process_query_string()

        if self.process_request_body and self.method not in self.methods_with_bodies:
            self.process_request_body = False
        self.stage = 'before_request_body'
        ready = hooks.get('before_request_body')
        if ready:
            run_hooks('before_request_body', tuple(ready))
        if self.process_request_body:
            self.body.process()
        if response.timed_out:
            raise ResponseTimeout()

        self.stage = 'before_handler'
        encode = None
        ready = hooks.get('before_handler')
        if ready is not None:
            split = self._encode_split
            if split is not None and ready is split[0]:
                # The plan's own hooks (see FusedPlan.state_for): run those
                # that can make a difference, and encode what the handler
                # returns below rather than wrapping it (same outcome, two
                # calls fewer).
                if split[1]:
                    run_hooks('before_handler', split[1])
                encode = split[2]
            elif ready:
                run_hooks('before_handler', tuple(ready))
        handler = self.handler
        body = _NO_HANDLER
        if handler:
            self.stage = 'handler'
            if type(handler) is LateParamPageHandler and not handler._kwargs:
                body = _invoke(handler.callable, handler.args, self.params)
            else:
                body = handler()
        self._after_handler(response, body, encode)

    def _after_handler(self, response: Response, body: Any, encode: dict | None) -> None:
        """The stages from what the handler returned to ``finalize``.

        ``encode``: the encode tool's arguments when the plan left the
        encoding of the body to the request (see ``plan._encode_split``).
        """
        if body is not _NO_HANDLER:
            if type(body) is bytes or type(body) is str:
                # What the body setter (prepare_body) does, minus two calls.
                response._body = [body] if body else []
            else:
                response.body = body
            # Non-empty bytes are what the encode tool leaves alone without
            # arguments, unless streamed or debugging (encode_handler_body).
            if encode is not None and (encode or type(body) is not bytes or not body
                                       or response.stream or ResponseEncoder.debug):
                encode_handler_body(encode, response)
        if response.timed_out:
            raise ResponseTimeout()
        self.stage = 'before_finalize'
        ready = self.hooks.get('before_finalize')
        if ready:
            run_hooks('before_finalize', tuple(ready))
        response.finalize()

    # -- stages -------------------------------------------------------------

    def process_headers(self) -> None:
        """Check the Host header and compute :attr:`base`."""
        host = self._header('Host')
        if not host:
            if self.protocol >= (1, 1):
                raise HTTPError(400, "HTTP/1.1 requires a 'Host' request header.")
            host = self.local.name or self.local.ip
            port = self.local.port
            if port and port != (443 if self.scheme == 'https' else 80):
                host = f'{host}:{port}'
        elif not httputil.valid_host(host):
            # Two Host headers (joined by a comma) or garbage: the request
            # is ambiguous, and the value would end up in redirects.
            raise HTTPError(400, 'Invalid Host header.')
        self.base = f'{self.scheme}://{host}'

    def get_resource(self, path: str) -> None:
        """Find the handler and config for ``path`` with the dispatcher in effect."""
        app = self.app
        routes = getattr(app, 'routes', None)
        if routes is not None:
            route = routes.find(self, path)
            if route is not None:
                # The walk, its config and its plan, as made for an earlier
                # request of this path (see pyframe.route).
                self.__dict__['_route'] = route
                handler = route.handler
                self.handler = (NotFound() if handler is None
                                else LateParamPageHandler(handler, *route.vpath))
                self.is_index = route.is_index
                self.config = route.config.copy()
                return
        dispatch = self.dispatcher_for(path)
        self.trail = None
        dispatch(path)
        if type(dispatch) is not Dispatcher:
            # Only the plain object-tree walk makes config a function of
            # the path and the objects walked (see Application plans).
            self.trail = None
        if self.config is None:
            self.config = {}

    def dispatcher_for(self, path: str) -> Any:
        """The dispatcher config chooses for ``path`` (``request.dispatch``)."""
        site_config = sys.modules['pyframe'].config
        default = site_config.get('request.dispatch') or self.dispatch
        app = self.app
        if getattr(app, 'sets_dispatch', True):
            return app.find_config(path, 'request.dispatch', default)
        return default

    def process_query_string(self) -> None:
        """Merge the query string's parameters into :attr:`params`."""
        if not self.query_string:
            return
        try:
            params = httputil.parse_query_string(self.query_string, True,
                                                 self.query_string_encoding)
        except UnicodeDecodeError:
            raise HTTPError(
                404,
                f'The given query string could not be processed. Query strings '
                f'for this resource must be encoded with {self.query_string_encoding!r}.'
            ) from None
        self.params.update(params)

    def handle_error(self) -> None:
        """Turn an unexpected exception into the error response."""
        response = serving.response
        try:
            if self.config is None:
                # The error came before config (and so the log_tracebacks
                # tool) could apply: log it here.
                log_request_error(f'Error while {self._failed_stage or self.stage}')
            self.hooks.run('before_error_response')
            if self.error_response:
                self.error_response()
            self.hooks.run('after_error_response')
            response.finalize()
        except HTTPRedirect as inst:
            inst.set_response()
            response.finalize()


#: What :meth:`Request._after_handler` is given when there was no handler to call.
_NO_HANDLER = object()


def bare_error(extra: str = '') -> tuple[bytes, list, list]:
    """Return (status, header list, body) of a plain-text 500 that needs no
    hooks, config or templates, for errors nothing else could handle."""
    body = b'Unrecoverable error in the server.'
    if extra:
        body += b'\n' + extra.encode('utf-8', 'replace')
    headers = [
        (b'Content-Type', b'text/plain;charset=utf-8'),
        (b'Content-Length', str(len(body)).encode('ascii')),
    ]
    return b'500 Internal Server Error', headers, [body]


def _file_chunks(file, chunk_size: int = 65536):
    """Yield a file's content in chunks, closing it at the end."""
    try:
        while True:
            chunk = file.read(chunk_size)
            if not chunk:
                return
            yield chunk
    finally:
        close = getattr(file, 'close', None)
        if close is not None:
            close()


def prepare_body(value: Any):
    """Turn what a handler returned into an iterable of chunks.

    str and bytes become a one-item list, files are read in chunks, None
    is empty, and any other iterable (a list, a generator) is kept.
    """
    if isinstance(value, (bytes, str)):
        return [value] if value else []
    if value is None:
        return []
    if hasattr(value, 'read'):
        return _file_chunks(value)
    return value


_HeaderMap = httputil.HeaderMap

# -- Set-Cookie lines without Morsels (Response.set_plain_cookie) ----------
# Names and values the stdlib would send as they are (no quoting).
_COOKIE_SAFE = r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]"
_PLAIN_COOKIE_NAME = re.compile(rf'{_COOKIE_SAFE}+')
_PLAIN_COOKIE_VALUE = re.compile(rf'{_COOKIE_SAFE}+')
# Morsel.OutputString writes attributes sorted by key, under these names.
_MORSEL_NAMES = http.cookies.Morsel._reserved
_MORSEL_FLAGS = http.cookies.Morsel._flags
_PLAIN_ATTRIBUTE_TYPES = {
    'path': str, 'domain': str, 'expires': str, 'max-age': int, 'samesite': str,
    'secure': bool, 'httponly': bool,
}


def _plain_cookie_attributes(attributes: dict) -> bool:
    for key, setting in attributes.items():
        kind = _PLAIN_ATTRIBUTE_TYPES.get(key)
        if kind is None or type(setting) is not kind:
            return False
    return True


def _attribute_text(attributes: dict) -> str:
    """What ``Morsel.OutputString()`` writes after ``name=value``."""
    parts = ['']
    # The morsel's keys are the reserved names; OutputString sorts them.
    for key in sorted(attributes):
        setting = attributes[key]
        if setting == '':
            continue
        if key in _MORSEL_FLAGS:
            if setting:
                parts.append(_MORSEL_NAMES[key])
        elif key == 'max-age':
            parts.append(f'{_MORSEL_NAMES[key]}={setting:d}')
        else:
            parts.append(f'{_MORSEL_NAMES[key]}={setting}')
    return '; '.join(parts)


# Cookie attributes (as items) -> their text, or None when not plain (or
# not plain ASCII without line breaks): the same few sets come back on
# every response (a session cookie's differ by their expiry date, once a
# second).
_attribute_texts: dict[tuple, str | None] = {}
_plain_names: set[str] = set()


def _plain_attribute_text(attributes: dict) -> str | None:
    try:
        key = tuple(attributes.items())
        return _attribute_texts[key]
    except KeyError:
        pass
    except TypeError:  # an unhashable setting: not one of the plain kinds
        return None
    text = _attribute_text(attributes) if _plain_cookie_attributes(attributes) else None
    if text is not None and not (text.isascii() and '\r' not in text and '\n' not in text):
        # Cookies with such attributes go the Morsel way, checked and
        # encoded when sent; pending plain cookies need neither.
        text = None
    if len(_attribute_texts) >= 512:
        _attribute_texts.clear()
    _attribute_texts[key] = text
    return text


# Cookie values found plain, for _set_cookie_with_text: a session cookie
# carries the same id on each of a client's requests (bounded: clients
# choose what they send back).
_plain_values: set[str] = set()


def _plain_value(value: str) -> bool:
    if not _PLAIN_COOKIE_VALUE.fullmatch(value):
        return False
    if len(_plain_values) >= 4096:
        _plain_values.clear()
    _plain_values.add(value)
    return True


def _plain_name(name: str) -> bool:
    if name in _plain_names:
        return True
    if not _PLAIN_COOKIE_NAME.fullmatch(name) or name.lower() in _MORSEL_NAMES:
        return False
    if len(_plain_names) < 256:
        _plain_names.add(name)
    return True

_new_dict = dict.__new__
_time = time.time


def _headers_of_second(second: int) -> list:
    return [second, second + 1, {
        'Content-Type': 'text/html',
        'Server': 'pyframe',
        'Date': httputil.http_date(second),
    }]


# [start, end, headers]: every response's first headers during one second.
_base_headers = _headers_of_second(0)


def _new_second(now: float) -> list:
    global _base_headers
    _base_headers = base = _headers_of_second(int(now))
    return base

# Header names and str values found to go on the wire as they are (a
# token; ASCII without CR, LF or NUL): for those, WSGI's native strings
# are the map's own items. Bounded, since values can carry user data.
_wire_names: set[str] = set()
_wire_values: set[str] = set()
_WIRE_MAX = 4096


def _as_on_the_wire(headers: dict) -> bool:
    """True when every header of ``headers`` goes on the wire unchanged
    (learning the new ones); False sends the map through ``output()``."""
    for name, value in dict.items(headers):
        if type(name) is not str or type(value) is not str:
            return False
        if name not in _wire_names:
            if not httputil._TOKEN.fullmatch(name):
                return False
            if len(_wire_names) >= _WIRE_MAX:
                _wire_names.clear()
            _wire_names.add(name)
        if value not in _wire_values:
            # Other text goes through output(), which applies the map's
            # charsets (and RFC 2047).
            if not value.isascii() or httputil._has_line_break(value):
                return False
            if len(_wire_values) >= _WIRE_MAX:
                _wire_values.clear()
            _wire_values.add(value)
    return True


# Status code as set by the application -> (status, status line bytes,
# code, whether the status forbids a body): a site uses a handful of them.
_status_lines: dict[Any, tuple[str, bytes, int, bool]] = {}


def _status_line(status: Any, headers: httputil.HeaderMap) -> tuple[str, bytes, int, bool]:
    try:
        code, reason, _ = httputil.valid_status(status)
    except ValueError as exc:
        raise HTTPError(500, exc.args[0]) from None
    # 1xx, 204, 205 and 304 never carry a body (RFC 9110, 6.4.1).
    known = (f'{code} {reason}', f'{code} '.encode('ascii') + headers.encode(reason), code,
             code < 200 or code in (204, 205, 304))
    # Only for the plain map: a subclass may encode the reason its own way.
    if type(status) is int and type(headers) is _HeaderMap and len(_status_lines) < 256:
        _status_lines[status] = known
    return known


class Response:
    """The response being built for the current request (``pyframe.response``)."""

    #: The status: an int, or a string like '404 Not Found'.
    status = 200
    #: The status line sent to the client (set by :meth:`finalize`).
    output_status = b''
    #: Seconds the response may run before ``timed_out`` is set.
    timeout = 300
    #: Set by :meth:`check_timeout` once ``timeout`` has passed.
    timed_out = False
    #: Send the body as it is produced instead of collecting it first.
    stream = False
    #: The charset text bodies are encoded with when no tool chose one.
    default_encoding = 'utf-8'
    # Set by __init__; here for subclasses that do not call it.
    _cookie = None
    _plain_cookies = None
    _header_list = None
    _native = None

    def __init__(self) -> None:
        self.time = now = _time()
        base = _base_headers
        if not base[0] <= now < base[1]:
            base = _new_second(now)
        # dict.__new__ and dict.update: an empty map without a Python
        # __init__ call, filled without title-casing keys that already are.
        self.headers = headers = _new_dict(_HeaderMap)
        dict.update(headers, base[2])
        self._body = []
        # Every attribute finalize() sets or the request path reads, set
        # here first (at the class defaults): CPython then keeps them all in
        # the instance's compact storage, where reading and writing them is
        # cheapest (a class attribute read through the instance costs
        # several times more, and so does a __dict__ made later).
        self.status = self.status
        self.stream = self.stream
        self.timed_out = False
        self.output_status = b''
        self._header_list = None
        self._native = None
        self._cookie = None
        self._plain_cookies = None

    @property
    def header_list(self) -> list[tuple[bytes, bytes]]:
        """The headers as sent: a list of (name bytes, value bytes), set by
        :meth:`finalize` (which may keep them as WSGI's str pairs until
        somebody reads this)."""
        pairs = self._header_list
        if pairs is None:
            native = self._native
            pairs = [] if native is None else [
                (name.encode('latin-1'), value.encode('latin-1')) for name, value in native]
            # From now on this list is what is sent: its reader may change it.
            self._header_list = pairs
            self._native = None
        return pairs

    @header_list.setter
    def header_list(self, value: list[tuple[bytes, bytes]]) -> None:
        self._header_list = value
        self._native = None

    @property
    def cookie(self) -> http.cookies.SimpleCookie:
        """Cookies to send (created on first use)."""
        jar = self._cookie
        if jar is None:
            jar = self._cookie = http.cookies.SimpleCookie()
            pending = self._plain_cookies
            if pending:
                self._plain_cookies = None
                for name, (value, attributes, _text) in pending.items():
                    jar[name] = value
                    morsel = jar[name]
                    for key, setting in attributes.items():
                        morsel[key] = setting
        return jar

    @cookie.setter
    def cookie(self, value: http.cookies.SimpleCookie) -> None:
        self._plain_cookies = None
        self._cookie = value

    def set_plain_cookie(self, name: str, value: str, attributes: dict[str, Any]) -> None:
        """Send cookie ``name`` = ``value``, as ``response.cookie[name] = value``
        followed by ``morsel[key] = setting`` for each of ``attributes`` would.

        When name and value need no quoting and the attributes are the
        usual ones (``path``, ``domain``, ``expires`` as a date string,
        ``max-age`` as an int, ``secure``, ``httponly``, ``samesite``), no
        Morsel is made unless somebody reads :attr:`cookie`: the
        ``Set-Cookie`` line is written directly, the same as the stdlib's.
        The session tool sets its cookie this way on every request.
        """
        text = None
        if (self._cookie is None and _plain_name(name)
                and _PLAIN_COOKIE_VALUE.fullmatch(value)):
            text = _plain_attribute_text(attributes)
        if text is None:
            jar = self.cookie
            jar[name] = value
            morsel = jar[name]
            for key, setting in attributes.items():
                morsel[key] = setting
            return
        pending = self._plain_cookies
        if pending is None:
            pending = self._plain_cookies = {}
        pending[name] = (value, attributes, text)

    def _set_cookie_with_text(self, name: str, value: str, attributes: dict[str, Any],
                              text: str) -> None:
        """:meth:`set_plain_cookie` for a name found plain and attributes
        whose text (``_plain_attribute_text``) is ``text``, by a caller
        that sets the same cookie on every response."""
        if self._cookie is not None or not (value in _plain_values or _plain_value(value)):
            self.set_plain_cookie(name, value, attributes)
            return
        pending = self._plain_cookies
        if pending is None:
            pending = self._plain_cookies = {}
        pending[name] = (value, attributes, text)

    @property
    def body(self):
        """The body as an iterable of chunks; set str, bytes, a list, a
        generator or a file."""
        return self._body

    @body.setter
    def body(self, value: Any) -> None:
        self._body = prepare_body(value)

    def _encoded_chunks(self, body):
        """Yield ``body``'s chunks with text encoded in the response charset.

        The charset is looked up (and declared) only when text turns up:
        a body of bytes says nothing about charsets.
        """
        charset = None
        for chunk in body:
            if isinstance(chunk, str):
                if charset is None:
                    charset = self._charset()
                chunk = chunk.encode(charset)
            yield chunk

    def _charset(self) -> str:
        """The charset text is sent in, declaring it in Content-Type if missing."""
        content_type = dict.get(self.headers, 'Content-Type') or ''
        if ';' in content_type:
            # Only a Content-Type with parameters can name a charset.
            for element in self.headers.elements('Content-Type'):
                charset = element.params.get('charset')
                if charset:
                    return charset
        if content_type:
            dict.__setitem__(self.headers, 'Content-Type',
                             f'{content_type};charset={self.default_encoding}')
        return self.default_encoding

    def collapse_body(self) -> bytes:
        """Read the whole body into one bytes object, keep it, and return it."""
        body = self._body
        if type(body) is list and len(body) == 1:
            chunk = body[0]
            if type(chunk) is bytes:
                return chunk
            if type(chunk) is str:
                # One text chunk (the encode tool off): no generator needed.
                content = chunk.encode(self._charset())
                self._body = [content] if content else []
                return content
        content = b''.join(self._encoded_chunks(body))
        self._body = [content] if content else []
        return content

    def finalize(self) -> None:
        """Fix the status line and headers that will be sent."""
        headers = self.headers
        status = self.status
        plain = type(headers) is _HeaderMap
        known = _status_lines.get(status) if plain and type(status) is int else None
        if known is None:
            known = _status_line(status, headers)
        self.status, self.output_status, code, bodyless = known

        if self.stream:
            # Without Content-Length the server chunks the body (HTTP/1.1)
            # or closes the connection after it.
            if dict.get(headers, 'Content-Length') is None:
                dict.pop(headers, 'Content-Length', None)
            # The headers leave before the first chunk is made: declare the
            # charset of a text stream now.
            if (dict.get(headers, 'Content-Type') or '').startswith('text/'):
                self._charset()
            self._body = self._encoded_chunks(self._body)
        elif bodyless:
            dict.pop(headers, 'Content-Length', None)
            self._body = []
        elif dict.get(headers, 'Content-Length') is None:
            body = self._body
            if type(body) is list and len(body) == 1 and type(body[0]) is bytes:
                content = body[0]  # what collapse_body would answer, minus a call
            else:
                content = self.collapse_body()
            dict.__setitem__(headers, 'Content-Length', str(len(content)))
        elif isinstance(self._body, list):
            self._body = list(self._encoded_chunks(self._body))
        else:
            # The length is known (a static file, say): keep the body lazy
            # instead of reading it all into memory.
            self._body = self._encoded_chunks(self._body)

        cookies = self._plain_cookies or self._cookie
        if plain:
            try:
                # Two C-level scans; a new name or value is checked once.
                as_they_are = (_wire_names.issuperset(headers)
                               and _wire_values.issuperset(dict.values(headers)))
            except TypeError:  # an unhashable value
                as_they_are = False
            if as_they_are or _as_on_the_wire(headers):
                native = list(dict.items(headers))
                if cookies:
                    native.extend([('Set-Cookie', line) for line in self._cookie_lines()])
                self._native = native
                self._header_list = None
                return
        header_list = headers.output()
        if cookies:
            header_list.extend([(b'Set-Cookie', line.encode('latin-1'))
                                for line in self._cookie_lines()])
        self.header_list = header_list

    def _cookie_lines(self) -> list[str]:
        """The Set-Cookie values to send, as latin-1 text fit for the wire."""
        lines = []
        pending = self._plain_cookies
        if pending:
            # Plain names, values and attribute texts: ASCII without line
            # breaks (see set_plain_cookie).
            for name, (value, _attributes, text) in pending.items():
                lines.append(f'{name}={value}{text}')
        jar = self._cookie
        if jar:
            encode = self.headers.encode
            for morsel in jar.values():
                line = morsel.OutputString()
                if '\r' in line or '\n' in line:
                    raise ValueError(f'Illegal line break in cookie {morsel.key!r}')
                lines.append(encode(line).decode('latin-1'))
        return lines

    def check_timeout(self) -> None:
        """Set :attr:`timed_out` once the response has run for ``timeout`` seconds."""
        if time.time() > self.time + self.timeout:
            self.timed_out = True


# What pyframe.request and pyframe.response show outside of any request.
serving.__class__.request = Request(httputil.Host('127.0.0.1', 80), httputil.Host('127.0.0.1', 1111))
serving.__class__.response = Response()
