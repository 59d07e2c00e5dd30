"""Tutorial 5: sharing a page layout through inheritance.

Handler classes are ordinary Python classes, so a common base class can
own what every page has in common. Here :class:`Page` draws the header
and footer around the body its subclasses provide, and each subclass
only sets its ``title`` and writes its own content. Exposed methods are
inherited like any other method.

Run it with ``python -m pyframe.tutorial.tut05_derived_objects`` and open
http://127.0.0.1:8080/.
"""

import html
import os

import pyframe

#: The settings shared by the tutorials, next to this module.
TUTORIAL_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tutorial.conf')


class Page:
    """The base of every page: a header and footer around ``body()``."""

    title = 'Untitled'

    def header(self):
        return (f'<html><head><title>{html.escape(self.title)}</title></head><body>'
                f'<h1>{html.escape(self.title)}</h1>')

    def footer(self):
        return '<hr /><p class="footer">Made with pyframe.</p></body></html>'

    def body(self):
        return ''

    @pyframe.expose
    def index(self):
        """Inherited by every subclass: the layout around its body."""
        return self.header() + self.body() + self.footer()


class HomePage(Page):
    """The root page, with a link to its child page."""

    title = 'Tutorial 5'

    def __init__(self):
        self.another = AnotherPage()

    def body(self):
        return '<p>This page and the next share one layout.</p><a href="another/">Another page</a>'


class AnotherPage(Page):
    """A second page in the same layout."""

    title = 'Another Page'

    def body(self):
        return '<p>Same header, same footer, different body.</p><a href="../">Home</a>'


if __name__ == '__main__':
    pyframe.quickstart(HomePage(), config=TUTORIAL_CONF)
