"""The same pyframe app under real WSGI servers: uWSGI and gunicorn.

Each test starts a real server (several worker processes) with the files
of ``examples/deploy`` and checks what a client sees over HTTP: pages,
a POSTed form, a static file, error statuses, and that more than one
worker answered. The app it serves is ``wsgi_app`` seen through a small
recording module (written by the test) that logs, per process, the
engine's channel events; after the server has shut down cleanly the test
checks that every worker started, stopped and exited its own engine
exactly once, without pyframe's HTTP server, autoreloader or signal
handlers, and that the master process never started one.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from nginx import render, start_nginx
from support import IN_CI, REPO, child_env, free_port, require_program, wait_for, write_script

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DEPLOY = REPO / 'examples' / 'deploy'
WORKERS = 2
#: Seconds a server may take to start answering, or to shut down.
TIMEOUT = 20.0

# The test's variant of the app. It subscribes its recorders before
# importing wsgi_app because, in a uWSGI --lazy-apps worker, importing
# wsgi_app already starts the engine.
RECORDING_APP = '''
    """wsgi_app, recording the engine's events to $EVENTS_DIR/<pid>.jsonl."""
    import json
    import os
    import signal

    import pyframe

    EVENTS_DIR = os.environ['EVENTS_DIR']


    def record(event, **details):
        path = os.path.join(EVENTS_DIR, f'{os.getpid()}.jsonl')
        with open(path, 'a') as file:
            file.write(json.dumps({'event': event, **details}) + '\\n')


    def name_of(listener):
        owner = getattr(listener, '__self__', None)
        if owner is not None:
            return f'{type(owner).__name__}.{listener.__name__}'
        return getattr(listener, '__qualname__', type(listener).__name__)


    def on_start():
        engine = pyframe.engine
        ours = [sig.name for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT,
                                     signal.SIGUSR1)
                if getattr(signal.getsignal(sig), '__self__', None)
                is engine.signal_handler]
        record('start', listeners=[name_of(l) for l in engine.listeners['start']],
               pyframe_signal_handlers=ours)


    main_seen = []


    def on_main():
        if not main_seen:  # once is enough to know it is published
            main_seen.append(True)
            record('main')


    pyframe.engine.subscribe('start', on_start)
    pyframe.engine.subscribe('main', on_main)
    pyframe.engine.subscribe('stop', lambda: record('stop'))
    pyframe.engine.subscribe('exit', lambda: record('exit'))
    record('import')

    import wsgi_app  # noqa: E402

    application = wsgi_app.application
