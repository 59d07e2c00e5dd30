"""In-process tests of pyframe.process.plugins.

Tests that need a real child process (signals delivered from outside,
daemonizing, re-exec, privilege changes) live in test_plugins_process.py.
"""

from __future__ import annotations

import grp
import logging
import os
import pwd
import signal
import sys
import threading
import time
import types
import zipfile

import pytest

from pyframe.process import plugins, wspbus
from support import wait_for


def bump_mtime(path, seconds: int = 5) -> None:
    """Move a file's mtime forward, so coarse timestamps cannot hide a change."""
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + seconds * 10**9))


def errors(bus) -> list[str]:
    return [msg for msg, level in bus.logged.records if level >= logging.ERROR]


@pytest.fixture
def thread_errors(monkeypatch):
    """Collect exceptions that escape threads (instead of printing them)."""
    seen: list[BaseException] = []
    monkeypatch.setattr(
        threading, 'excepthook', lambda args: seen.append(args.exc_value)
    )
    return seen


# -- SimplePlugin -------------------------------------------------------------


class Recorder(plugins.SimplePlugin):
    def __init__(self, bus, calls, tag='plugin'):
        super().__init__(bus)
        self.calls = calls
        self.tag = tag

    def start(self):
        self.calls.append((self.tag, 'start'))

    def stop(self):
        self.calls.append((self.tag, 'stop'))

    def reindex(self):
        self.calls.append((self.tag, 'reindex'))

    def helper(self):
        raise AssertionError('not a channel; must never be subscribed')


def test_simple_plugin_subscribes_methods_named_after_known_channels(bus):
    calls = []
    Recorder(bus, calls).subscribe()
    bus.start()
    bus.stop()
    bus.publish('reindex')  # not a channel when the plugin subscribed
    assert calls == [('plugin', 'start'), ('plugin', 'stop')]
    assert 'helper' not in bus.listeners


def test_simple_plugin_subscribes_custom_channels_the_bus_already_knows(bus):
    calls = []
    bus.subscribe('reindex', lambda: calls.append(('other', 'reindex')))
    Recorder(bus, calls).subscribe()
    bus.publish('reindex')
    assert ('plugin', 'reindex') in calls


def test_simple_plugin_honours_a_method_priority(bus):
    calls = []

    class Early(Recorder):
        def start(self):
            super().start()

        start.priority = 10

    Recorder(bus, calls, 'default').subscribe()
    Early(bus, calls, 'early').subscribe()
    bus.start()
    assert calls == [('early', 'start'), ('default', 'start')]


def test_simple_plugin_unsubscribe_detaches_every_method(bus):
    calls = []
    plugin = Recorder(bus, calls)
    plugin.subscribe()
    plugin.unsubscribe()
    bus.start()
    bus.stop()
    assert calls == []


# -- SignalHandler (in this process; pytest runs tests in the main thread) ---


@pytest.fixture
def handler(bus):
    """A SignalHandler with no default handlers (never catch SIGTERM here)."""
    original = signal.getsignal(signal.SIGUSR2)
    instance = plugins.SignalHandler(bus)
    instance.handlers = {}
    yield instance
    instance.unsubscribe()
    signal.signal(signal.SIGUSR2, original)


def test_signals_maps_numbers_to_canonical_names():
    signals = plugins.SignalHandler.signals
    assert signals[signal.SIGTERM] == 'SIGTERM'
    assert signals[signal.SIGHUP] == 'SIGHUP'
    assert signals[signal.SIGCHLD] == 'SIGCHLD'


def test_default_handlers_exit_restart_or_reload(bus):
    handler = plugins.SignalHandler(bus)
    assert handler.handlers == {
        'SIGTERM': bus.exit,
        'SIGHUP': handler.handle_SIGHUP,
        'SIGUSR1': bus.graceful,
    }


