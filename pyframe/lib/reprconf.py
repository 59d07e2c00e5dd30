"""Configuration from dicts and INI files whose values are Python literals.

A config is a dict. It may also come from a file (or a filename) in INI
form, where every value is written the way Python writes it::

    [global]
    server.socket_port = 8080
    log.error_file = "/var/log/site.log"

    [/]
    request.dispatch = pyframe.dispatch.MethodDispatcher()

Values are read by :func:`unrepr`, which walks the parsed syntax tree
itself instead of evaluating the text: literals, simple arithmetic, dotted
names of importable objects and calls of those names are accepted, and
nothing else. A config file can still import and call code by name, so
treat it as trusted input, like the program's own source.

Keys are split into namespaces at their first dot (``server.socket_port``
belongs to ``server``); a :class:`NamespaceSet` hands each entry to the
handler of its namespace, and :class:`Config` calls it on every update.

This module uses the standard library only.
"""

from __future__ import annotations

import ast
import builtins
import configparser
import importlib
import io
import operator
import os
from collections.abc import Callable, Iterable, Mapping
from typing import IO, Any

__all__ = ['Config', 'NamespaceSet', 'Parser', 'as_dict', 'attributes', 'unrepr']


# -- values -------------------------------------------------------------------

# Builtins a value may name or call; anything else (eval, open, __import__)
# is refused even though it is reachable, because no config needs it.
_SAFE_BUILTINS = frozenset({
    'bool', 'bytes', 'complex', 'dict', 'float', 'frozenset', 'int', 'list',
    'object', 'range', 'set', 'str', 'tuple',
})

_BINARY_OPERATORS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitOr: operator.or_,
}

_UNARY_OPERATORS: dict[type, Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
}

# Larger exponents could keep the process busy for minutes on a typo.
_MAX_EXPONENT = 10_000


def unrepr(text: str) -> Any:
    """Return the object that the config value ``text`` writes out.

    Accepted: literals (str, bytes, numbers, True/False/None, lists,
    tuples, dicts, sets), unary minus and arithmetic on numbers
    (``60 * 60``), dotted names of importable objects
    (``logging.DEBUG``), and calls of such names whose arguments are
    themselves accepted values (``mypkg.Thing(1, key='v')``). An empty
    text gives ``''``. Anything else raises :class:`ValueError` naming
    the offending part of ``text``.
    """
    if not text.strip():
        return ''
    try:
        tree = ast.parse(text.strip(), mode='eval')
    except SyntaxError as exc:
        raise ValueError(f'{text!r} is not a Python literal: {exc.msg}') from None
    try:
        return _Builder(text.strip()).build(tree.body)
    except RecursionError:
        raise ValueError(f'{text!r} is nested too deeply') from None


