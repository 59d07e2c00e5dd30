"""The default favicon of applications mounted at the site root."""

from __future__ import annotations

import pyframe
from pyframe.tree import Tree
from support import REPO, wsgi_get

FAVICON = REPO / 'pyframe' / 'favicon.ico'


class Root:
    @pyframe.expose
    def index(self):
        return 'home'


def test_root_application_gets_the_default_favicon():
    tree = Tree()
    tree.mount(Root())
    status, headers, body = wsgi_get(tree, '/favicon.ico')
    assert status == '200 OK'
    assert headers['Content-Type'] in ('image/vnd.microsoft.icon', 'image/x-icon')
    assert body == FAVICON.read_bytes()


def test_apps_elsewhere_and_roots_with_their_own_icon_are_left_alone():
    tree = Tree()
    tree.mount(Root(), '/blog')
    assert wsgi_get(tree, '/blog/favicon.ico')[0] == '404 Not Found'

    class Branded(Root):
        @pyframe.expose
        def favicon_ico(self):
            return b'mine'

    own = Tree()
    own.mount(Branded())
    assert wsgi_get(own, '/favicon.ico')[2] == b'mine'


def test_favicon_replaced_by_config(tmp_path):
    icon = tmp_path / 'my.ico'
    icon.write_bytes(b'\x00\x00\x01\x00custom')
    tree = Tree()
    tree.mount(Root(), '', {'/favicon.ico': {'tools.staticfile.on': True,
                                             'tools.staticfile.filename': str(icon)}})
    assert wsgi_get(tree, '/favicon.ico')[2] == icon.read_bytes()


def test_relative_static_paths_are_refused_at_config_time(tmp_path):
    import pytest

    from pyframe.tree import Application

    with pytest.raises(ValueError, match=r"tools\.staticdir\.dir = 'public' in section '/static'"):
        Application(Root(), '', {'/static': {'tools.staticdir.on': True,
                                             'tools.staticdir.dir': 'public'}})
    with pytest.raises(ValueError, match='tools.staticfile.filename'):
        Application(Root(), '', {'/f': {'tools.staticfile.filename': 'x.css'}})
    # A relative dir under an absolute root (here or in a parent section) is fine.
    Application(Root(), '', {'/': {'tools.staticdir.root': str(tmp_path)},
                             '/static': {'tools.staticdir.dir': 'public'}})
