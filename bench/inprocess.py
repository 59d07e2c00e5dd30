"""Time one framework's app called in-process, straight through WSGI.

Run as ``python inprocess.py FRAMEWORK --scenarios a,b,c,d``: it builds
the app, checks every endpoint answers correctly, then for each scenario
times many calls and prints one JSON object ``{scenario: ns_per_request}``
on stdout. ``run.py`` runs it once per framework and run, in a fresh
process each time, so import costs and global state never leak from one
framework into another.

A call copies a prebuilt environ (with a fresh ``wsgi.input``), calls the
app, reads the whole body and calls ``close()``: the work a WSGI server
asks of an app, minus the socket.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import sys
import time
from http.cookies import SimpleCookie
from typing import Any, Callable

from apps import common, load

#: Scenario letter -> (description, method, path, query).
SCENARIOS = {
    'a': ('hello world', 'GET', '/', ''),
    'b': ('typical handler', 'GET', '/typical', common.TYPICAL_QUERY),
    'c': ('static 100 KB file', 'GET', f'/static/{common.STATIC_NAME}', ''),
    'd': ('multipart upload of 1 MB', 'POST', '/upload', ''),
}

WSGIApp = Callable[[dict, Callable[..., Any]], Any]


def base_environ(method: str, path: str, query: str = '',
                 headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A WSGI environ as cheroot would build it, without ``wsgi.input``."""
    environ: dict[str, Any] = {
        'REQUEST_METHOD': method,
        'SCRIPT_NAME': '',
        'PATH_INFO': path,
        'QUERY_STRING': query,
        'SERVER_NAME': '127.0.0.1',
        'SERVER_PORT': '8080',
        'SERVER_PROTOCOL': 'HTTP/1.1',
        'SERVER_SOFTWARE': 'bench',
        'REMOTE_ADDR': '127.0.0.1',
        'REMOTE_PORT': '50000',
        'HTTP_HOST': '127.0.0.1:8080',
        'HTTP_USER_AGENT': 'pyframe-bench',
        'HTTP_ACCEPT': '*/*',
        'wsgi.version': (1, 0),
        'wsgi.url_scheme': 'http',
        'wsgi.errors': sys.stderr,
        'wsgi.multithread': True,
        'wsgi.multiprocess': False,
        'wsgi.run_once': False,
    }
    for name, value in (headers or {}).items():
        key = name.upper().replace('-', '_')
        environ[key if key in ('CONTENT_TYPE', 'CONTENT_LENGTH') else 'HTTP_' + key] = value
    return environ


