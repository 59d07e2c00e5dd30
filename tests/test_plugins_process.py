"""pyframe.process.plugins in real child processes.

Signals sent from outside, daemonizing, re-executing and dropping
privileges change the whole process, so each test runs a small script in
a child Python and watches what it prints, writes and how it exits.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import signal
import textwrap
import time
from pathlib import Path

import pytest

from support import read_pid, wait_for, write_script

pytestmark = pytest.mark.slow

# Every script starts with this: a bus whose log lines go to stdout, so the
# test can read them from the child's output (or the daemon's log file).
PRELUDE = """\
import logging, os, sys
from pyframe.process import plugins, wspbus

print(f'SCRIPT START pid={os.getpid()}', flush=True)
bus = wspbus.Bus()
bus.subscribe(
    'log',
    lambda msg, level=logging.INFO: print(
        f'[{logging.getLevelName(level)}] {msg}', flush=True
    ),
)
"""


def script(directory: Path, name: str, body: str) -> Path:
    """Write a child script: PRELUDE followed by ``body``."""
    return write_script(directory, name, PRELUDE + textwrap.dedent(body))


def is_gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie awaiting its reaper counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return False
    # The state letter follows the command name, which is in parentheses.
    return stat.rsplit(')', 1)[1].split()[0] in ('Z', 'X')


def kill_if_alive(*pids: int | None) -> None:
    for pid in pids:
        if pid and not is_gone(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


# -- SignalHandler ------------------------------------------------------------


@pytest.fixture
def signalled_child(spawn, tmp_path):
    """A child with SignalHandler subscribed, started and blocking."""
    path = script(tmp_path, 'signals_app.py', """\
        handler = plugins.SignalHandler(bus)
        handler.subscribe()
        handler.set_handler('SIGUSR2', lambda: print('CUSTOM SIGUSR2', flush=True))
        bus.subscribe('graceful', lambda: print('GRACEFUL', flush=True))
        bus.start()
        print('READY', flush=True)
        bus.block()
        print('BLOCK RETURNED', flush=True)
        """)
    child = spawn([path])
    child.wait_output('READY')
    return child


def test_sigterm_exits_the_bus_cleanly(signalled_child):
    child = signalled_child
    assert 'Listening for SIGTERM.' in child.output()
    child.proc.send_signal(signal.SIGTERM)
    assert child.wait(10) == 0
    output = child.output()
    assert 'Caught signal SIGTERM.' in output
    assert 'Bus EXITED' in output
    assert 'BLOCK RETURNED' in output


def test_sigusr1_reloads_and_keeps_running(signalled_child):
    child = signalled_child
    child.proc.send_signal(signal.SIGUSR1)
    child.wait_output('GRACEFUL')
    assert 'Caught signal SIGUSR1.' in child.output()
    time.sleep(0.2)
    assert child.proc.poll() is None
    child.proc.send_signal(signal.SIGTERM)
    assert child.wait(10) == 0


def test_sighup_exits_a_process_that_is_not_daemonized(signalled_child):
    child = signalled_child
    child.proc.send_signal(signal.SIGHUP)
    assert child.wait(10) == 0
    output = child.output()
    assert 'Caught signal SIGHUP.' in output
    assert 'not daemonized: exiting' in output
    assert 'Bus EXITED' in output
    assert 'Re-spawning' not in output


def test_set_handler_listener_receives_its_signal(signalled_child):
    child = signalled_child
    child.proc.send_signal(signal.SIGUSR2)
    child.wait_output('CUSTOM SIGUSR2')
    assert child.proc.poll() is None


# -- Daemonizer and PIDFile ---------------------------------------------------


DAEMON_APP = """\
    plugins.SignalHandler(bus).subscribe()
    plugins.Daemonizer(bus, stdout=sys.argv[2], stderr=sys.argv[2]).subscribe()
    plugins.PIDFile(bus, sys.argv[1]).subscribe()
    bus.start()
    bus.block()
    """


def text_of(path: Path) -> str:
    """The file's text, or '' while the daemon has not created it yet."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return ''



