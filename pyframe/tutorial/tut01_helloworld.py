"""Tutorial 1: the smallest pyframe application.

Run it with ``python -m pyframe.tutorial.tut01_helloworld`` and open
http://127.0.0.1:8080/ : the page says "Hello world!".
"""

import pyframe


class HelloWorld:
    """The application's root: an object whose exposed methods answer URLs."""

    @pyframe.expose
    def index(self):
        """Answer the site root, ``/``."""
        return 'Hello world!'


if __name__ == '__main__':
    pyframe.quickstart(HelloWorld())
