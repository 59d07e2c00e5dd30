"""A tool: card holders get a discount at the till.

A tool is a function that runs at a given point of every request it is
turned on for. This one runs before the handler and leaves the rate on the
request; ``app.conf`` turns it on for ``/till`` only and sets the rate.
"""

from __future__ import annotations

import pyframe


def apply_store_card(rate: float = 0.1) -> None:
    """Set ``request.discount``: ``rate`` for store-card holders, else 0."""
    card = pyframe.request.cookie.get('store_card')
    holder = card is not None and card.value == 'yes'
    pyframe.request.discount = rate if holder else 0.0


# Registering the tool in the default toolbox gives it the config keys
# ``tools.store_card.on`` and ``tools.store_card.rate``, and the decorator
# ``@pyframe.tools.store_card(rate=...)``.
pyframe.tools.store_card = pyframe.Tool('before_handler', apply_store_card)
