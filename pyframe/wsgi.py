"""The WSGI side of an application: from ``environ`` to a response.

``Application.__call__`` runs the application's :class:`WSGIPipeline`:
any middleware configured with ``wsgi.pipeline``, then :func:`respond`,
which builds the Request and Response, runs them, follows
InternalRedirects and hands status, headers and body to the WSGI server.
"""

from __future__ import annotations

import io
import logging
import sys
from threading import get_ident
from typing import Any

from .context import serving
from .dispatch import LateParamPageHandler
from .errors import InternalRedirect, NotFound, format_exc
from .lib import httputil
from .lib.httputil import _valid_hosts
from .request import HookMap, Request, Response, _protocols, bare_error, translate_headers

__all__ = [
    'AppResponse', 'ExceptionTrapper', 'InternalRedirector', 'WSGIPipeline',
    'respond', 'translate_headers',
]

def _recode(text: str, encoding: str) -> str:
    # PEP 3333 hands paths over as latin-1 decoded bytes; undo that and
    # decode them with the charset URLs really use.
    if not text or text.isascii():
        return text
    try:
        return text.encode('latin-1').decode(encoding)
    except UnicodeError:
        return text


def engage(response) -> None:
    """Tell the engine the current thread serves a request (``response``).

    Publishes ``acquire_thread`` and ``before_request`` (to whoever
    listens) and registers the response with the timeout monitor.
    """
    engine = sys.modules['pyframe'].engine
    ident = get_ident()
    quiet = _quiet
    if not (quiet[0] is engine and quiet[1] == engine.version and ident in quiet[2]):
        listening = engine.listeners
        if listening.get('acquire_thread'):
            engine.publish('acquire_thread')
        if listening.get('before_request'):
            engine.publish('before_request')
        _watch_quiet(engine)
    engine.timeout_monitor.servings[ident] = response


# (engine, its listeners' version, the thread manager's threads) while
# serving a request has nothing to publish for a thread that manager knows:
# its acquire_thread is the one listener of that channel, and nobody
# listens to before_request or after_request. Listeners changed without
# subscribe/unsubscribe are noticed at the next change that uses them.
_quiet: tuple = (None, -1, ())


def _watch_quiet(engine) -> None:
    global _quiet
    listening = engine.listeners
    manager = getattr(engine, 'thread_manager', None)
    if (manager is not None and listening.get('acquire_thread') == {manager.acquire_thread}
            and not listening.get('before_request') and not listening.get('after_request')):
        _quiet = (engine, engine.version, manager.threads)
    else:
        _quiet = (None, -1, ())


def _run_request(app, environ: dict):
    """Create, run and return the (request, response) of one WSGI call.

    Serving stays loaded; the caller must release it.
    """
    # The hosts (None here) and the rest of what the environ says are
    # read from it when first asked for (see Request.local, .remote, .login).
    request, response = app.get_serving(
        None, None, environ.get('wsgi.url_scheme', 'http'),
        environ.get('ACTUAL_SERVER_PROTOCOL', 'HTTP/1.1'),
    )
    try:
        request.wsgi_environ = environ
        previous = environ.get('pyframe.previous_request')
        if previous is not None:
            request.prev = previous
        script_name = environ.get('SCRIPT_NAME', '')
        path_info = environ.get('PATH_INFO', '')
        if not (script_name.isascii() and path_info.isascii()):
            encoding = app.find_config(path_info, 'request.uri_encoding', request.uri_encoding)
            script_name = _recode(script_name, encoding)
            path_info = _recode(path_info, encoding)
        if not script_name and path_info[:1] == '/' and '//' not in path_info:
            path = path_info  # what urljoin would give, without its work
        else:
            path = httputil.urljoin(script_name, path_info)
        request.run(
            environ.get('REQUEST_METHOD', 'GET'),
            path,
            environ.get('QUERY_STRING', ''),
            environ.get('SERVER_PROTOCOL', 'HTTP/1.0'),
            None,  # headers: read from wsgi_environ when first needed
            environ.get('wsgi.input'),
        )
    except BaseException:
        # The request is about to go; the bare error page still has to
        # honour what it said about tracebacks.
        environ['pyframe.show_tracebacks'] = request.show_tracebacks
        app.release_serving()
        raise
    return request, response


