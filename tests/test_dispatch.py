"""The object-tree Dispatcher, popargs, page handlers and argument checks.

Dispatchers are driven directly against a small stand-in for the request
object (the contract of pyframe.dispatch), not through the WSGI stack.
"""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest

import pyframe
from pyframe import dispatch
from pyframe.context import serving
from pyframe.decorators import config as handler_config
from pyframe.decorators import popargs
from pyframe.errors import HTTPError, NotFound, PyframeException
from pyframe.lib.httputil import HeaderMap


class FakeBody:
    """A request body whose form params are known and whose bytes are readable."""

    def __init__(self, params: dict | None = None, data: bytes = b'') -> None:
        self.params = params or {}
        self.fp = io.BytesIO(data)

    def read(self) -> bytes:
        return self.fp.read()


class FakeRequest:
    """The attributes a dispatcher may read or set, nothing more."""

    def __init__(self, root, path_info='/', *, config=None, method='GET',
                 params=None, body_params=None, body_data=None, headers=None,
                 show_mismatched_params=True, environ=None):
        self.app = SimpleNamespace(root=root, config=config or {}, script_name='')
        self.script_name = ''
        self.path_info = path_info
        self.method = method
        self.scheme = 'http'
        self.params = dict(params or {})
        self.body = None
        if body_params is not None or body_data is not None:
            self.body = FakeBody(body_params, body_data or b'')
            self.params.update(body_params or {})
        self.headers = HeaderMap(headers or {})
        self.show_mismatched_params = show_mismatched_params
        self.wsgi_environ = environ or {}
        self.handler = None
        self.config = None
        self.is_index = None


class FakeResponse:
    def __init__(self) -> None:
        self.headers = HeaderMap()


@pytest.fixture
def run():
    """``run(root, path, dispatcher=None, **request_attrs) -> request``.

    Loads a fake request, dispatches ``path`` and returns the request with
    handler, config and is_index set; ``serving`` is cleared afterwards.
    """
    def start(root, path='/', dispatcher=None, **kwargs):
        request = FakeRequest(root, path, **kwargs)
        serving.load(request, FakeResponse())
        (dispatcher or dispatch.Dispatcher())(path)
        return request

    yield start
    serving.clear()


@pytest.fixture
def no_global_config(monkeypatch):
    monkeypatch.setattr(pyframe, 'config', {}, raising=False)


def body_of(request):
    """Call the found handler and return what it produced."""
    return request.handler()


def status_of(request) -> int:
    with pytest.raises(HTTPError) as caught:
        request.handler()
    return caught.value.code


def message_of(request) -> str:
    with pytest.raises(HTTPError) as caught:
        request.handler()
    return caught.value._message


# --------------------------------------------------------------------------
# Object walk

class Leaf:
    @pyframe.expose
    def index(self):
        return 'leaf index'

    @pyframe.expose
    def page(self, *args):
        return 'page ' + '/'.join(args)


class Tree:
    def __init__(self):
        self.leaf = Leaf()
        self.hidden = Leaf()
        self.hidden.index = lambda: 'not exposed'

    @pyframe.expose
    def index(self):
        return 'root index'

    @pyframe.expose
    def page_html(self):
        return 'dotted'

    @pyframe.expose(['salut', 'hola'])
    def hello(self):
        return 'hello'

    @pyframe.expose
    def echo(self, first, second='two'):
        return f'{first}-{second}'

    def private(self):
        return 'private'


def test_root_index_is_an_index(run):
    request = run(Tree(), '/')
    assert body_of(request) == 'root index'
    assert request.is_index is True


def test_nested_object_without_trailing_slash_still_finds_index(run):
    request = run(Tree(), '/leaf')
    assert body_of(request) == 'leaf index'
    # The trailing_slash tool relies on this to redirect /leaf to /leaf/.
    assert request.is_index is True


def test_exposed_method_is_not_an_index(run):
    request = run(Tree(), '/leaf/page')
    assert body_of(request) == 'page '
    assert request.is_index is False


def test_remaining_segments_become_positional_args(run):
    request = run(Tree(), '/leaf/page/a/b')
    assert body_of(request) == 'page a/b'
    assert request.handler.args == ('a', 'b')


