"""Tutorial 8: building a response body with ``yield``.

A handler may be a generator: each value it yields is one piece of the
body, sent in order. That reads naturally when a page is a header, a
loop over some data and a footer, without gathering strings into a list
or concatenating them by hand.

Run it with ``python -m pyframe.tutorial.tut08_generators_and_yield`` and
open http://127.0.0.1:8080/.
"""

import os

import pyframe

#: The settings shared by the tutorials, next to this module.
TUTORIAL_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tutorial.conf')


class Countdown:
    """Pages produced piece by piece."""

    def page_top(self, title):
        yield f'<html><head><title>{title}</title></head><body><h1>{title}</h1>'

    def page_bottom(self):
        yield '</body></html>'

    @pyframe.expose
    def index(self, start='5'):
        """/?start=N counts down from N, one yielded line per number."""
        yield from self.page_top('Countdown')
        yield '<ol>'
        for number in range(int(start), 0, -1):
            yield f'<li>{number}</li>'
        yield '</ol><p>Lift-off!</p>'
        yield from self.page_bottom()


if __name__ == '__main__':
    pyframe.quickstart(Countdown(), config=TUTORIAL_CONF)
