"""A pytest plugin with two fixtures for testing pyframe applications.

``pyframe_client``
    A factory: ``pyframe_client(root_or_app, config=None, script_name='')``
    returns an in-process :class:`~pyframe.testing.Client`.

``pyframe_server``
    A factory: ``pyframe_server(root_or_app, config=None, script_name='')``
    serves the application over HTTP on 127.0.0.1 (a free port) and
    returns its base URL, such as ``'http://127.0.0.1:40123'``. Each
    server runs on a private bus, not ``pyframe.engine``, and is stopped
    when the test ends.

Installing pyframe registers the plugin; without that, enable it with
``-p pyframe.testing.plugin`` or ``pytest_plugins = ['pyframe.testing.plugin']``.
"""

from __future__ import annotations

from typing import Any

import pytest

import pyframe
from pyframe.process import wspbus

from .client import Client
from .webcase import QuickStopServer

__all__ = ['LiveServer', 'pyframe_client', 'pyframe_server']

HOST = '127.0.0.1'


def _tree_for(root_or_app: Any, config: Any = None, script_name: str = '') -> Any:
    if isinstance(root_or_app, pyframe.Tree):
        return root_or_app
    tree = pyframe.Tree()
    if isinstance(root_or_app, pyframe.Application) or config is not None \
            or not callable(root_or_app) or hasattr(root_or_app, 'exposed'):
        tree.mount(root_or_app, script_name, config)
    else:
        tree.graft(root_or_app, script_name)
    return tree


class LiveServer:
    """A WSGI application served on 127.0.0.1 with a bus of its own."""

    def __init__(self, wsgi_app: Any) -> None:
        self.bus = wspbus.Bus()
        self.server = pyframe.Server(self.bus)
        self.server.socket_host = HOST
        self.server.socket_port = 0
        self.server.shutdown_timeout = 1
        self.server.wsgi_app = wsgi_app
        self.server.instance = f'{QuickStopServer.__module__}.QuickStopServer'
        self.server.subscribe()

    def start(self) -> str:
        """Start the server and return its base URL."""
        self.bus.start()
        return self.base_url

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, the port the server bound."""
        return f'http://{HOST}:{self.server.bound_addr[1]}'

    def stop(self) -> None:
        """Stop the server (and its bus); safe to call twice."""
        if self.bus.state not in (wspbus.states.STOPPED, wspbus.states.EXITING):
            self.bus.exit()


@pytest.fixture
def pyframe_client():
    """Factory of in-process clients: ``pyframe_client(root_or_app, config=None)``."""

    def make(root_or_app: Any, config: Any = None, script_name: str = '') -> Client:
        return Client(root_or_app, config=config, script_name=script_name)

    return make


@pytest.fixture
def pyframe_server():
    """Factory serving an app over HTTP: ``pyframe_server(root_or_app,
    config=None)`` returns the base URL; servers stop at teardown."""
    servers: list[LiveServer] = []

    def serve(root_or_app: Any, config: Any = None, script_name: str = '') -> str:
        server = LiveServer(_tree_for(root_or_app, config, script_name))
        servers.append(server)
        return server.start()

    yield serve
    for server in servers:
        server.stop()