def test_dots_become_underscores(run):
    assert body_of(run(Tree(), '/page.html')) == 'dotted'


def test_custom_translate_table(run):
    class Root:
        @pyframe.expose
        def a_b(self):
            return 'dash'
    dispatcher = dispatch.Dispatcher(translate=str.maketrans('-', '_'))
    assert body_of(run(Root(), '/a-b', dispatcher)) == 'dash'


def test_translate_table_with_several_characters(run):
    class Root:
        @pyframe.expose
        def a_b_c(self):
            return 'both'
    dispatcher = dispatch.Dispatcher(translate=str.maketrans('-.', '__'))
    assert body_of(run(Root(), '/a-b.c', dispatcher)) == 'both'


def test_aliases_answer_like_the_handler(run):
    for path in ('/hello', '/salut', '/hola'):
        assert body_of(run(Tree(), path)) == 'hello'


def test_unexposed_method_is_not_found(run):
    request = run(Tree(), '/private')
    assert isinstance(request.handler, NotFound)
    assert status_of(request) == 404


def test_unexposed_index_is_not_found(run):
    assert status_of(run(Tree(), '/hidden/')) == 404


def test_unknown_path_is_not_found(run):
    request = run(Tree(), '/nope/deeper')
    assert isinstance(request.handler, NotFound)


def test_handlers_are_late_param_page_handlers(run):
    request = run(Tree(), '/echo', params={'first': 'x'})
    assert isinstance(request.handler, dispatch.LateParamPageHandler)
    # Params changed after dispatch (by a tool, say) reach the handler.
    request.params['second'] = 'changed'
    assert body_of(request) == 'x-changed'


def test_find_handler_is_public(run, no_global_config):
    request = run(Tree(), '/')
    func, vpath = dispatch.Dispatcher().find_handler('/leaf/page/x')
    assert func.__func__ is Leaf.page
    assert vpath == ['x']
    assert dispatch.Dispatcher().find_handler('/nope') == (None, [])
    assert request.config == {}


class WithDefault:
    def __init__(self):
        self.sub = Leaf()

    @pyframe.expose
    def default(self, *args):
        return 'default ' + '/'.join(args)


def test_default_takes_the_unmatched_segments(run):
    request = run(WithDefault(), '/x/y')
    assert body_of(request) == 'default x/y'
    assert request.is_index is False


def test_default_is_index_only_with_a_trailing_slash(run):
    assert run(WithDefault(), '/x/y/').is_index is True


def test_deeper_index_wins_over_default(run):
    assert body_of(run(WithDefault(), '/sub/')) == 'leaf index'


def test_default_wins_over_an_exposed_callable_on_the_same_level(run):
    class Root(WithDefault):
        pass
    Root.exposed = True
    Root.__call__ = lambda self: 'called'
    assert body_of(run(Root(), '/z')) == 'default z'


def test_unexposed_default_is_ignored(run):
    class Root:
        def default(self, *args):
            return 'nope'
    assert status_of(run(Root(), '/x')) == 404


def test_exposed_callable_object_answers(run):
    @pyframe.expose
    class Callable:
        def __call__(self, *args):
            return 'called ' + ','.join(args)

    class Root:
        thing = Callable()
    request = run(Root(), '/thing/1')
    assert body_of(request) == 'called 1'
    assert request.is_index is False


def test_exposed_but_not_callable_object_does_not_answer(run):
    @pyframe.expose
    class Resource:
        pass

    class Root:
        res = Resource()
    assert isinstance(run(Root(), '/res').handler, NotFound)


def test_dispatcher_subclass_can_rewrite_the_path(run):
    class Lower(dispatch.Dispatcher):
        def __call__(self, path_info):
            return super().__call__(path_info.lower())
    assert body_of(run(Tree(), '/PAGE.HTML', Lower())) == 'dotted'


# --------------------------------------------------------------------------
# _cp_dispatch and popargs

class Album:
    @pyframe.expose
    def index(self, artist, title):
        return f'About {title} by {artist}...'


