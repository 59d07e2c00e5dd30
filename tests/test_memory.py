"""pyframe keeps no memory per request, and the bench/ tool still works.

The growth checks count, they never time: each runs ``bench/leak.py`` in
a child process (the app there sets production config on the global
``pyframe`` objects, which must not leak into other tests) for 100 000
in-process requests after a 5 000-request warm-up, and compares

* ``len(gc.get_objects())`` and ``sys.getallocatedblocks()`` before and
  after the 100 000 untraced calls (a leak of one object per request
  would add about 100 000), and
* the net bytes ``tracemalloc`` sees kept over a 5 000-call window.
  Tracing makes every allocation several times slower, so it covers the
  shorter window; together the two catch leaks of objects and of bytes.

The two scenarios run as two children at once so the file stays fast on
two cores. The rest are smoke tests of the bench command and apps that
need none of the peer frameworks installed.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support import REPO, child_env

BENCH = REPO / 'bench'
sys.path.insert(0, str(BENCH))

import leak  # noqa: E402  (bench/ is not a package; it needs the path above)
import loadgen  # noqa: E402

REQUESTS = 100_000
WARMUP = 5_000
WINDOW = 5_000


def _bench_python(script: str, *args: str) -> list[str]:
    return [sys.executable, str(BENCH / script), *args]


@pytest.fixture(scope='module')
def growth_runs():
    """Start leak.py for hello world (a) and the typical handler (b) at once."""
    children = {
        scenario: subprocess.Popen(
            _bench_python('leak.py', scenario, '--requests', str(REQUESTS),
                          '--warmup', str(WARMUP), '--window', str(WINDOW)),
            cwd=BENCH, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        for scenario in ('a', 'b')
    }
    yield children
    for child in children.values():
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=10)


def _growth(children: dict, scenario: str) -> dict:
    out, err = children[scenario].communicate(timeout=300)
    assert children[scenario].returncode == 0, err
    return json.loads(out)


def _assert_no_growth(result: dict) -> None:
    top = '\n'.join(f'  {where}: {size:+} B in {count:+} blocks'
                    for where, size, count in result['top'])
    assert result['gc_growth'] < leak.GC_BOUND, (
        f"{result['gc_growth']} more objects after {REQUESTS} requests")
    assert result['block_growth'] < leak.GC_BOUND, (
        f"{result['block_growth']} more memory blocks after {REQUESTS} requests")
    assert result['traced_growth'] < leak.TRACED_BOUND, (
        f"{result['traced_growth']} bytes kept over {WINDOW} requests; "
        f'biggest differences:\n{top}')


@pytest.mark.slow
def test_hello_world_keeps_no_memory(growth_runs):
    result = _growth(growth_runs, 'a')
    assert result['last_body'] == 'Hello, world!'
    _assert_no_growth(result)


@pytest.mark.slow
def test_typical_handler_with_session_keeps_no_memory(growth_runs):
    result = _growth(growth_runs, 'b')
    # Every call counted in one session: the cookie came back each time,
    # so the session store held one session, not one per request.
    calls = 2 + WARMUP + leak.TRACED_WARMUP + WINDOW + REQUESTS + 1
    assert json.loads(result['last_body']) == {
        'greeting': 'Hello, x!', 'items': [0, 1, 2], 'visits': calls}
    _assert_no_growth(result)


def test_growth_measures_see_a_leak():
    """The measures are not blind: a callable that hoards objects is caught."""
    hoard: list[list[int]] = []

    def leaky() -> None:
        hoard.append([len(hoard)])

    objects, blocks = leak.object_growth(leaky, 5_000)
    # About one list per call; a few unrelated objects may come and go.
    assert objects > 4_500
    assert blocks > 4_500
    traced, top = leak.traced_growth(leaky, 2_000)
    assert traced >= leak.TRACED_BOUND
    assert any('test_memory.py' in where for where, _, _ in top)


def test_bench_command_help_runs():
    done = subprocess.run(_bench_python('run.py', '--help'), capture_output=True,
                          text=True, timeout=60, env=child_env())
    assert done.returncode == 0, done.stderr
    for flag in ('--quick', '--only', '--runs'):
        assert flag in done.stdout


def test_bench_command_rejects_unknown_scenarios():
    done = subprocess.run(_bench_python('run.py', '--only', 'xyz'), capture_output=True,
                          text=True, timeout=60, env=child_env())
    assert done.returncode == 2
    assert 'names no scenario' in done.stderr


@pytest.mark.parametrize('scenario', ['a', 'b'])
def test_instruction_counter_worker_makes_checked_requests(scenario):
    # What instructions.py runs under callgrind (valgrind itself is not
    # needed for this): a wrong answer would fail prepare() with a traceback.
    done = subprocess.run(_bench_python('instructions.py', '--worker', 'pyframe', scenario, '5'),
                          capture_output=True, text=True, timeout=60, env=child_env())
    assert done.returncode == 0, done.stderr
    assert done.stderr == ''


@pytest.mark.slow
@pytest.mark.parametrize('framework', ['pyframe', 'bare'])
def test_bench_app_answers_every_scenario_in_process(framework):
    done = subprocess.run(_bench_python('inprocess.py', framework, '--check-only'),
                          cwd=BENCH, env=child_env(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    expected_b = 'ok' if framework == 'pyframe' else {'na': 'no server-side sessions'}
    assert json.loads(done.stdout) == {'a': 'ok', 'b': expected_b, 'c': 'ok', 'd': 'ok'}


@pytest.mark.slow
@pytest.mark.parametrize('adapter', [False, True], ids=['cheroot', 'pyframe.server'])
def test_bench_server_keeps_the_session_over_loopback(adapter, monkeypatch):
    monkeypatch.setenv('PYTHONPATH', child_env()['PYTHONPATH'])
    with loadgen.ServerProcess('pyframe', adapter=adapter) as server:
        # send_requests raises unless every answer is 200 and each
        # connection's session counted all of its requests.
        loadgen.send_requests(server.port, '/typical?name=x&count=3', 40, threads=2)
        memory = server.memory_kib()
    assert memory['VmHWM'] >= memory['VmRSS'] > 1024
    assert server.proc.returncode == 0  # stopped cleanly by SIGTERM


WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:8080/
  1 threads and 10 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.03ms    1.79ms  30.64ms   89.19%
    Req/Sec     3.26k   448.19     4.51k    80.00%
  Latency Distribution
     50%    2.72ms
     75%    3.57ms
     90%    4.60ms
     99%  812.00us
  16486 requests in 5.00s, 2.09MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   3297.20
Transfer/sec:    417.60KB
"""


def test_wrk_output_is_parsed():
    result = loadgen.parse_wrk(WRK_OUTPUT)
    assert result.requests_per_second == 3297.2
    assert result.p99_ms == pytest.approx(0.812)
    assert result.errors == 7


def test_unreadable_wrk_output_is_an_error():
    with pytest.raises(ValueError, match='cannot read wrk output'):
        loadgen.parse_wrk('unable to connect to 127.0.0.1:1 Connection refused\n')
