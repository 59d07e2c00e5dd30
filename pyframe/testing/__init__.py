"""Helpers for testing pyframe applications.

* :class:`WebCase` -- a ``unittest.TestCase`` that serves the
  applications its ``setup_server()`` mounts on a live HTTP server, with
  ``getPage`` and ``assertStatus``/``assertHeader``/``assertBody``...
* :class:`Client` -- calls a WSGI application in-process (no socket),
  keeping cookies between calls; the same ``assert*`` methods apply.
* :mod:`pyframe.testing.plugin` -- pytest fixtures ``pyframe_client``
  and ``pyframe_server``.
"""

from __future__ import annotations

from .asserts import ResponseAssertions
from .client import Client, Response
from .webcase import WebCase

__all__ = ['Client', 'Response', 'ResponseAssertions', 'WebCase']
