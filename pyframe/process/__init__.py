"""Process-level machinery: the bus, its plugins and server adapters.

Nothing in this package knows about HTTP applications; it only manages the
life of a process (start, stop, restart, signals, daemonizing, PID files,
background threads) and the servers that live in it.
"""

from .wspbus import Bus, ChannelFailures, states

__all__ = ['Bus', 'ChannelFailures', 'states', 'plugins', 'servers', 'wspbus']


def __getattr__(name):
    # plugins and servers import more of the standard library than the bus;
    # load them on first use.
    if name in ('plugins', 'servers'):
        import importlib

        return importlib.import_module(f'{__name__}.{name}')
    raise AttributeError(name)