class Band:
    def __init__(self):
        self.albums = Album()

    def _cp_dispatch(self, vpath):
        if len(vpath) == 1:
            pyframe.request.params['name'] = vpath.pop()
            return self
        if len(vpath) == 3:
            pyframe.request.params['artist'] = vpath.pop(0)
            vpath.pop(0)
            pyframe.request.params['title'] = vpath.pop(0)
            return self.albums
        return vpath

    @pyframe.expose
    def index(self, name):
        return f'About {name}...'


def test_cp_dispatch_band(run):
    request = run(Band(), '/nirvana/')
    assert body_of(request) == 'About nirvana...'
    assert request.is_index is True


def test_cp_dispatch_album(run):
    request = run(Band(), '/nirvana/albums/nevermind/')
    assert body_of(request) == 'About nevermind by nirvana...'
    assert request.params == {'artist': 'nirvana', 'title': 'nevermind'}


def test_cp_dispatch_does_not_see_the_index_marker(run):
    seen = []

    class Root:
        def _cp_dispatch(self, vpath):
            seen.append(list(vpath))
            return None
    run(Root(), '/a/b/')
    assert seen == [['a', 'b']]


def test_cp_dispatch_not_called_when_the_attribute_exists(run):
    class Root(Tree):
        def _cp_dispatch(self, vpath):
            raise AssertionError('must not be called')
    assert body_of(run(Root(), '/page.html')) == 'dotted'


def test_cp_dispatch_that_pops_nothing_consumes_the_segment(run):
    class Root:
        leaf = Leaf()

        def _cp_dispatch(self, vpath):
            return self.leaf
    assert body_of(run(Root(), '/anything/page/x')) == 'page x'


def test_cp_dispatch_adding_segments_is_an_error(run):
    class Root:
        def _cp_dispatch(self, vpath):
            vpath.extend(['more', 'segments'])
            return self
    with pytest.raises(PyframeException, match='added segments'):
        run(Root(), '/a')


def test_exposed_cp_dispatch_is_a_handler_not_a_hook(run):
    class Root:
        @pyframe.expose
        def _cp_dispatch(self, vpath):
            raise AssertionError('must not be called as a hook')

        @pyframe.expose
        def default(self, *args):
            return 'default'
    assert body_of(run(Root(), '/x')) == 'default'


def test_custom_dispatch_method_name(run):
    class Root:
        leaf = Leaf()

        def route(self, vpath):
            vpath.pop(0)
            return self.leaf
    dispatcher = dispatch.Dispatcher(dispatch_method_name='route')
    assert body_of(run(Root(), '/zz/page', dispatcher)) == 'page '


@popargs('track_num', 'track_title')
class Track:
    @pyframe.expose
    def index(self, band_name, album_title, track_num, track_title):
        return f'{band_name}|{album_title}|{track_num}|{track_title}'


@popargs('album_title')
class PopAlbum:
    def __init__(self):
        self.tracks = Track()

    @pyframe.expose
    def index(self, band_name, album_title):
        return f'About {album_title} by {band_name}...'


@popargs('band_name')
class PopBand:
    def __init__(self):
        self.albums = PopAlbum()

    @pyframe.expose
    def index(self, band_name):
        return f'About {band_name}...'


def test_popargs_band(run):
    request = run(PopBand(), '/nirvana/')
    assert body_of(request) == 'About nirvana...'
    assert request.params == {'band_name': 'nirvana'}


def test_popargs_across_nested_classes(run):
    request = run(PopBand(), '/nirvana/albums/nevermind/')
    assert body_of(request) == 'About nevermind by nirvana...'


def test_popargs_with_two_names(run):
    request = run(PopBand(), '/nirvana/albums/nevermind/tracks/06/polly')
    assert body_of(request) == 'nirvana|nevermind|06|polly'
    assert request.params == {'band_name': 'nirvana', 'album_title': 'nevermind',
                              'track_num': '06', 'track_title': 'polly'}


def test_popargs_missing_value_gives_404(run):
    request = run(PopBand(), '/nirvana/albums/nevermind/tracks/06')
    assert status_of(request) == 404


def test_popargs_as_class_attribute(run):
    class Root:
        _cp_dispatch = popargs('year', 'month')

        @pyframe.expose
        def index(self, year, month):
            return f'{year}-{month}'
    assert body_of(run(Root(), '/2024/05/')) == '2024-05'


def test_popargs_decorator_keeps_the_class(run):
    assert isinstance(PopBand, type)
    assert callable(PopBand._cp_dispatch)


