"""Tutorial 1: the smallest web application, one page saying hello.

Run ``python examples/tutorial01_hello.py [PORT]`` (or set ``PYFRAME_PORT``;
the default port is 8080) and open http://127.0.0.1:8080/ : the page says
"Hello world!".
"""

from __future__ import annotations

import os
import sys

import pyframe


class HelloWorld:
    """The application: each exposed method answers one URL."""

    @pyframe.expose
    def index(self) -> str:
        """Answer the root URL, ``/``."""
        return 'Hello world!'


def port_from_command_line() -> int:
    """The port: first argument, else $PYFRAME_PORT, else 8080."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PYFRAME_PORT', 8080))


if __name__ == '__main__':
    pyframe.config.update({'server.socket_port': port_from_command_line()})
    pyframe.quickstart(HelloWorld())
