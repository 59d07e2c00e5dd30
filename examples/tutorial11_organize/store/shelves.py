"""The store's data: items, their prices and how many are left.

Nothing here knows about HTTP, so it can be tested and reused alone.
"""

from __future__ import annotations

import threading


class OutOfStock(Exception):
    """Fewer items are left on the shelf than the customer asked for."""


class Shelves:
    """Stock and prices (in cents), safe to use from many request threads."""

    def __init__(self, prices: dict[str, int], shelf_size: int) -> None:
        self.prices = dict(prices)
        self.shelf_size = shelf_size
        # Request threads take items while the crew refills: one lock
        # keeps every count consistent.
        self._lock = threading.Lock()
        self._stock = dict.fromkeys(self.prices, 0)

    def refill(self) -> int:
        """Fill every shelf up to ``shelf_size``; return how many items were added."""
        with self._lock:
            added = sum(self.shelf_size - count for count in self._stock.values())
            self._stock = dict.fromkeys(self.prices, self.shelf_size)
        return added

    def take(self, item: str, quantity: int) -> int:
        """Remove ``quantity`` of ``item``; return their price in cents.

        Raises KeyError for an item the store does not sell and
        :class:`OutOfStock` when too few are left.
        """
        price = self.prices[item]
        with self._lock:
            if self._stock[item] < quantity:
                raise OutOfStock(f'only {self._stock[item]} {item} left')
            self._stock[item] -= quantity
        return price * quantity

    def counts(self) -> dict[str, int]:
        """A copy of how many of each item are on the shelves."""
        with self._lock:
            return dict(self._stock)
