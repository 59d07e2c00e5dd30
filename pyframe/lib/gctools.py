"""Tools for hunting reference leaks: who holds an object, and what the
garbage collector could not free.

Mount :class:`GCRoot` (``root.gc = gctools.GCRoot()``) and open
``/gc/stats`` after some traffic: it collects garbage and reports
uncollectable objects and Request/Response objects that outlived their
requests.
"""

from __future__ import annotations

import gc
import inspect
from typing import Any

from ..context import serving
from ..decorators import expose
from ..request import Request, Response

__all__ = ['ReferrerTree', 'GCRoot']


class ReferrerTree:
    """Gathers the referrers of an object, and theirs, up to ``maxdepth``.

    Objects in ``ignore`` (compared by identity) are left out, as are the
    tree's own bookkeeping; an object with more than ``maxparents``
    referrers is summarised instead of expanded.
    """

    #: Characters of each object's repr shown by :meth:`format`.
    peek_length = 40

    def __init__(self, ignore: list | None = None, maxdepth: int = 2, maxparents: int = 10) -> None:
        self.ignore = list(ignore or [])
        self.ignore.append(inspect.currentframe().f_back)
        self.maxdepth = maxdepth
        self.maxparents = maxparents

    def ascend(self, obj: Any, depth: int = 1) -> list[tuple[Any, list]]:
        """Return ``[(referrer, its own tree), ...]`` for ``obj``."""
        referrers = gc.get_referrers(obj)
        # The list of referrers refers to them all; it is no culprit.
        self.ignore.append(referrers)
        try:
            if len(referrers) > self.maxparents:
                return [(f'[{len(referrers)} referrers]', [])]
            own_code = self.ascend.__code__
            tree = []
            for parent in referrers:
                if inspect.isframe(parent) and parent.f_code is own_code:
                    continue
                if any(parent is ignored for ignored in self.ignore):
                    continue
                subtree = self.ascend(parent, depth + 1) if depth < self.maxdepth else []
                tree.append((parent, subtree))
            return tree
        finally:
            self.ignore.pop()

    def peek(self, text: str) -> str:
        """Shorten ``text`` to :attr:`peek_length` characters."""
        if len(text) > self.peek_length:
            return text[:self.peek_length - 3] + '...'
        return text

    def _describe(self, obj: Any) -> str:
        if isinstance(obj, str):
            return obj
        try:
            text = repr(obj)
        except Exception:
            text = '<unrepresentable>'
        return f'{type(obj).__name__}: {self.peek(text)}'

    def format(self, tree: list, depth: int = 0) -> list[str]:
        """Return the lines of ``tree`` (from :meth:`ascend`), indented by depth."""
        lines = []
        for parent, subtree in tree:
            lines.append('    ' * depth + self._describe(parent))
            lines.extend(self.format(subtree, depth + 1))
        return lines


def _count(cls: type) -> int:
    return sum(1 for obj in gc.get_objects() if isinstance(obj, cls))


class GCRoot:
    """Pages reporting garbage and leaked request objects."""

    #: (class, lowest expected count, highest, why) checked by :meth:`stats`:
    #: the current request's and the idle default of ``pyframe.request``.
    classes = [
        (Request, 2, 2, 'One for this request, one default outside requests.'),
        (Response, 2, 2, 'One for this request, one default outside requests.'),
    ]

    @expose
    def index(self) -> str:
        """A link to the report."""
        return '<a href="stats">Garbage and leak report</a>'

    @expose
    def stats(self) -> str:
        """Collect garbage, then report uncollectable objects and objects of
        :attr:`classes` beyond their expected counts (plain text)."""
        serving.response.headers['Content-Type'] = 'text/plain'
        unreachable = gc.collect()
        lines = [f'{unreachable} unreachable objects collected.', '',
                 f'Garbage (uncollectable): {len(gc.garbage)} objects']
        for obj in gc.garbage[:20]:
            tree = ReferrerTree(ignore=[gc.garbage], maxdepth=1)
            lines.append('  ' + tree._describe(obj))
            lines.extend('      ' + line for line in tree.format(tree.ascend(obj)))
        lines.append('')
        for cls, low, high, why in self.classes:
            count = _count(cls)
            verdict = 'ok' if low <= count <= high else 'UNEXPECTED'
            lines.append(f'{cls.__name__}: {count} (expected {low}-{high}: {why}) {verdict}')
        return '\n'.join(lines) + '\n'
