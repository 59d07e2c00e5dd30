"""The json_in and json_out tools (pyframe.lib.jsontools)."""

from __future__ import annotations

import json

import pytest

import pyframe
from pyframe.lib import jsontools
from pyframe.tools import Tool, Toolbox
from pyframe.tree import Application
from live import chunked, live  # noqa: F401  (fixture)
from support import wsgi_get

# Registered exactly as in the default toolbox, under a namespace of our own.
box = Toolbox('t_json')
box.json_in = Tool('before_request_body', jsontools.json_in, priority=30)
box.json_out = Tool('before_handler', jsontools.json_out, priority=30)


def upper_processor(entity):
    """A custom processor: keeps the raw text, upper-cased."""
    pyframe.request.json = entity.fp.read().decode('utf-8').upper()


def sorted_handler(*args, **kwargs):
    """A custom json_out handler: sorted keys, indented."""
    value = pyframe.request._json_inner_handler(*args, **kwargs)
    return json.dumps(value, sort_keys=True, indent=1).encode('utf-8')


class Root:
    @pyframe.expose
    @box.json_in()
    def echo(self, **params):
        return repr((pyframe.request.json, params))

    @pyframe.expose
    @box.json_in(force=False)
    def loose(self, **params):
        return repr((getattr(pyframe.request, 'json', 'unset'), params))

    @pyframe.expose
    @box.json_in(processor=upper_processor)
    def custom_in(self):
        return pyframe.request.json

    @pyframe.expose
    @box.json_in(content_type='application/vnd.x+json')
    def vendor(self):
        return repr(pyframe.request.json)

    @pyframe.expose
    @box.json_out()
    def data(self, kind='dict'):
        return {'dict': {'b': 1, 'a': ['x', None, True]}, 'list': [1, 2.5, 'caf\u00e9'],
                'str': 'plain'}[kind]

    @pyframe.expose
    @box.json_out(handler=sorted_handler)
    def custom_out(self):
        return {'b': 1, 'a': 2}

    @pyframe.expose
    @box.json_out(content_type=None)
    def untyped(self):
        return [1]

    @pyframe.expose
    @box.json_out(content_type='application/vnd.x+json')
    def vendor_out(self):
        return {'ok': True}

    @pyframe.expose
    @box.json_in()
    @box.json_out()
    def both(self):
        data = pyframe.request.json
        return {'sum': sum(data['numbers'])}


@pytest.fixture
def app():
    return Application(Root())


def post(application, path, data, content_type='application/json', headers=None):
    all_headers = {'Content-Type': content_type, 'Content-Length': str(len(data)),
                   **(headers or {})}
    return wsgi_get(application, path, method='POST', body=data, headers=all_headers)


# -- json_in ----------------------------------------------------------------

def test_valid_json_lands_in_request_json(app):
    status, _, body = post(app, '/echo', b'{"a": [1, "caf\\u00e9"], "b": null}')
    assert status == '200 OK'
    assert body == repr(({'a': [1, 'caf\u00e9'], 'b': None}, {})).encode()


def test_charset_parameter_decodes_the_entity(app):
    data = json.dumps({'name': 'caf\u00e9'}, ensure_ascii=False).encode('latin-1')
    status, _, body = post(app, '/echo', data, 'application/json;charset=latin-1')
    assert status == '200 OK'
    assert body == repr(({'name': 'caf\u00e9'}, {})).encode()


def test_text_javascript_accepted_too(app):
    assert post(app, '/echo', b'[1]', 'text/javascript')[2] == repr(([1], {})).encode()


@pytest.mark.parametrize('data', [b'{"a": ', b'', b'nope', b'\xff\xfe'])
def test_invalid_json_is_400(app, data):
    status, _, body = post(app, '/echo', data)
    assert status == '400 Bad Request'


def test_invalid_json_message(app):
    assert b'Invalid JSON document' in post(app, '/echo', b'{]')[2]


