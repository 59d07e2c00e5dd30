"""Tools: per-request behaviour switched on by config, hooked into requests.

A :class:`Tool` is a callable bound to a hook point. Turned on for a path
(``tools.<name>.on = True`` in config, ``@pyframe.tools.<name>(**args)`` on a
handler, or ``_cp_config``), it is attached to each matching request's
hooks, called with the ``tools.<name>.<arg>`` entries as keyword
arguments. Tools live in a :class:`Toolbox`, whose name is their config
namespace; ``pyframe.tools`` is the default one.

A tool that is not on for a request costs that request nothing: only the
config entries of tools that are on are looked at.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from .context import serving
from .lib import reprconf
from .lib import auth_basic, auth_digest, cptools, encoding, jsontools, static

__all__ = ['Tool', 'HandlerTool', 'HandlerWrapperTool', 'ErrorTool', 'Toolbox', 'XMLRPCController', 'default_toolbox']


class Tool:
    """A callable run at hook ``point`` of the requests it is on for.

    ``priority`` (1-100, lower first) orders it among the hooks of that
    point; a ``priority`` entry in config, or the callable's own
    ``priority`` attribute, overrides it.
    """

    #: The config namespace of the toolbox holding the tool.
    namespace = 'tools'

    def __init__(self, point: str | None, callable: Callable, name: str | None = None,
                 priority: int = 50) -> None:
        self._point = point
        self.callable = callable
        self._name = name
        self._priority = priority
        self.__doc__ = getattr(callable, '__doc__', None)
        self._set_arg_attributes()

    def _set_arg_attributes(self) -> None:
        """Expose the callable's parameters as attributes (for help())."""
        try:
            parameters = inspect.signature(self.callable).parameters
        except (TypeError, ValueError):
            return
        for name, parameter in parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            if name not in dir(type(self)) and name not in vars(self):
                setattr(self, name, None if parameter.default is parameter.empty else parameter.default)

    @property
    def on(self):
        """Not readable: a tool is turned on per request through config."""
        raise AttributeError(
            f"the 'on' switch of tool {self._name!r} is config, not an attribute: "
            f"use config key '{self.namespace}.{self._name}.on'"
        )

    def _merged_args(self, extra: dict | None = None) -> dict:
        """The tool's config entries for the current request, plus ``extra``."""
        toolmap = serving.request.toolmaps.get(self.namespace, {})
        args = dict(toolmap.get(self._name, {}))
        args.pop('on', None)
        if extra:
            args.update(extra)
        return args

    def __call__(self, *args, **kwargs) -> Callable:
        """Decorator form: ``@pyframe.tools.gzip(compress_level=6)``."""
        if args:
            raise TypeError(
                f'The {self._name!r} tool takes keyword arguments only '
                f'(got {len(args)} positional)'
            )

        def decorate(func: Callable) -> Callable:
            if '_cp_config' not in vars(func):
                func._cp_config = dict(getattr(func, '_cp_config', {}))
            prefix = f'{self.namespace}.{self._name}.'
            func._cp_config[prefix + 'on'] = True
            for key, value in kwargs.items():
                func._cp_config[prefix + key] = value
            return func
        return decorate

    def _priority_for(self, args: dict) -> int:
        priority = args.pop('priority', None)
        if priority is None:
            priority = getattr(self.callable, 'priority', self._priority)
        return priority

    def _setup(self) -> None:
        """Attach the tool to the current request (it is on for it)."""
        args = self._merged_args()
        priority = self._priority_for(args)
        serving.request.hooks.attach(self._point, self.callable, priority=priority, **args)

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.namespace}.{self._name} at {self._point}>'


class HandlerTool(Tool):
    """A tool that may answer the request itself instead of the handler.

    Its callable returns True when it produced the response (the page
    handler is then skipped). ``tool.handler(**args)`` also makes it a page
    handler of its own, 404 when the callable declines.
    """

    def __init__(self, callable: Callable, name: str | None = None) -> None:
        super().__init__('before_handler', callable, name)

    def handler(self, *args, **kwargs) -> Callable:
        """Return an exposed page handler running this tool's callable."""
        def handle_func(*a, **kw):
            handled = self.callable(*args, **self._merged_args(kwargs))
            if not handled:
                from .errors import NotFound

                raise NotFound()
            return serving.response.body
        handle_func.exposed = True
        return handle_func

    def _wrapper(self, **kwargs) -> None:
        if self.callable(**kwargs):
            serving.request.handler = None

    def _setup(self) -> None:
        args = self._merged_args()
        priority = self._priority_for(args)
        serving.request.hooks.attach(self._point, self._wrapper, priority=priority, **args)


