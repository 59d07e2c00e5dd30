"""Request plans: a path's config turned into ready-made steps, once.

Applying a request's config means sorting its entries by namespace,
setting request and response attributes, collecting each toolbox's
entries and attaching the hooks of the tools that are on. For a given
path that work always gives the same result, so an :class:`Application`
builds a :class:`RequestPlan` the first time and replays it for every
later request of that path (see ``Application.apply_request_config``).

When every entry goes to a built-in namespace and every tool that is on
attaches the same hooks each time (the usual case), the plan is *fused*:
the attribute values, response headers, tool maps and sorted hook lists
are worked out at build time, and applying it is a handful of dict
updates. Otherwise it replays one step per namespace, in config order:
a tool that overrides ``_setup`` is set up per request, and namespaces
other than the built-in ones (custom handlers) are called per request.
"""

from __future__ import annotations

from typing import Any

from .context import serving
from .lib import cptools
from .lib.encoding import ResponseEncoder
from .request import (Hook, _error_page_namespace, _hooks_namespace, _request_namespace,
                      _response_namespace, hook_from_config, hookpoints)
from .tools import Toolbox, add_tool_entry, run_tool_actions, tool_actions

__all__ = ['RequestPlan']


def _priority(hook) -> int:
    return hook.priority


class RequestPlan:
    """The steps that apply one path's request config to a request."""

    __slots__ = ('steps', 'keepalive', 'fused')

    def __init__(self, config: dict, namespaces: dict, keepalive: Any = None,
                 request_class: type | None = None, response_class: type | None = None
                 ) -> None:
        # The objects whose ids key this plan stay alive with it, so their
        # ids cannot be reused by other objects while the plan exists.
        self.keepalive = keepalive
        grouped: dict[str, dict[str, Any]] = {}
        for key, value in config.items():
            namespace, dot, rest = key.partition('.')
            if dot and namespace in namespaces:
                grouped.setdefault(namespace, {})[rest] = value
        # One step per namespace, in the order NamespaceSet would use.
        self.steps = [
            _toolbox_step(handler, entries) if isinstance(handler, Toolbox)
            else _handler_step(handler, entries)
            for namespace, entries in grouped.items()
            for handler in (namespaces[namespace],)
        ]
        self.fused = None
        if request_class is not None and response_class is not None:
            self.fused = FusedPlan.build(grouped, namespaces, request_class, response_class)

    def apply(self) -> None:
        """Apply the plan to the current request."""
        fused = self.fused
        if fused is not None:
            fused.apply(serving.request, serving.response)
            return
        for step in self.steps:
            step()


def _handler_step(handler, entries: dict):
    """Call a namespace handler (or context manager) with the entries."""
    items = tuple(entries.items())
    if hasattr(handler, '__enter__'):
        def step():
            with handler as callback:
                for key, value in items:
                    callback(key, value)
    else:
        def step():
            for key, value in items:
                handler(key, value)
    return step


def _toolbox_step(toolbox: Toolbox, entries: dict):
    """Prepare a toolbox's tools once; per request, copy the toolmap and
    run the prepared actions."""
    toolmap = _toolmap(toolbox, entries)
    actions = tool_actions(toolbox, toolmap)
    namespace = toolbox.namespace
    by_point = _hooks_by_point(actions)

    if by_point is None:
        def step():
            # Each request gets its own copy: tools may read and change it.
            serving.request.toolmaps[namespace] = _copy_toolmap(toolmap)
            run_tool_actions(actions)
        return step

    def step():
        request = serving.request
        request.toolmaps[namespace] = _copy_toolmap(toolmap)
        hooks = request.hooks
        for point, ready in by_point:
            if hooks.get(point):
                for hook in ready:
                    hooks.add(point, hook)
            else:
                # Nothing attached there yet: the sorted list is the answer.
                dict.__setitem__(hooks, point, list(ready))
    return step


def _toolmap(toolbox: Toolbox, entries: dict) -> dict[str, dict]:
    toolmap: dict[str, dict] = {}
    for key, value in entries.items():
        add_tool_entry(toolmap, toolbox.namespace, key, value)
    return toolmap


