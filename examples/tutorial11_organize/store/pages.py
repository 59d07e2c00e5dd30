"""The request handlers: the front page, the store card and the till.

Which code answers a URL is the dispatcher's choice: the default one walks
the object tree (``/card`` is ``Store.card``), while ``app.conf`` gives
``/till`` a method dispatcher, so the HTTP method picks ``Till.GET`` or
``Till.POST``.
"""

from __future__ import annotations

import html

import pyframe

from .shelves import OutOfStock, Shelves


@pyframe.expose
class Till:
    """A REST-style till: GET shows the shelves, POST buys."""

    def __init__(self, shelves: Shelves) -> None:
        self.shelves = shelves

    def GET(self) -> dict:
        """What is left of each item, and its price in cents."""
        counts = self.shelves.counts()
        return {item: {'price': price, 'left': counts[item]}
                for item, price in self.shelves.prices.items()}

    def POST(self, item: str, quantity: str = '1') -> dict:
        """Buy ``quantity`` of ``item``; the receipt amounts are in cents."""
        try:
            count = int(quantity)
        except ValueError:
            count = 0
        if count < 1:
            raise pyframe.HTTPError(400, 'quantity must be a whole number above 0')
        try:
            subtotal = self.shelves.take(item, count)
        except KeyError:
            raise pyframe.HTTPError(404, f'this store sells no {item!r}') from None
        except OutOfStock as exc:
            raise pyframe.HTTPError(409, str(exc)) from None
        # Set by the store_card tool; 0 when the tool is turned off.
        rate = getattr(pyframe.request, 'discount', 0.0)
        discount = round(subtotal * rate)
        return {'item': item, 'quantity': count, 'subtotal': subtotal,
                'discount': discount, 'total': subtotal - discount}


class Store:
    """The root of the application."""

    def __init__(self, shelves: Shelves) -> None:
        self.shelves = shelves
        self.till = Till(shelves)

    @pyframe.expose
    def index(self) -> str:
        """The front page: the shelves and a form that posts to the till."""
        counts = self.shelves.counts()
        rows = ''.join(
            f'<li>{html.escape(item)}: {price} cents, {counts[item]} left</li>'
            for item, price in self.shelves.prices.items()
        )
        options = ''.join(f'<option>{html.escape(item)}</option>' for item in self.shelves.prices)
        return f"""<html>
  <body>
    <h1>The superstore</h1>
    <ul>{rows}</ul>
    <form method="post" action="till">
      <select name="item">{options}</select>
      <input type="text" name="quantity" value="1" />
      <button type="submit">Buy</button>
    </form>
    <p><a href="card">Get a store card</a> for a discount at the till.</p>
  </body>
</html>"""

    @pyframe.expose
    def card(self) -> None:
        """Hand out a store card (a cookie) and go back to the front page."""
        pyframe.response.cookie['store_card'] = 'yes'
        pyframe.response.cookie['store_card']['path'] = '/'
        raise pyframe.HTTPRedirect('/')

    @pyframe.expose
    @pyframe.tools.allow(methods=['POST'])
    def restock(self) -> str:
        """Call the crew now: publish on the engine's ``restock`` channel."""
        added = sum(pyframe.engine.publish('restock'))
        return f'{added} items put back on the shelves.'
