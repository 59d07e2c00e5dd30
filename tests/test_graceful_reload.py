"""Reloading a daemon under steady load loses no request.

A ``pyframed -d`` daemon serves while client threads send requests without
pause. SIGUSR1 (``bus.graceful``) reopens the log files in place; SIGHUP
re-executes the daemon, which hands its listening socket to the new image
(systemd style, descriptor 3 with LISTEN_FDS), so connections made during
the restart wait in the backlog instead of being refused.

Clients on keep-alive connections retry a request once when the server
closed an idle reused connection before sending any byte of a response:
HTTP/1.1 allows a server to close idle connections at any time and says
clients should retry then (RFC 9112, section 9.3.1); browsers and most
client libraries do the same. Clients that open a new connection per
request never retry anything.
"""

from __future__ import annotations

import http.client
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from support import Child, free_port, process_alive, read_pid, wait_for, write_script

pytestmark = pytest.mark.slow

APP = """\
import os
import time
from pathlib import Path

import pyframe

MARKS = Path(__file__).with_name('marks.txt')


def mark(event):
    with open(MARKS, 'a') as marks:
        marks.write(f'{event} {os.getpid()}\\n')


class Root:
    @pyframe.expose
    def index(self):
        # Long enough for requests to be in flight when a signal arrives.
        time.sleep(0.005)
        return f'hello from {os.getpid()}'


def after_graceful():
    # Runs after the log files were reopened (priority 50), so this line
    # lands in the new error log.
    pyframe.log('graceful reload done', 'RELOAD')
    mark('graceful')


pyframe.tree.mount(Root())
# After the HTTP server (75): the image is serving when this is written.
pyframe.engine.subscribe('start', lambda: mark('started'), priority=90)
pyframe.engine.subscribe('graceful', after_graceful, priority=60)
"""

# Socket errors that mean "the server closed the idle connection before
# answering" on a reused keep-alive connection.
STALE_CONNECTION_ERRORS = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ConnectionAbortedError,
)


