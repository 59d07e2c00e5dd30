"""XML-RPC: lib.xmlrpcutil, the xmlrpc tool and XMLRPCController, over real
HTTP with the standard library's client (``xmlrpc.client.ServerProxy``).

The tool lives in a toolbox of the tests' own (``rpctest``), so these tests
do not depend on (or change) what ``pyframe.tools`` holds; the controller
subclass switches it on instead of ``tools.xmlrpc``. One test checks the
base class as it is, with the tool put into the default toolbox for its
duration only.
"""

from __future__ import annotations

import xmlrpc.client

import pytest

import pyframe
from live import live  # noqa: F401  (fixture)
from pyframe.dispatch import XMLRPCDispatcher
from pyframe.lib import xmlrpcutil
from pyframe.lib.xmlrpcutil import XMLRPCController, XMLRPCTool
from pyframe.tools import Toolbox

rpctest = Toolbox('rpctest')
rpctest.xmlrpc = XMLRPCTool()


def _private_config(**extra) -> dict:
    """XMLRPCController's _cp_config, the tool taken from ``rpctest``."""
    conf = {key: value for key, value in XMLRPCController._cp_config.items()
            if not key.startswith('tools.')}
    conf['rpctest.xmlrpc.on'] = True
    conf.update(extra)
    return conf


class Maths:
    """A plain object below the controller: gives dotted names."""

    @pyframe.expose
    def add(self, a, b):
        return a + b

    def hidden(self):
        return 'must not be reachable'


class Api(XMLRPCController):
    _cp_config = _private_config()

    def __init__(self):
        self.maths = Maths()

    @pyframe.expose
    def echo(self, value):
        return value

    @pyframe.expose
    def concat(self, *parts):
        return ''.join(parts)

    @pyframe.expose
    def keys(self, mapping):
        return sorted(mapping)

    @pyframe.expose
    def stats(self, numbers):
        return {'count': len(numbers), 'total': sum(numbers), 'max': max(numbers)}

    @pyframe.expose
    def nothing(self):
        return None

    @pyframe.expose
    def fail(self):
        raise ValueError('deliberate failure 42')

    @pyframe.expose
    def forbidden(self):
        raise pyframe.HTTPError(403, 'no entry')

    @pyframe.expose
    def unicode(self, text):
        return text + ' \u00e9\u2603'

    @pyframe.expose
    def fault(self):
        return xmlrpc.client.Fault(7, 'a fault of its own')

    def internal(self):
        return 'not exposed'


class AllowNoneApi(Api):
    _cp_config = _private_config(**{'rpctest.xmlrpc.allow_none': True})


DISPATCHED = {'/': {'request.dispatch': XMLRPCDispatcher()}}


@pytest.fixture(params=['xmlrpc-dispatcher', 'default-dispatcher'])
def site(request, live):  # noqa: F811
    """The API at /xmlrpc, found by XMLRPCDispatcher or by its ``default``."""
    config = DISPATCHED if request.param == 'xmlrpc-dispatcher' else None
    return live(Api(), '/xmlrpc', config)


def proxy(site, path='/xmlrpc', **kwargs) -> xmlrpc.client.ServerProxy:
    return xmlrpc.client.ServerProxy(site.url(path), **kwargs)


def call(site, method: str, *params):
    """Call ``method`` by name, even one ServerProxy keeps for itself
    (``__init__``); a Fault answer raises it."""
    body = xmlrpc.client.dumps(params, method).encode()
    resp = site.post('/xmlrpc', data=body, headers={'Content-Type': 'text/xml'})
    assert resp.status_code == 200, resp.text
    return xmlrpc.client.loads(resp.content)[0][0]


# --------------------------------------------------------------------------
# Calls

def test_ints_and_strings_round_trip(site):
    server = proxy(site)
    assert server.maths.add(2, 40) == 42
    assert server.echo('hello') == 'hello'
    assert server.concat('a', 'b', 'c') == 'abc'


def test_lists_and_dicts_round_trip(site):
    server = proxy(site)
    assert server.echo([1, 'two', [3.5, True]]) == [1, 'two', [3.5, True]]
    assert server.keys({'b': 1, 'a': 2}) == ['a', 'b']
    assert server.stats([3, 1, 4]) == {'count': 3, 'total': 8, 'max': 4}


def test_nested_dotted_method(site):
    assert proxy(site).maths.add('py', 'frame') == 'pyframe'


def test_non_ascii_text(site):
    assert proxy(site).unicode('caf\u00e9') == 'caf\u00e9 \u00e9\u2603'


def test_response_is_xml_with_length(site):
    body = xmlrpc.client.dumps((5, 6), 'maths.add').encode()
    resp = site.post('/xmlrpc', data=body, headers={'Content-Type': 'text/xml'})
    assert resp.status_code == 200
    assert resp.headers['Content-Type'].startswith('text/xml')
    assert int(resp.headers['Content-Length']) == len(resp.content)
    assert xmlrpc.client.loads(resp.content) == ((11,), None)


def test_rpc2_endpoint_is_stripped(live):  # noqa: F811
    site = live(Api(), '/xmlrpc', DISPATCHED)
    assert proxy(site, '/xmlrpc/RPC2').maths.add(1, 2) == 3


def test_url_segments_come_before_call_params_without_dispatcher(live):  # noqa: F811
    site = live(Api(), '/xmlrpc')
    assert proxy(site, '/xmlrpc/a').concat('b', 'c') == 'abc'


def test_returned_fault_is_sent_as_such(site):
    with pytest.raises(xmlrpc.client.Fault) as info:
        proxy(site).fault()
    assert info.value.faultCode == 7
    assert info.value.faultString == 'a fault of its own'


