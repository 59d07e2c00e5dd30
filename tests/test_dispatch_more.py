"""MethodDispatcher, VirtualHost, XMLRPCDispatcher and RoutesDispatcher,
driven directly against the fake request of test_dispatch."""

from __future__ import annotations

import io
import xmlrpc.client

import pytest

import pyframe
from pyframe import dispatch
from pyframe.context import serving
from pyframe.decorators import config as handler_config
from pyframe.errors import HTTPError, HTTPRedirect, NotFound
from test_dispatch import body_of, no_global_config, run, status_of  # noqa: F401 (fixtures)


# --------------------------------------------------------------------------
# MethodDispatcher

@pyframe.expose
class Strings:
    _cp_config = {'resource': 1}

    def __init__(self):
        self.value = 'initial'
        self.items = Items()

    def GET(self):
        return self.value

    def POST(self, length='8'):
        self.value = 'x' * int(length)
        return self.value

    @handler_config(method_conf='put')
    def PUT(self, another_string):
        self.value = another_string

    def helper(self):
        return 'not a method handler'

    LIMIT = 3  # upper case but not callable: no HTTP method


@pyframe.expose
class Items:
    def GET(self, *ids):
        return 'items ' + ','.join(ids)

    def DELETE(self, item_id):
        return 'deleted ' + item_id


def method_run(run, path, method='GET', **kwargs):
    return run(Strings(), path, dispatch.MethodDispatcher(), method=method, **kwargs)


def test_method_dispatch_calls_the_named_method(run):
    assert body_of(method_run(run, '/')) == 'initial'
    assert body_of(method_run(run, '/', 'POST', params={'length': '3'})) == 'xxx'


def test_method_dispatch_lower_case_method(run):
    assert body_of(method_run(run, '/', 'get')) == 'initial'


def test_head_falls_back_to_get(run):
    assert body_of(method_run(run, '/', 'HEAD')) == 'initial'


def test_missing_method_is_405_with_allow(run):
    request = method_run(run, '/', 'DELETE')
    assert status_of(request) == 405
    assert serving.response.headers['Allow'] == 'GET, HEAD, POST, PUT'


def test_uppercase_constant_is_not_a_method(run):
    request = method_run(run, '/', 'LIMIT')
    assert status_of(request) == 405
    assert 'LIMIT' not in serving.response.headers['Allow']


def test_lower_case_helpers_are_not_reachable_as_methods(run):
    assert status_of(method_run(run, '/', 'HELPER')) == 405


def test_allow_lists_only_what_the_resource_has(run):
    request = method_run(run, '/items/1', 'PUT')
    assert status_of(request) == 405
    assert serving.response.headers['Allow'] == 'DELETE, GET, HEAD'


def test_allow_without_get_has_no_head(run):
    @pyframe.expose
    class Deleter:
        def DELETE(self):
            return 'gone'
    request = run(Deleter(), '/', dispatch.MethodDispatcher(), method='HEAD')
    assert status_of(request) == 405
    assert serving.response.headers['Allow'] == 'DELETE'


def test_path_segments_are_positional_args(run):
    assert body_of(method_run(run, '/items/1/2')) == 'items 1,2'
    assert body_of(method_run(run, '/items/a%2Fb', 'DELETE')) == 'deleted a/b'


def test_method_config_merges_last(run, no_global_config):
    request = method_run(run, '/', 'PUT', params={'another_string': 's'},
                         config={'/': {'method_conf': 'section'}})
    assert request.config == {'resource': 1, 'method_conf': 'put'}


def test_unexposed_resource_is_not_found(run):
    class Plain:
        def GET(self):
            return 'hidden'
    request = run(Plain(), '/', dispatch.MethodDispatcher())
    assert isinstance(request.handler, NotFound)


def test_unknown_segments_go_to_the_resource_and_do_not_fit(run):
    request = method_run(run, '/nothing/here')
    assert request.handler.args == ('nothing', 'here')
    assert status_of(request) == 404


def test_method_mismatched_params_are_404(run):
    request = method_run(run, '/', 'PUT')
    assert status_of(request) == 404


# --------------------------------------------------------------------------
# VirtualHost

class App:
    def __init__(self, name):
        self.name = name

    @pyframe.expose
    def index(self):
        return 'index of ' + self.name

    @pyframe.expose
    def page(self):
        return 'page of ' + self.name


class Site:
    _cp_config = {'site': 1}

    def __init__(self):
        self.app1 = App('app1')
        self.app2 = App('app2')

    @pyframe.expose
    def index(self):
        return 'site index'


HOSTS = {'company.com:8080': '/app1', 'home.net:8080': '/app2/'}


def vhost_run(run, path, headers, use_x_forwarded_host=True, **kwargs):
    dispatcher = dispatch.VirtualHost(use_x_forwarded_host=use_x_forwarded_host, **HOSTS)
    return run(Site(), path, dispatcher, headers=headers, **kwargs)