def test_popargs_with_a_node_handler(run):
    class Profile:
        @pyframe.expose
        def page(self, *args, user):
            return f'{user}: ' + '/'.join(args)

    class Root:
        _cp_dispatch = popargs('user', handler=Profile())
    request = run(Root(), '/bob/page/x')
    assert body_of(request) == 'bob: x'
    assert request.params == {'user': 'bob'}


def test_popargs_with_a_callable_handler(run):
    class User:
        def __init__(self, user):
            self.user = user

        @pyframe.expose
        def index(self):
            return 'user ' + self.user

    class Root:
        _cp_dispatch = popargs('user', handler=User)
    request = run(Root(), '/bob/')
    assert body_of(request) == 'user bob'
    # The values went to the handler, not to the request params.
    assert request.params == {}


def test_popargs_does_not_pop_twice_into_the_same_name(run):
    @popargs('year')
    class Root:
        @pyframe.expose
        def index(self, year):
            return year
    # After 'year' the next segment must be an attribute: 'extra' is not,
    # and must not overwrite year through a second round of popargs.
    request = run(Root(), '/2024/extra/')
    assert isinstance(request.handler, NotFound)
    assert request.params == {'year': '2024'}


def test_popargs_needs_names():
    with pytest.raises(TypeError, match='parameter names'):
        popargs(Band)


# --------------------------------------------------------------------------
# Request config

def test_config_precedence(run, monkeypatch):
    monkeypatch.setattr(pyframe, 'config', {'k': 'global', 'only.global': 1}, raising=False)

    class Sub:
        _cp_config = {'k': 'sub node', 'sub.node': 1}

        @pyframe.expose
        @handler_config(k='handler', handler=1)
        def page(self):
            return 'ok'

    class Root:
        _cp_config = {'k': 'root node', 'root.node': 1}
        sub = Sub()

    app_config = {
        '/': {'k': 'root section', 'root.section': 1},
        '/sub': {'k': 'sub section', 'sub.section': 1},
    }
    request = run(Root(), '/sub/page', config=app_config)
    conf = request.config
    assert conf['k'] == 'handler'
    assert {'only.global', 'root.node', 'root.section', 'sub.node',
            'sub.section', 'handler'} <= set(conf)

    # Remove the top layer each time to see the next one shows through.
    del Sub.page._cp_config
    assert run(Root(), '/sub/page', config=app_config).config['k'] == 'sub section'
    del app_config['/sub']
    assert run(Root(), '/sub/page', config=app_config).config['k'] == 'sub node'
    del Sub._cp_config
    assert run(Root(), '/sub/page', config=app_config).config['k'] == 'root section'
    del app_config['/']
    assert run(Root(), '/sub/page', config=app_config).config['k'] == 'root node'
    del Root._cp_config
    assert run(Root(), '/sub/page', config=app_config).config['k'] == 'global'


def test_request_config_is_a_copy(run, monkeypatch):
    global_config = {'a': 1}
    monkeypatch.setattr(pyframe, 'config', global_config, raising=False)
    app_config = {'/': {'b': 2}}
    request = run(Tree(), '/', config=app_config)
    request.config['a'] = request.config['b'] = 'changed'
    assert global_config == {'a': 1}
    assert app_config == {'/': {'b': 2}}


def test_section_applies_to_a_path_without_node(run, no_global_config):
    config = {'/static': {'tools.staticdir.on': True}}
    request = run(WithDefault(), '/static/css/site.css', config=config)
    assert body_of(request) == 'default static/css/site.css'
    assert request.config['tools.staticdir.on'] is True


def test_section_applies_even_when_nothing_is_found(run, no_global_config):
    config = {'/static': {'tools.staticdir.on': True}}
    request = run(Tree(), '/static/x.css', config=config)
    assert isinstance(request.handler, NotFound)
    assert request.config['tools.staticdir.on'] is True


def test_deeper_sections_override_a_default_handlers_config(run, no_global_config):
    class Root:
        @pyframe.expose
        @handler_config(k='default')
        def default(self, *args):
            return 'd'
    request = run(Root(), '/a/b', config={'/a/b': {'k': 'section'}})
    assert request.config['k'] == 'section'
    assert run(Root(), '/a/c', config={'/a/b': {'k': 'section'}}).config['k'] == 'default'