# --------------------------------------------------------------------------
# Failures are Faults

def test_raising_method_gives_fault_with_message(site):
    with pytest.raises(xmlrpc.client.Fault) as info:
        proxy(site).fail()
    assert info.value.faultCode == 1
    assert 'deliberate failure 42' in info.value.faultString


def test_server_keeps_serving_after_a_fault(site):
    server = proxy(site)
    with pytest.raises(xmlrpc.client.Fault):
        server.fail()
    assert server.echo(1) == 1


@pytest.mark.parametrize('name', ['nosuchmethod', 'maths.nosuch', 'internal',
                                  'maths.hidden', '__init__', '_cp_config'])
def test_unknown_or_unexposed_method_gives_fault(site, name):
    with pytest.raises(xmlrpc.client.Fault) as info:
        call(site, name)
    assert info.value.faultCode == 1
    assert 'not supported' in info.value.faultString


def test_unknown_method_fault_names_it_without_dispatcher(live):  # noqa: F811
    site = live(Api(), '/xmlrpc')
    with pytest.raises(xmlrpc.client.Fault) as info:
        proxy(site).nosuchmethod()
    assert 'nosuchmethod' in info.value.faultString


def test_wrong_argument_count_gives_fault(site):
    with pytest.raises(xmlrpc.client.Fault) as info:
        proxy(site).maths.add(1)
    assert info.value.faultCode == 1


def test_fault_response_is_http_200_xml(site):
    body = xmlrpc.client.dumps((), 'fail').encode()
    resp = site.post('/xmlrpc', data=body, headers={'Content-Type': 'text/xml'})
    assert resp.status_code == 200
    assert resp.headers['Content-Type'].startswith('text/xml')
    assert int(resp.headers['Content-Length']) == len(resp.content)
    with pytest.raises(xmlrpc.client.Fault):
        xmlrpc.client.loads(resp.content)


def test_deliberate_http_error_keeps_its_status(site):
    with pytest.raises(xmlrpc.client.ProtocolError) as info:
        proxy(site).forbidden()
    assert info.value.errcode == 403


# --------------------------------------------------------------------------
# None

def test_none_is_a_fault_unless_allowed(site):
    with pytest.raises(xmlrpc.client.Fault) as info:
        proxy(site).nothing()
    assert 'None' in info.value.faultString


@pytest.mark.parametrize('config', [DISPATCHED, None])
def test_allow_none_sends_nil(live, config):  # noqa: F811
    site = live(AllowNoneApi(), '/xmlrpc', config)
    assert proxy(site, allow_none=True).nothing() is None
    assert proxy(site, allow_none=True).echo(None) is None


class Latin1Api(Api):
    _cp_config = _private_config(**{'rpctest.xmlrpc.encoding': 'iso-8859-1'})


def test_encoding_config_sets_the_response_charset(live):  # noqa: F811
    site = live(Latin1Api(), '/xmlrpc', DISPATCHED)
    body = xmlrpc.client.dumps(('caf\u00e9',), 'echo').encode()
    resp = site.post('/xmlrpc', data=body, headers={'Content-Type': 'text/xml'})
    assert b"encoding='iso-8859-1'" in resp.content
    assert 'caf\u00e9'.encode('iso-8859-1') in resp.content
    assert xmlrpc.client.loads(resp.content)[0] == ('caf\u00e9',)


# --------------------------------------------------------------------------
# Not a call

def test_get_is_refused_with_405(site):
    resp = site.get('/xmlrpc')
    assert resp.status_code == 405
    assert resp.headers['Allow'] == 'POST'
    assert 'POST' in resp.text


def test_garbage_body_with_dispatcher_is_400(live):  # noqa: F811
    site = live(Api(), '/xmlrpc', DISPATCHED)
    resp = site.post('/xmlrpc', data=b'<not xml-rpc', headers={'Content-Type': 'text/xml'})
    assert resp.status_code == 400


# --------------------------------------------------------------------------
# The pieces on their own

def test_patched_path():
    assert xmlrpcutil.patched_path('/RPC2') == '/'
    assert xmlrpcutil.patched_path('/RPC2/api') == '/api/'
    assert xmlrpcutil.patched_path('/api') == '/api/'
    assert xmlrpcutil.patched_path('/RPC2x') == '/RPC2x/'


def test_controller_config_names_tool_dispatcher_and_body_methods():
    conf = XMLRPCController._cp_config
    assert conf['tools.xmlrpc.on'] is True
    assert conf['request.methods_with_bodies'] == ('POST',)
    assert callable(conf['request.dispatch'])
    assert getattr(XMLRPCController.default, 'exposed', False)


def test_base_controller_uses_default_toolbox(live, monkeypatch):  # noqa: F811
    """As a user writes it: ``tools.xmlrpc`` from the default toolbox."""
    if not isinstance(getattr(pyframe.tools, 'xmlrpc', None), XMLRPCTool):
        monkeypatch.setattr(pyframe.tools, 'xmlrpc', XMLRPCTool(), raising=False)

    class Plain(XMLRPCController):
        @pyframe.expose
        def add(self, a, b):
            return a + b

        @pyframe.expose
        def fail(self):
            raise KeyError('plain failure')

    site = live(Plain(), '/xmlrpc', DISPATCHED)
    server = proxy(site)
    assert server.add(1, 2) == 3
    with pytest.raises(xmlrpc.client.Fault) as info:
        server.fail()
    assert 'plain failure' in info.value.faultString
