"""Tutorial 10: HTTP errors and error pages.

Raise :class:`pyframe.HTTPError` with a status (and, if you like, a
message) to answer with an error; :class:`pyframe.NotFound` is the 404
shorthand. Unexpected exceptions answer 500 and show a traceback when
``request.show_tracebacks`` is on: this tutorial flips that setting at
run time from a link. The ``error_page.<status>`` config entry replaces
the built-in page: a template file or, as here for 404, a callable.

Run it with ``python -m pyframe.tutorial.tut10_http_errors`` and open
http://127.0.0.1:8080/.
"""

import html
import os

import pyframe

#: The settings shared by the tutorials, next to this module.
TUTORIAL_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tutorial.conf')


def lost_page(status, message, traceback, version):
    """Our own 404 page; it receives the same fields as the built-in one."""
    return (f'<html><body><h1>Lost? ({html.escape(status)})</h1>'
            f'<p>{html.escape(message)}</p>'
            '<p><a href="/">Back to the start</a></p></body></html>')


class ErrorDemo:
    """Links to pages that fail in different ways."""

    _cp_config = {'error_page.404': lost_page}

    @pyframe.expose
    def index(self):
        shown = 'shown' if pyframe.request.show_tracebacks else 'hidden'
        return f"""<html><body>
            <p>Tracebacks are {shown}:
               <a href="toggle_tracebacks">toggle</a>.</p>
            <ul>
              <li><a href="forbidden">403 with a message</a></li>
              <li><a href="teapot">418, status only</a></li>
              <li><a href="missing">404 through NotFound (custom page)</a></li>
              <li><a href="no/such/page">a URL that matches nothing (custom page)</a></li>
              <li><a href="broken">a bug in a handler (500)</a></li>
            </ul>
        </body></html>"""

    @pyframe.expose
    def toggle_tracebacks(self):
        """Flip the site-wide setting, then go back to the index."""
        showing = pyframe.request.show_tracebacks
        pyframe.config.update({'request.show_tracebacks': not showing})
        raise pyframe.HTTPRedirect('./')

    @pyframe.expose
    def forbidden(self):
        raise pyframe.HTTPError(403, 'This page is for staff only.')

    @pyframe.expose
    def teapot(self):
        raise pyframe.HTTPError(418)

    @pyframe.expose
    def missing(self):
        raise pyframe.NotFound()

    @pyframe.expose
    def broken(self):
        return {}['no such key']


if __name__ == '__main__':
    pyframe.quickstart(ErrorDemo(), config=TUTORIAL_CONF)
