"""One small module per framework, all serving the same endpoints.

Every module has ``make_app(static_dir) -> WSGI callable`` and a
``SESSIONS`` flag; modules whose framework has an engine also have
``shutdown()``. :mod:`apps.common` says what the endpoints return.
"""

from __future__ import annotations

import importlib
import types

#: Framework names in table order; pyframe first, the bare floor second.
FRAMEWORKS = ('pyframe', 'bare', 'falcon', 'bottle', 'flask', 'cherrypy')


def load(name: str) -> types.ModuleType:
    """Import and return the app module of framework ``name``."""
    if name not in FRAMEWORKS:
        raise ValueError(f'unknown framework {name!r}; pick from {", ".join(FRAMEWORKS)}')
    return importlib.import_module(f'{__name__}.{name}_app')