# The wire bytes of headers back to the latin-1 str PEP 3333 wants; the
# same few pairs come back on every response.
_native_pairs: dict[tuple[bytes, bytes], tuple[str, str]] = {}
_NATIVE_PAIRS_MAX = 4096


def _native(pair: tuple[bytes, bytes]) -> tuple[str, str]:
    native = _native_pairs.get(pair)
    if native is None:
        native = (pair[0].decode('latin-1'), pair[1].decode('latin-1'))
        if len(_native_pairs) >= _NATIVE_PAIRS_MAX:
            _native_pairs.clear()
        _native_pairs[pair] = native
    return native


# Whole header lists too: a page's responses repeat the same set.
_native_sets: dict[tuple, list] = {}


_new_hookmap = HookMap.__new__
_new_request = Request.__new__
_new_page = LateParamPageHandler.__new__


def _start(response, start_response) -> None:
    native = response._native
    if native is not None:
        # finalize() left WSGI's str pairs, this response's own list, and
        # nobody asked for header_list since.
        start_response(response.output_status.decode('latin-1'), native)
        return
    pairs = tuple(response.header_list)
    native = _native_sets.get(pairs)
    if native is None:
        known = _native_pairs.get
        native = [known(pair) or _native(pair) for pair in pairs]
        if len(_native_sets) >= _NATIVE_PAIRS_MAX:
            _native_sets.clear()
        _native_sets[pairs] = native
    # A copy: servers and middleware may add to the list they are given.
    start_response(response.output_status.decode('latin-1'), list(native))


class AppResponse:
    """The body iterable of a response that must outlive the WSGI call.

    Streamed bodies are produced while the server writes them, and
    ``on_end_request`` hooks must run after the last byte is sent, so the
    request stays current until the server calls :meth:`close`.
    """

    def __init__(self, environ: dict, start_response, app, served=None) -> None:
        self.app = app
        self.environ = environ
        request, response = served or _run_request(app, environ)
        try:
            body = response.body
            self.iter_response = iter(body)
            # A list cannot fail while it is sent: the server may iterate it
            # directly, without a Python call per chunk (close() still ends
            # the request).
            self._direct = type(body) is list
            _start(response, start_response)
        except BaseException:
            self.close()
            raise

    def __iter__(self):
        return self.iter_response if self._direct else self

    def __next__(self) -> bytes:
        try:
            return next(self.iter_response)
        except StopIteration:
            raise
        except Exception:
            # Headers are gone already: all that can be done is to log and
            # let the server abort the connection, so the client sees an
            # incomplete response rather than a wrong complete one.
            self.app.log.error(f'Error while streaming the response\n{format_exc()}',
                               'HTTP', severity=logging.ERROR)
            raise

    def close(self) -> None:
        """Release the request (runs ``on_end_request`` hooks)."""
        try:
            close = getattr(self.iter_response, 'close', None)
            if close is not None:
                close()
        finally:
            self.app.release_serving()


def end_request(app, request, engine, ident: int, current: dict) -> None:
    """What ``Application.release_serving`` does: forget the response in
    the timeout monitor, publish ``after_request``, close ``request`` (its
    ``on_end_request`` hooks run) and clear the thread's ``current`` serving."""
    engine.timeout_monitor.servings.pop(ident, None)
    if engine.listeners.get('after_request'):
        engine.publish('after_request')
    try:
        request.close()
    except Exception:
        app.log.error('Error while closing the request', 'HTTP', severity=40, traceback=True)
    current.clear()


