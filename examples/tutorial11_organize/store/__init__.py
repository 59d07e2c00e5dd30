"""A small superstore, one module per role.

- :mod:`store.shelves`: the data (what is on the shelves, at what price);
- :mod:`store.pages`: the request handlers (the front page and the till);
- :mod:`store.loyalty`: a tool, per-request extra work (the card discount);
- :mod:`store.crew`: an engine plugin, work outside requests (restocking).

``serve.py`` next to this package wires them together with two config
files: ``site.conf`` for the server, ``app.conf`` for the application.
"""