def test_set_handler_publishes_the_signal_to_its_listener(bus, handler):
    received = []
    handler.set_handler('SIGUSR2', lambda: received.append('usr2'))
    assert 'Listening for SIGUSR2.' in bus.logged.messages
    os.kill(os.getpid(), signal.SIGUSR2)
    wait_for(lambda: received, timeout=5)
    assert received == ['usr2']
    assert 'Caught signal SIGUSR2.' in bus.logged.messages


def test_set_handler_accepts_a_signal_number(bus, handler):
    handler.set_handler(int(signal.SIGUSR2))
    seen = []
    bus.subscribe('SIGUSR2', lambda: seen.append(1))
    os.kill(os.getpid(), signal.SIGUSR2)
    wait_for(lambda: seen, timeout=5)


@pytest.mark.parametrize('unknown', ['SIGNOPE', 'SIG_DFL', 12345])
def test_set_handler_rejects_a_signal_this_platform_lacks(handler, unknown):
    with pytest.raises(ValueError, match='No such signal'):
        handler.set_handler(unknown)


def test_subscribe_skips_unknown_signals_and_installs_the_rest(bus, handler):
    handler.handlers = {'SIGNOPE': bus.exit, 'SIGUSR2': bus.graceful}
    handler.subscribe()
    assert signal.getsignal(signal.SIGUSR2) == handler._handle_signal
    assert bus.listeners['SIGUSR2'] == {bus.graceful}
    assert 'SIGNOPE' not in bus.listeners


def test_unsubscribe_restores_the_previous_handler(bus, handler):
    def previous(signum, frame):
        pass

    signal.signal(signal.SIGUSR2, previous)
    handler.handlers = {'SIGUSR2': bus.graceful}
    handler.subscribe()
    handler.subscribe()  # twice: must still restore the original, not ours
    assert signal.getsignal(signal.SIGUSR2) != previous
    handler.unsubscribe()
    assert signal.getsignal(signal.SIGUSR2) == previous
    assert any(
        msg.startswith('Restoring SIGUSR2 handler') for msg in bus.logged.messages
    )


def test_subscribe_outside_the_main_thread_warns_and_installs_nothing(bus, handler):
    before = signal.getsignal(signal.SIGUSR2)
    handler.handlers = {'SIGUSR2': bus.graceful}
    worker = threading.Thread(target=handler.subscribe)
    worker.start()
    worker.join()
    assert signal.getsignal(signal.SIGUSR2) == before
    warnings = [msg for msg, level in bus.logged.records if level == logging.WARNING]
    assert any('main thread' in msg for msg in warnings)


class FakeStdin:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        if self.tty is None:
            raise ValueError('I/O operation on closed file')
        return self.tty


@pytest.mark.parametrize('tty', [False, None], ids=['not-a-tty', 'closed'])
def test_sighup_restarts_a_daemonized_process(bus, monkeypatch, tty):
    handler = plugins.SignalHandler(bus)
    bus.start()
    monkeypatch.setattr(os, 'getpid', lambda: -1)  # as if forked
    monkeypatch.setattr(sys, 'stdin', FakeStdin(tty))
    handler.handle_SIGHUP()
    # restart() exits the bus and leaves the execv to block(), not called here.
    assert bus.state is wspbus.states.EXITING
    assert bus.execv is True


@pytest.mark.parametrize(
    'forked, tty', [(False, False), (True, True)], ids=['same-pid', 'on-a-tty']
)
def test_sighup_exits_a_process_that_is_not_a_daemon(bus, monkeypatch, forked, tty):
    handler = plugins.SignalHandler(bus)
    bus.start()
    if forked:
        monkeypatch.setattr(os, 'getpid', lambda: -1)
    monkeypatch.setattr(sys, 'stdin', FakeStdin(tty))
    handler.handle_SIGHUP()
    assert bus.state is wspbus.states.EXITING
    assert bus.execv is False


# -- Daemonizer (real forks are in test_plugins_process.py) -----------------


