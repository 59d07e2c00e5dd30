"""Tutorial 4: a site built from nested objects.

A URL path is walked attribute by attribute from the root: an object
attached as ``root.library`` answers under ``/library/``, its own
attribute ``books`` under ``/library/books/``, and so on. Each part of
the site is a separate, reusable class; the tree of objects is the map
of the site.

Run it with ``python -m pyframe.tutorial.tut04_complex_site`` and open
http://127.0.0.1:8080/.
"""

import os

import pyframe

#: The settings shared by the tutorials, next to this module.
TUTORIAL_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tutorial.conf')


class Books:
    """Answers under /library/books/."""

    @pyframe.expose
    def index(self):
        return ('<h1>Books</h1><ul><li>A novel</li><li>A cookbook</li></ul>'
                '<a href="../">Up to the library</a>')


class Maps:
    """Answers under /library/maps/."""

    @pyframe.expose
    def index(self):
        return '<h1>Maps</h1><p>Only one, of the town.</p><a href="../">Up to the library</a>'

    @pyframe.expose
    def town(self):
        """/library/maps/town: a page below the branch's index."""
        return '<h1>Town map</h1><a href="./">All maps</a>'


class Library:
    """A branch of the site with branches of its own."""

    def __init__(self):
        self.books = Books()
        self.maps = Maps()

    @pyframe.expose
    def index(self):
        return ('<h1>Library</h1><a href="books/">Books</a> | <a href="maps/">Maps</a>'
                ' | <a href="../">Home</a>')


class Cafe:
    """A second branch, at /cafe/."""

    @pyframe.expose
    def index(self):
        return '<h1>Cafe</h1><p>Tea and cake.</p><a href="../">Home</a>'


class TownHall:
    """The root of the site."""

    def __init__(self):
        self.library = Library()
        self.cafe = Cafe()

    @pyframe.expose
    def index(self):
        return ('<h1>Town hall</h1><a href="library/">Library</a> | '
                '<a href="cafe/">Cafe</a>')


if __name__ == '__main__':
    pyframe.quickstart(TownHall(), config=TUTORIAL_CONF)