def _copy_toolmap(toolmap: dict) -> dict:
    return {name: dict(args) for name, args in toolmap.items()}


def _hooks_by_point(actions: list) -> list | None:
    """The ready hooks of ``actions`` sorted per point, or None when some
    tool must be set up per request (its hooks could interleave)."""
    by_point: dict[str, list] = {}
    for action in actions:
        if not isinstance(action, tuple):
            return None
        point, hook = action
        # sorted() is stable: equal priorities keep config order, as
        # HookMap.add would.
        by_point.setdefault(point, []).append(hook)
    return [(point, sorted(hooks, key=_priority)) for point, hooks in by_point.items()]


def _plain_attributes(cls: type, names) -> bool:
    """True when none of ``names`` is a property (or other data
    descriptor) of ``cls``, so values can go straight into ``__dict__``."""
    for name in names:
        attribute = getattr(cls, name, None)
        if hasattr(type(attribute), '__set__') or hasattr(type(attribute), '__delete__'):
            return False
    return True


def _encode_split(hooks: tuple | None) -> tuple | None:
    """``(hooks, hooks but the last, encode kwargs)`` when the last of the
    ``before_handler`` hooks is the encode tool, else None.

    The request then runs the others and encodes what the handler returns
    itself (see ``Request._run_stages``), instead of letting the tool wrap
    the handler.
    """
    if not hooks:
        return None
    last = hooks[-1]
    if type(last) is not Hook or last.callback is not ResponseEncoder:
        return None
    return hooks, hooks[:-1], dict(last.kwargs)


def _leaves_route(hook: Any) -> bool:
    """True when ``hook`` is known to change neither the request's path,
    ``is_index`` nor hooks (its callback says so with ``leaves_route``)."""
    return type(hook) is Hook and getattr(hook.callback, 'leaves_route', False) is True


def _slash_is_fine(hook: Hook, path_info: str, is_index: bool | None) -> bool:
    """True when the trailing_slash ``hook`` would do nothing for a
    request of ``path_info`` whose handler's ``is_index`` is as given."""
    kwargs = hook.kwargs
    if set(kwargs) - {'missing', 'extra', 'status', 'debug'}:
        return False  # a call that would fail must still fail
    if is_index is True:
        return path_info.endswith('/') or not kwargs.get('missing', True)
    if is_index is False:
        return not (kwargs.get('extra', False) and path_info.endswith('/') and path_info != '/')
    return True


