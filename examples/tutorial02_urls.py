"""Tutorial 2: different URLs lead to different methods.

Run ``python examples/tutorial02_urls.py [PORT]`` (or set ``PYFRAME_PORT``;
the default port is 8080). http://127.0.0.1:8080/ still says hello, and
http://127.0.0.1:8080/generate answers with a new random string of eight
hexadecimal digits on every visit.
"""

from __future__ import annotations

import os
import random
import string
import sys

import pyframe


class StringGenerator:
    """``index`` answers ``/``; ``generate`` answers ``/generate``."""

    @pyframe.expose
    def index(self) -> str:
        """Answer ``/``."""
        return 'Hello world!'

    @pyframe.expose
    def generate(self) -> str:
        """Answer ``/generate`` with eight distinct random hex digits."""
        return ''.join(random.sample(string.hexdigits, 8))


def port_from_command_line() -> int:
    """The port: first argument, else $PYFRAME_PORT, else 8080."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PYFRAME_PORT', 8080))


if __name__ == '__main__':
    pyframe.config.update({'server.socket_port': port_from_command_line()})
    pyframe.quickstart(StringGenerator())
