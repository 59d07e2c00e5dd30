"""Load over loopback: server processes, wrk runs, and a counted client.

wrk measures throughput and latency for a fixed time; it cannot send a
fixed number of requests, so :func:`send_requests` does that with
``http.client`` over keep-alive connections in a few threads.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

HERE = Path(__file__).resolve().parent
_UNITS = {'us': 1e-3, 'ms': 1.0, 's': 1e3, 'm': 60e3}


def find_wrk() -> str | None:
    """Path of the wrk program, or None when it is not installed."""
    return shutil.which('wrk') or (
        '/usr/bin/wrk' if os.access('/usr/bin/wrk', os.X_OK) else None)


@dataclass
class WrkResult:
    """What one wrk run reported."""

    requests_per_second: float
    p99_ms: float
    errors: int
    """Socket errors plus non-2xx/3xx answers: a good run has none."""


def parse_wrk(output: str) -> WrkResult:
    """Read requests/s, the 99th percentile latency and errors from wrk's text."""
    rps = re.search(r'^Requests/sec:\s+([\d.]+)', output, re.M)
    p99 = re.search(r'^\s*99%\s+([\d.]+)(us|ms|s|m)\s*$', output, re.M)
    if not rps or not p99:
        raise ValueError(f'cannot read wrk output:\n{output}')
    errors = 0
    socket_errors = re.search(
        r'Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)', output)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r'Non-2xx or 3xx responses: (\d+)', output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return WrkResult(float(rps.group(1)), float(p99.group(1)) * _UNITS[p99.group(2)], errors)


def run_wrk(wrk: str, url: str, connections: int, seconds: int) -> WrkResult:
    """Run ``wrk -t1 -c<connections> -d<seconds>s --latency url`` and parse it.

    wrk takes whole seconds only. Raises RuntimeError when wrk fails.
    """
    command = [wrk, '-t1', f'-c{connections}', f'-d{seconds}s', '--latency', url]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30)
    if done.returncode != 0:
        raise RuntimeError(f'{" ".join(command)} failed: {done.stderr.strip() or done.stdout}')
    return parse_wrk(done.stdout)


class ServerProcess:
    """A ``serve.py`` child process serving one framework on loopback."""

    def __init__(self, framework: str, adapter: bool = False, timeout: float = 30) -> None:
        command = [sys.executable, str(HERE / 'serve.py'), framework]
        if adapter:
            command.append('--adapter')
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.port = self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> int:
        found: list[int] = []

        def read() -> None:
            for line in self.proc.stdout:
                if line.startswith('READY '):
                    found.append(int(line.split()[1]))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.stop()
            raise RuntimeError(f'server {self.proc.args} did not start:\n'
                               f'{self.proc.stderr.read()}')
        return found[0]

    @property
    def base(self) -> str:
        """The server's base URL."""
        return f'http://127.0.0.1:{self.port}'

    def memory_kib(self) -> dict[str, int]:
        """The server's current (VmRSS) and peak (VmHWM) resident size in KiB."""
        status = Path(f'/proc/{self.proc.pid}/status').read_text()
        return {key: int(re.search(rf'^{key}:\s+(\d+) kB', status, re.M).group(1))
                for key in ('VmRSS', 'VmHWM')}

    def stop(self) -> None:
        """Ask the server to stop (SIGTERM); kill it if it lingers."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            stream.close()

    def __enter__(self) -> 'ServerProcess':
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _client_loop(port: int, path: str, count: int, failures: list[str]) -> None:
    """Send ``count`` GETs on one keep-alive connection, echoing cookies.

    A JSON answer with a ``visits`` counter must count every request of
    the connection: proof that the session cookie really came back.
    """
    connection = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    cookie = ''
    body = b''
    try:
        for _ in range(count):
            connection.request('GET', path, headers={'Cookie': cookie} if cookie else {})
            response = connection.getresponse()
            body = response.read()
            if response.status != 200:
                failures.append(f'{path}: {response.status}')
                return
            set_cookie = response.getheader('Set-Cookie')
            if set_cookie:
                cookie = '; '.join(f'{m.key}={m.value}' for m in SimpleCookie(set_cookie).values())
    except OSError as exc:
        failures.append(f'{path}: {exc}')
        return
    finally:
        connection.close()
    if body.startswith(b'{'):
        visits = json.loads(body).get('visits', count)
        if visits != count:
            failures.append(f'{path}: session counted {visits} of {count} requests')


def send_requests(port: int, path: str, total: int, threads: int = 4) -> None:
    """Send ``total`` GETs of ``path`` over ``threads`` keep-alive connections.

    Each connection sends back the cookies it was given, so a session
    handler keeps one session per connection. Raises RuntimeError on any
    answer other than 200.
    """
    failures: list[str] = []
    share, extra = divmod(total, threads)
    workers = [threading.Thread(target=_client_loop,
                                args=(port, path, share + (i < extra), failures))
               for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if failures:
        raise RuntimeError(f'requests failed: {failures[:3]}')
