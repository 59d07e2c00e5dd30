"""Tutorial 2: several pages on one object, linking to each other.

Every exposed method of the root answers the URL of its own name:
``index`` answers ``/``, ``weather`` answers ``/weather`` and so on. A
page reaches the others with ordinary relative links; a method that is
not exposed (``forecast_text`` below) is a plain helper, never a URL.

Run it with ``python -m pyframe.tutorial.tut02_expose_methods`` and open
http://127.0.0.1:8080/.
"""

import os

import pyframe

#: The settings shared by the tutorials, next to this module.
TUTORIAL_CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'tutorial.conf')


class WeatherStation:
    """A tiny site of three pages."""

    @pyframe.expose
    def index(self):
        """The front page: links to the two other pages."""
        return ('<p>Welcome to the weather station.</p>'
                '<p><a href="weather">Today\'s weather</a> | '
                '<a href="about">About this station</a></p>')

    @pyframe.expose
    def weather(self):
        """One page; it links back home."""
        return f'<p>{self.forecast_text()}</p><p><a href="./">Home</a></p>'

    @pyframe.expose
    def about(self):
        """Another page; it links back home too."""
        return '<p>A station made of three methods.</p><p><a href="./">Home</a></p>'

    def forecast_text(self):
        """Not exposed: callable from Python, but /forecast_text is a 404."""
        return 'Sunny spells, light breeze from the west.'


if __name__ == '__main__':
    pyframe.quickstart(WeatherStation(), config=TUTORIAL_CONF)
