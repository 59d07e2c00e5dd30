"""Run a real nginx in a test, with every file it writes under one directory.

The test supplies what goes inside nginx's ``http`` block (``upstream`` and
``server`` blocks, typically an example config filled in with
:func:`render`); this module wraps it in a complete configuration: nginx in
the foreground (``daemon off``) with a master and one worker, and its pid
file, logs and temporary directories under the given directory::

    from nginx import render, start_nginx

    site = render(template_text, port=free_port(), backend=...)
    with start_nginx(tmp_path, site) as server:
        requests.get(f'http://127.0.0.1:{server.ports[0]}/')
        assert '" 200 ' in server.access_text()

:func:`start_nginx` returns once nginx accepts connections on every port its
``listen`` directives name, and ``stop`` (or leaving the ``with`` block)
ends nginx and its worker. A missing nginx skips the test locally and fails
it in CI, like :func:`support.require_program`; Debian installs nginx in
``/usr/sbin``, which is not on every user's PATH, so that is searched too.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from support import require_program

__all__ = ['NginxProcess', 'nginx_program', 'render', 'start_nginx']

#: Where nginx lives when it is not on PATH (Debian, source builds).
SBIN_DIRS = ('/usr/sbin', '/usr/local/sbin', '/usr/local/nginx/sbin')

#: Seconds nginx may take to start answering, or to stop.
TIMEOUT = 20.0

_PLACEHOLDER = re.compile(r'\{\{\s*(\w+)\s*\}\}')
# "listen 8080;", "listen 127.0.0.1:8080 ssl;", "listen [::1]:8080;"
_LISTEN = re.compile(r'^\s*listen\s+(?:(\[[^\]]+\]|[^\s:;]+):)?(\d+)\b', re.MULTILINE)


def nginx_program() -> str:
    """Return the path of the nginx program (skip or fail when missing)."""
    if shutil.which('nginx') is None:
        for directory in SBIN_DIRS:
            candidate = Path(directory) / 'nginx'
            if os.access(candidate, os.X_OK):
                return str(candidate)
    return require_program('nginx')


def render(template: str, **values: object) -> str:
    """Replace each ``{{name}}`` marker of ``template`` by ``values[name]``.

    A marker without a value is an error rather than left in place: nginx
    or pyframe would otherwise fail later with a less helpful message.
    """
    missing = sorted({name for name in _PLACEHOLDER.findall(template)} - set(values))
    if missing:
        raise KeyError(f'no value for the placeholders {missing}')
    return _PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), template)


def _main_config(prefix: Path, http_config: str) -> str:
    """The whole nginx.conf: fixed settings around ``http_config``."""
    lines = [
        'daemon off;',
        'master_process on;',
        # One worker: the round robin of an upstream is then strictly in turn.
        'worker_processes 1;',
        f'pid {prefix}/nginx.pid;',
        f'error_log {prefix}/error.log notice;',
        'events { worker_connections 64; }',
    ]
    if os.geteuid() == 0:
        # As root, workers would run as "nobody", which cannot enter the
        # private temporary directories of the tests.
        lines.insert(0, 'user root;')
    mime_types = Path('/etc/nginx/mime.types')
    types = (f'include {mime_types};' if mime_types.is_file()
             else 'types { text/plain txt; text/html html; text/css css; }')
    temp = ''.join(f'    {kind}_temp_path {prefix}/{kind}_temp;\n'
                   for kind in ('client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'))
    return (
        '\n'.join(lines) + '\n'
        + 'http {\n'
        + f'    {types}\n'
        + '    default_type application/octet-stream;\n'
        + f'    access_log {prefix}/access.log combined;\n'
        + temp
        + http_config
        + '\n}\n'
    )


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class NginxProcess:
    """One nginx master (and its worker) configured under ``prefix``.

    ``http_config`` is the text of the ``http`` block's content. ``ports``
    lists the ports of its ``listen`` directives; ``access_log`` and
    ``error_log`` are the paths of nginx's logs.
    """

    def __init__(self, prefix: Path | str, http_config: str, program: str | None = None):
        self.prefix = Path(prefix)
        self.program = program or nginx_program()
        self.conf_path = self.prefix / 'nginx.conf'
        self.access_log = self.prefix / 'access.log'
        self.error_log = self.prefix / 'error.log'
        self.addresses = [(host.strip('[]') if host else '127.0.0.1', int(port))
                          for host, port in _LISTEN.findall(http_config)]
        self.http_config = http_config
        self.proc: subprocess.Popen | None = None

    @property
    def ports(self) -> list[int]:
        """The ports nginx listens on, in the order of the configuration."""
        return [port for _, port in self.addresses]

    def start(self, timeout: float = TIMEOUT) -> NginxProcess:
        """Write the configuration, start nginx and wait until it listens."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(_main_config(self.prefix, self.http_config))
        output = open(self.prefix / 'nginx.out', 'wb')
        with output:
            self.proc = subprocess.Popen(
                # -e: the log for errors met before the config is read, which
                # would otherwise go to a system path.
                [self.program, '-p', f'{self.prefix}/', '-c', str(self.conf_path),
                 '-e', str(self.error_log)],
                stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                # Its own process group: the worker can be reached even if the
                # master has to be killed.
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not all(_accepts(host, port) for host, port in self.addresses):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f'nginx did not start:\n{self.error_text()}')
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """End nginx (fast shutdown; killed if it does not stop in time)."""
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(TIMEOUT)
        self.proc = None

    def error_text(self) -> str:
        """nginx's error log and console output, for failure messages."""
        parts = [path.read_text(errors='replace')
                 for path in (self.error_log, self.prefix / 'nginx.out') if path.exists()]
        return '\n'.join(parts)

    def access_text(self) -> str:
        """nginx's access log (combined format) so far."""
        return self.access_log.read_text(errors='replace') if self.access_log.exists() else ''

    def __enter__(self) -> NginxProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_nginx(directory: Path | str, http_config: str,
                timeout: float = TIMEOUT) -> NginxProcess:
    """Start nginx with ``http_config`` in its http block; files go under
    ``directory/nginx``. Use the result in a ``with`` block, or call its
    ``stop`` in a fixture's teardown."""
    return NginxProcess(Path(directory) / 'nginx', http_config).start(timeout)

