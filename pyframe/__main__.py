"""``python -m pyframe``: the same command as ``pyframed``."""

from pyframe.daemon import main

raise SystemExit(main())
