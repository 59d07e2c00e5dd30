"""Request plans: config applied from a per-path cache must stay correct."""

from __future__ import annotations

import pyframe
from pyframe.tools import Tool, Toolbox
from pyframe.tree import Application
from support import wsgi_get


class Root:
    @pyframe.expose
    def index(self):
        return str(pyframe.response.timeout)


def test_app_merge_invalidates_plans():
    app = Application(Root(), '', {'/': {'response.timeout': 11}})
    assert wsgi_get(app, '/')[2] == b'11'
    app.merge({'/': {'response.timeout': 22}})
    assert wsgi_get(app, '/')[2] == b'22'


def test_global_config_change_invalidates_plans():
    app = Application(Root())
    wsgi_get(app, '/')
    pyframe.config.update({'response.timeout': 33})
    try:
        assert wsgi_get(app, '/')[2] == b'33'
    finally:
        pyframe.config.pop('response.timeout')
    assert wsgi_get(app, '/')[2] == b'300'


def test_replacing_a_tool_is_seen():
    box = Toolbox('plantools')
    box.mark = Tool('before_finalize', lambda: pyframe.response.headers.__setitem__('X-Mark', 'old'))

    app = Application(Root(), '', {'/': {'plantools.mark.on': True}})
    assert wsgi_get(app, '/')[1]['X-Mark'] == 'old'
    box.mark = Tool('before_finalize', lambda: pyframe.response.headers.__setitem__('X-Mark', 'new'))
    assert wsgi_get(app, '/')[1]['X-Mark'] == 'new'


def test_replacing_an_object_of_the_tree_is_seen():
    class Page:
        _cp_config = {'response.timeout': 44}

        @pyframe.expose
        def index(self):
            return str(pyframe.response.timeout)

    class Other:
        _cp_config = {'response.timeout': 55}

        @pyframe.expose
        def index(self):
            return str(pyframe.response.timeout)

    root = Root()
    root.page = Page()
    app = Application(root)
    assert wsgi_get(app, '/page/')[2] == b'44'
    root.page = Other()
    assert wsgi_get(app, '/page/')[2] == b'55'


def test_tools_with_their_own_setup_run_per_request_in_config_order():
    box = Toolbox('plantools2')
    order = []
    setups = []

    class Counting(Tool):
        def __init__(self):
            super().__init__('before_handler', lambda: order.append('counting'))

        def _setup(self):
            setups.append(1)
            super()._setup()

    box.plain_a = Tool('before_handler', lambda: order.append('plain_a'))
    box.counting = Counting()
    box.plain_b = Tool('before_handler', lambda: order.append('plain_b'))

    app = Application(Root(), '', {'/': {
        'plantools2.plain_a.on': True,
        'plantools2.counting.on': True,
        'plantools2.plain_b.on': True,
    }})
    for _ in range(3):
        wsgi_get(app, '/')
    assert len(setups) == 3
    assert order == ['plain_a', 'counting', 'plain_b'] * 3


def test_each_request_gets_its_own_toolmap():
    box = Toolbox('plantools3')
    seen = []

    def mutate(value):
        toolmap = pyframe.request.toolmaps['plantools3']['mut']
        seen.append(dict(toolmap))
        toolmap['value'] = 'changed'

    box.mut = Tool('before_handler', mutate)
    app = Application(Root(), '', {'/': {'plantools3.mut.on': True,
                                         'plantools3.mut.value': 'original'}})
    wsgi_get(app, '/')
    wsgi_get(app, '/')
    assert seen == [{'on': True, 'value': 'original'}] * 2
