"""The engine's timeout monitor: flags responses that run too long."""

from __future__ import annotations

from .process.plugins import Monitor

__all__ = ['TimeoutMonitor']


class TimeoutMonitor(Monitor):
    """Every ``frequency`` seconds, call ``check_timeout()`` on each response
    being served, so that long requests see ``response.timed_out`` set.

    Requests register themselves in :attr:`servings` (thread id ->
    response) while they run; a dict keeps that O(1) per request.
    """

    def __init__(self, bus, frequency: float = 60) -> None:
        self.servings: dict[int, object] = {}
        super().__init__(bus, self.run, frequency, name='TimeoutMonitor')

    def run(self) -> None:
        """Check every response currently being served."""
        for response in list(self.servings.values()):
            response.check_timeout()
