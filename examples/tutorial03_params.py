"""Tutorial 3: query-string parameters become method arguments.

Run ``python examples/tutorial03_params.py [PORT]`` (or set
``PYFRAME_PORT``; the default port is 8080) and open
http://127.0.0.1:8080/generate?length=16 for a string of sixteen hex
digits; without ``length`` the default of eight applies.
"""

from __future__ import annotations

import os
import random
import string
import sys

import pyframe


class StringGenerator:
    """``/generate?length=N`` calls ``generate(length='N')``."""

    @pyframe.expose
    def index(self) -> str:
        """Answer ``/``."""
        return 'Hello world!'

    @pyframe.expose
    def generate(self, length: str = '8') -> str:
        """Answer with ``length`` distinct random hex digits.

        Values from a URL always arrive as strings, hence the ``int()``.
        """
        try:
            return ''.join(random.sample(string.hexdigits, int(length)))
        except ValueError:
            # Not a number, or more than the 22 distinct hex digits there
            # are: the visitor asked for something impossible, so say so
            # with a 400 instead of failing with a 500.
            raise pyframe.HTTPError(400, 'length must be a number from 0 to 22') from None


def port_from_command_line() -> int:
    """The port: first argument, else $PYFRAME_PORT, else 8080."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PYFRAME_PORT', 8080))


if __name__ == '__main__':
    pyframe.config.update({'server.socket_port': port_from_command_line()})
    pyframe.quickstart(StringGenerator())