def test_daemonizer_does_not_fork_twice(bus, monkeypatch):
    def no_fork():
        raise AssertionError('must not fork again')

    monkeypatch.setattr(os, 'fork', no_fork)
    daemonizer = plugins.Daemonizer(bus)
    daemonizer.finalized = True
    daemonizer.start()
    assert 'Already daemonized.' in bus.logged.messages


def test_start_priorities_order_the_process_plugins(bus):
    # Fork before anything records a pid; write the pid file before the
    # server (75) binds; drop privileges only once the port is bound.
    assert plugins.Daemonizer(bus).start.priority == 65
    assert plugins.PIDFile(bus, 'x.pid').start.priority == 70
    assert plugins.DropPrivileges(bus).start.priority == 77


# -- DropPrivileges (the real switch runs in a child process) --------------


def test_drop_privileges_resolves_user_and_group_names(bus):
    user = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(os.getgid())
    plugin = plugins.DropPrivileges(bus, uid=user.pw_name, gid=group.gr_name)
    assert (plugin.uid, plugin.gid) == (user.pw_uid, group.gr_gid)
    plugin.uid, plugin.gid = 12345, None
    assert (plugin.uid, plugin.gid) == (12345, None)


@pytest.mark.parametrize('attr', ['uid', 'gid'])
def test_drop_privileges_rejects_unknown_names(bus, attr):
    with pytest.raises(ValueError, match='no-such-name-here'):
        plugins.DropPrivileges(bus, **{attr: 'no-such-name-here'})


def test_drop_privileges_rejects_a_non_numeric_umask(bus):
    with pytest.raises(TypeError):
        plugins.DropPrivileges(bus, umask='027')


@pytest.fixture
def restore_umask():
    original = os.umask(0o022)
    os.umask(original)
    yield
    os.umask(original)


def test_drop_privileges_sets_the_umask_once(bus, restore_umask):
    os.umask(0o022)
    plugin = plugins.DropPrivileges(bus, umask=0o027)
    plugin.start()
    assert os.umask(0o027) == 0o027
    assert 'umask changed from 022 to 027.' in bus.logged.messages
    os.umask(0o022)
    plugin.start()  # finalized: leaves the umask alone
    assert os.umask(0o022) == 0o022
    assert any('already set' in msg for msg in bus.logged.messages)


def test_drop_privileges_to_the_current_ids_changes_nothing(bus):
    plugin = plugins.DropPrivileges(bus, uid=os.getuid(), gid=os.getgid())
    groups = os.getgroups()
    plugin.start()
    assert os.getgroups() == groups
    ids = f'uid: {os.getuid()} gid: {os.getgid()}'
    assert f'Started as {ids}' in bus.logged.messages
    assert f'Running as {ids}' in bus.logged.messages


def test_drop_privileges_without_settings_warns(bus):
    plugins.DropPrivileges(bus).start()
    assert any(
        'nothing to do' in msg
        for msg, level in bus.logged.records
        if level == logging.WARNING
    )


# -- PIDFile ------------------------------------------------------------------


def test_pidfile_written_at_start_and_removed_at_exit(bus, tmp_path):
    path = tmp_path / 'app.pid'
    plugins.PIDFile(bus, path).subscribe()
    bus.start()
    assert path.read_text() == f'{os.getpid()}\n'
    assert f"PID {os.getpid()} written to '{path}'." in bus.logged.messages
    assert os.listdir(tmp_path) == ['app.pid']  # no temp file left behind
    bus.exit()
    assert not path.exists()
    assert f"PID file removed: '{path}'." in bus.logged.messages


def test_pidfile_is_written_once_per_process(bus, tmp_path):
    path = tmp_path / 'app.pid'
    plugins.PIDFile(bus, path).subscribe()
    bus.start()
    bus.stop()
    path.write_text('overwritten\n')
    bus.start()
    assert path.read_text() == 'overwritten\n'
    assert f"PID {os.getpid()} already written to '{path}'." in bus.logged.messages