class _EndingBody:
    """A lane response's list of chunks, ending its request when closed.

    :class:`AppResponse` for a body that is a list (nothing to watch while
    it is sent), with what the lane already knows of the request.
    """

    __slots__ = ('body', 'app', 'request', 'engine', 'ident', 'current')

    def __init__(self, body: list, app, request, engine, ident: int, current: dict) -> None:
        self.body = body
        self.app = app
        self.request = request
        self.engine = engine
        self.ident = ident
        self.current = current

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        """End the request (runs ``on_end_request`` hooks)."""
        end_request(self.app, self.request, self.engine, self.ident, self.current)


def _redirected_environ(environ: dict, redirect: InternalRedirect, visited: list) -> dict:
    """The environ of the request an InternalRedirect asks for."""
    script_name = environ.get('SCRIPT_NAME', '')
    old = script_name + environ.get('PATH_INFO', '')
    if environ.get('QUERY_STRING'):
        old += '?' + environ['QUERY_STRING']
    visited.append(old)
    new = script_name + redirect.path
    if redirect.query_string:
        new += '?' + redirect.query_string
    if new in visited:
        raise RuntimeError(f'InternalRedirect loop: {new!r} was already visited')
    environ = dict(environ)
    environ.update({
        'REQUEST_METHOD': 'GET',
        'PATH_INFO': redirect.path,
        'QUERY_STRING': redirect.query_string,
        'wsgi.input': io.BytesIO(),
        'CONTENT_LENGTH': '0',
        'pyframe.previous_request': redirect.request,
    })
    environ.pop('CONTENT_TYPE', None)
    return environ


def _hand_over(app, request, response, environ: dict, start_response):
    """Start the WSGI response and return its body iterable."""
    body = response.body
    if isinstance(body, list) and not request.hooks.get('on_end_request'):
        # Everything is in memory and nothing waits for the end of the
        # request: release now and hand the server a plain list.
        try:
            _start(response, start_response)
        finally:
            app.release_serving()
        return body
    return AppResponse(environ, start_response, app, served=(request, response))