def test_default_handler_config_applies(run, no_global_config):
    class Root:
        @pyframe.expose
        @handler_config(**{'tools.gzip.on': True})
        def default(self, *args):
            return 'd'
    assert run(Root(), '/x').config == {'tools.gzip.on': True}


def test_index_handler_config_applies(run, no_global_config):
    class Root:
        @pyframe.expose
        def index(self):
            return 'i'
        index._cp_config = {'response.stream': True}
    assert run(Root(), '/').config == {'response.stream': True}


def test_config_of_nodes_past_the_handler_does_not_leak_backwards(run, no_global_config):
    request = run(Tree(), '/leaf/page', config={'/leaf': {'x': 1}, '/other': {'y': 2}})
    assert request.config == {'x': 1}


def test_staticdir_section_is_the_url_of_the_node(run, no_global_config):
    config = {'/static': {'tools.staticdir.on': True, 'tools.staticdir.dir': '/srv'}}
    request = run(Tree(), '/static/css/site.css', config=config)
    assert request.config['tools.staticdir.section'] == '/static'
    # The app config itself is left untouched.
    assert 'tools.staticdir.section' not in config['/static']


def test_staticdir_section_from_a_cp_config(run, no_global_config):
    class Files:
        _cp_config = {'tools.staticdir.dir': '/srv'}

    class Root:
        files = Files()
    request = run(Root(), '/files/a.txt')
    assert request.config['tools.staticdir.section'] == '/files'


def test_staticdir_section_at_the_root(run, no_global_config):
    request = run(Tree(), '/x.css', config={'/': {'tools.staticdir.dir': '/srv'}})
    assert request.config['tools.staticdir.section'] == '/'


def test_global_config_that_is_not_a_dict_is_ignored(run, monkeypatch):
    monkeypatch.setattr(pyframe, 'config', object(), raising=False)
    assert run(Tree(), '/').config == {}


def test_config_through_cp_dispatch_segments(run, no_global_config):
    config = {'/nirvana': {'band': 1}, '/nirvana/albums/nevermind': {'album': 1}}
    request = run(Band(), '/nirvana/albums/nevermind/', config=config)
    assert request.config == {'band': 1, 'album': 1}


# --------------------------------------------------------------------------
# Mismatched parameters

class Params:
    @pyframe.expose
    def one(self, param1):
        return 'one ' + param1

    @pyframe.expose
    def opt(self, param1='x'):
        return 'opt ' + param1

    @pyframe.expose
    def kwonly(self, *, token):
        return 'token ' + token

    @pyframe.expose
    def anything(self, *args, **kwargs):
        return 'anything'

    @pyframe.expose
    def buggy(self, x=None):
        return '%d' % 'not a number'

    @pyframe.expose
    def raises_type_error_about_args(self):
        def inner(a):
            return a
        return inner()


def test_matching_params_reach_the_handler(run):
    assert body_of(run(Params(), '/one', params={'param1': 'a'})) == 'one a'
    assert body_of(run(Params(), '/one/a')) == 'one a'
    assert body_of(run(Params(), '/kwonly', params={'token': 't'})) == 'token t'
    assert body_of(run(Params(), '/anything/a/b', params={'q': 1})) == 'anything'


def test_missing_param_is_404(run):
    request = run(Params(), '/one')
    assert status_of(request) == 404
    assert message_of(request) == 'Missing parameters: param1'


def test_missing_keyword_only_param_is_404(run):
    assert message_of(run(Params(), '/kwonly')) == 'Missing parameters: token'


def test_missing_param_with_body_is_still_404(run):
    assert status_of(run(Params(), '/one', method='POST', body_params={})) == 404


def test_extra_path_segment_is_404(run):
    assert status_of(run(Params(), '/one/a/b')) == 404
    assert status_of(run(Params(), '/opt/a/b')) == 404


def test_unexpected_query_params_are_404(run):
    request = run(Params(), '/opt', params={'y': '1', 'x': '2'})
    assert status_of(request) == 404
    assert message_of(request) == 'Unexpected query string parameters: x, y'


