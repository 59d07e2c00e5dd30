"""Fixtures for the pyframe test suite."""

from __future__ import annotations

import logging

import pytest

from pyframe.process import wspbus
from support import Child


class LogRecorder:
    """Collects (message, level) pairs published on a bus's log channel."""

    def __init__(self):
        self.records: list[tuple[str, int]] = []

    def __call__(self, msg, level=logging.INFO):
        self.records.append((msg, level))

    @property
    def messages(self) -> list[str]:
        return [msg for msg, _ in self.records]

    def text(self) -> str:
        return '\n'.join(self.messages)


@pytest.fixture
def bus():
    """A fresh bus (not pyframe.engine) whose log lines land in ``bus.logged``."""
    instance = wspbus.Bus()
    instance.logged = LogRecorder()
    instance.subscribe('log', instance.logged)
    yield instance
    if instance.state not in (wspbus.states.STOPPED, wspbus.states.EXITING):
        instance.exit()


@pytest.fixture
def spawn(tmp_path):
    """Start child Pythons (``spawn(args, **popen_kwargs)``); killed at teardown."""
    children: list[Child] = []

    def start(args, cwd=None, env=None, **kwargs) -> Child:
        child = Child(args, cwd or tmp_path, env=env, **kwargs)
        children.append(child)
        return child

    yield start
    for child in children:
        child.stop()
