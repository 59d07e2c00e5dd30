"""The site-wide config: ``pyframe.config`` and its namespace handlers.

Global entries take effect as soon as they are set::

    pyframe.config.update({'server.socket_port': 80, 'environment': 'production'})

The handlers here bind the global namespaces to the objects of the
``pyframe`` package: ``engine`` (the bus and its plugins), ``server``,
``log``, ``tree`` and ``checker``. The ``request``, ``response``,
``hooks``, ``tools`` and ``wsgi`` entries are only stored: the request
machinery reads them for each request.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .decorators import config as _config_decorator
from .lib import reprconf

__all__ = ['Config', 'environments', 'merge']


# What every environment but development turns off.
_QUIET = {
    'engine.autoreload.on': False,
    'checker.on': False,
    'tools.log_headers.on': False,
}
# What a public site must not tell its visitors.
_DISCREET = {
    'request.show_tracebacks': False,
    'request.show_mismatched_params': False,
}

#: Entries each ``environment`` name brings into the global config.
environments: dict[str, dict[str, Any]] = {
    'staging': {**_QUIET, **_DISCREET},
    'production': {**_QUIET, **_DISCREET, 'log.screen': False},
    # For a site embedded in another stack, which owns the signals.
    'embedded': {**_QUIET, **_DISCREET, 'log.screen': False,
                 'engine.SIGHUP': None, 'engine.SIGTERM': None},
    'test_suite': {**_QUIET, 'request.show_tracebacks': True,
                   'request.show_mismatched_params': True, 'log.screen': False},
}


def _pyframe():
    # Imported at call time: this module is imported while the pyframe
    # package itself is still being built.
    import pyframe

    return pyframe


def _set_existing(target: Any, attr: str, value: Any, key: str) -> None:
    """setattr, refusing names the target lacks: a typo must not pass silently."""
    if not attr or not hasattr(target, attr):
        raise ValueError(f'unknown config key {key!r}: {target!r} has no attribute {attr!r}')
    setattr(target, attr, value)


# -- engine -------------------------------------------------------------------


def _is_signal_channel(name: str) -> bool:
    return name.startswith('SIG') and name.isupper() and '.' not in name


def _engine_namespace(key: str, value: Any) -> None:
    """Handle ``engine.*``: plugin switches and attributes, signal channels,
    and attributes of the engine itself."""
    engine = _pyframe().engine
    if _is_signal_channel(key):
        _set_signal_listeners(engine, key, value)
        return
    name, dot, attr = key.partition('.')
    if not dot:
        _set_existing(engine, name, value, f'engine.{key}')
        return
    plugin = getattr(engine, name, None)
    if plugin is None:
        raise ValueError(f'unknown config key engine.{key}: the engine has no plugin {name!r}')
    if attr == 'on':
        if not (hasattr(plugin, 'subscribe') and hasattr(plugin, 'unsubscribe')):
            raise ValueError(f'engine.{key}: engine.{name} is not a plugin')
        if value:
            plugin.subscribe()
        else:
            plugin.unsubscribe()
    else:
        _set_existing(plugin, attr, value, f'engine.{key}')


def _set_signal_listeners(engine: Any, channel: str, value: Any) -> None:
    """Make ``value`` (a callable, a list of them, or None) the only
    listeners of a signal channel."""
    if value is None:
        listeners: list[Callable] = []
    elif callable(value):
        listeners = [value]
    elif isinstance(value, Iterable):
        listeners = list(value)
    else:
        raise ValueError(f'engine.{channel} must be a callable, a list of callables or None')
    for old in list(engine.listeners.get(channel, ())):
        engine.unsubscribe(channel, old)
    for listener in listeners:
        engine.subscribe(channel, listener)
    # The signal handler subscribes its own listener when it installs the
    # signals; keep its map in step so that it does not bring back the
    # old one. No listener at all means: leave that signal to the OS.
    handler = getattr(engine, 'signal_handler', None)
    if handler is not None:
        if listeners:
            handler.handlers[channel] = listeners[0] if len(listeners) == 1 else None
        else:
            handler.handlers.pop(channel, None)


# -- server, log, tree, checker ---------------------------------------------------


def _server_namespace(key: str, value: Any) -> None:
    """Handle ``server.*``: set an attribute of ``pyframe.server``."""
    _set_existing(_pyframe().server, key, value, f'server.{key}')


def _log_namespace(key: str, value: Any) -> None:
    """Handle ``log.*``: set an attribute of ``pyframe.log``."""
    _set_existing(_pyframe().log, key, value, f'log.{key}')


def _tree_namespace(key: str, value: Any) -> None:
    """Handle ``tree.<script_name>``: mount a root object there.

    An Application is mounted at its own script name, the key being only a
    label for it.
    """
    pyframe = _pyframe()
    if isinstance(value, pyframe.Application):
        pyframe.tree.mount(value)
    else:
        pyframe.tree.mount(value, ('/' + key.strip('/')).rstrip('/'))


def _checker_namespace(key: str, value: Any) -> None:
    """Handle ``checker.*``: ``on`` and ``check_<name>`` switch the checker or one check."""
    checker = _pyframe().checker
    if key.startswith('check_'):
        # Turning off a check pyframe lacks (one a CherryPy app names) is harmless.
        setattr(checker, key, value)
    else:
        _set_existing(checker, key, value, f'checker.{key}')


# -- the global config ------------------------------------------------------------


class Config(reprconf.Config):
    """The global config (``pyframe.config``): site-wide entries.

    Also usable as a decorator, like :func:`pyframe.decorators.config`:
    ``@pyframe.config(**{'tools.gzip.on': True})``.
    """

    defaults = {
        'tools.log_tracebacks.on': True,
        'tools.log_headers.on': True,
        'tools.trailing_slash.on': True,
        'tools.encode.on': True,
    }
    environments = environments
    namespaces = reprconf.NamespaceSet({
        'engine': _engine_namespace,
        'server': _server_namespace,
        'log': _log_namespace,
        'tree': _tree_namespace,
        'checker': _checker_namespace,
    })

    def update(self, config: Any) -> None:
        """Apply a dict, filename or open file (only its ``[global]``
        section when it has one); a config file is also watched by the
        autoreloader, so editing it restarts the site."""
        _watch_if_file(config)
        super().update(config)

    def __call__(self, **settings: Any) -> Callable:
        """Return a decorator that adds ``settings`` to a handler's ``_cp_config``."""
        return _config_decorator(**settings)


def _watch_if_file(config: Any) -> None:
    if isinstance(config, (str, os.PathLike)):
        _pyframe().engine.autoreload.files.add(os.path.abspath(config))


def merge(base: dict, other: Any) -> None:
    """Merge the nested config ``other`` (a dict, filename or open file of
    ``{section: {key: value}}``) into ``base``, section by section."""
    _watch_if_file(other)
    for section, entries in reprconf.as_dict(other).items():
        if not isinstance(entries, Mapping):
            raise ValueError(
                f'application config must map sections to dicts, but {section!r} '
                f'maps to {entries!r}; put such entries under a section like "/"'
            )
        base.setdefault(section, {}).update(entries)
