"""Process statistics gathered in ``logging.statistics``, and a page showing them.

``logging.statistics`` is a plain nested dict that any library may fill
without importing anything: top-level keys are *namespaces* (one per
package), whose values are dicts of named statistics. A value may be a
*collection* (a dict or list of *records*, themselves dicts), or a function
``f(scope)`` computed only when the statistics are reported (see
:func:`extrapolate_statistics`). A namespace's ``Enabled`` entry, when
False, pauses collection.

Turn ``tools.cpstats.on`` on to gather per-request numbers under
``'pyframe Applications'``, and mount a :class:`StatsPage` to read them
(``/data`` gives JSON for monitoring software).
"""

from __future__ import annotations

import html
import json
import logging
import threading
import time
from typing import Any

from ..context import serving
from ..decorators import expose
from ..errors import HTTPError, HTTPRedirect
from ..tools import Tool

__all__ = ['ByteCountWrapper', 'StatsTool', 'StatsPage', 'extrapolate_statistics',
           'NAMESPACE', 'appstats']

if not hasattr(logging, 'statistics'):
    logging.statistics = {}

#: The namespace of :class:`StatsTool` in ``logging.statistics``.
NAMESPACE = 'pyframe Applications'


def extrapolate_statistics(scope: dict) -> dict:
    """Return a deep copy of ``scope`` with every function ``f`` replaced by
    ``f(scope)`` (the dict or record holding it), or None if it raises."""
    copy = {}
    for key, value in list(scope.items()):
        if isinstance(value, dict):
            value = extrapolate_statistics(value)
        elif isinstance(value, (list, tuple)):
            value = [extrapolate_statistics(item) if isinstance(item, dict) else item
                     for item in value]
        elif callable(value):
            try:
                value = value(scope)
            except Exception:
                # One broken statistic (a division by a zero uptime, say)
                # must not take the whole report down.
                value = None
        copy[key] = value
    return copy


def _per(numerator: str, denominator: str):
    def ratio(scope: dict) -> float:
        divisor = scope[denominator]
        divisor = divisor(scope) if callable(divisor) else divisor
        return scope[numerator] / divisor if divisor else 0.0
    return ratio


def _uptime(scope: dict) -> float:
    return time.time() - scope['Start Time']


def _processing_time(record: dict) -> float:
    # Still running: the time so far.
    return time.time() - record['Start Time']


#: The statistics of the applications served (one namespace).
appstats: dict = logging.statistics.setdefault(NAMESPACE, {})
appstats.update({
    'Enabled': True,
    'Start Time': time.time(),
    'Uptime': _uptime,
    'Current Time': lambda scope: time.time(),
    'Current Requests': 0,
    'Total Requests': 0,
    'Total Bytes Read': 0,
    'Total Bytes Written': 0,
    'Total Time': 0.0,
    'Requests/Second': _per('Total Requests', 'Uptime'),
    'Bytes Read/Request': _per('Total Bytes Read', 'Total Requests'),
    'Bytes Read/Second': _per('Total Bytes Read', 'Uptime'),
    'Bytes Written/Request': _per('Total Bytes Written', 'Total Requests'),
    'Bytes Written/Second': _per('Total Bytes Written', 'Uptime'),
    # Thread id -> record of the request it serves or served last.
    'Requests': {},
    'Slow Queries': [],
})

# Counters are read-modify-write from many request threads.
_lock = threading.Lock()


class ByteCountWrapper:
    """A file-like wrapper counting the bytes read through it (``bytes_read``)."""

    def __init__(self, rfile) -> None:
        self.rfile = rfile
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        """Read and count up to ``size`` bytes."""
        data = self.rfile.read() if size is None or size < 0 else self.rfile.read(size)
        self.bytes_read += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        """Read and count one line."""
        data = self.rfile.readline(size)
        self.bytes_read += len(data)
        return data

    def readlines(self, sizehint: int = 0) -> list[bytes]:
        """Read and count lines up to about ``sizehint`` bytes (0: all)."""
        lines = []
        total = 0
        while True:
            line = self.readline()
            if not line:
                return lines
            lines.append(line)
            total += len(line)
            if 0 < sizehint <= total:
                return lines

    def __iter__(self):
        return iter(self.readline, b'')

    def close(self) -> None:
        """Close the wrapped file."""
        self.rfile.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.rfile, name)


class StatsTool(Tool):
    """The ``cpstats`` tool: record each request in :data:`appstats`."""

    def __init__(self) -> None:
        super().__init__('on_end_request', self.record_stop)

    def _setup(self) -> None:
        """Start the record now and finish it at ``on_end_request``."""
        if appstats.get('Enabled', False):
            super()._setup()
            self.record_start()

    def record_start(self) -> None:
        """Open the current thread's record and count the request."""
        request = serving.request
        wrapper = ByteCountWrapper(request.rfile)
        request.rfile = wrapper
        if request.body is not None:
            # The body object already holds the stream; count what it reads.
            request.body.rfile = wrapper
        request._cpstats_rfile = wrapper
        with _lock:
            appstats['Current Requests'] += 1
            appstats['Total Requests'] += 1
            appstats['Requests'][threading.get_ident()] = {
                'Start Time': time.time(),
                'End Time': None,
                'Processing Time': _processing_time,
                'Request-Line': request.request_line,
                'Client': f'{request.remote.ip}:{request.remote.port}',
                'Bytes Read': None,
                'Bytes Written': None,
                'Response Status': None,
            }

    def record_stop(self, slow_queries: float = 1.0, slow_queries_count: int = 100,
                    debug: bool = False, **kwargs: Any) -> None:
        """Close the record: bytes, status and time; keep it among the
        slow queries when it took over ``slow_queries`` seconds (the last
        ``slow_queries_count`` are kept)."""
        request = serving.request
        response = serving.response
        record = appstats['Requests'].get(threading.get_ident())
        if record is None:
            return
        wrapper = request.__dict__.get('_cpstats_rfile')
        bytes_read = wrapper.bytes_read if wrapper is not None else 0
        length = response.headers.get('Content-Length')
        bytes_written = int(length) if length is not None and str(length).isdigit() else None
        end = time.time()
        elapsed = end - record['Start Time']
        record.update({
            'End Time': end,
            'Processing Time': elapsed,
            'Bytes Read': bytes_read,
            'Bytes Written': bytes_written,
            'Response Status': str(response.status),
        })
        with _lock:
            appstats['Current Requests'] -= 1
            appstats['Total Bytes Read'] += bytes_read
            appstats['Total Bytes Written'] += bytes_written or 0
            appstats['Total Time'] += elapsed
            if elapsed > slow_queries:
                slow = appstats['Slow Queries']
                slow.append(dict(record))
                del slow[:-slow_queries_count]
        if debug:
            import sys

            sys.modules['pyframe'].log(f'Stats recorded: {record!r}', 'TOOLS.CPSTATS')