@pytest.mark.parametrize('content_type', ['application/x-www-form-urlencoded', 'text/plain',
                                          'application/jsonx'])
def test_other_type_refused_when_forced(app, content_type):
    status, _, body = post(app, '/echo', b'a=1', content_type)
    assert status == '415 Unsupported Media Type'
    assert b'application/json' in body


def test_other_type_processed_normally_without_force(app):
    status, _, body = post(app, '/loose', b'a=1', 'application/x-www-form-urlencoded')
    assert status == '200 OK'
    assert body == repr(('unset', {'a': '1'})).encode()
    assert post(app, '/loose', b'{"k": 2}')[2] == repr(({'k': 2}, {})).encode()


def test_get_without_body_not_refused(app):
    status, _, body = wsgi_get(app, '/loose')
    assert status == '200 OK'


def test_missing_length_is_411(app):
    status = wsgi_get(app, '/echo', method='POST',
                      headers={'Content-Type': 'application/json'})[0]
    assert status == '411 Length Required'


def test_custom_processor(app):
    status, _, body = post(app, '/custom_in', b'{"a": 1}')
    assert body == b'{"A": 1}'


def test_custom_content_type(app):
    assert post(app, '/vendor', b'[2]', 'application/vnd.x+json')[2] == b'[2]'
    assert post(app, '/vendor', b'[2]')[0] == '415 Unsupported Media Type'


def test_chunked_json_over_http(live):  # noqa: F811
    site = live(Root())
    with site.raw() as conn:
        conn.request('POST', '/echo', {'Content-Type': 'application/json',
                                       'Transfer-Encoding': 'chunked'},
                     chunked(b'{"a":', b' [1, 2]}'))
        response = conn.read_response()
    assert response.status == 200
    assert response.body == repr(({'a': [1, 2]}, {})).encode()


def test_missing_length_over_http_is_411(live):  # noqa: F811
    site = live(Root())
    with site.raw() as conn:
        conn.request('POST', '/echo', {'Content-Type': 'application/json'})
        response = conn.read_response()
    assert response.status == 411


# -- json_out ---------------------------------------------------------------

@pytest.mark.parametrize('kind, expected', [
    ('dict', {'b': 1, 'a': ['x', None, True]}),
    ('list', [1, 2.5, 'caf\u00e9']),
    ('str', 'plain'),
])
def test_results_serialized(app, kind, expected):
    status, headers, body = wsgi_get(app, '/data', query=f'kind={kind}')
    assert status == '200 OK'
    assert headers['Content-Type'] == 'application/json'
    assert json.loads(body) == expected


def test_custom_handler(app):
    body = wsgi_get(app, '/custom_out')[2]
    assert body == b'{\n "a": 2,\n "b": 1\n}'


def test_none_content_type_leaves_header_alone(app):
    status, headers, body = wsgi_get(app, '/untyped')
    assert headers['Content-Type'].startswith('text/html')
    assert body == b'[1]'


def test_custom_content_type_out(app):
    headers, body = wsgi_get(app, '/vendor_out')[1:]
    assert headers['Content-Type'] == 'application/vnd.x+json'
    assert json.loads(body) == {'ok': True}


def test_json_in_and_out_together_over_http(live):  # noqa: F811
    site = live(Root())
    response = site.post('/both', json={'numbers': [1, 2, 3]})
    assert response.status_code == 200
    assert response.headers['Content-Type'] == 'application/json'
    assert response.json() == {'sum': 6}


def test_json_out_with_default_encode_tool_on(app):
    # tools.encode is on by default; JSON is not text/*, so it is untouched.
    headers, body = wsgi_get(app, '/data', query='kind=list',
                             headers={'Accept-Charset': 'iso-8859-1'})[1:]
    assert headers['Content-Type'] == 'application/json'
    assert json.loads(body) == [1, 2.5, 'caf\u00e9']
