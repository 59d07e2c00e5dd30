"""The benchmark app on pyframe (see :mod:`apps.cpstyle`)."""

from __future__ import annotations

from typing import Any

import pyframe

from . import cpstyle

#: ``/typical`` keeps a visit counter in a server-side (RAM) session.
SESSIONS = True


def make_app(static_dir: str, start_engine: bool = True) -> Any:
    """Return pyframe's tree serving the benchmark endpoints."""
    return cpstyle.make_app(pyframe, static_dir, start_engine)


def serve_with_adapter(static_dir: str, threads: int, queue_size: int) -> int:
    """Serve the app with pyframe's own server plugin; return its port.

    Uses the same cheroot settings as the plain servers in ``serve.py``.
    """
    make_app(static_dir, start_engine=False)
    pyframe.config.update({
        'server.socket_host': '127.0.0.1',
        'server.socket_port': 0,
        'server.thread_pool': threads,
        'server.socket_queue_size': queue_size,
    })
    pyframe.engine.start()
    return pyframe.server.bound_addr[1]


def shutdown() -> None:
    """Stop pyframe's engine."""
    cpstyle.shutdown(pyframe)
