"""Tutorial 7: a small REST web service, one method per HTTP verb.

Run ``python examples/tutorial07_rest.py [PORT]`` (or set ``PYFRAME_PORT``)
and drive it with ``requests.Session()`` (it keeps the session cookie):
POST / makes a string, GET / returns it (plain text only: 406 otherwise),
PUT /?another_string=hello replaces it, DELETE / forgets it.
"""

from __future__ import annotations

import os
import random
import string
import sys

import pyframe


@pyframe.expose
class StringGeneratorWebService:
    @pyframe.tools.accept(media='text/plain')
    def GET(self) -> str:
        # As in the tutorial, asking before any POST (or after DELETE) is
        # an error (500), with a message saying what is missing.
        if 'mystring' not in pyframe.session:
            raise pyframe.HTTPError(500, 'No string stored: POST to make one.')
        return pyframe.session['mystring']

    def POST(self, length: str = '8') -> str:
        try:
            some_string = ''.join(random.sample(string.hexdigits, int(length)))
        except ValueError:
            raise pyframe.HTTPError(400, 'length must be a number from 0 to 22') from None
        pyframe.session['mystring'] = some_string
        return some_string

    def PUT(self, another_string: str) -> None:
        pyframe.session['mystring'] = another_string

    def DELETE(self) -> None:
        pyframe.session.pop('mystring', None)


def port_from_command_line() -> int:
    """The port: first argument, else $PYFRAME_PORT, else 8080."""
    return int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PYFRAME_PORT', 8080))


if __name__ == '__main__':
    pyframe.config.update({'server.socket_host': '127.0.0.1',
                           'server.socket_port': port_from_command_line()})
    conf = {
        '/': {
            'request.dispatch': pyframe.dispatch.MethodDispatcher(),
            'tools.sessions.on': True,
            'tools.response_headers.on': True,
            'tools.response_headers.headers': [('Content-Type', 'text/plain')],
        }
    }
    pyframe.quickstart(StringGeneratorWebService(), '/', conf)
