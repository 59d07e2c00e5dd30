"""Custom config namespaces at global, application and request scope."""

from __future__ import annotations

import pyframe
from pyframe.request import Request
from pyframe.tree import Application
from support import wsgi_get


def test_global_namespace_is_called_on_update(monkeypatch):
    seen = []
    monkeypatch.setitem(pyframe.config.namespaces, 'db', lambda k, v: seen.append((k, v)))
    pyframe.config.update({'db.url': 'postgresql://db/site', 'db.pool': 5})
    try:
        assert seen == [('url', 'postgresql://db/site'), ('pool', 5)]
    finally:
        for key in ('db.url', 'db.pool'):
            dict.pop(pyframe.config, key, None)


def test_application_namespace_is_called_on_merge():
    seen = []

    class Root:
        @pyframe.expose
        def index(self):
            return 'x'

    app = Application(Root())
    app.namespaces['db'] = lambda k, v: seen.append((k, v))
    app.merge({'/': {'db.url': 'sqlite://'}, '/sub': {'db.ignored': 1}})
    # Application scope reads the [/] section only.
    assert seen == [('url', 'sqlite://')]


class Coercer:
    """A context-manager namespace: collects the names to convert, then
    (on exit, once all keys are known) wraps the handler to convert them."""

    def __init__(self):
        self.exits = 0

    def __enter__(self):
        self.names = []
        return lambda key, value: self.names.extend(value) if key == 'ints' else None

    def __exit__(self, *exc):
        self.exits += 1
        names = list(self.names)
        handler = pyframe.request.handler

        def converting_handler():
            params = pyframe.request.params
            for name in names:
                if name in params:
                    params[name] = int(params[name])
            return handler()

        pyframe.request.handler = converting_handler
        return False


def test_request_namespace_runs_per_request_with_context_manager():
    coercer = Coercer()

    class MyRequest(Request):
        namespaces = Request.namespaces.copy()

    MyRequest.namespaces['coerce'] = coercer

    class Root:
        @pyframe.expose
        def add(self, a, b):
            return f'{type(a).__name__} {a + b}'

        @pyframe.expose
        def concat(self, a, b):
            return f'{type(a).__name__} {a + b}'

    app = Application(Root(), '', {'/add': {'coerce.ints': ['a', 'b']}})
    app.request_class = MyRequest
    assert wsgi_get(app, '/add', 'a=2&b=3')[2] == b'int 5'
    assert wsgi_get(app, '/add', 'a=4&b=3')[2] == b'int 7'
    assert coercer.exits == 2  # once per request, after all its keys
    # Paths without the entry are untouched.
    assert wsgi_get(app, '/concat', 'a=2&b=3')[2] == b'str 23'
    # Request namespaces do not leak into the base class.
    assert 'coerce' not in Request.namespaces
