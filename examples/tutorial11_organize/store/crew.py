"""An engine plugin: the crew keeping the shelves full, outside any request.

Plugins subscribe methods to channels of the engine (the bus): ``start``
and ``stop`` like every plugin, plus a channel of our own, ``restock``,
that any code in the process can publish to.
"""

from __future__ import annotations

import pyframe
from pyframe.process.plugins import Monitor, SimplePlugin
from pyframe.process.wspbus import Bus

from .shelves import Shelves


class Crew(SimplePlugin):
    """Fills the shelves at start, then every ``every`` seconds and on demand."""

    def __init__(self, bus: Bus, shelves: Shelves, every: float) -> None:
        super().__init__(bus)
        self.shelves = shelves
        # The regular rounds run in a Monitor, the engine's timer plugin,
        # so they start and stop with the engine like its other threads.
        self.rounds = Monitor(bus, self.restock, frequency=every, name='Crew rounds')

    def subscribe(self) -> None:
        """Listen on ``start`` and ``restock``; start the rounds with the engine."""
        super().subscribe()
        self.rounds.subscribe()
        # A custom channel is created by subscribing to it.
        self.bus.subscribe('restock', self.restock)

    def start(self) -> None:
        """Full shelves before the first customer comes in."""
        self.restock()

    # Before the HTTP server starts listening (it starts at priority 75).
    start.priority = 20

    def restock(self) -> int:
        """Refill the shelves; return how many items were put back."""
        added = self.shelves.refill()
        self.bus.log(f'Crew put {added} items back on the shelves.')
        return added


def hire(shelves: Shelves, every: float) -> Crew:
    """Create the crew and subscribe it to ``pyframe.engine``."""
    crew = Crew(pyframe.engine, shelves, every)
    crew.subscribe()
    return crew
