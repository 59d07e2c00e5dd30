"""Tutorial 11: start the superstore, an application split into modules.

Run ``python examples/tutorial11_organize/serve.py [PORT]`` (or set
``PYFRAME_PORT``; otherwise site.conf's port, 8080) and open
http://127.0.0.1:8080/ . This file only wires the parts of the ``store``
package together; each of them is explained in its own module.
"""

from __future__ import annotations

import os
import sys

import pyframe
from pyframe.lib import reprconf

# Importing the loyalty module registers the tool app.conf turns on.
from store import loyalty  # noqa: F401
from store.crew import hire
from store.pages import Store
from store.shelves import Shelves

HERE = os.path.dirname(os.path.abspath(__file__))


def port_override() -> int | None:
    """The port from the first argument or $PYFRAME_PORT, if either is given."""
    port = sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PYFRAME_PORT')
    return int(port) if port else None


def main() -> None:
    """Configure the site, build the store, hire its crew and serve."""
    pyframe.config.update(os.path.join(HERE, 'site.conf'))
    port = port_override()
    if port is not None:
        pyframe.config.update({'server.socket_port': port})

    app_conf = reprconf.as_dict(os.path.join(HERE, 'app.conf'))
    settings = app_conf['store']
    shelves = Shelves(settings['prices'], settings['shelf_size'])
    hire(shelves, every=settings['restock_every'])
    pyframe.quickstart(Store(shelves), '', app_conf)


if __name__ == '__main__':
    main()
