"""Tutorial 7: remembering each visitor with sessions.

With the sessions tool on, ``pyframe.session`` is a dict-like store kept
per visitor: a cookie carries the session id, and whatever the handler
puts in the store is there again on that visitor's next request (and
only theirs). Sessions live in memory by default; other storages need
values that can be pickled.

Run it with ``python -m pyframe.tutorial.tut07_sessions``, open
http://127.0.0.1:8080/ and reload the page a few times.
"""

import os

import pyframe

#: The settings shared by the tutorials, next to this module.
TUTORIAL_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tutorial.conf')


class VisitCounter:
    """Counts how many times the current visitor has seen the page."""

    # Turned on for this tree only, right where it is used.
    _cp_config = {'tools.sessions.on': True}

    @pyframe.expose
    def index(self):
        visits = pyframe.session.get('visits', 0) + 1
        pyframe.session['visits'] = visits
        return (f'<p>You have seen this page {visits} time(s).</p>'
                '<p><a href="./">Again</a> | <a href="forget">Start over</a></p>')

    @pyframe.expose
    def forget(self):
        """Empty this visitor's session, so the count starts again."""
        pyframe.session.clear()
        return '<p>Forgotten.</p><p><a href="./">Count again</a></p>'


if __name__ == '__main__':
    pyframe.quickstart(VisitCounter(), config=TUTORIAL_CONF)
