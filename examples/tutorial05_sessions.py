"""Tutorial 5: remember each visitor's generated string in their session.

Run ``python examples/tutorial05_sessions.py [PORT]`` (or set
``PYFRAME_PORT``), then open http://127.0.0.1:8080/, generate a string and
visit /display: the string you got is shown back to you, and only to you.
"""

from __future__ import annotations

import os
import random
import string
import sys

import pyframe


class StringGenerator:
    @pyframe.expose
    def index(self) -> str:
        return """<html>
  <head></head>
  <body>
    <form method="get" action="generate">
      <input type="text" value="8" name="length" />
      <button type="submit">Give it now!</button>
    </form>
  </body>
</html>"""

    @pyframe.expose
    def generate(self, length: str = '8') -> str:
        try:
            # Distinct hex digits: at most len(string.hexdigits) of them.
            some_string = ''.join(random.sample(string.hexdigits, int(length)))
        except ValueError:
            raise pyframe.HTTPError(400, 'length must be a number from 0 to 22') from None
        pyframe.session['mystring'] = some_string
        return some_string

    @pyframe.expose
    def display(self) -> str:
        # Like the tutorial, a visitor who generated nothing yet gets an
        # error (500); the message says why instead of a bare KeyError.
        if 'mystring' not in pyframe.session:
            raise pyframe.HTTPError(500, 'No string generated in this session yet.')
        return pyframe.session['mystring']


def port_from_command_line() -> int:
    """The port: first argument, else $PYFRAME_PORT, else 8080."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PYFRAME_PORT', 8080))


if __name__ == '__main__':
    pyframe.config.update({'server.socket_host': '127.0.0.1',
                           'server.socket_port': port_from_command_line()})
    conf = {
        '/': {
            'tools.sessions.on': True,
        }
    }
    pyframe.quickstart(StringGenerator(), '/', conf)