def serve_route(app, route, environ: dict, start_response):
    """Serve a request whose route is known and ready: pyframe's fast lane.

    ``Application.__call__`` comes here when ``app.routes.ready`` found
    the path's route still valid, with a fused plan, plain Request and
    Response classes and no request body. A request whose protocol pair
    and Host value were seen (and found valid) before is then made in one
    go with what ``_run_request``, ``Request.run``, ``process_headers``,
    ``get_resource`` and the plan would give it one attribute at a time,
    and goes through the same stages (``Request.respond``), error pages,
    access log and hand-over as any other; anything else goes the long
    way, which checks and remembers. ``tests/test_lane.py`` compares the
    two ways request by request.
    """
    try:
        # Keys every WSGI server sets (and a Host header): item reads, which
        # cost less than get(); a missing one sends the request the long way.
        req_protocol = environ['SERVER_PROTOCOL']
        host = environ['HTTP_HOST']
        method = environ['REQUEST_METHOD']
        scheme = environ['wsgi.url_scheme']
        path_info = environ['PATH_INFO']
    except KeyError:
        protocol = None
    else:
        server_protocol = environ.get('ACTUAL_SERVER_PROTOCOL', 'HTTP/1.1')
        protocol = _protocols.get((req_protocol, server_protocol))
    if protocol is None or host not in _valid_hosts:
        request, response = _run_request(app, environ)
        return _hand_over(app, request, response, environ, start_response)
    response = Response()
    query_string = environ.get('QUERY_STRING') or ''
    script_name = app._script_name
    hooks = _new_hookmap(HookMap)
    dict.update(hooks, route.fused.hooks)
    handler = route.handler
    request = _new_request(Request)
    # Request.__init__, get_serving, _run_request, run, process_headers,
    # get_resource and the plan's attributes, at once: a copy of the
    # route's template, which holds every key already (one allocation),
    # then attribute stores (cheaper than item stores on that dict).
    request.__dict__ = route.template.copy()
    request.scheme = scheme
    request.server_protocol = server_protocol
    request.wsgi_environ = environ
    request.method = method
    request.query_string = query_string
    request.params = {}
    request.protocol = protocol
    request._request_target = (script_name + path_info, query_string, req_protocol)
    request.rfile = environ.get('wsgi.input')
    request.script_name = script_name
    request.hooks = hooks
    if handler is not None:
        # LateParamPageHandler(handler, *route.vpath), minus its __init__.
        page = request.handler = _new_page(LateParamPageHandler)
        page.callable = handler
        page.args = route.vpath
        page._kwargs = {}
    request.config = route.config.copy()
    request.base = f'{scheme}://{host}'
    if route.overrides:
        request.__dict__.update(route.overrides)
    # The thread's serving dict, read once (each threading.local access
    # costs a lookup of the thread's storage): serving.load, then .clear().
    current = serving.__dict__
    current['request'] = request
    current['response'] = response
    if handler is None:
        # Made now: its message names the current request's path.
        request.handler = NotFound()
    # engage(response) when it has nothing to publish (see _quiet).
    engine = sys.modules['pyframe'].engine
    ident = get_ident()
    quiet = _quiet
    if quiet[0] is engine and quiet[1] == engine.version and ident in quiet[2]:
        engine.timeout_monitor.servings[ident] = response
    else:
        engage(response)
    try:
        try:
            request.respond(path_info, route, response)
        except Request.throws:
            raise
        except Exception:
            request._failed(response)
        request._finish(response)
    except BaseException:
        environ['pyframe.show_tracebacks'] = request.show_tracebacks
        app.release_serving()
        raise
    body = response._body
    if not isinstance(body, list):
        return _hand_over(app, request, response, environ, start_response)
    if request.hooks.get('on_end_request') or request._request_body is not None:
        # The request ends once the server is done with the body.
        ending = _EndingBody(body, app, request, engine, ident, current)
        try:
            _start(response, start_response)
        except BaseException:
            ending.close()
            raise
        return ending
    # _hand_over, and release_serving with a Request.close that has
    # neither hooks to run nor a body to drain.
    try:
        _start(response, start_response)
    finally:
        engine.timeout_monitor.servings.pop(ident, None)
        if ((quiet[0] is not engine or quiet[1] != engine.version)
                and engine.listeners.get('after_request')):
            engine.publish('after_request')
        request.closed = True
        request.stage = 'close'
        current.clear()
    return body


def respond(app, environ: dict, start_response, route=None):
    """Serve one WSGI call for ``app``; the end of every pipeline.

    Follows InternalRedirects (refusing to visit a URL twice) and turns
    anything that escaped request handling into a bare 500. ``route``: a
    ready route for the fast lane (see :func:`serve_route`).
    """
    try:
        if route is not None:
            return serve_route(app, route, environ, start_response)
        request, response = _run_request(app, environ)
        return _hand_over(app, request, response, environ, start_response)
    except BaseException as exc:
        return recover(app, environ, start_response, exc)


def recover(app, environ: dict, start_response, exc: BaseException):
    """Answer for what escaped a request of ``app``: follow an
    InternalRedirect, re-raise KeyboardInterrupt and SystemExit, turn
    anything else into a bare 500."""
    if isinstance(exc, InternalRedirect):
        return _follow(app, environ, start_response, exc)
    if not isinstance(exc, Exception):
        raise exc
    return _trapped(app, environ, start_response, format_exc())


def _follow(app, environ: dict, start_response, redirect: InternalRedirect):
    """Serve the path an InternalRedirect asks for, and the next ones."""
    visited: list[str] = []
    while True:
        try:
            environ = _redirected_environ(environ, redirect, visited)
        except RuntimeError as exc:
            return _trapped(app, environ, start_response, str(exc))
        try:
            request, response = _run_request(app, environ)
            return _hand_over(app, request, response, environ, start_response)
        except InternalRedirect as again:
            redirect = again
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception:
            return _trapped(app, environ, start_response, format_exc())


