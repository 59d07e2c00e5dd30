"""The benchmark app on CherryPy 18 (see :mod:`apps.cpstyle`).

CherryPy is installed only in the bench venv, only to be measured.
"""

from __future__ import annotations

from typing import Any

import cherrypy

from . import cpstyle

#: ``/typical`` keeps a visit counter in a server-side (RAM) session.
SESSIONS = True


def make_app(static_dir: str) -> Any:
    """Return CherryPy's tree serving the benchmark endpoints."""
    return cpstyle.make_app(cherrypy, static_dir)


def shutdown() -> None:
    """Stop CherryPy's engine."""
    cpstyle.shutdown(cherrypy)
