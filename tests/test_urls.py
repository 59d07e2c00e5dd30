"""pyframe.url() inside and outside of requests."""

from __future__ import annotations

import pytest

import pyframe
from pyframe.tree import Application
from pyframe.urls import normalize_path
from support import wsgi_get


class Pages:
    @pyframe.expose
    def index(self, **kw):
        return pyframe.url(**kw)

    @pyframe.expose
    def page(self, **kw):
        return pyframe.url(**kw)


class Root:
    pages = Pages()

    @pyframe.expose
    def here(self, **kw):
        return pyframe.url(**kw)


@pytest.fixture
def app():
    # trailing_slash off, so that an index reached without its slash is
    # served (not redirected) and url() has to treat it as a directory.
    return Application(Root(), '/app', {'/': {'tools.trailing_slash.on': False}})


def call(app, path, query=''):
    return wsgi_get(app, path, query, script_name='/app')[2].decode()


def test_url_of_current_page(app):
    assert call(app, '/here') == 'http://127.0.0.1/app/here'


def test_relative_path_from_a_page_and_from_an_index(app):
    assert call(app, '/pages/page', 'path=other') == 'http://127.0.0.1/app/pages/other'
    # An index is a directory, with or without the trailing slash typed.
    assert call(app, '/pages', 'path=other') == 'http://127.0.0.1/app/pages/other'
    assert call(app, '/pages/', 'path=other') == 'http://127.0.0.1/app/pages/other'
    assert call(app, '/pages/page', 'path=../up') == 'http://127.0.0.1/app/up'


def test_absolute_path_is_relative_to_the_mount_point(app):
    assert call(app, '/pages/page', 'path=/x/./y/../z') == 'http://127.0.0.1/app/x/z'
    assert call(app, '/here', 'path=/t&script_name=/other') == 'http://127.0.0.1/other/t'


def test_query_string_forms(app):
    assert call(app, '/here', 'path=/t&qs=a%3D1') == 'http://127.0.0.1/app/t?a=1'
    assert call(app, '/here', 'path=/t&qs=') == 'http://127.0.0.1/app/t'


def test_relative_results(app):
    assert call(app, '/pages/page', 'path=/x/y&relative=server') == '/app/x/y'
    assert call(app, '/pages/page', 'path=/pages/other&relative=1') == 'other'
    assert call(app, '/pages/page', 'path=/top&relative=1') == '../top'


def test_url_outside_a_request_uses_the_server(monkeypatch):
    monkeypatch.setattr(pyframe.server, 'socket_port', 9090)
    assert pyframe.url('/a', {'b': [1, 2]}) == 'http://127.0.0.1:9090/a?b=1&b=2'
    assert pyframe.url('/a', script_name='/blog') == 'http://127.0.0.1:9090/blog/a'


@pytest.mark.parametrize('given, expected', [
    ('/a/b', '/a/b'), ('/a/./b', '/a/b'), ('/a/b/../c', '/a/c'),
    ('/../a', '/a'), ('/a/b/..', '/a/'), ('/', '/'), ('/a/.', '/a/'),
])
def test_normalize_path(given, expected):
    assert normalize_path(given) == expected