class FusedPlan:
    """A plan whose whole effect is known in advance.

    Built by :meth:`build` only when every namespace of the config is a
    built-in one (``request``, ``response``, ``hooks``, ``error_page``)
    or a toolbox whose tools all attach ready-made hooks.
    """

    __slots__ = ('request_items', 'request_plain', 'body_items', 'response_items',
                 'response_plain', 'headers', 'error_page', 'hooks', 'toolmaps',
                 'encode_split', 'request_state', 'rest')

    @classmethod
    def build(cls, grouped: dict, namespaces: dict, request_class: type,
              response_class: type) -> FusedPlan | None:
        """Return the fused plan of ``grouped`` entries, or None if it has none."""
        plan = cls()
        request_items: dict[str, Any] = {}
        body_items: dict[str, Any] = {}
        response_items: dict[str, Any] = {}
        headers: dict[str, Any] = {}
        error_page: dict = {}
        toolmaps: dict[str, dict] = {}
        # (point, Hook) in config order: a stable sort keeps that order
        # among equal priorities, as attaching them one by one would.
        attached: list = []
        for namespace, entries in grouped.items():
            handler = namespaces[namespace]
            if isinstance(handler, Toolbox):
                toolmap = _toolmap(handler, entries)
                actions = tool_actions(handler, toolmap)
                if any(not isinstance(action, tuple) for action in actions):
                    return None
                toolmaps[handler.namespace] = toolmap
                attached.extend(actions)
            elif handler is _request_namespace:
                for key, value in entries.items():
                    if key.startswith('body.'):
                        body_items[key[5:]] = value
                    else:
                        request_items[key] = value
            elif handler is _response_namespace:
                for key, value in entries.items():
                    if key.startswith('headers.'):
                        headers[key[8:].title()] = value
                    else:
                        response_items[key] = value
            elif handler is _hooks_namespace:
                for key, value in entries.items():
                    point = key.split('.', 1)[0]
                    if point not in hookpoints:
                        return None  # replayed per request, which reports it
                    attached.append((point, hook_from_config(value)))
            elif handler is _error_page_namespace:
                for key, value in entries.items():
                    error_page[key if key == 'default' else int(key)] = value
            else:
                return None
        by_point: dict[str, list] = {}
        for point, hook in attached:
            by_point.setdefault(point, []).append(hook)
        plan.hooks = tuple((point, tuple(sorted(hooks, key=_priority)))
                           for point, hooks in by_point.items())
        plan.encode_split = _encode_split(dict(plan.hooks).get('before_handler'))
        plan.request_items = tuple(request_items.items())
        plan.request_plain = _plain_attributes(request_class, request_items)
        plan.body_items = tuple(body_items.items())
        plan.response_items = tuple(response_items.items())
        plan.response_plain = _plain_attributes(response_class, response_items)
        plan.headers = headers
        plan.error_page = error_page
        plan.toolmaps = toolmaps
        # What goes straight into the request's __dict__; anything else
        # the plan does is "the rest" (apply_rest).
        state = dict(request_items) if plan.request_plain else {}
        if toolmaps:
            # Copied when a tool first asks (see Request.toolmaps).
            state['_plan_toolmaps'] = toolmaps
        if plan.encode_split is not None:
            state['_encode_split'] = plan.encode_split
        plan.request_state = state
        plan.rest = bool((request_items and not plan.request_plain) or body_items
                         or response_items or headers or error_page)
        return plan

    def state_for(self, path_info: str, is_index: bool | None) -> dict:
        """:attr:`request_state` for the requests of one route.

        The trailing_slash tool only looks at ``is_index`` and
        ``path_info``; when every hook that runs before it is known to
        leave those alone (a callback with a true ``leaves_route``
        attribute), they are the route's, so the route can tell in
        advance that it would do nothing and leave it out of the
        ``before_handler`` hooks it runs.
        """
        state = self.request_state
        hooks = dict(self.hooks)
        ready = hooks.get('before_handler')
        early = hooks.get('on_start_resource', ()) + hooks.get('before_request_body', ())
        if (not ready or 'is_index' in state or 'path_info' in state
                or not all(map(_leaves_route, early))):
            return state
        for index, hook in enumerate(ready):
            if type(hook) is Hook and hook.callback is cptools.trailing_slash:
                break
            if not _leaves_route(hook):
                return state
        else:
            return state
        if not _slash_is_fine(hook, path_info, is_index):
            return state
        kept = ready[:index] + ready[index + 1:]
        split = self.encode_split
        if split is None:
            split = (ready, kept, None)
        else:
            split = (ready, kept[:-1], split[2])
        return {**state, '_encode_split': split}

    def apply(self, request, response, state: dict | None = None) -> None:
        """Give ``request`` and ``response`` the plan's attributes and hooks
        (``state``: the route's :meth:`state_for`)."""
        request.__dict__.update(self.request_state if state is None else state)
        if self.rest:
            self.apply_rest(request, response)
        hooks = request.hooks
        if self.hooks:
            if hooks:
                for point, ready in self.hooks:
                    for hook in ready:
                        hooks.add(point, hook)
            else:
                # The shared tuples become lists as soon as something is
                # attached to their point (HookMap.add).
                dict.update(hooks, self.hooks)

    def apply_rest(self, request, response) -> None:
        """The attributes that need setattr, the body's, the response's, the error pages."""
        if not self.request_plain:
            for name, value in self.request_items:
                setattr(request, name, value)
        if self.body_items:
            body = request.body
            for name, value in self.body_items:
                setattr(body, name, value)
        items = self.response_items
        if items:
            if self.response_plain:
                response.__dict__.update(items)
            else:
                for name, value in items:
                    setattr(response, name, value)
        if self.headers:
            dict.update(response.headers, self.headers)
        if self.error_page:
            # Over the request's own pages (the class default, or others
            # set before): a copy, since handlers may change theirs.
            request.error_page = {**request.error_page, **self.error_page}
