"""The tool machinery: Tool, HandlerTool, HandlerWrapperTool, ErrorTool, Toolbox."""

from __future__ import annotations

import logging

import pytest

import pyframe
from pyframe.tools import ErrorTool, HandlerTool, HandlerWrapperTool, Tool, Toolbox
from pyframe.tree import Application
from support import wsgi_get

calls: list = []


@pytest.fixture(autouse=True)
def clear_calls():
    calls.clear()


@pytest.fixture
def box():
    """A toolbox of our own, so tests do not add tools to pyframe.tools."""
    return Toolbox('testtools')


def test_registered_tool_runs_with_config_arguments(box):
    @box.register('before_handler')
    def stamp(label='default'):
        calls.append(label)

    class Root:
        @pyframe.expose
        def index(self):
            return 'ok'

        @pyframe.expose
        def off(self):
            return 'off'

    app = Application(Root(), '', {
        '/': {'testtools.stamp.on': True, 'testtools.stamp.label': 'from config'},
        '/off': {'testtools.stamp.on': False},
    })
    assert wsgi_get(app, '/')[2] == b'ok'
    assert calls == ['from config']
    # A tool that is off for a path is not called at all.
    assert wsgi_get(app, '/off')[2] == b'off'
    assert calls == ['from config']


def test_tool_as_decorator_sets_cp_config(box):
    box.shout = Tool('before_finalize', lambda upper=False: calls.append(upper))

    class Root:
        @pyframe.expose
        @box.shout(upper=True)
        def index(self):
            return 'ok'

    assert Root.index._cp_config == {'testtools.shout.on': True, 'testtools.shout.upper': True}
    assert wsgi_get(Application(Root()), '/')[2] == b'ok'
    assert calls == [True]
    with pytest.raises(TypeError, match='keyword arguments only'):
        box.shout(1)


def test_priority_orders_tools_and_config_order_breaks_ties(box):
    for name in ('first', 'second', 'early'):
        box.register('before_handler', name=name)(lambda name=name: calls.append(name))

    class Root:
        @pyframe.expose
        def index(self):
            return 'ok'

    app = Application(Root(), '', {'/': {
        'testtools.second.on': True,
        'testtools.first.on': True,
        'testtools.early.on': True,
        'testtools.early.priority': 10,
    }})
    wsgi_get(app, '/')
    assert calls == ['early', 'second', 'first']


def test_stateful_tool_setup_attaches_more_hooks(box):
    class Timing(Tool):
        def __init__(self):
            super().__init__('before_handler', self.start, priority=95)

        def _setup(self):
            super()._setup()
            pyframe.request.hooks.attach('before_finalize', self.end, priority=5)

        def start(self):
            calls.append('start')

        def end(self):
            calls.append('end')

    box.timeit = Timing()

    class Root:
        @pyframe.expose
        @box.timeit()
        def index(self):
            calls.append('handler')
            return 'ok'

    wsgi_get(Application(Root()), '/')
    assert calls == ['start', 'handler', 'end']


def test_handler_tool_can_answer_instead_of_the_handler(box):
    def answer(text='tool'):
        if text == 'decline':
            return False
        pyframe.response.body = text
        return True

    box.answer = HandlerTool(answer)

    class Root:
        @pyframe.expose
        def index(self):
            return 'handler'

        standalone = box.answer.handler(text='standalone')
        declined = box.answer.handler(text='decline')

    app = Application(Root(), '', {'/': {'testtools.answer.on': True}})
    assert wsgi_get(app, '/')[2] == b'tool'
    plain = Application(Root())
    assert wsgi_get(plain, '/standalone')[2] == b'standalone'
    assert wsgi_get(plain, '/declined')[0] == '404 Not Found'


def test_handler_wrapper_tool_wraps_the_handler(box):
    def bracket(inner, left='[', right=']'):
        return left + inner() + right

    box.bracket = HandlerWrapperTool(bracket)

    class Root:
        @pyframe.expose
        @box.bracket(left='<')
        def index(self):
            return 'body'

    assert wsgi_get(Application(Root()), '/')[2] == b'<body]'


def test_error_tool_replaces_the_error_response(box):
    def apologize(text='sorry'):
        pyframe.response.status = 503
        pyframe.response.body = text

    box.apologize = ErrorTool(apologize)

    class Root:
        @pyframe.expose
        @box.apologize(text='we are sorry')
        def index(self):
            raise RuntimeError('boom')

    status, _, body = wsgi_get(Application(Root()), '/')
    assert (status, body) == ('503 Service Unavailable', b'we are sorry')


