"""Tutorial 3: reading query-string and form parameters.

The parameters of a request, whether in the query string of a GET
(``/greet?name=Ada``) or in the body of a POSTed form, arrive as keyword
arguments of the handler. Give an argument a default value to make the
parameter optional; a required one that is missing answers 404.

Run it with ``python -m pyframe.tutorial.tut03_get_and_post`` and open
http://127.0.0.1:8080/.
"""

import html
import os

import pyframe

#: The settings shared by the tutorials, next to this module.
TUTORIAL_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tutorial.conf')


class Greeter:
    """Two forms, one sent with GET and one with POST."""

    @pyframe.expose
    def index(self):
        """The forms."""
        return """<html><body>
            <form action="greet" method="get">
              Your name: <input type="text" name="name" />
              <input type="submit" value="Greet me (GET)" />
            </form>
            <form action="add" method="post">
              <input type="text" name="a" /> + <input type="text" name="b" />
              <input type="submit" value="Add (POST)" />
            </form>
        </body></html>"""

    @pyframe.expose
    def greet(self, name=''):
        """``name`` is optional: without it, a polite reminder."""
        if not name:
            return 'Please tell me your name. <a href="./">Back</a>'
        return f'Hello, {html.escape(name)}! <a href="./">Back</a>'

    @pyframe.expose
    def add(self, a, b):
        """Both operands are required; every parameter arrives as a string."""
        try:
            total = int(a) + int(b)
        except ValueError:
            raise pyframe.HTTPError(400, 'Both operands must be whole numbers.')
        return f'{int(a)} + {int(b)} = {total}'


if __name__ == '__main__':
    pyframe.quickstart(Greeter(), config=TUTORIAL_CONF)