class Load:
    """Client threads that request ``/`` continuously and record the results."""

    def __init__(self, port: int, fresh: int = 2, keepalive: int = 2) -> None:
        self.port = port
        self.ok = 0
        self.retries = 0
        self.failures: list[str] = []
        self.bodies: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._fresh_connections, daemon=True)
            for _ in range(fresh)
        ] + [
            threading.Thread(target=self._keepalive_connection, daemon=True)
            for _ in range(keepalive)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _record(self, status: int | None, body: str, error: str = '') -> None:
        with self._lock:
            if status == 200 and body.startswith('hello from '):
                self.ok += 1
                self.bodies.add(body)
            else:
                self.failures.append(error or f'{status} {body[:80]!r}')

    def _connection(self) -> http.client.HTTPConnection:
        # Generous: a connection made during the re-exec waits in the
        # backlog until the new image has imported everything and started.
        return http.client.HTTPConnection('127.0.0.1', self.port, timeout=30)

    def _fresh_connections(self) -> None:
        while not self._stop.is_set():
            conn = self._connection()
            try:
                conn.request('GET', '/')
                response = conn.getresponse()
                self._record(response.status, response.read().decode())
            except Exception as exc:  # every failure counts, none is retried
                self._record(None, '', f'fresh connection: {exc!r}')
            finally:
                conn.close()

    def _keepalive_connection(self) -> None:
        conn, used = self._connection(), False
        while not self._stop.is_set():
            try:
                conn.request('GET', '/')
                response = conn.getresponse()
            except STALE_CONNECTION_ERRORS as exc:
                conn.close()
                conn = self._connection()
                if not used:
                    self._record(None, '', f'new keep-alive connection: {exc!r}')
                    continue
                with self._lock:
                    self.retries += 1
                used = False
                continue
            except Exception as exc:
                self._record(None, '', f'keep-alive: {exc!r}')
                conn.close()
                conn, used = self._connection(), False
                continue
            try:
                body = response.read().decode()
            except Exception as exc:  # a response cut short is a failure
                self._record(None, '', f'keep-alive body: {exc!r}')
                conn.close()
                conn, used = self._connection(), False
                continue
            self._record(response.status, body)
            used = True
            if response.will_close:
                conn.close()
                conn, used = self._connection(), False
        conn.close()

    def wait_for_more(self, count: int, timeout: float = 30) -> None:
        """Wait until ``count`` more requests have succeeded."""
        target = self.ok + count
        wait_for(lambda: self.ok >= target or self.failures, timeout)




def marks(path: Path, event: str) -> list[int]:
    """Pids that wrote ``event`` to the marks file, in order."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    return [int(line.split()[1]) for line in lines if line.split()[0] == event]


@pytest.fixture
def daemon(tmp_path):
    """Start ``pyframed -d`` serving reload_app; yield its paths and port."""
    port = free_port()
    write_script(tmp_path, 'reload_app.py', APP)
    conf = write_script(tmp_path, 'site.conf', f"""\
        [global]
        server.socket_port = {port}
        server.thread_pool = 8
        server.socket_queue_size = 64
        engine.autoreload.on = False
        log.error_file = {str(tmp_path / 'error.log')!r}
        """)
    pidfile = tmp_path / 'daemon.pid'
    starter = Child(
        ['-m', 'pyframe', '-d', '-p', pidfile, '-c', conf, '-i', 'reload_app'],
        cwd=tmp_path,
    )
    info = {'port': port, 'pidfile': pidfile, 'marks': tmp_path / 'marks.txt',
            'error_log': tmp_path / 'error.log', 'starter': starter}
    try:
        # The starting process exits as soon as the daemon has forked.
        assert starter.wait(20) == 0, starter.output()
        wait_for(lambda: marks(info['marks'], 'started'), 20)
        yield info
    finally:
        starter.stop()
        pids = set(marks(info['marks'], 'started'))
        pid = read_pid(pidfile)
        if pid:
            pids.add(pid)
        for pid in pids:
            if process_alive(pid):
                os.kill(pid, signal.SIGTERM)
        for pid in pids:
            try:
                wait_for(lambda: not process_alive(pid), 10)
            except AssertionError:
                os.kill(pid, signal.SIGKILL)


def test_sigusr1_and_sighup_under_load_fail_no_request(daemon):
    first = marks(daemon['marks'], 'started')[0]
    assert read_pid(daemon['pidfile']) == first
    error_log = daemon['error_log']

    with Load(daemon['port']) as load:
        load.wait_for_more(40)

        # SIGUSR1: the log files are reopened (logrotate moved the old one).
        error_log.rename(error_log.with_suffix('.log.1'))
        os.kill(first, signal.SIGUSR1)
        wait_for(lambda: marks(daemon['marks'], 'graceful'), 20)
        assert 'graceful reload done' in error_log.read_text()
        assert 'Caught signal SIGUSR1' in error_log.with_suffix('.log.1').read_text()
        load.wait_for_more(40)

        # SIGHUP: the daemon re-executes (and daemonizes again: new pid).
        os.kill(first, signal.SIGHUP)
        wait_for(lambda: len(marks(daemon['marks'], 'started')) == 2, 30)
        second = marks(daemon['marks'], 'started')[1]
        wait_for(lambda: read_pid(daemon['pidfile']) == second, 20)
        load.wait_for_more(80)
        # Requests also ran while the restart was going on.
        time.sleep(0.2)

    assert load.failures == []
    assert {f'hello from {first}', f'hello from {second}'} <= load.bodies
    assert load.bodies <= {f'hello from {first}', f'hello from {second}'}
    assert not process_alive(first)
    log = error_log.read_text()
    # The old image kept its socket open and passed it on; the new image
    # served on it rather than binding the port again.
    assert 'its socket stays open for the restarted process' in log
    assert 'Passing 1 listening socket(s) to the new process' in log
    assert log.count(f'Serving on http://127.0.0.1:{daemon["port"]}') == 1
    assert 'Traceback' not in log


RESTARTING = """\
import os
import threading
import time

from pyframe.process.wspbus import Bus
from pyframe.server import Server


def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain')])
    return [f'image {os.environ["IMAGE"]}'.encode()]


os.environ['IMAGE'] = str(int(os.environ.get('IMAGE', '0')) + 1)
bus = Bus()
bus.subscribe('log', lambda msg, level=20: print(msg, flush=True))
server = Server(bus)
server.socket_port = 0  # the OS picks the port; the restart must keep it
server.wsgi_app = app
server.subscribe()
bus.start()
print('PORT', server.bound_addr[1], os.getpid(), os.environ['IMAGE'], flush=True)
if os.environ['IMAGE'] == '1':
    def restart_when_asked():
        # Restart (as the autoreloader does) once the test has seen the port.
        while not os.path.exists('go'):
            time.sleep(0.02)
        bus.restart()

    threading.Thread(target=restart_when_asked).start()
bus.block()
"""


def test_restart_keeps_a_port_the_os_chose(tmp_path):
    script = write_script(tmp_path, 'restarting.py', RESTARTING)
    child = Child([script], cwd=tmp_path)
    try:
        child.wait_output('PORT ', timeout=20)
        port, pid, image = child.output().split('PORT ')[1].split()[:3]
        assert image == '1'
        (tmp_path / 'go').touch()
        wait_for(lambda: child.output().count('PORT ') == 2, 20)
        second = child.output().split('PORT ')[2].split()[:3]
        # Same process (execv), same port, served by the new image.
        assert second == [port, pid, '2']
        conn = http.client.HTTPConnection('127.0.0.1', int(port), timeout=10)
        conn.request('GET', '/')
        assert conn.getresponse().read() == b'image 2'
        conn.close()
        assert 'Passing 1 listening socket(s) to the new process' in child.output()
    finally:
        child.stop()
