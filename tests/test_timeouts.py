"""Response timeouts and the engine's timeout monitor."""

from __future__ import annotations

import time

import pytest

import pyframe
from pyframe.request import Response
from pyframe.tree import Application
from support import wsgi_get


class Slow:
    @pyframe.expose
    def index(self):
        # Work until the monitor says the response ran out of time.
        deadline = time.monotonic() + 5
        while not pyframe.response.timed_out and time.monotonic() < deadline:
            time.sleep(0.01)
        return 'finished anyway'

    @pyframe.expose
    def quick(self):
        return 'fast'


@pytest.fixture
def monitor():
    monitor = pyframe.engine.timeout_monitor
    frequency = monitor.frequency
    # Another test may have left it running at its usual pace: restart it.
    monitor.stop()
    monitor.frequency = 0.02
    monitor.start()
    yield monitor
    monitor.stop()
    monitor.frequency = frequency


def test_monitor_times_out_a_long_response(monitor):
    app = Application(Slow(), '', {'/': {'response.timeout': 0.1}})
    started = time.monotonic()
    status, _, body = wsgi_get(app, '/')
    assert time.monotonic() - started < 3
    assert status == '500 Internal Server Error'
    assert b'TimeoutError' in body
    # A request within its time is untouched, and nothing stays registered.
    assert wsgi_get(app, '/quick')[2] == b'fast'
    assert monitor.servings == {}


def test_check_timeout_flags_only_after_the_timeout():
    fresh = Response()
    fresh.timeout = 60
    fresh.check_timeout()
    assert fresh.timed_out is False
    fresh.time -= 61
    fresh.check_timeout()
    assert fresh.timed_out is True