def test_virtual_host_prefixes_the_path(run):
    request = vhost_run(run, '/', {'Host': 'company.com:8080'})
    assert body_of(request) == 'index of app1'
    assert request.is_index is True
    request = vhost_run(run, '/page', {'Host': 'home.net:8080'})
    assert body_of(request) == 'page of app2'
    assert request.is_index is False


def test_virtual_host_names_are_case_insensitive(run):
    assert body_of(vhost_run(run, '/', {'Host': 'Company.COM:8080'})) == 'index of app1'


def test_unknown_host_dispatches_unchanged(run):
    assert body_of(vhost_run(run, '/', {'Host': 'other.org'})) == 'site index'
    assert body_of(vhost_run(run, '/app2/page', {})) == 'page of app2'


def test_virtual_host_config_uses_the_prefixed_path(run, no_global_config):
    config = {'/app1': {'which': 'app1'}, '/app1/page': {'page': 1}, '/page': {'wrong': 1}}
    request = vhost_run(run, '/page', {'Host': 'company.com:8080'}, config=config)
    assert request.config == {'site': 1, 'which': 'app1', 'page': 1}


def test_x_forwarded_host_wins_when_allowed(run):
    headers = {'Host': 'internal:9000', 'X-Forwarded-Host': 'home.net:8080, proxy2'}
    assert body_of(vhost_run(run, '/', headers)) == 'index of app2'


def test_x_forwarded_host_ignored_when_not_allowed(run):
    headers = {'Host': 'company.com:8080', 'X-Forwarded-Host': 'home.net:8080'}
    request = vhost_run(run, '/', headers, use_x_forwarded_host=False)
    assert body_of(request) == 'index of app1'


def test_virtual_host_staticdir_section_is_relative_to_the_host(run, no_global_config):
    config = {'/app1/static': {'tools.staticdir.dir': '/srv'}}
    request = vhost_run(run, '/static/a.css', {'Host': 'company.com:8080'}, config=config)
    assert request.config['tools.staticdir.section'] == '/static'


def test_virtual_host_wraps_another_dispatcher(run):
    class Root:
        app1 = Strings()
    dispatcher = dispatch.VirtualHost(dispatch.MethodDispatcher(), **HOSTS)
    request = run(Root(), '/', dispatcher, method='GET', headers={'Host': 'company.com:8080'})
    assert body_of(request) == 'initial'


# --------------------------------------------------------------------------
# XMLRPCDispatcher

class Math:
    @pyframe.expose
    def add(self, a, b):
        return a + b


class RPCRoot:
    def __init__(self):
        self.api = RPCApi()
        self.math = Math()

    @pyframe.expose
    def ping(self, *args):
        return ('pong',) + args


class RPCApi:
    def __init__(self):
        self.math = Math()


def rpc_run(run, path, method_name, params, **kwargs):
    data = xmlrpc.client.dumps(params, method_name).encode()
    return run(RPCRoot(), path, dispatch.XMLRPCDispatcher(), method='POST',
               body_data=data, **kwargs)


def test_xmlrpc_dotted_name_becomes_a_path(run):
    request = rpc_run(run, '/', 'math.add', (2, 3))
    assert body_of(request) == 5
    assert request.handler.args == (2, 3)


def test_xmlrpc_name_is_below_the_posted_path(run):
    assert body_of(rpc_run(run, '/api', 'math.add', (1, 1))) == 2
    assert body_of(rpc_run(run, '/api/', 'math.add', (1, 2))) == 3


def test_xmlrpc_rpc2_endpoint_means_the_root(run):
    assert body_of(rpc_run(run, '/RPC2', 'ping', ())) == ('pong',)


def test_xmlrpc_params_follow_path_args(run):
    request = rpc_run(run, '/ping', 'x', ('y',))
    # '/ping/x' finds ping with 'x' from the path, then the call's params.
    assert body_of(request) == ('pong', 'x', 'y')


def test_xmlrpc_unknown_method_is_not_found(run):
    assert isinstance(rpc_run(run, '/', 'math.nope', ()).handler, NotFound)


def test_xmlrpc_bad_body_is_400_but_config_is_set(run, no_global_config):
    request = run(RPCRoot(), '/api', dispatch.XMLRPCDispatcher(), method='POST',
                  body_data=b'not xml', config={'/api': {'tools.xmlrpc.on': True}})
    assert status_of(request) == 400
    assert request.config == {'tools.xmlrpc.on': True}


def test_xmlrpc_body_from_wsgi_input(run):
    data = xmlrpc.client.dumps((4, 5), 'math.add').encode()
    environ = {'wsgi.input': io.BytesIO(data), 'CONTENT_LENGTH': str(len(data))}
    request = run(RPCRoot(), '/', dispatch.XMLRPCDispatcher(), method='POST',
                  environ=environ)
    assert body_of(request) == 9


# --------------------------------------------------------------------------
# RoutesDispatcher

class City:
    def __init__(self, name):
        self.name = name
        self.population = 10000

    @handler_config(**{'tools.response_headers.on': True})
    def index(self, **kwargs):
        return f'Welcome to {self.name}, pop. {self.population}'

    def update(self, **kwargs):
        self.population = kwargs['pop']
        return 'OK'