def _date(value: float) -> str:
    return time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(value))


class StatsPage:
    """Pages reporting ``logging.statistics``: ``index`` (HTML), ``data``
    (JSON), and ``pause``/``resume`` (POST) for a namespace's collection."""

    #: Namespace -> key (-> record key) -> None (hide), a '%' format or a
    #: callable; keys not listed are shown as they are.
    formatting: dict = {
        NAMESPACE: {
            'Start Time': _date,
            'Current Time': _date,
            'Uptime': '%.3f',
            'Total Time': '%.3f',
            'Requests/Second': '%.3f',
            'Bytes Read/Request': '%.3f',
            'Bytes Read/Second': '%.3f',
            'Bytes Written/Request': '%.3f',
            'Bytes Written/Second': '%.3f',
            'Requests': {'Start Time': None, 'End Time': None, 'Processing Time': '%.3f'},
            'Slow Queries': {'Start Time': _date, 'End Time': None, 'Processing Time': '%.3f'},
        },
    }

    @staticmethod
    def _format(value: Any, fmt: Any) -> str:
        if callable(fmt):
            value = fmt(value)
        elif isinstance(fmt, str) and value is not None:
            try:
                value = fmt % value
            except (TypeError, ValueError):
                pass
        return html.escape(str(value))

    def _table(self, records: list[tuple[Any, dict]], formats: dict) -> list[str]:
        columns: list = []
        for _, record in records:
            for key in record:
                if key not in columns and formats.get(key, '') is not None:
                    columns.append(key)
        rows = ['<table><tr><th>ID</th>'
                + ''.join(f'<th>{html.escape(str(c))}</th>' for c in columns) + '</tr>']
        for ident, record in records:
            cells = ''.join(f'<td>{self._format(record.get(c), formats.get(c))}</td>'
                            for c in columns)
            rows.append(f'<tr><td>{html.escape(str(ident))}</td>{cells}</tr>')
        rows.append('</table>')
        return rows

    @expose
    def index(self) -> str:
        """All namespaces as HTML tables, with pause/resume buttons."""
        stats = extrapolate_statistics(logging.statistics)
        parts = ['<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Statistics</title>'
                 '<style>table{border-collapse:collapse;margin-bottom:1em}'
                 'td,th{border:1px solid #999;padding:2px 6px;text-align:left}</style>'
                 '</head><body>']
        for name, scope in sorted(stats.items()):
            formats = self.formatting.get(name, {})
            parts.append(f'<h1>{html.escape(name)}</h1>')
            if 'Enabled' in scope:
                action = 'pause' if scope['Enabled'] else 'resume'
                parts.append(
                    f'<form action="{action}" method="post">'
                    f'<input type="hidden" name="namespace" value="{html.escape(name, True)}">'
                    f'<input type="submit" value="{action.title()}"></form>')
            parts.append('<table>')
            collections = []
            for key, value in sorted(scope.items()):
                fmt = formats.get(key, '')
                if isinstance(value, (dict, list)):
                    collections.append((key, value, fmt if isinstance(fmt, dict) else {}))
                elif fmt is not None:
                    parts.append(f'<tr><th>{html.escape(key)}</th>'
                                 f'<td>{self._format(value, fmt)}</td></tr>')
            parts.append('</table>')
            for key, value, fmts in collections:
                records = (list(value.items()) if isinstance(value, dict)
                           else list(enumerate(value)))
                records = [(i, r) for i, r in records if isinstance(r, dict)]
                parts.append(f'<h2>{html.escape(key)}</h2>')
                parts.extend(self._table(records, fmts))
        parts.append('</body></html>')
        return '\n'.join(parts)

    @expose
    def data(self) -> str:
        """All statistics, extrapolated, as JSON."""
        serving.response.headers['Content-Type'] = 'application/json'
        return json.dumps(extrapolate_statistics(logging.statistics), sort_keys=True,
                          indent=2, default=str)

    def _set_enabled(self, namespace: str, enabled: bool) -> None:
        if serving.request.method != 'POST':
            serving.response.headers['Allow'] = 'POST'
            raise HTTPError(405)
        scope = logging.statistics.get(namespace)
        if scope is not None and 'Enabled' in scope:
            scope['Enabled'] = enabled
        raise HTTPRedirect('./')

    @expose
    def pause(self, namespace: str = NAMESPACE) -> None:
        """Stop collecting the namespace's statistics (POST)."""
        self._set_enabled(namespace, False)

    @expose
    def resume(self, namespace: str = NAMESPACE) -> None:
        """Collect the namespace's statistics again (POST)."""
        self._set_enabled(namespace, True)
