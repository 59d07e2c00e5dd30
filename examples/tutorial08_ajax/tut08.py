"""Tutorial 8: a page that talks to a REST service with Ajax (fetch).

Run ``python examples/tutorial08_ajax/tut08.py`` (set ``PYFRAME_PORT`` to
use another port than 8080) and open http://127.0.0.1:8080/. The page and
its script come from this folder's ``public/`` directory, so nothing is
loaded from another host and the example works offline.

The web service lives at ``/generator``: POST makes a random string and
keeps it in the visitor's session, GET returns it (404 when there is none),
PUT replaces it with ``another_string``, DELETE forgets it.
"""

from __future__ import annotations

import os
import random
import string
from pathlib import Path

import pyframe
from pyframe.lib.static import serve_file

HERE = Path(__file__).resolve().parent
PUBLIC = HERE / 'public'

#: ``random.sample`` picks distinct characters, so this is the longest string.
MAX_LENGTH = len(string.hexdigits)


class StringGenerator:
    """Serves the single HTML page; everything else is static or Ajax."""

    def __init__(self, public: Path = PUBLIC) -> None:
        self.public = public

    @pyframe.expose
    def index(self):
        """The application's page."""
        return serve_file(str(self.public / 'index.html'))


def make_string(length: str) -> str:
    """A random string of ``length`` distinct hex digits, or a 400 error."""
    try:
        size = int(length)
    except ValueError:
        size = 0
    if not 1 <= size <= MAX_LENGTH:
        raise pyframe.HTTPError(400, f'length must be a whole number from 1 to {MAX_LENGTH}')
    return ''.join(random.sample(string.hexdigits, size))


@pyframe.expose
class StringGeneratorWebService:
    """One method per HTTP verb, picked by the MethodDispatcher."""

    @pyframe.tools.accept(media='text/plain')
    def GET(self) -> str:
        """The visitor's string."""
        if 'mystring' not in pyframe.session:
            # The original tutorial fails with a KeyError (500) here; a
            # 404 tells the page plainly that there is nothing to show yet.
            raise pyframe.HTTPError(404, 'No string yet: POST to make one.')
        return pyframe.session['mystring']

    def POST(self, length: str = '8') -> str:
        """Make, remember and return a new string."""
        some_string = make_string(length)
        pyframe.session['mystring'] = some_string
        return some_string

    def PUT(self, another_string: str) -> None:
        """Replace the visitor's string."""
        pyframe.session['mystring'] = another_string

    def DELETE(self) -> None:
        """Forget the visitor's string."""
        pyframe.session.pop('mystring', None)


def make_config(public: Path = PUBLIC) -> dict:
    """The application config: sessions, the REST service and static files."""
    return {
        '/': {
            'tools.sessions.on': True,
            # Everything the page needs comes from this server: say so,
            # and the browser refuses anything from elsewhere.
            'tools.response_headers.on': True,
            'tools.response_headers.headers': [
                ('Content-Security-Policy', "default-src 'self'"),
            ],
            'tools.staticdir.root': str(public),
        },
        '/generator': {
            'request.dispatch': pyframe.dispatch.MethodDispatcher(),
            'tools.response_headers.headers': [('Content-Type', 'text/plain')],
        },
        '/static': {
            # Stylesheets and scripts need no session.
            'tools.sessions.on': False,
            'tools.staticdir.on': True,
            'tools.staticdir.dir': '.',
        },
    }


def port() -> int:
    """The port to listen on: $PYFRAME_PORT, else 8080."""
    return int(os.environ.get('PYFRAME_PORT', 8080))


if __name__ == '__main__':
    pyframe.config.update({'server.socket_host': '127.0.0.1', 'server.socket_port': port()})
    webapp = StringGenerator()
    webapp.generator = StringGeneratorWebService()
    pyframe.quickstart(webapp, '/', make_config())
