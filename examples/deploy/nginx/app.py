"""The application the nginx deployment example serves from two instances.

``pyframed -i app -c app.conf -c sessions.conf -c instance-a.conf`` imports
this module, which mounts the application on ``pyframe.tree``; the config
files then set the port, the proxy tool and the session store. Every page
says which instance answered, so that nginx's load balancing can be seen.

- ``/whoami``: what the request looks like once the proxy tool has read
  nginx's ``X-Forwarded-*`` headers (base URL, scheme, client address).
- ``/count``: a per-visitor counter kept in the session; it only counts
  without a gap when both instances share the session store.
- ``/elsewhere``: a redirect, whose absolute ``Location`` must name the
  public address (nginx's), not the instance's own.
"""

from __future__ import annotations

import os

import pyframe


def instance() -> str:
    """Name the instance that handles this request: the address it listens on."""
    host, port = pyframe.server.bound_addr[:2]
    return f'{host}:{port}'


class Root:
    """The pages of the example."""

    @pyframe.expose
    def index(self) -> str:
        """A greeting from whichever instance nginx picked."""
        return f'Hello from {instance()}\n'

    @pyframe.expose
    @pyframe.tools.json_out()
    def whoami(self) -> dict:
        """The request as the application sees it behind the proxy."""
        request = pyframe.request
        return {
            'instance': instance(),
            'pid': os.getpid(),
            'base': request.base,
            'scheme': request.base.partition('://')[0],
            'remote_ip': request.remote.ip,
            'url': pyframe.url('/whoami'),
        }

    @pyframe.expose
    @pyframe.tools.json_out()
    def count(self) -> dict:
        """Add one to this visitor's counter and return it."""
        session = pyframe.session
        session['count'] = session.get('count', 0) + 1
        return {'count': session['count'], 'instance': instance()}

    @pyframe.expose
    def elsewhere(self) -> None:
        """Redirect to /whoami."""
        raise pyframe.HTTPRedirect('/whoami')


pyframe.tree.mount(Root(), '')