def test_unexpected_body_params_are_400(run):
    request = run(Params(), '/opt', method='POST', body_params={'x': '1'})
    assert status_of(request) == 400
    assert message_of(request) == 'Unexpected body parameters: x'


def test_unexpected_query_param_wins_over_body_param(run):
    request = run(Params(), '/opt', method='POST', params={'q': '1'}, body_params={'b': '2'})
    assert status_of(request) == 404
    assert message_of(request) == 'Unexpected query string parameters: q'


def test_param_given_in_path_and_query_is_404(run):
    request = run(Params(), '/one/a', params={'param1': 'b'})
    assert status_of(request) == 404
    assert message_of(request) == 'Multiple values for parameters: param1'


def test_param_given_in_path_and_body_is_400(run):
    request = run(Params(), '/one/a', method='POST', body_params={'param1': 'b'})
    assert status_of(request) == 400


def test_messages_are_generic_without_show_mismatched_params(run):
    for path, params in (('/one', {}), ('/opt', {'y': '1'}), ('/one/a', {'param1': 'b'})):
        request = run(Params(), path, params=params, show_mismatched_params=False)
        message = message_of(request)
        assert 'param' not in message and 'y' not in message.split()
        assert status_of(request) == 404
    request = run(Params(), '/opt', method='POST', body_params={'secret': '1'},
                  show_mismatched_params=False)
    assert 'secret' not in message_of(request)
    assert status_of(request) == 400


def test_type_error_inside_the_handler_is_not_a_404(run):
    request = run(Params(), '/buggy', params={'x': '0'})
    with pytest.raises(TypeError, match='format'):
        request.handler()


def test_type_error_about_another_call_inside_the_handler_propagates(run):
    request = run(Params(), '/raises_type_error_about_args')
    with pytest.raises(TypeError, match='inner'):
        request.handler()


def test_page_handler_own_kwargs_override_params(run):
    request = run(Params(), '/')
    handler = dispatch.LateParamPageHandler(Params().opt, param1='own')
    request.params['param1'] = 'from request'
    assert handler() == 'opt own'
    assert handler.kwargs == {'param1': 'own'}


def test_plain_page_handler(run):
    run(Params(), '/')
    assert dispatch.PageHandler(Params().one, 'a')() == 'one a'
    with pytest.raises(HTTPError) as caught:
        dispatch.PageHandler(Params().one)()
    assert caught.value.code == 404


def test_mismatch_on_plain_functions_and_classes(run):
    run(Params(), '/')

    def func(a, /, b):
        return a + b

    class Thing:
        def __init__(self, size):
            self.size = size

    with pytest.raises(HTTPError) as caught:
        dispatch.PageHandler(func, a='1', b='2')()
    # 'a' is positional-only, so it cannot come from the query string.
    assert caught.value._message == 'Missing parameters: a'
    assert dispatch.PageHandler(Thing, size=3)().size == 3
    with pytest.raises(HTTPError):
        dispatch.PageHandler(Thing)()


def test_callable_spec_accepts_fitting_calls(run):
    run(Params(), '/')
    assert dispatch.test_callable_spec(Params().one, ('a',), {}) is None
    assert dispatch.test_callable_spec(Params().anything, ('a', 'b'), {'c': 1}) is None
    # Some builtins have no signature: nothing to diagnose.
    assert dispatch.test_callable_spec(max, (), {'x': 1}) is None


def test_signature_is_computed_once_per_function(run, monkeypatch):
    run(Params(), '/')
    calls = []
    real = dispatch.inspect.signature

    def counting(func, *args, **kwargs):
        calls.append(func)
        return real(func, *args, **kwargs)
    monkeypatch.setattr(dispatch.inspect, 'signature', counting)

    def fresh(a):
        return a
    for _ in range(3):
        with pytest.raises(HTTPError):
            dispatch.PageHandler(fresh)()
    assert calls == [fresh]


def test_failed_diagnosis_keeps_the_original_type_error(run, monkeypatch):
    run(Params(), '/')

    def broken(*args):
        raise RuntimeError('diagnosis bug')
    monkeypatch.setattr(dispatch, 'test_callable_spec', broken)
    with pytest.raises(TypeError, match='param1'):
        dispatch.PageHandler(Params().one)()
