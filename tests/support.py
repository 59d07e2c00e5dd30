"""Helpers shared by the test modules: ports, child processes, waiting."""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get('CI', '').lower() == 'true'


def free_port(host: str = '127.0.0.1') -> int:
    """Return a TCP port that is free on ``host`` right now."""
    family = socket.AF_INET6 if ':' in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ipv6_available() -> bool:
    """True when the IPv6 loopback address can be bound."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(('::1', 0))
    except OSError:
        return False
    return True


def require_program(name: str) -> str:
    """Return the path of program ``name``.

    Locally a missing program skips the test with a reason; in CI
    (``CI=true``) it fails, because CI is expected to install it.
    """
    path = shutil.which(name)
    if path:
        return path
    message = f'{name} is not installed'
    if IN_CI:
        pytest.fail(f'{message}, but CI must provide it (see .ci/run)')
    pytest.skip(message)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02):
    """Poll ``predicate`` until it returns a true value; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f'timed out after {timeout}s waiting for {predicate}')
        time.sleep(interval)


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a child Python that imports this checkout."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        filter(None, [str(REPO), env.get('PYTHONPATH', '')])
    )
    env['PYTHONUNBUFFERED'] = '1'
    env.update(extra)
    return env


def write_script(directory: Path, name: str, source: str) -> Path:
    """Write dedented ``source`` to ``directory/name`` and return the path."""
    path = Path(directory) / name
    path.write_text(textwrap.dedent(source))
    return path


class Child:
    """A child Python process whose output goes to a file we can read."""

    def __init__(self, args, cwd, env=None, **popen_kwargs):
        self.log_path = Path(cwd) / f'child-{time.monotonic_ns()}.log'
        self._log = open(self.log_path, 'wb')
        self.proc = subprocess.Popen(
            [sys.executable, *map(str, args)],
            cwd=str(cwd),
            env=env or child_env(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            **popen_kwargs,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors='replace')

    def wait_output(self, text: str, timeout: float = 15.0) -> str:
        """Wait until ``text`` appears in the child's output."""
        try:
            wait_for(lambda: text in self.output(), timeout)
        except AssertionError:
            raise AssertionError(
                f'{text!r} not seen in child output:\n{self.output()}'
            ) from None
        return self.output()

    def wait(self, timeout: float = 15.0) -> int:
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._log.close()


def wsgi_get(app, path='/', query='', method='GET', script_name='', headers=None, body=b''):
    """Call a WSGI app in-process; return (status, headers dict, body bytes).

    ``headers`` is a dict of extra request headers; ``body`` the entity.
    """
    environ = {
        'REQUEST_METHOD': method,
        'SCRIPT_NAME': script_name,
        'PATH_INFO': path,
        'QUERY_STRING': query,
        'SERVER_NAME': '127.0.0.1',
        'SERVER_PORT': '80',
        'SERVER_PROTOCOL': 'HTTP/1.1',
        'REMOTE_ADDR': '127.0.0.1',
        'REMOTE_PORT': '5555',
        'HTTP_HOST': '127.0.0.1',
        'wsgi.url_scheme': 'http',
        'wsgi.input': io.BytesIO(body),
        'wsgi.errors': io.StringIO(),
        'wsgi.multithread': True,
        'wsgi.multiprocess': False,
    }
    if body:
        environ['CONTENT_LENGTH'] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace('-', '_')
        if key not in ('CONTENT_TYPE', 'CONTENT_LENGTH'):
            key = 'HTTP_' + key
        environ[key] = value
    seen = {}

    def start_response(status, response_headers, exc_info=None):
        seen['status'] = status
        seen['headers'] = dict(response_headers)

    result = app(environ, start_response)
    try:
        content = b''.join(result)
    finally:
        close = getattr(result, 'close', None)
        if close is not None:
            close()
    return seen['status'], seen['headers'], content


class Example:
    """A running example program: its base URL and its child process."""

    def __init__(self, child, base: str) -> None:
        self.child = child
        self.base = base

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this example's server."""
        return self.base + path


def http_answers(base: str, timeout: float = 2) -> bool:
    """True once an HTTP server answers a HEAD of ``base``/."""
    import requests

    try:
        requests.head(base + '/', timeout=timeout)
    except requests.ConnectionError:
        return False
    return True


def read_pid(path: Path) -> int | None:
    """The PID written in ``path``, or None while it is missing or partial."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def process_alive(pid: int) -> bool:
    """True while ``pid`` runs; an unreaped zombie counts as gone (some
    container inits never reap orphans)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return True
    return stat.rpartition(')')[2].split()[0] != 'Z'
