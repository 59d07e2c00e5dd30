"""Tutorial 6: serve the stylesheet, script and images from a directory.

Run ``python examples/tutorial06_static/tut06.py [PORT]`` (or set
``PYFRAME_PORT``; the default port is 8080) from any directory and open
http://127.0.0.1:8080/ : the page is blue, because it links
/static/css/style.css, which the staticdir tool serves from
``public/css/style.css`` next to this file.
"""

from __future__ import annotations

import os
import random
import string
import sys

import pyframe

#: The directory holding this file and ``public/``. The staticdir root
#: must be absolute; deriving it from this file (instead of the current
#: directory, as a quick script might) lets the example start from anywhere.
HERE = os.path.dirname(os.path.abspath(__file__))


class StringGenerator:
    """Tutorial 5's string generator, with a page that links static files."""

    @pyframe.expose
    def index(self) -> str:
        """Answer ``/`` with the form, styled by /static/css/style.css."""
        return """<html>
  <head>
    <link href="/static/css/style.css" rel="stylesheet">
    <script src="/static/js/focus.js"></script>
  </head>
  <body>
    <img src="/static/images/logo.svg" alt="logo" />
    <form method="get" action="generate">
      <input type="text" value="8" name="length" />
      <button type="submit">Give it now!</button>
    </form>
  </body>
</html>"""

    @pyframe.expose
    def generate(self, length: str = '8') -> str:
        """Make a string of ``length`` hex digits and keep it in the session."""
        try:
            some_string = ''.join(random.sample(string.hexdigits, int(length)))
        except ValueError:
            raise pyframe.HTTPError(400, 'length must be a number from 0 to 22') from None
        pyframe.session['mystring'] = some_string
        return some_string

    @pyframe.expose
    def display(self) -> str:
        """Show the string this visitor generated last."""
        if 'mystring' not in pyframe.session:
            raise pyframe.HTTPError(500, 'No string generated in this session yet.')
        return pyframe.session['mystring']


def port_from_command_line() -> int:
    """The port: first argument, else $PYFRAME_PORT, else 8080."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PYFRAME_PORT', 8080))


if __name__ == '__main__':
    pyframe.config.update({'server.socket_port': port_from_command_line()})
    conf = {
        '/': {
            'tools.sessions.on': True,
            'tools.staticdir.root': HERE,
        },
        '/static': {
            'tools.staticdir.on': True,
            'tools.staticdir.dir': './public',
        },
    }
    pyframe.quickstart(StringGenerator(), '/', conf)
