"""Real memcached and redis servers for the tests that need them.

``memcached_server`` and ``redis_server`` start the real program on a free
port of 127.0.0.1, wait until it answers, yield its address as
``(host, port)`` and kill it at teardown. A missing program skips the tests
locally and fails them in CI (``.ci/run`` installs both), through
:func:`support.require_program`.

Import the fixtures into a test module with
``from servers import memcached_server, redis_server``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from support import free_port, require_program

__all__ = ['memcached_server', 'redis_server']

HOST = '127.0.0.1'


def _answers(port: int, probe: bytes, expected: bytes) -> bool:
    """True when a server on ``port`` replies to ``probe`` with ``expected``."""
    try:
        with socket.create_connection((HOST, port), timeout=1) as sock:
            sock.sendall(probe)
            return sock.recv(64).startswith(expected)
    except OSError:
        return False


def _run(args: list[str], port: int, probe: bytes, expected: bytes,
         log_path: Path) -> Iterator[tuple[str, int]]:
    """Start ``args``, wait for it to answer, yield its address, kill it."""
    with open(log_path, 'wb') as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 10
            while not _answers(port, probe, expected):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f'{args[0]} did not start on port {port}:\n'
                                         + log_path.read_text(errors='replace'))
                time.sleep(0.02)
            yield HOST, port
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


@pytest.fixture(scope='session')
def memcached_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """A memcached on 127.0.0.1 for this test session: ``(host, port)``."""
    program = require_program('memcached')
    port = free_port()
    args = [program, '-l', HOST, '-p', str(port), '-U', '0', '-m', '64']
    if os.geteuid() == 0:
        # memcached refuses to run as root unless told which user to be.
        args += ['-u', 'root']
    log = tmp_path_factory.mktemp('memcached') / 'memcached.log'
    yield from _run(args, port, b'version\r\n', b'VERSION', log)


@pytest.fixture(scope='session')
def redis_server(tmp_path_factory) -> Iterator[tuple[str, int]]:
    """A redis on 127.0.0.1 for this test session, without persistence:
    ``(host, port)``."""
    program = require_program('redis-server')
    port = free_port()
    directory = tmp_path_factory.mktemp('redis')
    args = [program, '--port', str(port), '--bind', HOST, '--save', '',
            '--appendonly', 'no', '--dir', str(directory), '--daemonize', 'no']
    yield from _run(args, port, b'PING\r\n', b'+PONG', directory / 'redis.log')
