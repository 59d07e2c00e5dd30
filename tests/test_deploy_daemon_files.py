"""The example systemd and supervisord files of docs/deploy/daemon.rst.

systemd itself is not run here. The tests check that every command the
files contain is one ``pyframed`` accepts, that the units agree with each
other (PID file, ports), and they simulate socket activation the way
systemd performs it: a pre-bound socket as descriptor 3 with LISTEN_FDS=1
and LISTEN_PID naming the process, serving the example app and config.
"""

from __future__ import annotations

import configparser
import shlex
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from pyframe.daemon import build_parser
from support import REPO, child_env, wait_for

EXAMPLES = REPO / 'examples' / 'deploy'
SYSTEMD = EXAMPLES / 'systemd'
SUPERVISORD = EXAMPLES / 'supervisord'


def unit(path: Path) -> configparser.ConfigParser:
    """Parse a systemd unit file (close enough to INI for these files)."""
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    return parser


def pyframed_args(command: str) -> list[str]:
    """The arguments of a pyframed command line, checked by pyframed's parser."""
    words = shlex.split(command)
    assert Path(words[0]).name == 'pyframed', command
    args = words[1:]
    build_parser('pyframed').parse_args(args)  # SystemExit(2) on a bad option
    return args


def referenced_files(args: list[str]) -> list[str]:
    """Config files (-c) and modules (-i) a command uses."""
    parsed = build_parser('pyframed').parse_args(args)
    return [*parsed.config, *(f'{name}.py' for name in parsed.imports)]


SERVICES = sorted(SYSTEMD.glob('*.service'))


def test_every_example_file_is_there():
    names = {path.name for path in SYSTEMD.iterdir()} | {
        path.name for path in SUPERVISORD.iterdir()
    }
    assert {
        'pyframe-app.service', 'pyframe-activated.socket', 'pyframe-activated.service',
        'pyframe-forking.service', 'pyframe-app.logrotate', 'site.conf', 'app.py',
        'privileges.py', 'pyframe-app.conf',
    } <= names


@pytest.mark.parametrize('path', SERVICES, ids=lambda p: p.name)
def test_service_commands_are_valid_pyframed_commands(path):
    service = unit(path)['Service']
    args = pyframed_args(service['ExecStart'])
    # Every config file and module the command names ships with the example.
    for name in referenced_files(args):
        assert (SYSTEMD / name).is_file(), f'{path.name} uses missing {name}'
    # Reload is the graceful channel (SIGUSR1): SIGHUP would end a
    # foreground process and change the PID of a forking one.
    assert service['ExecReload'] == '/bin/kill -USR1 $MAINPID'


@pytest.mark.parametrize('path', SERVICES, ids=lambda p: p.name)
def test_only_forking_services_daemonize_and_they_share_the_pid_file(path):
    service = unit(path)['Service']
    parsed = build_parser('pyframed').parse_args(pyframed_args(service['ExecStart']))
    if service['Type'] == 'forking':
        assert parsed.daemonize
        assert parsed.pidfile == service['PIDFile']
    else:
        # systemd (Type=simple) supervises the foreground process itself.
        assert service['Type'] == 'simple'
        assert not parsed.daemonize and parsed.pidfile is None


def test_socket_unit_matches_its_service_and_the_site_port():
    socket_unit = unit(SYSTEMD / 'pyframe-activated.socket')
    service = unit(SYSTEMD / 'pyframe-activated.service')
    assert service['Unit']['Requires'] == 'pyframe-activated.socket'
    site = configparser.ConfigParser()
    site.read(SYSTEMD / 'site.conf')
    host = site['global']['server.socket_host'].strip("'")
    port = site['global']['server.socket_port']
    assert socket_unit['Socket']['ListenStream'] == f'{host}:{port}'


def test_supervisord_program_runs_pyframed_in_the_foreground():
    config = configparser.ConfigParser(interpolation=None)
    config.read(SUPERVISORD / 'pyframe-app.conf')
    program = config['program:pyframe-app']
    args = pyframed_args(program['command'])
    # supervisord can only watch a process that stays in the foreground.
    assert '-d' not in args
    for name in referenced_files(args):
        assert (SYSTEMD / name).is_file()
    assert program['stopsignal'] == 'TERM'
    assert program['autorestart'] == 'true'


def test_logrotate_sends_the_graceful_signal():
    text = (SYSTEMD / 'pyframe-app.logrotate').read_text()
    assert 'systemctl kill --signal=USR1 pyframe-app.service' in text
    assert '/var/log/pyframe-app/*.log' in text


@pytest.fixture
def activated(tmp_path):
    """Run the socket-activated service's command as systemd would."""
    procs = []

    def start(sock: socket.socket) -> subprocess.Popen:
        service = unit(SYSTEMD / 'pyframe-activated.service')['Service']
        args = pyframed_args(service['ExecStart'])
        # The test's own copy of site.conf: logs in tmp_path, not /var/log.
        site = (SYSTEMD / 'site.conf').read_text().replace(
            '/var/log/pyframe-app', str(tmp_path)
        )
        (tmp_path / 'site.conf').write_text(site)
        (tmp_path / 'app.py').write_text((SYSTEMD / 'app.py').read_text())
        # Like systemd: the socket is descriptor 3, LISTEN_PID is the pid
        # of the process that execs the service (the shell's $$).
        command = 'LISTEN_PID=$$ LISTEN_FDS=1 exec "$@" 3<&0 </dev/null'
        proc = subprocess.Popen(
            ['sh', '-c', command, 'sh', sys.executable, '-m', 'pyframe', *args],
            stdin=sock, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd=tmp_path, env=child_env(),
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


@pytest.mark.slow
def test_socket_activated_service_serves_on_the_passed_socket(activated, tmp_path):
    # Any port: with socket activation the socket unit decides, and
    # site.conf's port 8080 is not bound.
    with socket.create_server(('127.0.0.1', 0)) as sock:
        port = sock.getsockname()[1]
        proc = activated(sock)
        error_log = tmp_path / 'error.log'
        wait_for(lambda: 'Bus STARTED' in _read(error_log) or proc.poll() is not None, 20)
        assert f'Serving on http://127.0.0.1:{port}' in _read(error_log)

        with urllib.request.urlopen(f'http://127.0.0.1:{port}/', timeout=10) as response:
            assert response.status == 200
            assert response.read().decode() == f'Hello from process {proc.pid}\n'

    # SIGTERM (systemctl stop) ends it cleanly.
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert 'Bus EXITED' in _read(error_log)
    assert (tmp_path / 'access.log').read_text().count('"GET / HTTP/1.1" 200') == 1


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ''