class HandlerWrapperTool(Tool):
    """A tool that wraps the page handler: ``newhandler(innerfunc, *args,
    **kwargs)`` is called in its place and decides what to do with it."""

    def __init__(self, newhandler: Callable, point: str = 'before_handler',
                 name: str | None = None, priority: int = 50) -> None:
        self.newhandler = newhandler
        super().__init__(point, self._wrap_handler, name, priority)
        self.__doc__ = getattr(newhandler, '__doc__', None)

    def _wrap_handler(self, *args, **kwargs) -> None:
        request = serving.request
        inner = request.handler
        if inner is None:
            return

        def wrapped(*a, **kw):
            return self.newhandler(inner, *args, **kwargs)

        request.handler = wrapped


class ErrorTool(Tool):
    """A tool that replaces ``request.error_response`` for unexpected errors."""

    def __init__(self, callable: Callable, name: str | None = None) -> None:
        super().__init__(None, callable, name)

    def _wrapper(self) -> None:
        self.callable(**self._merged_args())

    def _setup(self) -> None:
        serving.request.error_response = self._wrapper


class Toolbox:
    """A named collection of tools, which is also their config namespace.

    Creating one registers its namespace for every request, so
    ``<namespace>.<tool>.on`` config entries work right away::

        auth = Toolbox('auth')

        @auth.register('before_handler')
        def check(role='user'):
            ...

        config = {'/admin': {'auth.check.on': True, 'auth.check.role': 'admin'}}
    """

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        from .request import Request

        # The request namespaces hold every toolbox by its name.
        Request.namespaces[namespace] = self

    #: Incremented whenever a tool is added or replaced in any toolbox, so
    #: request plans built with the old tools are rebuilt.
    version = 0

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, Tool):
            if value._name is None:
                value._name = name
            value.namespace = self.namespace
            Toolbox.version += 1
            reprconf.config_changed()
        object.__setattr__(self, name, value)

    def __enter__(self) -> Callable[[str, Any], None]:
        """Start collecting this request's ``<namespace>.*`` entries."""
        toolmap: dict[str, dict] = {}
        serving.request.toolmaps[self.namespace] = toolmap

        def collect(key: str, value: Any) -> None:
            add_tool_entry(toolmap, self.namespace, key, value)
        return collect

    def __exit__(self, exc_type, exc, traceback) -> None:
        """Set up, in config order, every tool turned on for the request."""
        if exc_type is not None:
            return
        toolmap = serving.request.toolmaps.get(self.namespace)
        if toolmap:
            run_tool_actions(tool_actions(self, toolmap))

    def register(self, point: str, name: str | None = None, **kwargs: Any) -> Callable:
        """Decorator: make the function a tool of this box at hook ``point``.

        ``@toolbox.register('before_finalize', priority=60)``; the tool is
        named after the function unless ``name`` is given.
        """
        def decorate(func: Callable) -> Callable:
            setattr(self, name or func.__name__, Tool(point, func, **kwargs))
            return func
        return decorate

    def __repr__(self) -> str:
        return f'<{type(self).__name__} {self.namespace!r}>'


def add_tool_entry(toolmap: dict, namespace: str, key: str, value: Any) -> None:
    """File config entry ``<tool>.<arg>`` of a toolbox under its tool."""
    name, _, arg = key.partition('.')
    if not arg:
        raise ValueError(
            f'config key {namespace}.{key} names no argument: use '
            f'{namespace}.{key}.on or {namespace}.{key}.<argument>'
        )
    toolmap.setdefault(name, {})[arg] = value