class CityPage:
    _cp_config = {'controller': 1}

    def index(self, name):
        return 'city ' + name


def routes_dispatcher(**options):
    pytest.importorskip('routes', reason='Routes is not installed (pip install pyframe[routes])')
    dispatcher = dispatch.RoutesDispatcher(**options)
    dispatcher.connect('hounslow', '/hounslow', City('Hounslow'), action='index')
    surbiton = City('Surbiton')
    dispatcher.connect('surbiton', '/surbiton', surbiton, action='index',
                       conditions={'method': ['GET']})
    dispatcher.mapper.connect('/surbiton', controller='surbiton', action='update',
                              conditions={'method': ['POST']})
    dispatcher.connect('city', '/cities/{name}', CityPage, action='index')
    dispatcher.connect('plain', '/plain', City('Plain'))
    dispatcher.connect('call', '/call/{x}', lambda x: 'called ' + x, action=None)
    return dispatcher


def routes_run(run, path, dispatcher, method='GET', **kwargs):
    environ = {'REQUEST_METHOD': method, 'PATH_INFO': path, 'SCRIPT_NAME': '',
               'SERVER_NAME': 'localhost', 'SERVER_PORT': '80', 'wsgi.url_scheme': 'http'}
    return run(None, path, dispatcher, method=method, environ=environ, **kwargs)


def test_routes_dispatch_to_a_controller_action(run, no_global_config):
    request = routes_run(run, '/hounslow', routes_dispatcher())
    assert body_of(request) == 'Welcome to Hounslow, pop. 10000'
    assert request.config == {'tools.response_headers.on': True}


def test_routes_unmatched_path_is_not_found(run):
    assert isinstance(routes_run(run, '/foo', routes_dispatcher()).handler, NotFound)


def test_routes_conditions_select_by_method(run):
    dispatcher = routes_dispatcher()
    assert body_of(routes_run(run, '/surbiton', dispatcher)) == 'Welcome to Surbiton, pop. 10000'
    request = routes_run(run, '/surbiton', dispatcher, 'POST', params={'pop': '1327'})
    assert body_of(request) == 'OK'
    assert body_of(routes_run(run, '/surbiton', dispatcher)) == 'Welcome to Surbiton, pop. 1327'


def test_routes_variables_go_to_params(run):
    request = routes_run(run, '/cities/paris', routes_dispatcher())
    assert request.params == {'name': 'paris'}
    assert body_of(request) == 'city paris'
    assert isinstance(request.handler, dispatch.LateParamPageHandler)


def test_routes_full_result_keeps_controller_and_action(run):
    request = routes_run(run, '/cities/paris', routes_dispatcher(full_result=True))
    assert request.params == {'name': 'paris', 'controller': 'city', 'action': 'index'}


def test_routes_class_controller_is_instantiated_per_request(run):
    made = []

    class Greeter:
        def __init__(self):
            made.append(self)

        def index(self, who):
            return 'hi ' + who
    dispatcher = routes_dispatcher()
    dispatcher.connect('greet', '/greet/{who}', Greeter, action='index')
    assert body_of(routes_run(run, '/greet/ann', dispatcher)) == 'hi ann'
    routes_run(run, '/greet/bob', dispatcher)
    assert len(made) == 2


def test_routes_action_defaults_to_index(run):
    assert body_of(routes_run(run, '/plain', routes_dispatcher())) == 'Welcome to Plain, pop. 10000'


def test_routes_callable_controller_without_action(run):
    assert body_of(routes_run(run, '/call/7', routes_dispatcher())) == 'called 7'


def test_routes_app_config_sections(run, no_global_config):
    config = {'/': {'root': 1}, '/cities': {'cities': 1},
              '/cities/paris': {'paris': 1, 'tools.staticdir.dir': '/srv'}}
    request = routes_run(run, '/cities/paris', routes_dispatcher(), config=config)
    assert request.config == {'root': 1, 'cities': 1, 'paris': 1, 'controller': 1,
                              'tools.staticdir.dir': '/srv',
                              'tools.staticdir.section': '/cities/paris'}


def test_routes_redirect(run):
    dispatcher = routes_dispatcher()
    routes_run(run, '/', dispatcher)
    with pytest.raises(HTTPRedirect):
        dispatcher.redirect('/elsewhere')


def test_routes_missing_package_message(monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_routes(name, *args, **kwargs):
        if name == 'routes':
            raise ImportError('No module named routes')
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, '__import__', no_routes)
    with pytest.raises(ImportError, match=r'pip install pyframe\[routes\]'):
        dispatch.RoutesDispatcher()


def test_routes_mismatched_params_still_checked(run):
    request = routes_run(run, '/surbiton', routes_dispatcher(), 'POST')
    with pytest.raises(KeyError):
        # update(**kwargs) accepts anything; the KeyError is the handler's own.
        request.handler()
    assert not isinstance(request.handler, HTTPError)
