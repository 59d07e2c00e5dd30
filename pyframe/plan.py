"""Request plans: a path's config turned into ready-made steps, once.

Applying a request's config means sorting its entries by namespace,
setting request and response attributes, collecting each toolbox's
entries and attaching the hooks of the tools that are on. For a given
path that work always gives the same result, so an :class:`Application`
builds a :class:`RequestPlan` the first time and replays it for every
later request of that path (see ``Application.apply_request_config``).

What can differ between two requests of a path is still done each time:
a tool that overrides ``_setup`` is set up per request, and namespaces
other than the built-in ones (custom handlers) are called per request.
"""

from __future__ import annotations

from typing import Any

from .context import serving
from .tools import Toolbox, add_tool_entry, run_tool_actions, tool_actions


def _priority(hook) -> int:
    return hook.priority

__all__ = ['RequestPlan']


class RequestPlan:
    """The steps that apply one path's request config to a request."""

    __slots__ = ('steps', 'keepalive')

    def __init__(self, config: dict, namespaces: dict, keepalive: Any = None) -> None:
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

    def apply(self) -> None:
        """Apply the plan to the current request."""
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
    toolmap: dict[str, dict] = {}
    for key, value in entries.items():
        add_tool_entry(toolmap, toolbox.namespace, key, value)
    actions = tool_actions(toolbox, toolmap)
    namespace = toolbox.namespace
    by_point = _hooks_by_point(actions)

    if by_point is None:
        def step():
            # Each request gets its own copy: tools may read and change it.
            serving.request.toolmaps[namespace] = {
                name: dict(args) for name, args in toolmap.items()}
            run_tool_actions(actions)
        return step

    def step():
        request = serving.request
        request.toolmaps[namespace] = {name: dict(args) for name, args in toolmap.items()}
        hooks = request.hooks
        for point, ready in by_point:
            if hooks.get(point):
                for hook in ready:
                    hooks.add(point, hook)
            else:
                # Nothing attached there yet: the sorted list is the answer.
                dict.__setitem__(hooks, point, list(ready))
    return step


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