def test_unknown_tool_turned_on_is_a_clear_500(box):
    class Root:
        @pyframe.expose
        def index(self):
            return 'ok'

    app = Application(Root(), '', {'/': {'testtools.nosuchtool.on': True}})
    status, _, body = wsgi_get(app, '/')
    assert status == '500 Internal Server Error'
    assert b'has no such tool' in body


def test_on_is_config_not_an_attribute():
    with pytest.raises(AttributeError, match='tools.encode.on'):
        pyframe.tools.encode.on


def test_new_toolbox_registers_its_namespace():
    newauth = Toolbox('newauth')

    @newauth.register('before_request_body')
    def check_access(default=False):
        if not default:
            raise pyframe.HTTPError(401)

    class Root:
        @pyframe.expose
        def default(self, *args):
            return 'Hello'

    app = Application(Root(), '', {'/demo': {'newauth.check_access.on': True,
                                             'newauth.check_access.default': True},
                                   '/closed': {'newauth.check_access.on': True}})
    assert wsgi_get(app, '/demo')[2] == b'Hello'
    assert wsgi_get(app, '/closed')[0] == '401 Unauthorized'


# -- the default tools present so far --------------------------------------------


class Pages:
    @pyframe.expose
    def index(self):
        return 'index'

    @pyframe.expose
    def page(self):
        return 'page'

    @pyframe.expose
    def broken(self):
        raise ZeroDivisionError('tool test')


def test_trailing_slash_extra_redirects_pages_with_a_slash():
    app = Application(Pages(), '', {'/': {'tools.trailing_slash.extra': True}})
    status, headers, _ = wsgi_get(app, '/page/')
    assert (status, headers['Location']) == ('301 Moved Permanently', 'http://127.0.0.1/page')
    assert wsgi_get(app, '/page')[2] == b'page'
    root = Pages()
    root.sub = Pages()
    custom = Application(root, '', {'/': {'tools.trailing_slash.status': 307}})
    status, headers, _ = wsgi_get(custom, '/sub')
    assert (status, headers['Location']) == ('307 Temporary Redirect', 'http://127.0.0.1/sub/')


def test_log_tracebacks_and_headers_on_error(caplog):
    app = Application(Pages())
    with caplog.at_level(logging.INFO, logger=app.log.error_log.name):
        wsgi_get(app, '/broken', headers={'X-Trace': 'abc'})
    text = '\n'.join(r.getMessage() for r in caplog.records)
    assert 'Error while handler' in text and 'ZeroDivisionError: tool test' in text
    assert 'Request Headers:' in text and 'X-Trace: abc' in text


def test_log_tracebacks_can_be_turned_off(caplog):
    app = Application(Pages(), '', {'/': {'tools.log_tracebacks.on': False,
                                          'tools.log_headers.on': False}})
    with caplog.at_level(logging.INFO, logger=app.log.error_log.name):
        status = wsgi_get(app, '/broken')[0]
    assert status == '500 Internal Server Error'
    assert not [r for r in caplog.records if 'ZeroDivisionError' in r.getMessage()]


def test_encode_tool_chooses_the_charset():
    class Root:
        @pyframe.expose
        def index(self):
            return 'caf\u00e9'

    app = Application(Root(), '', {'/': {'tools.encode.encoding': 'latin-1'}})
    status, headers, body = wsgi_get(app, '/')
    assert headers['Content-Type'] == 'text/html;charset=latin-1'
    assert body == 'caf\u00e9'.encode('latin-1')


def test_default_toolbox_tools_work_through_config():
    class Root:
        @pyframe.expose
        def index(self, limit: int = 1):
            return f'{type(limit).__name__}:{limit}'

    app = Application(Root(), '', {'/': {
        'tools.allow.on': True, 'tools.allow.methods': ['GET'],
        'tools.response_headers.on': True,
        'tools.response_headers.headers': [('X-Powered', 'pyframe')],
        'tools.params.on': True,
    }})
    status, headers, body = wsgi_get(app, '/', 'limit=5')
    assert (status, body, headers['X-Powered']) == ('200 OK', b'int:5', 'pyframe')
    assert wsgi_get(app, '/', 'limit=five')[0] == '400 Bad Request'
    status, headers, _ = wsgi_get(app, '/', method='POST', body=b'x=1',
                                  headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert status == '405 Method Not Allowed'
    assert headers['Allow'] == 'GET, HEAD'