'''


def venv_program(name: str) -> str:
    """Path of ``name``: next to this Python (the venv's bin) or on PATH."""
    candidate = Path(sys.executable).parent / name
    if os.access(candidate, os.X_OK):
        return str(candidate)
    return require_program(name)


@dataclass(frozen=True)
class Stop:
    """How a test ends the server: ``signal`` to the master, or to every
    process of the server like Ctrl-C in a terminal (``group``)."""

    signal: signal.Signals
    group: bool = False


SIGTERM = Stop(signal.SIGTERM)
SIGINT = Stop(signal.SIGINT)
CTRL_C = Stop(signal.SIGINT, group=True)


@dataclass
class Site:
    """Files and environment shared by the server under test."""

    directory: Path
    events: Path
    env: dict[str, str]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """The recording app, a static directory and the servers' environment."""
    events = tmp_path / 'events'
    events.mkdir()
    static = tmp_path / 'static'
    static.mkdir()
    (static / 'hello.txt').write_text('a static file\n')
    write_script(tmp_path, 'recording_app.py', RECORDING_APP)
    env = child_env(
        EVENTS_DIR=str(events),
        STATIC_DIR=str(static),
        PYFRAME_MAIN_INTERVAL='0.2',
    )
    # The recording app and wsgi_app must both be importable.
    env['PYTHONPATH'] = os.pathsep.join([str(tmp_path), str(DEPLOY), env['PYTHONPATH']])
    return Site(tmp_path, events, env)


class Server:
    """A WSGI server master process in its own process group."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path, cwd: Path):
        self.log = log
        with open(log, 'wb') as output:
            self.proc = subprocess.Popen(
                args, env=env, cwd=str(cwd), stdout=output, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors='replace')

    def wait_ready(self, url: str) -> None:
        """Wait until ``url`` answers 200 (fail early if the master died)."""
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f'server exited with {self.proc.returncode}:\n'
                                     + self.output())
            try:
                return requests.get(url, timeout=2).status_code == 200
            except requests.ConnectionError:
                return False
        try:
            wait_for(ready, TIMEOUT, interval=0.1)
        except AssertionError as exc:
            raise AssertionError(f'{exc}\n{self.output()}') from None

    def shut_down(self, stop: Stop) -> None:
        """Send the signal of ``stop``; the master must exit with status 0
        in time."""
        if stop.group:
            os.killpg(self.proc.pid, stop.signal)
        else:
            self.proc.send_signal(stop.signal)
        try:
            status = self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f'no exit {TIMEOUT}s after {stop}:\n'
                                 + self.output()) from None
        assert status == 0, self.output()

    def kill(self) -> None:
        """Kill the master and its workers if anything is left."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(TIMEOUT)


@pytest.fixture
def run_server(site: Site):
    """Start server commands (``run_server(args)``); killed at teardown."""
    servers: list[Server] = []

    def start(args: list[str]) -> Server:
        log = site.directory / f'server-{len(servers)}.log'
        server = Server(args, site.env, log, cwd=site.directory)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.kill()


# -- what a client sees ---------------------------------------------------


def answering_pids(base: str) -> set[int]:
    """Ask ``/pid`` in concurrent batches until two workers have answered."""
    def ask(_):
        response = requests.get(f'{base}/pid', headers={'Connection': 'close'},
                                timeout=10)
        assert response.status_code == 200, response.text
        return int(response.text)

    pids: set[int] = set()
    deadline = time.monotonic() + TIMEOUT
    with ThreadPoolExecutor(8) as pool:
        while len(pids) < 2 and time.monotonic() < deadline:
            pids.update(pool.map(ask, range(16)))
    return pids


def check_site(base: str) -> set[int]:
    """Check pages, form, static file and errors; return the worker pids seen."""
    response = requests.get(f'{base}/')
    assert (response.status_code, response.text) == (200, 'Hello from pyframe!')

    response = requests.post(f'{base}/greet', data={'name': 'Ann & Bob'})
    assert (response.status_code, response.text) == (200, 'Hello, Ann & Bob!')

    response = requests.get(f'{base}/static/hello.txt')
    assert (response.status_code, response.text) == (200, 'a static file\n')
    assert response.headers['Content-Type'].startswith('text/plain')

    response = requests.get(f'{base}/greet', params={'name': 'Ann'})
    assert response.status_code == 405
    assert response.headers['Allow'] == 'POST'
    # A body parameter the handler does not take is the client's mistake.
    response = requests.post(f'{base}/greet', data={'name': 'Ann', 'age': '3'})
    assert response.status_code == 400
    assert requests.get(f'{base}/no/such/page').status_code == 404
    assert requests.get(f'{base}/static/missing.txt').status_code == 404

    response = requests.get(f'{base}/fail')
    assert response.status_code == 500
    # The embedded environment keeps tracebacks out of error pages.
    assert 'Traceback' not in response.text
    assert 'always fails' not in response.text

    pids = answering_pids(base)
    assert len(pids) >= 2, f'only {pids} answered'
    return pids


# -- what the engines did -------------------------------------------------


def read_events(events: Path) -> dict[int, list[dict]]:
    """pid -> the events that process recorded, in order."""
    return {
        int(path.stem): [json.loads(line) for line in path.read_text().splitlines()]
        for path in events.glob('*.jsonl')
    }


def wait_for_main(events: Path, pids: set[int]) -> None:
    """Wait until each of ``pids`` has seen its engine publish 'main'."""
    def all_seen() -> bool:
        seen = read_events(events)
        return all(any(e['event'] == 'main' for e in seen.get(pid, ())) for pid in pids)
    wait_for(all_seen, TIMEOUT, interval=0.1)


def check_engines(events: Path, master: int, answered: set[int]) -> None:
    """Each worker ran its own engine once, the embedded way; the master none."""
    recorded = read_events(events)
    workers = {pid for pid, seen in recorded.items()
               if any(e['event'] == 'start' for e in seen)}
    assert len(workers) == WORKERS, recorded
    assert answered <= workers
    assert master not in workers
    for pid in workers:
        seen = recorded[pid]
        names = [e['event'] for e in seen if e['event'] != 'import']
        assert names == ['start', 'main', 'stop', 'exit'], (pid, seen)
        start = next(e for e in seen if e['event'] == 'start')
        listeners = start['listeners']
        assert not [name for name, n in Counter(listeners).items() if n > 1], listeners
        assert 'Server.start' not in listeners  # the WSGI server listens
        assert 'Autoreloader.start' not in listeners
        assert listeners.count('TimeoutMonitor.start') == 1
        assert start['pyframe_signal_handlers'] == []


def serve_and_check(server: Server, site: Site, base: str, stop: Stop) -> None:
    """Run the HTTP checks, shut the server down, check the engines."""
    server.wait_ready(f'{base}/')
    answered = check_site(base)
    wait_for_main(site.events, answered)
    server.shut_down(stop)
    check_engines(site.events, server.proc.pid, answered)
    output = server.output()
    # log.wsgi: the traceback of /fail went to the server's own log ...
    assert 'RuntimeError: this page always fails' in output
    # ... but nothing went to the screen (the embedded environment) ...
    assert 'Bus STARTING' not in output
    # ... and every engine was exited by the hooks, not by the fallback
    # that warns when an interpreter ends with a running engine.
    assert 'while the bus is in the' not in output


# -- uWSGI ----------------------------------------------------------------


def nginx_uwsgi_params() -> Path:
    """The uwsgi_params file that comes with nginx (skip or fail if absent)."""
    path = Path('/etc/nginx/uwsgi_params')
    if not path.is_file():
        message = f'{path} is missing (it comes with the nginx package)'
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def uwsgi_ini(site: Site, example: str, **overrides: str) -> Path:
    """An ini that includes ``examples/deploy/uwsgi/<example>`` and serves
    the recording app instead of wsgi_app."""
    lines = ['[uwsgi]', f'ini = {DEPLOY / "uwsgi" / example}',
             'module = recording_app:application', f'pythonpath = {site.directory}']
    lines += [f'{key} = {value}' for key, value in overrides.items()]
    path = site.directory / f'test-{example}'
    path.write_text('\n'.join(lines) + '\n')
    return path


def test_uwsgi_http_workers_run_their_own_engine(site, run_server):
    """uwsgi --http, two lazy-apps workers, stopped by SIGTERM (die-on-term)."""
    uwsgi = venv_program('uwsgi')
    port = free_port()
    site.env['PYFRAME_PORT'] = str(port)
    server = run_server([uwsgi, '--ini', str(uwsgi_ini(site, 'http.ini'))])
    serve_and_check(server, site, f'http://127.0.0.1:{port}', SIGTERM)
    # lazy-apps: the master never even imported the app.
    assert server.proc.pid not in read_events(site.events)


@pytest.mark.parametrize('lazy_apps, stop', [
    pytest.param('true', SIGINT, id='lazy-apps'),
    # Without lazy-apps the master imports the app and forks the workers;
    # wsgi_app then starts the engine from uWSGI's post-fork hook.
    pytest.param('false', SIGTERM, id='app-loaded-in-master'),
])
def test_uwsgi_behind_nginx(site, run_server, tmp_path, lazy_apps, stop):
    """nginx uwsgi_pass -> uwsgi --socket with two workers."""
    uwsgi = venv_program('uwsgi')
    uwsgi_port = free_port()
    site.env['PYFRAME_PORT'] = str(uwsgi_port)
    ini = uwsgi_ini(site, 'socket.ini', **{'lazy-apps': lazy_apps})
    server = run_server([uwsgi, '--ini', str(ini)])

    nginx_port = free_port()
    site_conf = render((DEPLOY / 'uwsgi' / 'nginx-site.conf').read_text(),
                       listen_http=nginx_port, uwsgi_port=uwsgi_port,
                       uwsgi_params=nginx_uwsgi_params())
    with start_nginx(tmp_path, site_conf) as nginx:
        serve_and_check(server, site, f'http://127.0.0.1:{nginx_port}', stop)
        # The requests really went through nginx.
        assert '"POST /greet HTTP/1.1" 200' in nginx.access_text()
    # Without lazy-apps the master imports the app but starts no engine.
    master_events = [e['event'] for e in read_events(site.events).get(server.proc.pid, [])]
    assert master_events == (['import'] if lazy_apps == 'false' else [])


# -- gunicorn -------------------------------------------------------------


@pytest.mark.parametrize('preload, stop', [
    pytest.param(False, SIGTERM, id='import-in-worker'),
    pytest.param(True, SIGTERM, id='preload'),
    # Ctrl-C: SIGINT to the workers, then the master's SIGQUIT on top.
    pytest.param(False, CTRL_C, id='ctrl-c'),
])
def test_gunicorn_workers_run_their_own_engine(site, run_server, preload, stop):
    """gunicorn -w 2 sync workers, with and without --preload."""
    gunicorn = venv_program('gunicorn')
    port = free_port()
    args = [gunicorn, '-c', str(DEPLOY / 'gunicorn' / 'gunicorn.conf.py'),
            '-b', f'127.0.0.1:{port}', '-w', str(WORKERS)]
    if preload:
        args.append('--preload')
    server = run_server([*args, 'recording_app:application'])
    serve_and_check(server, site, f'http://127.0.0.1:{port}', stop)
    imports = {pid for pid, seen in read_events(site.events).items()
               if seen[0]['event'] == 'import'}
    # --preload: only the master imports the app; otherwise each worker does.
    assert imports == ({server.proc.pid} if preload else
                       set(read_events(site.events)) - {server.proc.pid})
    assert 'Shutting down: Master' in server.output()