def test_daemon_writes_its_pid_file_and_cleans_up_on_sigterm(spawn, tmp_path):
    pidfile, log = tmp_path / 'app.pid', tmp_path / 'daemon.log'
    launcher = spawn([script(tmp_path, 'daemon_app.py', DAEMON_APP), pidfile, log])
    pid = None
    try:
        # The launcher leaves as soon as the first fork succeeded.
        assert launcher.wait(10) == 0
        pid = wait_for(lambda: read_pid(pidfile), timeout=10)
        assert pid != launcher.pid
        assert not is_gone(pid)
        # Detached: a session of its own, and (after the second fork) not
        # its leader, so it can never get a controlling terminal back.
        assert os.getsid(pid) != os.getsid(0)
        assert os.getsid(pid) != pid
        wait_for(lambda: f'Daemonized to PID: {pid}' in text_of(log), timeout=10)
        wait_for(lambda: 'Bus STARTED' in text_of(log), timeout=10)

        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not pidfile.exists(), timeout=10)
        wait_for(lambda: is_gone(pid), timeout=10)
        text = log.read_text()
        assert 'Caught signal SIGTERM.' in text
        assert f"PID file removed: '{pidfile}'." in text
    finally:
        kill_if_alive(pid)


def test_sighup_restarts_a_daemon_in_place(spawn, tmp_path):
    pidfile, log = tmp_path / 'app.pid', tmp_path / 'daemon.log'
    launcher = spawn([script(tmp_path, 'daemon_app.py', DAEMON_APP), pidfile, log])
    first = second = None
    try:
        assert launcher.wait(10) == 0
        first = wait_for(lambda: read_pid(pidfile), timeout=10)
        wait_for(lambda: 'Bus STARTED' in text_of(log), timeout=10)

        os.kill(first, signal.SIGHUP)
        # execv keeps the pid: the script starts again as `first`, which
        # then daemonizes afresh and records the new daemon's pid.
        wait_for(lambda: f'SCRIPT START pid={first}' in text_of(log), timeout=10)
        second = wait_for(
            lambda: (read_pid(pidfile) or first) != first and read_pid(pidfile),
            timeout=10,
        )
        wait_for(lambda: text_of(log).count('Bus STARTED') == 2, timeout=10)
        text = log.read_text()
        assert 'SIGHUP received by a daemon: restarting.' in text
        assert 'Re-spawning' in text
        assert text.count('Daemonized to PID') == 2
        assert f'Daemonized to PID: {second}' in text
        wait_for(lambda: is_gone(first), timeout=10)

        os.kill(second, signal.SIGTERM)
        wait_for(lambda: is_gone(second), timeout=10)
        assert not pidfile.exists()
    finally:
        kill_if_alive(first, second)


def test_daemonizer_warns_about_threads_and_forks_only_once(spawn, tmp_path):
    log = tmp_path / 'daemon.log'
    path = script(tmp_path, 'threaded_app.py', """\
        import threading
        threading.Thread(target=threading.Event().wait, args=(5,), daemon=True).start()
        plugins.Daemonizer(bus, stdout=sys.argv[1], stderr=sys.argv[1]).subscribe()
        bus.start()
        bus.stop()
        bus.start()  # e.g. after a graceful stop/start: no second fork
        print(f'STILL pid={os.getpid()}', flush=True)
        bus.exit()
        """)
    launcher = spawn([path, log])
    pid = None
    try:
        assert launcher.wait(10) == 0
        wait_for(lambda: 'Bus EXITED' in text_of(log), timeout=10)
        text = log.read_text()
        pid = int(re.search(r'Daemonized to PID: (\d+)', text)[1])
        assert f'STILL pid={pid}' in text
        assert text.count('Daemonized to PID') == 1
        assert '[INFO] Already daemonized.' in text
        # Logged before the fork, so it reaches the launching terminal.
        assert re.search(r'\[WARNING\] Forking while 1 other thread', launcher.output())
    finally:
        kill_if_alive(pid)


# -- Autoreloader ---------------------------------------------------------------


def bump_mtime(path: Path, seconds: int = 5) -> None:
    """Move a file's mtime forward, so coarse timestamps cannot hide a change."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))


AUTOAPP_MAIN = """\
from autoapp import helper, excluded

