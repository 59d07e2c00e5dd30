"""The bus: states, channels, priorities, failures, blocking and restart."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

import pytest

from pyframe.process import wspbus
from pyframe.process.wspbus import Bus, ChannelFailures, states
from support import wait_for, write_script


def recorder(calls, name, result=None):
    def listener(*args, **kwargs):
        calls.append((name, args, kwargs))
        return result if result is not None else name
    listener.__name__ = name
    return listener


# -- states and transitions -----------------------------------------------

def test_new_bus_is_stopped_with_builtin_channels():
    bus = Bus()
    assert bus.state is states.STOPPED
    assert set(bus.listeners) >= {'start', 'stop', 'exit', 'graceful', 'log', 'main'}
    assert repr(states.STARTED) == 'states.STARTED'
    assert list(states) == [states.STOPPED, states.STARTING, states.STARTED,
                            states.STOPPING, states.EXITING]
    assert bus.states is states


def test_start_stop_exit_walk_every_state(bus):
    seen = []
    for channel in ('start', 'stop', 'exit'):
        bus.subscribe(channel, lambda channel=channel: seen.append((channel, bus.state)))

    bus.start()
    assert bus.state is states.STARTED
    bus.stop()
    assert bus.state is states.STOPPED
    bus.start()
    bus.exit()
    assert bus.state is states.EXITING

    assert seen == [
        ('start', states.STARTING),
        ('stop', states.STOPPING),
        ('start', states.STARTING),
        ('stop', states.STOPPING),
        ('exit', states.EXITING),
    ]
    assert bus.logged.messages == [
        'Bus STARTING', 'Bus STARTED',
        'Bus STOPPING', 'Bus STOPPED',
        'Bus STARTING', 'Bus STARTED',
        'Bus STOPPING', 'Bus STOPPED',
        'Bus EXITING', 'Bus EXITED',
    ]


def test_exit_from_stopped_still_publishes_stop_and_exit(bus):
    calls = []
    bus.subscribe('stop', recorder(calls, 'stop'))
    bus.subscribe('exit', recorder(calls, 'exit'))
    bus.exit()
    assert [name for name, _, _ in calls] == ['stop', 'exit']
    assert bus.exit_status == 0


def test_graceful_publishes_without_changing_state(bus):
    calls = []
    bus.subscribe('graceful', recorder(calls, 'graceful'))
    bus.start()
    bus.graceful()
    assert bus.state is states.STARTED
    assert calls == [('graceful', (), {})]
    assert 'Bus graceful' in bus.logged.messages


# -- subscribe / publish ----------------------------------------------------

def test_publish_passes_arguments_and_returns_results(bus):
    calls = []
    bus.subscribe('custom', recorder(calls, 'a', result=1))
    bus.subscribe('custom', recorder(calls, 'b', result=2))
    assert bus.publish('custom', 5, key='v') == [1, 2]
    assert calls == [('a', (5,), {'key': 'v'}), ('b', (5,), {'key': 'v'})]


def test_publish_to_unknown_or_empty_channel_does_nothing(bus):
    assert bus.publish('nobody-listens') == []
    assert bus.publish('graceful') == []


def test_priorities_lower_first_ties_in_subscription_order(bus):
    order = []
    for name, priority in [('late', 90), ('first', 10), ('mid-a', None),
                           ('mid-b', 50), ('early', 20)]:
        bus.subscribe('chan', recorder(order, name), priority)
    bus.publish('chan')
    assert [name for name, _, _ in order] == ['first', 'early', 'mid-a', 'mid-b', 'late']


def test_callable_priority_attribute_is_used(bus):
    order = []
    first = recorder(order, 'first')
    first.priority = 5
    bus.subscribe('chan', recorder(order, 'default'))
    bus.subscribe('chan', first)
    bus.publish('chan')
    assert [name for name, _, _ in order] == ['first', 'default']


def test_subscribe_twice_keeps_one_listener_but_updates_priority(bus):
    order = []
    a = recorder(order, 'a')
    b = recorder(order, 'b')
    bus.subscribe('chan', a)
    bus.subscribe('chan', b)
    bus.subscribe('chan', a, priority=99)
    bus.publish('chan')
    assert [name for name, _, _ in order] == ['b', 'a']


def test_subscribe_as_decorator(bus):
    calls = []

    @bus.subscribe('custom', priority=1)
    def handler(value):
        calls.append(value)

    assert callable(handler)  # the decorator hands the function back
    bus.publish('custom', 'x')
    assert calls == ['x']


def test_unsubscribe_removes_and_tolerates_unknown(bus):
    calls = []
    listener = recorder(calls, 'l')
    bus.subscribe('chan', listener)
    bus.unsubscribe('chan', listener)
    bus.unsubscribe('chan', listener)
    bus.unsubscribe('never-seen', listener)
    assert bus.publish('chan') == []
    assert calls == []


def test_listeners_edited_directly_are_respected(bus):
    calls = []
    bus.subscribe('chan', recorder(calls, 'a'))
    bus.publish('chan')
    # Config code may replace a channel's listeners wholesale.
    bus.listeners['chan'] = {recorder(calls, 'b')}
    bus.publish('chan')
    assert [name for name, _, _ in calls] == ['a', 'b']


# -- failures -----------------------------------------------------------------

def test_every_listener_runs_and_failures_are_gathered(bus):
    calls = []

    def boom():
        raise ValueError('first failure')

    def bang():
        raise KeyError('second failure')

    bus.subscribe('chan', boom, priority=10)
    bus.subscribe('chan', recorder(calls, 'survivor'), priority=20)
    bus.subscribe('chan', bang, priority=30)

    with pytest.raises(ChannelFailures) as info:
        bus.publish('chan')

    assert calls == [('survivor', (), {})]
    failures = info.value.get_instances()
    assert [type(exc) for exc in failures] == [ValueError, KeyError]
    assert 'ValueError: first failure' in str(info.value)
    assert str(info.value).count('\n') == 1
    errors = [(m, lvl) for m, lvl in bus.logged.records if lvl == logging.ERROR]
    assert len(errors) == 2
    assert "Error in 'chan' listener" in errors[0][0]
    assert 'Traceback' in errors[0][0] and 'first failure' in errors[0][0]


def test_channel_failures_is_falsy_when_empty():
    failures = ChannelFailures()
    assert not failures
    try:
        raise RuntimeError('x')
    except RuntimeError:
        failures.handle_exception()
    assert failures and len(failures.get_instances()) == 1


def test_keyboard_interrupt_stops_publishing(bus):
    calls = []

    def interrupt():
        raise KeyboardInterrupt

    bus.subscribe('chan', interrupt, priority=1)
    bus.subscribe('chan', recorder(calls, 'never'), priority=2)
    with pytest.raises(KeyboardInterrupt):
        bus.publish('chan')
    assert calls == []


def test_system_exit_after_failures_is_not_a_clean_exit(bus):
    def boom():
        raise ValueError

    def leave():
        raise SystemExit(0)

    bus.subscribe('chan', boom, priority=1)
    bus.subscribe('chan', leave, priority=2)
    with pytest.raises(SystemExit) as info:
        bus.publish('chan')
    assert info.value.code == 1


def test_failing_log_listener_does_not_recurse():
    bus = Bus()

    def broken_log(msg, level):
        raise RuntimeError('log is broken')

    bus.subscribe('log', broken_log)
    with pytest.raises(ChannelFailures):
        bus.log('hello')


def test_failing_start_listener_stops_bus_and_reraises(bus):
    calls = []
    bus.subscribe('start', recorder(calls, 'server-start'), priority=10)

    def broken():
        raise OSError('port busy')

    bus.subscribe('start', broken, priority=20)
    bus.subscribe('stop', recorder(calls, 'server-stop'))

    with pytest.raises(ChannelFailures) as info:
        bus.start()

    assert isinstance(info.value.get_instances()[0], OSError)
    assert bus.state is states.STOPPED
    assert [name for name, _, _ in calls] == ['server-start', 'server-stop']
    assert 'Shutting down due to error in start listener:' in bus.logged.text()
    assert 'Bus STARTED' not in bus.logged.messages


def test_failing_stop_listener_still_reaches_stopped(bus):
    def broken():
        raise RuntimeError('cannot stop')

    bus.subscribe('stop', broken)
    bus.start()
    with pytest.raises(ChannelFailures):
        bus.stop()
    assert bus.state is states.STOPPED


def test_exit_never_raises_but_reports_failure_in_status(bus):
    calls = []

    def broken():
        raise RuntimeError('cannot stop')

    bus.subscribe('stop', broken)
    bus.subscribe('exit', recorder(calls, 'exit-listener'))
    bus.start()
    bus.exit()
    assert bus.state is states.EXITING
    assert calls == [('exit-listener', (), {})]
    assert bus.exit_status == wspbus.EX_SOFTWARE


def test_exit_status_is_recorded(bus):
    bus.exit(3)
    assert bus.exit_status == 3


# -- log -----------------------------------------------------------------------

def test_log_publishes_message_and_level(bus):
    bus.log('hello', level=logging.WARNING)
    assert bus.logged.records[-1] == ('hello', logging.WARNING)


def test_log_appends_current_traceback(bus):
    try:
        raise ValueError('the cause')
    except ValueError:
        bus.log('it failed', traceback=True)
    msg = bus.logged.messages[-1]
    assert msg.startswith('it failed\n')
    assert 'ValueError: the cause' in msg


# -- wait, block, start_with_callback --------------------------------------

def test_wait_returns_when_another_thread_changes_state(bus):
    bus.start()
    threading.Timer(0.1, bus.exit).start()
    started = time.monotonic()
    bus.wait(states.EXITING, interval=5)  # woken by the change, not the interval
    assert time.monotonic() - started < 2
    assert bus.state is states.EXITING


def test_wait_accepts_several_states_and_publishes_channel(bus):
    ticks = []
    bus.subscribe('tick', lambda: ticks.append(1))
    threading.Timer(0.3, bus.start).start()
    bus.wait([states.STARTED, states.EXITING], interval=0.02, channel='tick')
    assert bus.state is states.STARTED
    assert len(ticks) >= 3


def test_block_publishes_main_and_returns_after_exit(bus):
    mains = []
    bus.subscribe('main', lambda: mains.append(1))
    bus.start()
    threading.Timer(0.3, bus.exit).start()
    bus.block(interval=0.02)
    assert bus.state is states.EXITING
    assert mains
    assert 'Waiting for child threads to terminate...' in bus.logged.messages


def test_block_waits_for_non_daemon_threads(bus):
    finished = []

    def worker():
        time.sleep(0.3)
        finished.append(True)

    bus.start()
    thread = threading.Thread(target=worker, name='slow-worker')
    thread.start()
    bus.exit()
    bus.block()
    assert finished == [True]
    assert 'Waiting for thread slow-worker.' in bus.logged.messages


def test_block_raises_system_exit_with_nonzero_status(bus):
    bus.start()
    bus.exit(4)
    with pytest.raises(SystemExit) as info:
        bus.block()
    assert info.value.code == 4


def test_block_exits_bus_on_keyboard_interrupt(bus):
    calls = []
    bus.subscribe('exit', recorder(calls, 'exit'))

    def interrupt():
        raise KeyboardInterrupt

    bus.subscribe('main', interrupt)
    bus.start()
    bus.block(interval=0.01)
    assert bus.state is states.EXITING
    assert calls
    assert 'Keyboard Interrupt: shutting down bus' in bus.logged.messages


def test_start_with_callback_runs_func_after_start(bus):
    seen = []
    thread = bus.start_with_callback(
        lambda a, b=None: seen.append((a, b, bus.state)), args=(1,), kwargs={'b': 2}
    )
    thread.join(5)
    assert seen == [(1, 2, states.STARTED)]
    assert thread.name.startswith('Bus Callback')


def test_start_with_callback_skips_func_when_start_fails(bus):
    seen = []

    def broken():
        raise RuntimeError('no')

    bus.subscribe('start', broken)
    with pytest.raises(ChannelFailures):
        bus.start_with_callback(lambda: seen.append(1))
    for thread in threading.enumerate():
        if thread.name.startswith('Bus Callback'):
            thread.join(5)
    assert seen == []


# -- in real processes -------------------------------------------------------

BLOCKING_CHILD = '''
    import os, sys
    from pyframe.process.wspbus import Bus

    bus = Bus()
    bus.subscribe('log', lambda msg, level=20: print(msg, flush=True))
    restarts = int(os.environ.get('RESTARTS', '0'))
    print('started pid', os.getpid(), 'run', restarts, flush=True)
    if restarts < 1:
        os.environ['RESTARTS'] = str(restarts + 1)
        bus.subscribe('main', bus.restart)
    else:
        bus.subscribe('main', lambda: bus.exit(int(sys.argv[-1])))
    bus.start()
    bus.block(interval=0.05)
    print('unreachable', flush=True)
'''


@pytest.mark.slow
def test_restart_reexecs_same_pid_with_same_argv(tmp_path, spawn):
    """restart() re-executes from the main thread, keeping ``python -m`` form."""
    package = tmp_path / 'pkg'
    package.mkdir()
    (package / '__init__.py').write_text('')
    write_script(package, 'app.py', BLOCKING_CHILD)

    child = spawn(['-m', 'pkg.app', '5'])
    assert child.wait(20) == 5
    out = child.output()
    assert out.count(f'started pid {child.pid}') == 2, out
    assert 'run 1' in out
    assert 'Re-spawning' in out and '-m pkg.app 5' in out
    assert 'unreachable' not in out


MAIN_THREAD_EXITS = '''
    from pyframe.process.wspbus import Bus

    bus = Bus()
    bus.subscribe('log', lambda msg, level=20: print(msg, flush=True))
    bus.subscribe('exit', lambda: print('exit listener ran', flush=True))
    bus.start()
    print('main thread ends without block()', flush=True)
'''


@pytest.mark.slow
def test_warning_when_main_thread_exits_while_started(tmp_path, spawn):
    script = write_script(tmp_path, 'forgetful.py', MAIN_THREAD_EXITS)
    child = spawn([script])
    assert child.wait(20) == 0
    out = child.output()
    assert 'RuntimeWarning' in out
    assert 'main thread is exiting while the bus is in the states.STARTED state' in out
    assert 'exit listener ran' in out
    assert out.index('main thread ends') < out.index('Bus EXITED')


SIGNAL_IN_BLOCK = '''
    import os, signal
    from pyframe.process.wspbus import Bus

    bus = Bus()
    bus.subscribe('log', lambda msg, level=20: print(msg, flush=True))
    signal.signal(signal.SIGTERM, lambda *a: bus.exit())
    bus.start()
    print('ready', flush=True)
    bus.block(interval=30)
    print('block returned', flush=True)
'''


@pytest.mark.slow
def test_signal_handler_exiting_wakes_block_promptly(tmp_path, spawn):
    """A long block interval does not delay an exit requested by a signal."""
    script = write_script(tmp_path, 'sig.py', SIGNAL_IN_BLOCK)
    child = spawn([script])
    child.wait_output('ready')
    sent = time.monotonic()
    os.kill(child.pid, signal.SIGTERM)
    assert child.wait(10) == 0
    assert time.monotonic() - sent < 5
    assert 'block returned' in child.output()