def tool_actions(toolbox: Toolbox, toolmap: dict) -> list:
    """What setting up a request's tools amounts to, in config order.

    A plain tool always attaches the same hook for the same arguments, so
    it becomes a ready ``(point, Hook)``; a tool with its own ``_setup``
    stays a tool, to be set up per request. Keeping one ordered list keeps
    hooks of equal priority in config order.
    """
    from .request import Hook

    actions: list = []
    for name, args in toolmap.items():
        if not args.get('on'):
            continue
        tool = getattr(toolbox, name, None)
        if not isinstance(tool, Tool):
            raise AttributeError(
                f'config turns on {toolbox.namespace}.{name}, but toolbox '
                f'{toolbox.namespace!r} has no such tool'
            )
        if type(tool)._setup is Tool._setup:
            kwargs = {k: v for k, v in args.items() if k != 'on'}
            priority = tool._priority_for(kwargs)
            actions.append((tool._point, Hook(tool.callable, priority=priority, **kwargs)))
        elif hasattr(tool, '_ready_hooks'):
            # Its hooks depend on its config only: made once, like a plain tool's.
            kwargs = {k: v for k, v in args.items() if k != 'on'}
            actions.extend(tool._ready_hooks(kwargs))
        else:
            actions.append(tool)
    return actions


def run_tool_actions(actions: list) -> None:
    """Attach the ready hooks and set up the other tools, in order."""
    add = serving.request.hooks.add
    for action in actions:
        if isinstance(action, Tool):
            action._setup()
        else:
            add(*action)


#: The default toolbox, ``pyframe.tools``.
default_toolbox = Toolbox('tools')
default_toolbox.log_tracebacks = Tool('before_error_response', cptools.log_traceback)
default_toolbox.log_headers = Tool('before_error_response', cptools.log_request_headers)
default_toolbox.trailing_slash = Tool('before_handler', cptools.trailing_slash, priority=60)
default_toolbox.encode = Tool('before_handler', encoding.ResponseEncoder, priority=70)
default_toolbox.decode = Tool('before_request_body', encoding.decode)
default_toolbox.gzip = Tool('before_finalize', encoding.gzip, priority=80)
default_toolbox.json_in = Tool('before_request_body', jsontools.json_in, priority=30)
default_toolbox.json_out = Tool('before_handler', jsontools.json_out, priority=30)
default_toolbox.allow = Tool('on_start_resource', cptools.allow)
default_toolbox.proxy = Tool('before_request_body', cptools.proxy, priority=30)
default_toolbox.response_headers = Tool('on_start_resource', cptools.response_headers)
# After encode (70): the entity tag must describe the bytes that are sent.
default_toolbox.etags = Tool('before_finalize', cptools.validate_etags, priority=75)
default_toolbox.ignore_headers = Tool('before_request_body', cptools.ignore_headers)
default_toolbox.referer = Tool('before_request_body', cptools.referer)
default_toolbox.flatten = Tool('before_finalize', cptools.flatten)
default_toolbox.accept = Tool('on_start_resource', cptools.accept)
default_toolbox.redirect = Tool('on_start_resource', cptools.redirect)
default_toolbox.err_redirect = ErrorTool(cptools.redirect)
# First of all, so that it sees every header the others read.
default_toolbox.autovary = Tool('on_start_resource', cptools.autovary, priority=0)
default_toolbox.params = Tool('before_handler', cptools.convert_params, priority=15)
default_toolbox.staticdir = HandlerTool(static.staticdir)
default_toolbox.staticfile = HandlerTool(static.staticfile)
default_toolbox.auth_basic = Tool('before_handler', auth_basic.basic_auth, priority=1)
default_toolbox.auth_digest = Tool('before_handler', auth_digest.digest_auth, priority=1)

# These subclass Tool, so they can only be imported once it exists.
from .lib import caching, cpstats, xmlrpcutil  # noqa: E402

default_toolbox.caching = caching.CachingTool('before_handler', caching.get, 'caching')
default_toolbox.expires = Tool('before_finalize', caching.expires)
default_toolbox.cpstats = cpstats.StatsTool()
default_toolbox.xmlrpc = xmlrpcutil.XMLRPCTool()

from .lib import sessions as _sessions  # noqa: E402  (subclasses Tool too)

default_toolbox.sessions = _sessions.SessionTool()
# Needs tools.sessions.on wherever it is on.
default_toolbox.session_auth = HandlerTool(cptools.session_auth)

#: Base class for XML-RPC services (``pyframe.tools.XMLRPCController`` too).
XMLRPCController = xmlrpcutil.XMLRPCController
default_toolbox.XMLRPCController = XMLRPCController