reloader = plugins.Autoreloader(
    bus, frequency=0.2, match=r'^(?!pyframe|autoapp\\.excluded)'
)
reloader.files.add('settings.ini')
reloader.subscribe()
bus.start()
print(f'AUTOAPP READY version={VERSION} pid={os.getpid()}', flush=True)
bus.block()
"""


@pytest.fixture
def autoapp(spawn, tmp_path):
    """A package run as ``python -m autoapp.main`` with an Autoreloader."""
    package = tmp_path / 'autoapp'
    package.mkdir()
    (package / '__init__.py').write_text('')
    (package / 'helper.py').write_text('X = 1\n')
    (package / 'excluded.py').write_text('X = 1\n')
    (tmp_path / 'settings.ini').write_text('a = 1\n')
    write_script(package, 'main.py', PRELUDE + 'VERSION = 1\n' + AUTOAPP_MAIN)
    child = spawn(['-m', 'autoapp.main'], cwd=tmp_path)
    child.wait_output('AUTOAPP READY version=1')
    return child


def readies(child) -> list[str]:
    return re.findall(r'AUTOAPP READY (.*)', child.output())


def test_autoreload_reexecs_a_python_m_program_when_its_main_changes(autoapp, tmp_path):
    main = tmp_path / 'autoapp' / 'main.py'
    main.write_text(main.read_text().replace('VERSION = 1', 'VERSION = 2'))
    bump_mtime(main)
    autoapp.wait_output('AUTOAPP READY version=2')
    output = autoapp.output()
    assert f'Restarting because {main} changed.' in output
    # execv replaced the program in the same process.
    assert readies(autoapp) == [
        f'version=1 pid={autoapp.pid}',
        f'version=2 pid={autoapp.pid}',
    ]
    assert autoapp.proc.poll() is None


def test_autoreload_watches_extra_files(autoapp, tmp_path):
    bump_mtime(tmp_path / 'settings.ini')
    wait_for(lambda: len(readies(autoapp)) == 2, timeout=10)
    # Added as a relative path; the process never changed directory.
    assert 'Restarting because settings.ini changed.' in autoapp.output()


def test_autoreload_skips_modules_excluded_by_match(autoapp, tmp_path):
    bump_mtime(tmp_path / 'autoapp' / 'excluded.py')
    time.sleep(1)  # five polls: an excluded module must not trigger a restart
    helper = tmp_path / 'autoapp' / 'helper.py'
    bump_mtime(helper)
    wait_for(lambda: len(readies(autoapp)) == 2, timeout=10)
    restarts = re.findall(r'Restarting because (.*) changed\.', autoapp.output())
    assert restarts == [str(helper)]


# -- DropPrivileges ------------------------------------------------------------


def nobody_ids():
    try:
        nobody = pwd.getpwnam('nobody')
    except KeyError:
        pytest.skip("this system has no 'nobody' user")
    return nobody.pw_uid, nobody.pw_gid, grp.getgrgid(nobody.pw_gid).gr_name


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason='dropping privileges needs root')
def test_drop_privileges_switches_user_group_and_umask(spawn, tmp_path):
    uid, gid, group = nobody_ids()
    inherited = os.umask(0o022)
    os.umask(inherited)
    path = script(tmp_path, 'drop_app.py', f"""\
        plugins.DropPrivileges(
            bus, uid='nobody', gid={group!r}, umask=0o027
        ).subscribe()
        bus.start()
        mask = os.umask(0)
        print(f'IDS uid={{os.getuid()}} euid={{os.geteuid()}} gid={{os.getgid()}} '
              f'groups={{os.getgroups()}} umask={{mask:03o}}', flush=True)
        bus.stop()
        bus.start()  # the switch happens once
        bus.exit()
        """)
    child = spawn([path])
    assert child.wait(10) == 0
    output = child.output()
    assert f'IDS uid={uid} euid={uid} gid={gid} groups=[] umask=027' in output
    assert 'Started as uid: 0 gid: 0' in output
    assert f'Running as uid: {uid} gid: {gid}' in output
    assert f'umask changed from {inherited:03o} to 027.' in output
    assert f'Privileges already set; running as uid: {uid} gid: {gid}.' in output


@pytest.mark.root
@pytest.mark.skipif(os.geteuid() != 0, reason='dropping privileges needs root')
def test_drop_privileges_with_only_uid_takes_the_users_group(spawn, tmp_path):
    uid, gid, _ = nobody_ids()
    path = script(tmp_path, 'uid_only_app.py', """\
        plugins.DropPrivileges(bus, uid='nobody').subscribe()
        bus.start()
        print(f'IDS uid={os.getuid()} gid={os.getgid()} groups={os.getgroups()}', flush=True)
        bus.exit()
        """)
    child = spawn([path])
    assert child.wait(10) == 0
    assert f'IDS uid={uid} gid={gid} groups=[]' in child.output()


def test_drop_privileges_without_root_fails_clearly(spawn, tmp_path):
    # As root, first become an ordinary user; then ask for root back.
    path = script(tmp_path, 'no_root_app.py', """\
        import pwd
        if os.geteuid() == 0:
            nobody = pwd.getpwnam('nobody')
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
        plugin = plugins.DropPrivileges(bus, uid=0, gid=0)
        try:
            plugin.start()
        except PermissionError as exc:
            print(f'REFUSED {exc}', flush=True)
        """)
    if os.geteuid() == 0:
        nobody_ids()
    child = spawn([path])
    assert child.wait(10) == 0
    output = child.output()
    assert 'REFUSED Cannot switch to uid 0 gid 0' in output
    assert 'only root may change ids' in output