def test_pidfile_already_removed_is_not_an_error(bus, tmp_path):
    path = tmp_path / 'app.pid'
    plugins.PIDFile(bus, path).subscribe()
    bus.start()
    path.unlink()
    bus.exit()
    assert bus.exit_status == 0
    assert errors(bus) == []


def test_pidfile_not_written_here_is_left_alone(bus, tmp_path):
    # A second copy that fails before writing must not delete the
    # running copy's file.
    path = tmp_path / 'app.pid'
    path.write_text('4242\n')
    plugins.PIDFile(bus, path).subscribe()
    bus.exit()
    assert path.read_text() == '4242\n'


def test_pidfile_path_is_kept_absolute(bus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    plugin = plugins.PIDFile(bus, 'rel.pid')
    assert plugin.pidfile == str(tmp_path / 'rel.pid')


# -- PerpetualTimer and BackgroundTask ----------------------------------------


def counter():
    calls = []

    def tick(*args, **kwargs):
        calls.append((args, kwargs))

    return calls, tick


@pytest.mark.parametrize('kind', ['timer', 'task'])
def test_repeating_threads_call_until_cancelled(kind):
    calls, tick = counter()
    if kind == 'timer':
        thread = plugins.PerpetualTimer(0.01, tick, args=(1,), kwargs={'x': 2})
    else:
        thread = plugins.BackgroundTask(0.01, tick, args=(1,), kwargs={'x': 2})
    thread.start()
    wait_for(lambda: len(calls) >= 3, timeout=5)
    thread.cancel()
    thread.join(1)
    assert not thread.is_alive()
    settled = len(calls)
    time.sleep(0.05)
    assert len(calls) == settled
    assert calls[0] == ((1,), {'x': 2})


@pytest.mark.parametrize('kind', ['timer', 'task'])
def test_repeating_threads_cancel_promptly_mid_interval(kind):
    calls, tick = counter()
    cls = plugins.PerpetualTimer if kind == 'timer' else plugins.BackgroundTask
    thread = cls(60, tick)
    thread.start()
    began = time.monotonic()
    thread.cancel()
    thread.join(2)
    assert not thread.is_alive()
    assert time.monotonic() - began < 1
    assert calls == []


def test_background_task_is_a_daemon_thread():
    assert plugins.BackgroundTask(1, print).daemon


@pytest.mark.parametrize('kind', ['timer', 'task'])
def test_repeating_threads_log_a_failure_and_stop(bus, thread_errors, kind):
    calls = []

    def boom():
        calls.append(1)
        raise RuntimeError('kaboom')

    if kind == 'timer':
        thread = plugins.PerpetualTimer(0.01, boom, bus=bus)
    else:
        thread = plugins.BackgroundTask(0.01, boom, bus=bus)
    thread.start()
    thread.join(5)
    assert not thread.is_alive()
    assert calls == [1]
    [logged] = errors(bus)
    assert 'boom' in logged
    assert 'RuntimeError: kaboom' in logged  # with the traceback
    assert [type(exc) for exc in thread_errors] == [RuntimeError]


# -- Monitor ------------------------------------------------------------------


def test_monitor_runs_its_callback_while_the_bus_runs(bus):
    calls, tick = counter()
    monitor = plugins.Monitor(bus, tick, frequency=0.01, name='Ticker')
    monitor.subscribe()
    bus.start()
    assert monitor.thread.name == 'Ticker'
    assert "Started monitor thread 'Ticker'." in bus.logged.messages
    wait_for(lambda: len(calls) >= 3, timeout=5)
    thread = monitor.thread
    bus.stop()
    assert monitor.thread is None
    assert not thread.is_alive()
    assert "Stopped thread 'Ticker'." in bus.logged.messages


def test_monitor_thread_is_named_after_the_class_by_default(bus):
    class Sweeper(plugins.Monitor):
        pass

    monitor = Sweeper(bus, print, frequency=60)
    monitor.start()
    try:
        assert monitor.thread.name == 'Sweeper'
        assert "Started monitor thread 'Sweeper'." in bus.logged.messages
    finally:
        monitor.stop()


def test_monitor_stop_is_prompt_even_with_a_long_frequency(bus):
    monitor = plugins.Monitor(bus, print, frequency=60)
    monitor.start()
    thread = monitor.thread
    began = time.monotonic()
    monitor.stop()
    assert time.monotonic() - began < 1
    assert not thread.is_alive()


def test_monitor_second_start_keeps_the_running_thread(bus):
    monitor = plugins.Monitor(bus, print, frequency=60, name='Once')
    monitor.start()
    try:
        thread = monitor.thread
        monitor.start()
        assert monitor.thread is thread
        assert "Monitor thread 'Once' already started." in bus.logged.messages
        assert threading.enumerate().count(thread) == 1
    finally:
        monitor.stop()


def test_monitor_graceful_replaces_the_thread(bus):
    monitor = plugins.Monitor(bus, print, frequency=60)
    monitor.subscribe()
    bus.start()
    old = monitor.thread
    bus.graceful()
    assert monitor.thread is not old
    assert monitor.thread.is_alive()
    assert not old.is_alive()
    bus.stop()


def test_monitor_with_no_frequency_starts_no_thread(bus):
    before = threading.active_count()
    monitor = plugins.Monitor(bus, print, frequency=0)
    monitor.subscribe()
    bus.start()
    assert monitor.thread is None
    assert threading.active_count() == before
    bus.stop()


def test_monitor_stopped_by_its_own_callback_does_not_deadlock(bus):
    monitor = plugins.Monitor(bus, lambda: bus.stop(), frequency=0.01)
    monitor.subscribe()
    bus.start()
    wait_for(lambda: bus.state is wspbus.states.STOPPED, timeout=5)
    assert monitor.thread is None


def test_monitor_logs_a_failing_callback(bus, thread_errors):
    def broken():
        raise KeyError('missing')

    monitor = plugins.Monitor(bus, broken, frequency=0.01)
    monitor.start()
    wait_for(lambda: errors(bus), timeout=5)
    monitor.stop()
    assert 'broken' in errors(bus)[0]


# -- Autoreloader (the real re-exec is in test_plugins_process.py) ---------


@pytest.fixture
def modules_dir(tmp_path, monkeypatch):
    """tmp_path on sys.path; modules imported from it are forgotten after."""
    monkeypatch.syspath_prepend(str(tmp_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_sysfiles_lists_imported_modules_by_absolute_path(bus, modules_dir):
    (modules_dir / 'reload_me.py').write_text('X = 1\n')
    (modules_dir / 'skip_me.py').write_text('X = 1\n')
    __import__('reload_me')
    __import__('skip_me')
    reloader = plugins.Autoreloader(bus)
    files = reloader.sysfiles()
    assert str(modules_dir / 'reload_me.py') in files
    assert str(modules_dir / 'skip_me.py') in files
    assert all(os.path.isabs(path) for path in files)

    reloader.match = r'^(?!skip_me$)'
    files = reloader.sysfiles()
    assert str(modules_dir / 'reload_me.py') in files
    assert str(modules_dir / 'skip_me.py') not in files


def test_sysfiles_match_is_on_module_names(bus):
    reloader = plugins.Autoreloader(bus, match=r'^(?!pyframe).+')
    files = reloader.sysfiles()
    assert plugins.__file__ not in files
    assert os.path.abspath(threading.__file__) in files


def test_sysfiles_watches_the_archive_of_a_zipped_module(bus, modules_dir):
    archive = modules_dir / 'bundle.zip'
    with zipfile.ZipFile(archive, 'w') as bundle:
        bundle.writestr('zipped_mod.py', 'X = 1\n')
    sys.path.insert(0, str(archive))
    try:
        __import__('zipped_mod')
    finally:
        sys.path.remove(str(archive))
    assert str(archive) in plugins.Autoreloader(bus, match='^zipped_mod$').sysfiles()


def test_sysfiles_makes_relative_paths_absolute_and_skips_fileless(
    bus, monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    relative = types.ModuleType('relative_mod')
    relative.__file__ = os.path.join('pkg', 'relative_mod.py')
    monkeypatch.setitem(sys.modules, 'relative_mod', relative)
    monkeypatch.setitem(sys.modules, 'fileless_mod', types.ModuleType('fileless_mod'))
    files = plugins.Autoreloader(bus, match='^(relative|fileless)_mod$').sysfiles()
    assert files == {str(tmp_path / 'pkg' / 'relative_mod.py')}


def watching(bus, *paths):
    """An Autoreloader that watches only ``paths`` (no modules)."""
    reloader = plugins.Autoreloader(bus, match=r'(?!)')  # matches no module
    reloader.files.update(str(path) for path in paths)
    return reloader


def test_run_restarts_the_bus_when_a_watched_file_changes(bus, tmp_path):
    watched = tmp_path / 'settings.ini'
    watched.write_text('a = 1\n')
    reloader = watching(bus, watched)
    bus.start()
    reloader.run()  # first pass records the times
    assert bus.state is wspbus.states.STARTED
    bump_mtime(watched)
    reloader.run()
    assert f'Restarting because {watched} changed.' in bus.logged.messages
    # The main thread's block() would now re-exec the process.
    assert bus.execv is True
    assert bus.state is wspbus.states.EXITING


def test_run_restarts_the_bus_when_a_watched_file_is_deleted(bus, tmp_path):
    watched = tmp_path / 'settings.ini'
    watched.write_text('a = 1\n')
    reloader = watching(bus, watched)
    reloader.run()
    watched.unlink()
    reloader.run()
    assert f'Restarting because {watched} changed.' in bus.logged.messages
    assert bus.execv is True


def test_run_ignores_untouched_files(bus, tmp_path):
    watched = tmp_path / 'settings.ini'
    watched.write_text('a = 1\n')
    reloader = watching(bus, watched, tmp_path / 'missing.ini')
    reloader.run()
    reloader.run()
    assert bus.execv is False
    assert not any('Restarting' in msg for msg in bus.logged.messages)


def test_autoreloader_start_records_times_before_the_first_poll(bus, tmp_path):
    watched = tmp_path / 'settings.ini'
    watched.write_text('a = 1\n')
    reloader = watching(bus, watched)
    reloader.frequency = 60  # the thread will not poll during this test
    reloader.subscribe()
    bus.start()
    assert "Started monitor thread 'Autoreloader'." in bus.logged.messages
    bump_mtime(watched)  # changed before any poll happened
    reloader.run()
    assert bus.execv is True


def test_autoreloader_start_forgets_times_recorded_earlier(bus, tmp_path):
    watched = tmp_path / 'settings.ini'
    watched.write_text('a = 1\n')
    reloader = watching(bus, watched)
    reloader.frequency = 60
    reloader.run()
    bump_mtime(watched)  # an edit made while stopped
    reloader.subscribe()
    bus.start()
    reloader.run()
    assert bus.execv is False


def test_autoreloader_polls_in_its_thread(bus, tmp_path):
    watched = tmp_path / 'settings.ini'
    watched.write_text('a = 1\n')
    reloader = watching(bus, watched)
    reloader.frequency = 0.02
    reloader.subscribe()
    bus.start()
    bump_mtime(watched)
    wait_for(lambda: bus.state is wspbus.states.EXITING, timeout=5)
    assert bus.execv is True
    assert reloader.thread is None


# -- ThreadManager ------------------------------------------------------------


@pytest.fixture
def manager(bus):
    manager = plugins.ThreadManager(bus)
    manager.subscribe()
    manager.events = []
    bus.subscribe('start_thread', lambda i: manager.events.append(('start', i)))
    bus.subscribe('stop_thread', lambda i: manager.events.append(('stop', i)))
    return manager


@pytest.fixture
def in_thread():
    """Run a callable in a new thread and return the thread's ident.

    The thread stays alive until teardown: idents of finished threads may
    be reused, and the manager tells threads apart by ident.
    """
    teardown = threading.Event()
    threads = []

    def run(func):
        ran = threading.Event()

        def body():
            func()
            ran.set()
            teardown.wait(10)

        thread = threading.Thread(target=body, daemon=True)
        thread.start()
        threads.append(thread)
        assert ran.wait(5), 'the thread failed'
        return thread.ident

    yield run
    teardown.set()
    for thread in threads:
        thread.join(5)


def test_thread_manager_declares_its_channels(bus):
    plugins.ThreadManager(bus)
    for channel in ('acquire_thread', 'start_thread', 'release_thread', 'stop_thread'):
        assert channel in bus.listeners


def test_acquire_thread_publishes_start_thread_once_per_thread(bus, manager, in_thread):
    def acquire_twice():
        bus.publish('acquire_thread')
        bus.publish('acquire_thread')

    first = in_thread(acquire_twice)
    bus.publish('acquire_thread')  # this (main) thread
    assert manager.events == [('start', 1), ('start', 2)]
    assert manager.threads == {first: 1, threading.get_ident(): 2}


def test_release_thread_publishes_stop_thread_for_that_thread(bus, manager, in_thread):
    def acquire_then_release():
        bus.publish('acquire_thread')
        bus.publish('release_thread')
        bus.publish('release_thread')  # already released: nothing

    bus.publish('acquire_thread')
    in_thread(acquire_then_release)
    assert manager.events == [('start', 1), ('start', 2), ('stop', 2)]
    assert manager.threads == {threading.get_ident(): 1}


def test_indexes_of_released_threads_are_reused_without_clashing(
    bus, manager, in_thread
):
    bus.publish('acquire_thread')  # this thread: 1
    in_thread(lambda: bus.publish('acquire_thread'))  # 2
    bus.publish('release_thread')  # frees 1 while 2 is still in use
    in_thread(lambda: bus.publish('acquire_thread'))
    assert manager.events == [('start', 1), ('start', 2), ('stop', 1), ('start', 1)]
    assert sorted(manager.threads.values()) == [1, 2]


@pytest.mark.parametrize('transition', ['stop', 'graceful'])
def test_stop_and_graceful_release_every_thread(bus, manager, in_thread, transition):
    for _ in range(3):
        in_thread(lambda: bus.publish('acquire_thread'))
    bus.start()
    getattr(bus, transition)()
    assert sorted(i for kind, i in manager.events if kind == 'stop') == [1, 2, 3]
    assert manager.threads == {}


def test_stop_releases_every_thread_even_when_a_listener_fails(bus, manager, in_thread):
    def fussy(index):
        if index == 1:
            raise RuntimeError('cannot close connection 1')

    bus.subscribe('stop_thread', fussy)
    for _ in range(2):
        in_thread(lambda: bus.publish('acquire_thread'))
    with pytest.raises(wspbus.ChannelFailures):
        manager.stop()
    assert ('stop', 2) in manager.events
    assert manager.threads == {}


def test_acquire_thread_is_safe_under_concurrency(bus, manager):
    start = threading.Barrier(8)

    def acquire():
        start.wait(5)
        bus.publish('acquire_thread')

    threads = [threading.Thread(target=acquire) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(manager.threads.values()) == list(range(1, 9))
    assert sorted(i for _, i in manager.events) == list(range(1, 9))