def _trapped(app, environ: dict, start_response, details: str) -> list[bytes]:
    """Answer a bare 500 for an error no error page could handle.

    The request is gone by now: whether to show the traceback is what
    the request said, else what config says.
    """
    import pyframe

    app.log.error(f'Unrecoverable error\n{details}', 'HTTP', severity=logging.ERROR)
    show = environ.get('pyframe.show_tracebacks')
    if show is None:
        show = app.find_config(
            environ.get('PATH_INFO', ''), 'request.show_tracebacks',
            pyframe.config.get('request.show_tracebacks', app.request_class.show_tracebacks),
        )
    status, headers, body = bare_error(details if show else '')
    start_response(status.decode('latin-1'),
                   [(name.decode('latin-1'), value.decode('latin-1')) for name, value in headers])
    return [] if environ.get('REQUEST_METHOD') == 'HEAD' else body


class ExceptionTrapper:
    """Middleware answering 500 for exceptions the next app lets escape."""

    def __init__(self, nextapp, throws=(KeyboardInterrupt, SystemExit)) -> None:
        self.nextapp = nextapp
        self.throws = throws

    def __call__(self, environ: dict, start_response):
        try:
            return self.nextapp(environ, start_response)
        except self.throws:
            raise
        except Exception:
            body = b'Unrecoverable error in the server.\n' + format_exc().encode('utf-8', 'replace')
            start_response('500 Internal Server Error',
                           [('Content-Type', 'text/plain;charset=utf-8'),
                            ('Content-Length', str(len(body)))])
            return [body]


class InternalRedirector:
    """Middleware following InternalRedirects raised by the next app.

    :func:`respond` already does this for pyframe applications; use it to
    wrap other WSGI apps that raise :class:`~pyframe.InternalRedirect`.
    """

    def __init__(self, nextapp, recursive: bool = False) -> None:
        self.nextapp = nextapp
        self.recursive = recursive

    def __call__(self, environ: dict, start_response):
        visited: list[str] = []
        while True:
            try:
                return self.nextapp(environ, start_response)
            except InternalRedirect as redirect:
                environ = _redirected_environ(environ, redirect, [] if self.recursive else visited)


class WSGIPipeline:
    """An application's chain of WSGI middleware, ending in :func:`respond`.

    ``pipeline`` is a list of ``(name, factory)``; each factory is called
    as ``factory(nextapp, **config[name])``. Config keys: ``wsgi.pipeline``
    (appends), ``wsgi.<name>.<arg>`` and ``wsgi.response_class``.
    """

    def __init__(self, app, pipeline=None) -> None:
        self.app = app
        self.pipeline: list[tuple[str, Any]] = list(pipeline or [])
        self.config: dict[str, dict] = {}
        self.head = None

    def tail(self, environ: dict, start_response):
        """The innermost WSGI app: the pyframe application itself."""
        return respond(self.app, environ, start_response)

    def __call__(self, environ: dict, start_response):
        head = self.head
        if head is None:
            head = self.tail
            for name, factory in reversed(self.pipeline):
                head = factory(head, **self.config.get(name, {}))
            self.head = head
        return head(environ, start_response)

    def namespace_handler(self, key: str, value: Any) -> None:
        """Handle ``wsgi.*`` config entries of the application."""
        if key == 'pipeline':
            self.pipeline.extend(value)
        elif key == 'response_class':
            self.app.response_class = value
        else:
            name, _, arg = key.partition('.')
            if not arg:
                raise ValueError(f'wsgi.{key}: expected wsgi.<middleware name>.<argument>')
            self.config.setdefault(name, {})[arg] = value
        self.head = None
