"""The config checker: warns about common config mistakes when the engine starts.

``pyframe.checker`` is subscribed to the engine's ``start`` channel. It
looks at the mounted applications and the global config and reports what
is probably a mistake (an empty app config, a path section missing its
leading slash, an unknown namespace, a relative static path ...) as a
:class:`PyframeCheckerWarning`, shown on the console as::

    pyframe Checker:
    The Application mounted at '' has an empty config.

Nothing is changed or refused: the warnings are advice. ``checker.on:
False`` in the global config silences the checker (the staging,
production, embedded and test_suite environments do so), and
``checker.<check name>: False`` silences a single check.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .config import Config as GlobalConfig
from .tree import Application

__all__ = ['Checker', 'PyframeCheckerWarning', 'RENAMED_KEYS', 'SITE_WIDE_NAMESPACES']


class PyframeCheckerWarning(UserWarning):
    """A probable config mistake found by the :class:`Checker`."""


#: Namespaces that only act in the global config: in an app's config they
#: are stored and never applied.
SITE_WIDE_NAMESPACES = frozenset({'engine', 'server', 'checker', 'tree'})

#: Config keys renamed long ago, mapped to their current names.
RENAMED_KEYS: dict[str, str] = {
    'engine.autoreload_on': 'engine.autoreload.on',
    'engine.autoreload_frequency': 'engine.autoreload.frequency',
    'engine.autoreload_match': 'engine.autoreload.match',
    'engine.reload_files': 'engine.autoreload.files',
    'engine.deadlock_poll_freq': 'engine.timeout_monitor.frequency',
    'log_to_screen': 'log.screen',
    'log_file': 'log.error_file',
    'log_access_file': 'log.access_file',
    'log_request_headers': 'tools.log_headers.on',
    'show_tracebacks': 'request.show_tracebacks',
    'throw_errors': 'request.throw_errors',
}

# The default toolbox applies to every application, whether or not the
# application lists it in its own ``toolboxes``.
_DEFAULT_TOOLBOX = 'tools'

# Static tool name -> the key naming what it serves; both tools also take
# a ``root`` that relative targets are joined to.
_STATIC_TARGETS = {'staticdir': 'dir', 'staticfile': 'filename'}


class Checker:
    """Runs every ``check_*`` method and warns about what each one finds.

    Meant for the engine's ``start`` channel at :attr:`priority` 45: ahead
    of listeners at the default 50, of the Daemonizer (65), which detaches
    from the console, and of the HTTP server (75), so the warnings are seen
    and come before the first request.

    ``tree`` and ``config`` default to ``pyframe.tree`` and
    ``pyframe.config``, looked up at each run.
    """

    #: False silences every check.
    on = True
    #: The order of the ``start`` listener on the engine.
    priority = 45
    #: Namespaces of your own that are read by your code rather than by a
    #: namespace handler; entries in them are not reported as unknown.
    extra_config_namespaces: tuple[str, ...] = ()

    def __init__(self, tree: Any = None, config: Mapping[str, Any] | None = None) -> None:
        self._tree = tree
        self._config = config

    @property
    def tree(self) -> Any:
        """The Tree inspected: the one given, else ``pyframe.tree``."""
        if self._tree is not None:
            return self._tree
        import pyframe

        return pyframe.tree

    @property
    def config(self) -> Mapping[str, Any]:
        """The global config inspected: the one given, else ``pyframe.config``."""
        if self._config is not None:
            return self._config
        import pyframe

        return pyframe.config

    def __call__(self) -> None:
        """Run every enabled check, unless the checker is off."""
        if not self.on:
            return
        original = warnings.formatwarning
        warnings.formatwarning = _checker_format(original)
        try:
            for name in self.checks():
                check = getattr(self, name)
                # A check is disabled by setting its name to False.
                if callable(check):
                    check()
        finally:
            warnings.formatwarning = original

    def checks(self) -> list[str]:
        """The names of the checks, in the order their classes define them."""
        names: dict[str, None] = {}
        for cls in reversed(type(self).__mro__):
            names.update(dict.fromkeys(name for name in vars(cls) if name.startswith('check_')))
        return list(names)

    def warn(self, message: str) -> None:
        """Report one finding as a :class:`PyframeCheckerWarning`."""
        warnings.warn(message, PyframeCheckerWarning, stacklevel=2)

    # -- the checks ------------------------------------------------------------

    def check_skipped_app_config(self) -> None:
        """Warn about applications mounted without any config."""
        for script_name, app in self._applications():
            if not app.config:
                self.warn(f'The Application mounted at {script_name!r} has an empty config.')

    def check_app_config_sections(self) -> None:
        """Warn about app sections that hold request config but whose
        name does not start with '/' (a forgotten slash, or INI brackets
        kept in a dict key)."""
        for script_name, app in self._applications():
            known = self._app_namespaces(app)
            for section, entries in app.config.items():
                if section.startswith('/') or section == 'global':
                    continue
                if not isinstance(entries, Mapping):
                    continue
                # Custom sections ([Databases]) are fine; only entries that
                # pyframe itself would read betray a path section.
                key = next((key for key in entries if _namespace(key) in known), None)
                if key is not None:
                    path = '/' + section.strip().strip('[]').strip().lstrip('/')
                    self.warn(
                        f'The application mounted at {script_name!r} has a section '
                        f'{section!r} holding request config such as {key!r}, but '
                        f'path sections must start with "/": did you mean {path!r}? '
                        f'As it is, the section is not applied to any URL.'
                    )

    def check_site_config_entries_in_app_config(self) -> None:
        """Warn about site-wide entries in an app's config, where they do nothing."""
        for script_name, app in self._applications():
            global_section = app.config.get('global')
            if isinstance(global_section, Mapping):
                # quickstart() applies an app's [global] section, so only
                # entries the global config does not hold are lost.
                missing = [key for key, value in global_section.items()
                           if key not in self.config or self.config[key] != value]
                if missing:
                    self.warn(
                        f'The application mounted at {script_name!r} has a "global" '
                        f'section whose entries {missing!r} are not in the global '
                        f'config: pass site-wide entries to pyframe.config.update().'
                    )
            for section, entries in _path_sections(app):
                for key in entries:
                    namespace = _namespace(key)
                    if namespace in SITE_WIDE_NAMESPACES:
                        self.warn(
                            f'{_app_entry(script_name, section, key)}, but {namespace!r} '
                            f'entries only act in the global config: move it there '
                            f'(pyframe.config.update()).'
                        )

    def check_config_namespaces(self) -> None:
        """Warn about entries in no known namespace, which nothing reads."""
        for script_name, app in self._applications():
            known = self._app_namespaces(app) | SITE_WIDE_NAMESPACES
            for section, entries in _path_sections(app):
                for key in entries:
                    if key in RENAMED_KEYS:
                        continue  # check_compatibility names the fix.
                    namespace = _namespace(key)
                    if namespace is None:
                        self.warn(
                            f'{_app_entry(script_name, section, key)}, but path sections '
                            f'only take namespaced keys (such as "tools.gzip.on"); '
                            f'keep your own settings in a section not starting with "/".'
                        )
                    elif namespace not in known:
                        self.warn(
                            f'{_app_entry(script_name, section, key)}, but {namespace!r} '
                            f'is not a known config namespace, so the entry is ignored.'
                        )
        known = self._site_namespaces()
        for key in self.config:
            namespace = _namespace(key)
            # Plain keys are the site's own settings, read with config.get().
            if namespace is not None and namespace not in known and key not in RENAMED_KEYS:
                self.warn(
                    f'The global config sets {key!r}, but {namespace!r} is not a '
                    f'known config namespace, so the entry is ignored.'
                )

    def check_static_paths(self) -> None:
        """Warn about relative or missing paths given to the static tools."""
        for script_name, app in self._applications():
            for section, entries in _path_sections(app):
                for tool, target in _STATIC_TARGETS.items():
                    self._check_static_entry(script_name, app, section, entries, tool, target)

    def check_compatibility(self) -> None:
        """Warn about keys that were renamed, giving their current names."""
        for key in self.config:
            if key in RENAMED_KEYS:
                self.warn(f'The global config sets {key!r}, which is now named '
                          f'{RENAMED_KEYS[key]!r}.')
        for script_name, app in self._applications():
            for section, entries in _path_sections(app):
                for key in entries:
                    if key in RENAMED_KEYS:
                        self.warn(f'{_app_entry(script_name, section, key)}, which is '
                                  f'now named {RENAMED_KEYS[key]!r}.')

    # -- helpers -------------------------------------------------------------------

    def _applications(self) -> Iterator[tuple[str, Application]]:
        """(mount point, app) for each mounted Application; grafted WSGI
        callables have no pyframe config to check."""
        for script_name, app in self.tree.apps.items():
            if isinstance(app, Application):
                yield script_name, app

    def _app_namespaces(self, app: Application) -> set[str]:
        """The namespaces an application's path sections may use."""
        return (set(app.request_class.namespaces) | set(app.namespaces)
                | set(app.toolboxes) | {_DEFAULT_TOOLBOX} | set(self.extra_config_namespaces))

    def _site_namespaces(self) -> set[str]:
        """The namespaces the global config may use: its own, and those of
        every app, since global entries reach each request."""
        handlers = getattr(self.config, 'namespaces', GlobalConfig.namespaces)
        known = set(handlers) | set(Application.request_class.namespaces)
        known |= {_DEFAULT_TOOLBOX} | set(self.extra_config_namespaces)
        for _, app in self._applications():
            known |= self._app_namespaces(app)
        return known

    def _check_static_entry(self, script_name: str, app: Application, section: str,
                            entries: Mapping[str, Any], tool: str, target: str) -> None:
        """Check the root and target of one static tool in one section."""
        root_key, target_key = f'tools.{tool}.root', f'tools.{tool}.{target}'
        if root_key in entries and not _is_absolute(entries[root_key]):
            self.warn(f'{_app_entry(script_name, section, root_key)} to '
                      f'{entries[root_key]!r}, which is not an absolute path.')
        path = entries.get(target_key)
        if not isinstance(path, (str, os.PathLike)):
            return
        if not os.path.isabs(path):
            # The root may come from this section, a parent one or the site.
            root = app.find_config(section, root_key, self.config.get(root_key))
            if not _is_absolute(root):
                self.warn(
                    f'{_app_entry(script_name, section, target_key)} to {path!r}, a '
                    f'relative path, with no absolute {root_key!r} in effect there: '
                    f'static paths must resolve to absolute ones.'
                )
                return
            path = os.path.join(root, path)
        if tool == 'staticdir' and not os.path.isdir(path):
            self.warn(f'{_app_entry(script_name, section, target_key)}, but '
                      f'{os.fspath(path)!r} is not an existing directory.')


def _checker_format(original: Callable[..., str]) -> Callable[..., str]:
    """Wrap ``warnings.formatwarning`` so that checker warnings read as a
    plain block under a "pyframe Checker:" heading instead of a source
    location, which would only point into this module."""

    def formatwarning(message: Warning | str, category: type[Warning], filename: str,
                      lineno: int, line: str | None = None) -> str:
        if issubclass(category, PyframeCheckerWarning):
            return f'pyframe Checker:\n{message}\n'
        return original(message, category, filename, lineno, line)

    return formatwarning


def _path_sections(app: Application) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The (section, entries) of an app's config that apply to URLs."""
    for section, entries in app.config.items():
        if section.startswith('/') and isinstance(entries, Mapping):
            yield section, entries


def _namespace(key: str) -> str | None:
    """The namespace of a config key ('tools' for 'tools.gzip.on'), or
    None for a key without one."""
    namespace, dot, _ = key.partition('.')
    return namespace if dot else None


def _is_absolute(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and os.path.isabs(path)


def _app_entry(script_name: str, section: str, key: str) -> str:
    """The start of a message about one entry of an app's config."""
    return f'The application mounted at {script_name!r} sets {key!r} in section {section!r}'
