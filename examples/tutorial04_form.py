"""Tutorial 4: an HTML form feeds the same handler as a query string.

Run ``python examples/tutorial04_form.py [PORT]`` (or set
``PYFRAME_PORT``; the default port is 8080) and open
http://127.0.0.1:8080/ : type a length, press "Give it now!" and the
browser goes to /generate?length=... . A form sent with POST would reach
the very same method, its fields read from the request body.
"""

from __future__ import annotations

import os
import random
import string
import sys

import pyframe


class StringGenerator:
    """The form page at ``/`` and the handler it submits to."""

    @pyframe.expose
    def index(self) -> str:
        """Answer ``/`` with a form asking for the length."""
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
        """Answer with ``length`` distinct random hex digits."""
        try:
            return ''.join(random.sample(string.hexdigits, int(length)))
        except ValueError:
            # A form field can hold anything; answer nonsense with a 400.
            raise pyframe.HTTPError(400, 'length must be a number from 0 to 22') from None


def port_from_command_line() -> int:
    """The port: first argument, else $PYFRAME_PORT, else 8080."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PYFRAME_PORT', 8080))


if __name__ == '__main__':
    pyframe.config.update({'server.socket_port': port_from_command_line()})
    pyframe.quickstart(StringGenerator())
