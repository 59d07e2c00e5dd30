"""The ``pyframed`` command (``python -m pyframe``), run as real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import Child, child_env, free_port, process_alive, read_pid, wait_for, write_script

pytestmark = pytest.mark.slow

APP = """\
import pyframe


class Root:
    @pyframe.expose
    def index(self):
        who = pyframe.request.app.config.get('/', {}).get('greeting.who', '?')
        return f'Hello {who} from {__import__("os").getpid()}'


pyframe.tree.mount(Root())
"""


def write_site(directory: Path, port: int, extra: str = '') -> Path:
    """The app module (hello.py) and a config serving it on ``port``."""
    write_script(directory, 'hello.py', APP)
    return write_script(
        directory,
        'site.conf',
        f"""\
        [global]
        server.socket_port = {port}
        engine.autoreload.on = False
        {extra}
        [/]
        greeting.who = 'world'
        """,
    )


def get(port: int, timeout: float = 2.0) -> str | None:
    """Body of GET / on ``port``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=timeout) as resp:
            return resp.read().decode()
    except (urllib.error.URLError, OSError):
        return None


def run(args, cwd, timeout: float = 15.0) -> subprocess.CompletedProcess:
    """Run ``python -m pyframe ARGS`` to completion."""
    return subprocess.run(
        [sys.executable, '-m', 'pyframe', *map(str, args)],
        cwd=str(cwd),
        env=child_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )




def kill_quietly(pid: int | None) -> None:
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# -- serving in the foreground ------------------------------------------------------


def test_serves_imported_app_with_config_and_exits_on_sigterm(tmp_path):
    port = free_port()
    conf = write_site(tmp_path, port)
    child = Child(['-m', 'pyframe', '-c', conf, '-i', 'hello'], cwd=tmp_path)
    try:
        body = wait_for(lambda: get(port), timeout=15)
        # The [/] section of the file reached the mounted application too.
        assert body.startswith('Hello world from ')
        assert 'Bus STARTED' in child.output()
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == 0
        assert 'Caught signal SIGTERM.' in child.output()
    finally:
        child.stop()


def test_path_option_and_production_environment(tmp_path):
    port = free_port()
    appdir = tmp_path / 'apps'
    appdir.mkdir()
    conf = write_site(appdir, port)
    # hello.py lives in apps/, reachable only through -P.
    child = Child(
        ['-m', 'pyframe', '-P', appdir, '-c', conf, '-i', 'hello', '-e', 'production'],
        cwd=tmp_path,
    )
    try:
        assert wait_for(lambda: get(port), timeout=15).startswith('Hello world')
        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == 0
        # production turns the screen log off: not one engine line printed.
        assert 'ENGINE' not in child.output()
    finally:
        child.stop()


# -- mistakes: clean messages, status 2 ---------------------------------------------


def test_bad_option_prints_usage(tmp_path):
    result = run(['--no-such-option'], tmp_path)
    assert result.returncode == 2
    assert 'usage:' in result.stderr
    assert 'Traceback' not in result.stderr


def test_conflicting_gateways_are_refused(tmp_path):
    result = run(['-f', '-s'], tmp_path)
    assert result.returncode == 2
    assert 'not allowed with' in result.stderr


def test_missing_config_file(tmp_path):
    result = run(['-c', 'missing.conf'], tmp_path)
    assert result.returncode == 2
    assert 'missing.conf' in result.stderr
    assert 'No such file' in result.stderr
    assert 'Traceback' not in result.stderr


def test_invalid_value_in_config_file(tmp_path):
    write_script(tmp_path, 'bad.conf', '[global]\nserver.socket_port = not valid!\n')
    result = run(['-c', 'bad.conf'], tmp_path)
    assert result.returncode == 2
    assert 'bad.conf' in result.stderr
    assert '[global]' in result.stderr
    assert 'server.socket_port' in result.stderr
    assert 'Traceback' not in result.stderr


def test_unknown_config_key(tmp_path):
    write_script(tmp_path, 'typo.conf', '[global]\nserver.sokcet_port = 1\n')
    result = run(['-c', 'typo.conf'], tmp_path)
    assert result.returncode == 2
    assert 'typo.conf' in result.stderr
    assert 'server.sokcet_port' in result.stderr


def test_unknown_environment(tmp_path):
    result = run(['-e', 'nowhere'], tmp_path)
    assert result.returncode == 2
    assert "unknown environment 'nowhere'" in result.stderr
    assert 'production' in result.stderr


def test_failing_import_names_the_module(tmp_path):
    write_script(tmp_path, 'broken.py', 'raise RuntimeError("boom at import")\n')
    result = run(['-i', 'broken'], tmp_path)
    assert result.returncode == 2
    assert "'broken'" in result.stderr
    assert 'boom at import' in result.stderr
    assert 'Traceback' not in result.stderr

    result = run(['-i', 'no_such_module_here'], tmp_path)
    assert result.returncode == 2
    assert 'no_such_module_here' in result.stderr


def test_engine_that_cannot_start_exits_70(tmp_path):
    port = free_port()
    conf = write_site(tmp_path, port)
    # Something already listens on the port.
    import socket

    with socket.socket() as sock:
        sock.bind(('127.0.0.1', port))
        sock.listen()
        result = run(['-c', conf, '-i', 'hello'], tmp_path)
    assert result.returncode == 70
    assert 'could not start' in result.stderr


def test_fastcgi_without_flup_explains(tmp_path):
    try:
        import flup  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip('flup is installed')
    conf = write_site(tmp_path, free_port())
    result = run(['-f', '-c', conf, '-i', 'hello'], tmp_path)
    assert result.returncode == 70
    assert 'flup' in result.stderr


# -- daemon ------------------------------------------------------------------------


def test_daemon_pidfile_sighup_restart_and_sigterm(tmp_path):
    port = free_port()
    log = tmp_path / 'error.log'
    conf = write_site(tmp_path, port, extra=f'log.error_file = {str(log)!r}')
    pidfile = tmp_path / 'pyframed.pid'
    pids: list[int] = []
    launcher = Child(
        ['-m', 'pyframe', '-d', '-p', pidfile, '-c', conf, '-i', 'hello'], cwd=tmp_path
    )
    try:
        # The launching process leaves at once; the daemon goes on.
        assert launcher.wait() == 0
        first = wait_for(lambda: read_pid(pidfile), timeout=15)
        pids.append(first)
        assert first != launcher.pid
        body = wait_for(lambda: get(port), timeout=15)
        assert body == f'Hello world from {first}'

        # SIGHUP makes a daemon restart itself: a fresh process, same app.
        os.kill(first, signal.SIGHUP)
        second = wait_for(
            lambda: (pid := read_pid(pidfile)) and pid != first and pid, timeout=15
        )
        pids.append(second)
        body = wait_for(lambda: (b := get(port)) and str(second) in b and b, timeout=15)
        assert body == f'Hello world from {second}'

        # SIGTERM ends it and removes the PID file.
        os.kill(second, signal.SIGTERM)
        wait_for(lambda: not pidfile.exists(), timeout=15)
        wait_for(lambda: not process_alive(second), timeout=15)
        wait_for(lambda: get(port, timeout=0.5) is None, timeout=15)
        assert 'SIGHUP received by a daemon: restarting.' in log.read_text()
    finally:
        for pid in [*pids, read_pid(pidfile)]:
            kill_quietly(pid)
        launcher.stop()