class Caller:
    """Calls a WSGI app with copies of one environ and keeps the last answer."""

    def __init__(self, app: WSGIApp, environ: dict[str, Any], body: bytes = b'') -> None:
        self.app = app
        self.environ = environ
        self.body = body
        self.status = ''
        self.headers: list[tuple[str, str]] = []

    def _start_response(self, status: str, headers: list, exc_info: Any = None) -> None:
        self.status = status
        self.headers = headers

    def __call__(self) -> bytes:
        """Make one request; return the whole response body."""
        environ = self.environ.copy()
        environ['wsgi.input'] = io.BytesIO(self.body)
        result = self.app(environ, self._start_response)
        try:
            return b''.join(result)
        finally:
            close = getattr(result, 'close', None)
            if close is not None:
                close()

    def header(self, name: str) -> list[str]:
        """All values of response header ``name`` from the last call."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


def session_cookie(caller: Caller) -> str | None:
    """The ``name=value`` of the session cookie the last response set, if any."""
    for value in caller.header('Set-Cookie'):
        cookie = SimpleCookie(value)
        for morsel in cookie.values():
            if 'session' in morsel.key:
                return f'{morsel.key}={morsel.value}'
    return None


def _fail(scenario: str, caller: Caller, body: bytes, why: str) -> None:
    raise AssertionError(f'scenario {scenario}: {why} (status {caller.status!r}, '
                         f'body {body[:200]!r})')


def prepare(scenario: str, app: WSGIApp, sessions: bool) -> Caller:
    """Return a checked Caller for ``scenario``; raise AssertionError if wrong.

    For the typical handler with sessions, the first call gets the session
    cookie and every timed call sends it back, so all calls share one
    session (its counter must go up by one per call).
    """
    _, method, path, query = SCENARIOS[scenario]
    if scenario == 'd':
        body, content_type = common.multipart_body()
        caller = Caller(app, base_environ(method, path, query, {
            'Content-Type': content_type, 'Content-Length': str(len(body))}), body)
    else:
        caller = Caller(app, base_environ(method, path, query))
    answer = caller()
    if not caller.status.startswith('200'):
        _fail(scenario, caller, answer, 'not 200')
    if scenario == 'a' and answer != common.HELLO:
        _fail(scenario, caller, answer, 'wrong greeting')
    if scenario == 'c' and len(answer) != common.STATIC_SIZE:
        _fail(scenario, caller, answer, f'{len(answer)} bytes instead of {common.STATIC_SIZE}')
    if scenario == 'd' and answer != str(common.UPLOAD_SIZE).encode():
        _fail(scenario, caller, answer, 'wrong upload size')
    if scenario == 'b':
        first = common.parse_json(answer)
        if first != common.expected_typical(1 if sessions else None):
            _fail(scenario, caller, answer, 'wrong JSON')
        if sessions:
            cookie = session_cookie(caller)
            if cookie is None:
                _fail(scenario, caller, answer, 'no session cookie set')
            caller.environ['HTTP_COOKIE'] = cookie
            again = caller()
            if common.parse_json(again) != common.expected_typical(2):
                _fail(scenario, caller, again, 'session not kept with the cookie')
    return caller


def time_calls(call: Callable[[], Any], budget: float) -> float:
    """Return the mean nanoseconds per ``call()`` over about ``budget`` seconds.

    A short warm-up sizes the batch so the timed loop has no clock reads
    inside it; the garbage collector stays on, as in a server.
    """
    warm_start = time.perf_counter_ns()
    warm_calls = 0
    while warm_calls < 3 or time.perf_counter_ns() - warm_start < budget * 1e9 / 10:
        call()
        warm_calls += 1
    per_call = (time.perf_counter_ns() - warm_start) / warm_calls
    iterations = max(5, int(budget * 1e9 / per_call))
    gc.collect()
    start = time.perf_counter_ns()
    for _ in range(iterations):
        call()
    return (time.perf_counter_ns() - start) / iterations


def main(argv: list[str] | None = None) -> int:
    """Command line entry: print ``{scenario: ns_per_request | error}`` as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.partition('\n')[0])
    parser.add_argument('framework')
    parser.add_argument('--scenarios', default='abcd',
                        help='letters among a, b, c, d (commas optional)')
    parser.add_argument('--budget', type=float, default=0.5,
                        help='seconds of timed calls per scenario')
    parser.add_argument('--check-only', action='store_true',
                        help='check the answers, time nothing')
    args = parser.parse_args(argv)
    module = load(args.framework)
    static_dir = common.make_static_dir()
    results: dict[str, Any] = {}
    try:
        app = module.make_app(static_dir)
        for scenario in [s for s in args.scenarios if s in SCENARIOS]:
            if scenario == 'b' and not module.SESSIONS:
                results[scenario] = {'na': 'no server-side sessions'}
                continue
            try:
                caller = prepare(scenario, app, module.SESSIONS)
            except AssertionError as exc:
                results[scenario] = {'error': str(exc)}
                continue
            results[scenario] = 'ok' if args.check_only else time_calls(caller, args.budget)
    finally:
        if hasattr(module, 'shutdown'):
            module.shutdown()
        common.remove_static_dir(static_dir)
    json.dump(results, sys.stdout)
    sys.stdout.write('\n')
    return 1 if any(isinstance(v, dict) and 'error' in v for v in results.values()) else 0


if __name__ == '__main__':
    sys.exit(main())