class _Builder:
    """Turns the syntax tree of one config value into the object."""

    def __init__(self, text: str) -> None:
        self.text = text

    def refuse(self, node: ast.AST, why: str) -> ValueError:
        part = ast.get_source_segment(self.text, node) or self.text
        where = '' if part == self.text else f': {part!r}'
        return ValueError(f'{why}{where} in config value {self.text!r}')

    def build(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict)):
            try:
                return self.collection(node)
            except TypeError as exc:  # an unhashable set member or dict key
                raise self.refuse(node, str(exc)) from None
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY_OPERATORS:
            return _UNARY_OPERATORS[type(node.op)](self.number(node.operand))
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY_OPERATORS:
            return self.arithmetic(node)
        if isinstance(node, (ast.Name, ast.Attribute)):
            return self.resolve(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Starred):
            raise self.refuse(node, '* unpacking is not allowed')
        raise self.refuse(node, f'{type(node).__name__} expressions are not allowed')

    def collection(self, node: ast.List | ast.Tuple | ast.Set | ast.Dict) -> Any:
        if isinstance(node, ast.Dict):
            if None in node.keys:
                raise self.refuse(node, '** unpacking is not allowed')
            return {self.build(k): self.build(v) for k, v in zip(node.keys, node.values)}
        items = [self.build(item) for item in node.elts]
        return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](items)

    def number(self, node: ast.AST) -> complex | float | int:
        value = self.build(node)
        if not isinstance(value, (int, float, complex)):
            raise self.refuse(node, 'arithmetic needs numbers')
        return value

    def arithmetic(self, node: ast.BinOp) -> Any:
        left, right = self.number(node.left), self.number(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > _MAX_EXPONENT:
            raise self.refuse(node, 'exponent too large')
        try:
            return _BINARY_OPERATORS[type(node.op)](left, right)
        except (ArithmeticError, TypeError) as exc:
            raise self.refuse(node, str(exc)) from None

    def dotted_name(self, node: ast.AST) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = self.dotted_name(node.value)
            return None if base is None else f'{base}.{node.attr}'
        return None

    def resolve(self, node: ast.Name | ast.Attribute) -> Any:
        name = self.dotted_name(node)
        if name is None:
            raise self.refuse(node, 'only attributes of dotted names are allowed')
        parts = name.split('.')
        # Dunder attributes lead into interpreter internals; __main__ is
        # the one such name a config legitimately uses (a script's classes).
        if any(p.startswith('__') and p.endswith('__') for p in parts[1:]) or (
            parts[0].startswith('__') and parts[0] != '__main__'
        ):
            raise self.refuse(node, 'dunder names are not allowed')
        if len(parts) == 1 and name in _SAFE_BUILTINS:
            return getattr(builtins, name)
        try:
            return attributes(name)
        except (ImportError, AttributeError) as exc:
            hint = ' (quote it if it is meant as a string)' if len(parts) == 1 else ''
            raise self.refuse(node, f'{exc}{hint}') from None

    def call(self, node: ast.Call) -> Any:
        if not isinstance(node.func, (ast.Name, ast.Attribute)):
            raise self.refuse(node, 'only dotted names may be called')
        function = self.resolve(node.func)
        args = [self.build(arg) for arg in node.args]
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.refuse(keyword, '** unpacking is not allowed')
            kwargs[keyword.arg] = self.build(keyword.value)
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            raise self.refuse(node, f'call failed ({type(exc).__name__}: {exc})') from exc


def attributes(full_attribute_name: str) -> Any:
    """Import the longest importable module prefix of a dotted name and
    return the attribute the rest of the name designates.

    ``attributes('os.path.join')`` imports ``os.path`` and returns its
    ``join``. Raises :class:`ImportError` when no prefix is a module and
    :class:`AttributeError` when an attribute is missing, both naming
    ``full_attribute_name``.
    """
    parts = full_attribute_name.split('.')
    for count in range(len(parts), 0, -1):
        module_name = '.'.join(parts[:count])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            # Only "this prefix does not exist" means: try a shorter one.
            # A module that exists but fails to import must surface.
            if exc.name is None or not (module_name + '.').startswith(exc.name + '.'):
                raise
            continue
        break
    else:
        raise ImportError(
            f'cannot import {full_attribute_name!r}: no module named {parts[0]!r}',
            name=full_attribute_name,
        )
    for attr in parts[count:]:
        try:
            obj = getattr(obj, attr)
        except AttributeError:
            raise AttributeError(
                f'cannot import {full_attribute_name!r}: '
                f'{module_name!r} has no attribute {attr!r}'
            ) from None
        module_name = f'{module_name}.{attr}'
    return obj


# -- files ----------------------------------------------------------------------


class Parser(configparser.ConfigParser):
    """An INI parser for config files: option names keep their case,
    ``%`` is an ordinary character, and unreadable files raise instead
    of being skipped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault('interpolation', None)
        super().__init__(*args, **kwargs)
        # (section, option) -> the file that last set it, for error messages.
        self._origins: dict[tuple[str, str], str] = {}

    def optionxform(self, optionstr: str) -> str:
        """Keep option names as written: config keys are case sensitive."""
        return optionstr

    def read(
        self,
        filenames: str | bytes | os.PathLike | Iterable[str | bytes | os.PathLike],
        encoding: str | None = None,
    ) -> list:
        """Read one filename or several; a missing or unreadable file
        raises :class:`OSError` naming it."""
        if isinstance(filenames, (str, bytes, os.PathLike)):
            filenames = [filenames]
        read_ok = []
        for filename in filenames:
            try:
                fp = open(filename, encoding=encoding)
            except OSError as exc:
                raise type(exc)(
                    exc.errno, f'cannot read config file: {exc.strerror}', filename
                ) from None
            with fp:
                self.read_file(fp, os.fsdecode(filename))
            read_ok.append(filename)
        return read_ok

    def read_file(self, f: IO[str], source: str | None = None) -> None:
        """Read an open file, remembering which file set which option."""
        source = source or getattr(f, 'name', None) or '<string>'
        text = f.read()
        # A throwaway parse tells which options this source sets; the real
        # parse below merges them over what was read before. Its default
        # section gets a name no header can have, so that [DEFAULT] reads
        # as a plain section and no section reports inherited options.
        probe = configparser.ConfigParser(interpolation=None, default_section='\n')
        probe.optionxform = str
        probe.read_string(text, source)
        for section in probe.sections():
            for option in probe.options(section):
                self._origins[section, option] = source
        super().read_file(io.StringIO(text), source)

    def as_dict(self, raw: bool = False, vars: Mapping | None = None) -> dict:
        """Return ``{section: {option: value}}`` with every value unrepr'd.

        A value that cannot be read raises :class:`ValueError` naming the
        file, section, option and value.
        """
        result: dict[str, dict] = {}
        for section in self.sections():
            entries = result[section] = {}
            for option, text in self.items(section, raw=raw, vars=vars):
                try:
                    entries[option] = None if text is None else unrepr(text)
                except Exception as exc:
                    source = self._origins.get(
                        (section, option),
                        self._origins.get((self.default_section, option), '<unknown>'),
                    )
                    raise ValueError(
                        f'{source}: bad value in [{section}] {option} = {text}: {exc}'
                    ) from exc
        return result

    @classmethod
    def dict_from_file(cls, file: str | os.PathLike | IO[str]) -> dict:
        """Parse a filename or an open file into ``{section: {option: value}}``."""
        parser = cls()
        if hasattr(file, 'read'):
            parser.read_file(file)
        else:
            parser.read(file)
        return parser.as_dict()


def as_dict(config: Mapping | str | os.PathLike | IO[str]) -> dict:
    """Return ``config`` as a dict: a dict as it is, a filename or an open
    file parsed into ``{section: {key: value}}``."""
    if isinstance(config, (str, os.PathLike)) or hasattr(config, 'read'):
        return Parser.dict_from_file(config)
    if isinstance(config, Mapping):
        return config
    raise TypeError(
        f'config must be a dict, a filename or an open file, not {type(config).__name__}'
    )


# -- change tracking -------------------------------------------------------------

#: Bumped by every change to config anywhere: a :class:`Config`, an
#: application's sections, a :class:`NamespaceSet`, the tools of a toolbox.
#: Whatever is computed from config (request routes and plans) keeps the
#: value it was made at and is rebuilt once it differs: one comparison per
#: request instead of a version per source.
generation = 0


def config_changed() -> None:
    """Record that some config changed (see :data:`generation`)."""
    global generation
    generation += 1


# -- namespaces -------------------------------------------------------------------


class NamespaceSet(dict):
    """Namespace names mapped to the handlers of their config entries.

    Calling the set with a flat config hands every ``'ns.rest'`` entry to
    ``self['ns']`` as ``handler('rest', value)``. A handler is a callable,
    or a context manager whose ``__enter__`` returns that callable; its
    ``__exit__`` then runs once all the entries of the namespace are
    passed, for work that needs every key at once. Keys without a dot or
    in a namespace without a handler are left alone.
    """

    def __call__(self, config: Mapping[str, Any]) -> None:
        """Dispatch the entries of the flat dict ``config`` to the handlers."""
        grouped: dict[str, dict[str, Any]] = {}
        for key, value in config.items():
            namespace, dot, rest = key.partition('.')
            if dot and namespace in self:
                grouped.setdefault(namespace, {})[rest] = value
        for namespace, entries in grouped.items():
            handler = self[namespace]
            if hasattr(handler, '__enter__'):
                with handler as callback:
                    for rest, value in entries.items():
                        callback(rest, value)
            else:
                for rest, value in entries.items():
                    handler(rest, value)

    def copy(self) -> NamespaceSet:
        """Return a shallow copy that is still a NamespaceSet."""
        return type(self)(self)

    # Every way of changing the set counts as a config change.

    def __setitem__(self, key: str, value: Any) -> None:
        dict.__setitem__(self, key, value)
        config_changed()

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        config_changed()

    def __ior__(self, other: Any) -> NamespaceSet:
        dict.update(self, other)
        config_changed()
        return self

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Add handlers, as dict.update does."""
        dict.update(self, *args, **kwargs)
        config_changed()

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Return the handler of ``key``, adding ``default`` if absent."""
        if key not in self:
            config_changed()
        return dict.setdefault(self, key, default)

    def pop(self, key: str, *default: Any) -> Any:
        """Remove the handler of ``key`` and return it (or ``default``)."""
        config_changed()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        """Remove and return some (namespace, handler) pair."""
        config_changed()
        return dict.popitem(self)

    def clear(self) -> None:
        """Remove every handler."""
        dict.clear(self)
        config_changed()

    def __repr__(self) -> str:
        return f'{type(self).__module__}.{type(self).__name__}({dict.__repr__(self)})'


# -- Config -------------------------------------------------------------------------


class Config(dict):
    """A flat dict of config entries with defaults, environments and
    namespace handlers.

    Built from an optional file, filename or dict plus keyword entries.
    Every change made through :meth:`update` or item assignment is passed
    to :attr:`namespaces`, so handlers apply it at once.
    """

    #: Entries the config holds after :meth:`reset`.
    defaults: dict[str, Any] = {}

    #: Environment name -> entries that ``environment: name`` brings in.
    environments: dict[str, dict[str, Any]] = {}

    #: Namespace handlers; each subclass gets its own copy.
    namespaces: NamespaceSet = NamespaceSet()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Registering a handler on a subclass must not reach its parent.
        if 'namespaces' not in vars(cls):
            cls.namespaces = cls.namespaces.copy()

    def __init__(self, file: Any = None, **kwargs: Any) -> None:
        super().__init__()
        self.reset()
        if file is not None:
            self.update(file)
        if kwargs:
            self.update(kwargs)

    #: Incremented on every change, so that what was computed from the
    #: config (request plans) can tell it is out of date.
    version = 0

    def _changed(self) -> None:
        self.version += 1
        config_changed()

    def reset(self) -> None:
        """Forget every entry and go back to :attr:`defaults`."""
        self.clear()
        self._changed()
        self.update(self.defaults)

    def __delitem__(self, key: str) -> None:
        dict.__delitem__(self, key)
        self._changed()

    def pop(self, key: str, *default: Any) -> Any:
        """Remove ``key`` and return its value (or ``default``)."""
        self._changed()
        return dict.pop(self, key, *default)

    def update(self, config: Any) -> None:
        """Apply a dict, filename or open file.

        A nested config with a ``global`` section (a file with
        ``[global]``) contributes that section only; its other sections
        belong to applications.
        """
        config = as_dict(config)
        if isinstance(config.get('global'), Mapping):
            config = config['global']
        self._apply(config)

    def _apply(self, config: Mapping[str, Any]) -> None:
        """Expand an ``environment`` entry, store, and run the handlers."""
        entries = dict(config)
        name = entries.get('environment')
        if name:
            try:
                environment = self.environments[name]
            except KeyError:
                known = ', '.join(sorted(self.environments)) or 'none'
                raise ValueError(
                    f'unknown environment {name!r} (known: {known})'
                ) from None
            # Explicit entries win over the environment's.
            entries = {**environment, **entries}
        dict.update(self, entries)
        self._changed()
        self.namespaces(entries)

    def __setitem__(self, key: str, value: Any) -> None:
        self._apply({key: value})
