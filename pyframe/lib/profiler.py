"""Profiling of page handlers or whole WSGI applications with cProfile.

Profile one handler::

    class Root:
        prof = profiler.Profiler('/tmp/profiles')

        @pyframe.expose
        def index(self):
            return self.prof.run(self._index)

or every request, as WSGI middleware: ``profiler.make_app(app, path)``.
Each profiled call writes ``cp_0001.prof``, ``cp_0002.prof`` ... into the
directory; mount a :class:`Profiler` (or run :func:`serve`) to browse them.
"""

from __future__ import annotations

import cProfile
import html
import io
import os
import pstats
import re
import tempfile
import threading
from collections.abc import Callable
from typing import Any

from ..context import serving
from ..decorators import expose
from ..errors import NotFound

__all__ = ['Profiler', 'ProfileAggregator', 'make_app', 'serve']

_STATFILE = re.compile(r'cp_(\d{4,})\.prof')


def _default_path() -> str:
    return os.path.join(tempfile.gettempdir(), 'pyframe-profile')


class Profiler:
    """Run callables under cProfile, one stats file per run, and show them."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or _default_path()
        os.makedirs(self.path, exist_ok=True)
        self._lock = threading.Lock()

    def _next_file(self) -> str:
        # Under the lock so concurrent runs never pick the same number.
        with self._lock:
            numbers = [int(m.group(1)) for m in map(_STATFILE.fullmatch, os.listdir(self.path)) if m]
            name = f'cp_{max(numbers, default=0) + 1:04d}.prof'
            # Claim the name at once: the profile is dumped only later.
            open(os.path.join(self.path, name), 'wb').close()
            return os.path.join(self.path, name)

    def run(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call ``func(*args, **kwargs)`` under the profiler; return its result."""
        path = self._next_file()
        profile = cProfile.Profile()
        try:
            return profile.runcall(func, *args, **kwargs)
        finally:
            profile.dump_stats(path)

    def statfiles(self) -> list[str]:
        """The names of the stats files in :attr:`path`, oldest first."""
        return sorted((name for name in os.listdir(self.path) if _STATFILE.fullmatch(name)),
                      key=lambda name: int(_STATFILE.fullmatch(name).group(1)))

    def stats(self, filename: str, sortby: str = 'cumulative') -> str:
        """Return the text report of stats file ``filename``."""
        if filename not in self.statfiles():
            # Only our own files: the name comes from the query string.
            raise NotFound()
        output = io.StringIO()
        report = pstats.Stats(os.path.join(self.path, filename), stream=output)
        report.sort_stats(sortby).print_stats()
        return output.getvalue()

    @expose
    def index(self) -> str:
        """The list of stats files, each linking to its report."""
        return ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Profiles</title>'
                f'</head><body><h1>Profiles in {html.escape(self.path)}</h1>\n'
                f'{self.menu()}</body></html>')

    @expose
    def menu(self) -> str:
        """Links to the report of each stats file."""
        links = ''.join(f'<li><a href="report?filename={html.escape(name, True)}">'
                        f'{html.escape(name)}</a></li>\n' for name in self.statfiles())
        return f'<ul>\n{links}</ul>\n'

    @expose
    def report(self, filename: str) -> str:
        """The text report of one stats file."""
        serving.response.headers['Content-Type'] = 'text/plain'
        return self.stats(filename)


class ProfileAggregator(Profiler):
    """A Profiler adding every run to one profile, kept in ``cp_0000.prof``."""

    def __init__(self, path: str | None = None) -> None:
        super().__init__(path)
        self.profiler = cProfile.Profile()
        self._file = os.path.join(self.path, 'cp_0000.prof')

    def run(self, func: Callable, *args: Any, **kwargs: Any) -> Any:
        """Call ``func`` under the shared profiler; rewrite the stats file."""
        # One cProfile.Profile cannot profile two threads at once.
        with self._lock:
            try:
                return self.profiler.runcall(func, *args, **kwargs)
            finally:
                self.profiler.dump_stats(self._file)


class _ProfilingMiddleware:
    """WSGI middleware profiling each call of the wrapped application."""

    def __init__(self, nextapp, profiler: Profiler) -> None:
        self.nextapp = nextapp
        self.profiler = profiler

    def __call__(self, environ: dict, start_response):
        def gather() -> list[bytes]:
            # Read the whole body inside the profile: a streamed body does
            # its work while being iterated.
            result = self.nextapp(environ, start_response)
            try:
                return list(result)
            finally:
                close = getattr(result, 'close', None)
                if close is not None:
                    close()
        return self.profiler.run(gather)


def make_app(nextapp, path: str | None = None, aggregate: bool = False):
    """Wrap WSGI application ``nextapp`` so that each call is profiled into
    ``path`` (all calls into one file when ``aggregate``)."""
    profiler = ProfileAggregator(path) if aggregate else Profiler(path)
    return _ProfilingMiddleware(nextapp, profiler)


def serve(path: str | None = None, port: int = 8080) -> None:
    """Serve the stats files of ``path`` at http://127.0.0.1:``port``/ (blocks)."""
    import pyframe

    pyframe.config.update({'server.socket_port': int(port), 'server.thread_pool': 10,
                           'environment': 'production'})
    pyframe.quickstart(Profiler(path))


if __name__ == '__main__':
    import sys

    serve(*sys.argv[1:])
