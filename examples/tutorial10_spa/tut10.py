"""Tutorial 10: a single-page application in front of tutorial 9's service.

Run ``python examples/tutorial10_spa/tut10.py`` and open
http://127.0.0.1:8080/ (``PYFRAME_PORT``, ``PYFRAME_DB`` and
``PYFRAME_SESSIONS`` work as in tutorial 9). The Python side is tutorial
9's, unchanged; only the page differs: ``public/index.html`` is an empty
shell that ``public/js/gen.js`` fills in and keeps up to date, with the
small rendering helpers of ``public/js/tiny.js``.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The server is tutorial 9's; this tutorial only brings a new public folder.
sys.path.insert(0, str(HERE.parent / 'tutorial09_sqlite'))
import tut09  # noqa: E402

if __name__ == '__main__':
    tut09.main(public=HERE / 'public')
