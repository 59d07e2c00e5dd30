"""The general request tools of pyframe.lib.cptools, run through a toolbox.

The tools are registered in a private toolbox exactly as pyframe.tools
registers them (same hook points and priorities), so these tests also
check that registration.
"""

from __future__ import annotations

import functools
import hashlib

import pytest

import pyframe
from pyframe.lib import cptools
from pyframe.lib.httputil import CaseInsensitiveDict
from pyframe.tools import Tool, Toolbox
from pyframe.tree import Application
from support import wsgi_get as _wsgi_get


def wsgi_get(app, path='/', query='', method='GET', **kwargs):
    """support.wsgi_get with case-insensitive response headers, and a small
    body on POST/PUT (they need one, or get 411)."""
    if method in ('POST', 'PUT') and 'body' not in kwargs:
        kwargs['body'] = b'x'
        kwargs['headers'] = {'Content-Type': 'text/plain', **kwargs.get('headers', {})}
    status, headers, body = _wsgi_get(app, path, query, method, **kwargs)
    return status, CaseInsensitiveDict(headers), body

# The tools are the ones pyframe.tools registers; validate_since is no
# tool of its own (static files and caching call it), so a box of the
# test's own lets the tests drive it (and hold test-only tools).
since_box = Toolbox('t_cp')
since_box.since = Tool('before_finalize', cptools.validate_since, priority=75)

LAST_MODIFIED = 'Tue, 15 Nov 1994 12:45:26 GMT'


class Root:
    @pyframe.expose
    def index(self):
        return 'hello'

    @pyframe.expose
    def tagged(self):
        pyframe.response.headers['ETag'] = '"v1"'
        return 'tagged'

    @pyframe.expose
    def weak(self):
        pyframe.response.headers['ETag'] = 'W/"v1"'
        return 'weak'

    @pyframe.expose
    def dated(self):
        pyframe.response.headers['Last-Modified'] = LAST_MODIFIED
        return 'dated'

    @pyframe.expose
    def missing(self):
        raise pyframe.HTTPError(404)

    @pyframe.expose
    def echo(self, **params):
        request = pyframe.request
        return f'{request.base} {request.remote.ip} {request.remote.port}'

    @pyframe.expose
    def headers(self):
        return repr(sorted(pyframe.request.headers))

    @pyframe.expose
    def reads(self):
        # Three ways of looking at request headers, all of which count.
        pyframe.request.headers.get('accept-language')
        'X-Custom' in pyframe.request.headers
        pyframe.request.headers['Host']
        return 'read'

    @pyframe.expose
    def nested(self):
        def inner(n):
            yield f'<{n}>'
            yield (b'[' + str(i).encode() + b']' for i in range(n))
        return (inner(n) for n in (1, 2))

    @pyframe.expose
    def typed(self, limit: int, ratio: float = 1.0, name: str = 'x'):
        return f'{limit!r} {ratio!r} {name!r}'

    @pyframe.expose
    def many(self, ids: int = 0):
        return repr(ids)

    @pyframe.expose
    def generic(self, tags: list[str] = ()):
        return repr(tags)

    @pyframe.expose
    def target(self):
        prev = pyframe.request.prev
        return f'target (from {prev.path_info})' if prev else 'target'

    @pyframe.expose
    def choose(self):
        return cptools.accept(['text/html', 'application/json'])


def decorated(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


class Wrapped:
    @pyframe.expose
    @decorated
    def index(self, count: int):
        return repr(count)


def app_with(config: dict, root=None) -> Application:
    return Application(root or Root(), '', {'/': config})


# -- etags -----------------------------------------------------------------

def md5_tag(body: bytes) -> str:
    return '"%s"' % hashlib.md5(body).hexdigest()


def test_etags_autotags_sets_the_md5_of_the_body():
    app = app_with({'tools.etags.on': True, 'tools.etags.autotags': True})
    status, headers, body = wsgi_get(app, '/')
    assert status.startswith('200')
    assert headers['ETag'] == md5_tag(b'hello')
    # Without autotags no ETag appears.
    assert 'ETag' not in wsgi_get(app_with({'tools.etags.on': True}), '/')[1]


def test_etags_autotags_keeps_an_etag_the_handler_set_and_skips_errors():
    app = app_with({'tools.etags.on': True, 'tools.etags.autotags': True})
    assert wsgi_get(app, '/tagged')[1]['ETag'] == '"v1"'
    status, headers, _ = wsgi_get(app, '/missing')
    assert status.startswith('404') and 'ETag' not in headers
    # Only GET and HEAD answers are tagged.
    assert 'ETag' not in wsgi_get(app, '/', method='POST')[1]


def test_if_none_match_gives_304_for_get_and_412_otherwise():
    app = app_with({'tools.etags.on': True, 'tools.etags.autotags': True})
    tag = md5_tag(b'hello')
    status, headers, body = wsgi_get(app, '/', headers={'If-None-Match': f'"other", {tag}'})
    assert status.startswith('304')
    assert body == b'' and headers['ETag'] == tag
    assert wsgi_get(app, '/', method='HEAD', headers={'If-None-Match': tag})[0].startswith('304')
    assert wsgi_get(app, '/', headers={'If-None-Match': '"other"'})[0].startswith('200')
    assert wsgi_get(app, '/', headers={'If-None-Match': '*'})[0].startswith('304')
    tagged = app_with({'tools.etags.on': True})
    assert wsgi_get(tagged, '/tagged', method='POST',
                    headers={'If-None-Match': '"v1"'})[0].startswith('412')


def test_if_none_match_compares_weakly_and_if_match_strongly():
    app = app_with({'tools.etags.on': True})
    assert wsgi_get(app, '/weak', headers={'If-None-Match': '"v1"'})[0].startswith('304')
    assert wsgi_get(app, '/tagged', headers={'If-None-Match': 'W/"v1"'})[0].startswith('304')
    assert wsgi_get(app, '/weak', headers={'If-Match': 'W/"v1"'})[0].startswith('412')
    assert wsgi_get(app, '/tagged', headers={'If-Match': 'W/"v1"'})[0].startswith('412')


def test_if_match_gives_412_unless_a_tag_or_star_matches():
    app = app_with({'tools.etags.on': True})
    assert wsgi_get(app, '/tagged', headers={'If-Match': '"v1"'})[0].startswith('200')
    assert wsgi_get(app, '/tagged', headers={'If-Match': '"v0", "v1"'})[0].startswith('200')
    assert wsgi_get(app, '/tagged', headers={'If-Match': '"v2"'})[0].startswith('412')
    assert wsgi_get(app, '/tagged', headers={'If-Match': '*'})[0].startswith('200')
    # No current ETag: a named tag cannot match.
    assert wsgi_get(app, '/', headers={'If-Match': '"v1"'})[0].startswith('412')
    # Error responses are never turned into 412 or 304.
    assert wsgi_get(app, '/missing', headers={'If-Match': '"v2"'})[0].startswith('404')


# -- since -----------------------------------------------------------------

def test_if_modified_since_gives_304_when_not_modified():
    app = app_with({'t_cp.since.on': True})
    assert wsgi_get(app, '/dated', headers={'If-Modified-Since': LAST_MODIFIED})[0].startswith('304')
    later = 'Wed, 16 Nov 1994 00:00:00 GMT'
    assert wsgi_get(app, '/dated', headers={'If-Modified-Since': later})[0].startswith('304')
    earlier = 'Mon, 14 Nov 1994 00:00:00 GMT'
    status, _, body = wsgi_get(app, '/dated', headers={'If-Modified-Since': earlier})
    assert status.startswith('200') and body == b'dated'
    # Only GET and HEAD; an unreadable date is ignored.
    assert wsgi_get(app, '/dated', method='POST',
                    headers={'If-Modified-Since': later})[0].startswith('200')
    assert wsgi_get(app, '/dated', headers={'If-Modified-Since': 'yesterday'})[0].startswith('200')
    # An If-None-Match header takes precedence (RFC 9110 13.2.2).
    assert wsgi_get(app, '/dated', headers={'If-Modified-Since': later,
                                            'If-None-Match': '"x"'})[0].startswith('200')


def test_if_unmodified_since_gives_412_when_modified():
    app = app_with({'t_cp.since.on': True})
    earlier = 'Mon, 14 Nov 1994 00:00:00 GMT'
    assert wsgi_get(app, '/dated', headers={'If-Unmodified-Since': earlier})[0].startswith('412')
    assert wsgi_get(app, '/dated', method='POST',
                    headers={'If-Unmodified-Since': earlier})[0].startswith('412')
    assert wsgi_get(app, '/dated',
                    headers={'If-Unmodified-Since': LAST_MODIFIED})[0].startswith('200')
    # An If-Match header takes precedence (RFC 9110 13.2.2).
    assert wsgi_get(app, '/dated', headers={'If-Unmodified-Since': earlier,
                                            'If-Match': '*'})[0].startswith('200')
    # Without Last-Modified nothing is checked.
    assert wsgi_get(app, '/', headers={'If-Unmodified-Since': earlier})[0].startswith('200')


# -- allow -------------------------------------------------------------------

def test_allow_defaults_to_get_and_head_and_always_sets_allow():
    app = app_with({'tools.allow.on': True})
    status, headers, _ = wsgi_get(app, '/')
    assert status.startswith('200') and headers['Allow'] == 'GET, HEAD'
    status, headers, _ = wsgi_get(app, '/', method='POST')
    assert status.startswith('405') and headers['Allow'] == 'GET, HEAD'


def test_allow_methods_are_case_insensitive_and_may_be_one_string():
    app = app_with({'tools.allow.on': True, 'tools.allow.methods': ['post', 'Put']})
    assert wsgi_get(app, '/', method='POST')[0].startswith('200')
    status, headers, _ = wsgi_get(app, '/', method='GET')
    assert status.startswith('405') and headers['Allow'] == 'POST, PUT'
    single = app_with({'tools.allow.on': True, 'tools.allow.methods': 'DELETE'})
    assert wsgi_get(single, '/', method='DELETE')[0].startswith('200')
    assert wsgi_get(single, '/', method='POST')[0].startswith('405')


def test_allow_get_allows_head_too():
    app = app_with({'tools.allow.on': True, 'tools.allow.methods': ['GET']})
    status, headers, _ = wsgi_get(app, '/', method='HEAD')
    assert status.startswith('200') and headers['Allow'] == 'GET, HEAD'


# -- proxy -------------------------------------------------------------------

def test_proxy_without_forwarding_headers_changes_nothing():
    app = app_with({'tools.proxy.on': True})
    assert wsgi_get(app, '/echo')[2] == b'http://127.0.0.1 127.0.0.1 5555'


def test_proxy_takes_host_scheme_and_client_from_the_headers():
    app = app_with({'tools.proxy.on': True})
    body = wsgi_get(app, '/echo', headers={
        'X-Forwarded-Host': 'www.example.com, inner.example.com',
        'X-Forwarded-Proto': 'https',
        'X-Forwarded-For': '203.0.113.7, 10.0.0.1',
    })[2]
    assert body == b'https://www.example.com 203.0.113.7 5555'


def test_proxy_base_option_and_custom_header_names():
    app = app_with({'tools.proxy.on': True, 'tools.proxy.base': 'www.example.org'})
    assert wsgi_get(app, '/echo')[2].startswith(b'http://www.example.org ')
    full = app_with({'tools.proxy.on': True, 'tools.proxy.local': '',
                     'tools.proxy.base': 'https://example.org/shop/'})
    assert wsgi_get(full, '/echo', headers={'X-Forwarded-Host': 'evil.example'}
                    )[2].startswith(b'https://example.org/shop ')
    custom = app_with({'tools.proxy.on': True, 'tools.proxy.remote': 'X-Real-IP',
                       'tools.proxy.local': 'Origin'})
    body = wsgi_get(custom, '/echo', headers={'X-Real-IP': '2001:db8::1',
                                              'Origin': 'front.example'})[2]
    assert body == b'http://front.example 2001:db8::1 5555'


def test_proxy_ignores_an_invalid_client_address_or_an_empty_remote():
    app = app_with({'tools.proxy.on': True})
    assert wsgi_get(app, '/echo', headers={'X-Forwarded-For': 'not an ip, 1.2.3.4'}
                    )[2].endswith(b' 127.0.0.1 5555')
    off = app_with({'tools.proxy.on': True, 'tools.proxy.remote': ''})
    assert wsgi_get(off, '/echo', headers={'X-Forwarded-For': '1.2.3.4'}
                    )[2].endswith(b' 127.0.0.1 5555')


def test_proxy_replaces_the_remote_host_instead_of_changing_it():
    # request.remote may be shared (the class default): proxy must not
    # write into it. A hook ahead of proxy keeps the original object.
    seen = []
    since_box.keep_remote = Tool('on_start_resource',
                                 lambda: seen.append(pyframe.request.remote))
    app = app_with({'tools.proxy.on': True, 't_cp.keep_remote.on': True})
    assert wsgi_get(app, '/echo', headers={'X-Forwarded-For': '198.51.100.1'}
                    )[2].endswith(b' 198.51.100.1 5555')
    assert seen[0].ip == '127.0.0.1'


# -- ignore_headers and response_headers ------------------------------------

def test_ignore_headers_removes_range_by_default_and_named_ones():
    app = app_with({'tools.ignore_headers.on': True})
    body = wsgi_get(app, '/headers', headers={'Range': 'bytes=0-1', 'X-Keep': '1'})[2]
    assert "'Range'" not in body.decode() and "'X-Keep'" in body.decode()
    named = app_with({'tools.ignore_headers.on': True,
                      'tools.ignore_headers.headers': ['x-drop', 'X-Other']})
    body = wsgi_get(named, '/headers', headers={'X-Drop': '1', 'Range': 'bytes=0-1'})[2]
    assert "'X-Drop'" not in body.decode() and "'Range'" in body.decode()


def test_response_headers_sets_the_given_pairs():
    app = app_with({'tools.response_headers.on': True,
                    'tools.response_headers.headers': [('X-Frame-Options', 'DENY'),
                                                      ('Cache-Control', 'no-store')]})
    headers = wsgi_get(app, '/')[1]
    assert headers['X-Frame-Options'] == 'DENY' and headers['Cache-Control'] == 'no-store'


# -- referer -----------------------------------------------------------------

def test_referer_accepts_matching_and_refuses_others():
    app = app_with({'tools.referer.on': True, 'tools.referer.pattern': r'https?://good\.example/'})
    assert wsgi_get(app, '/', headers={'Referer': 'http://good.example/page'})[0].startswith('200')
    status, _, body = wsgi_get(app, '/', headers={'Referer': 'http://bad.example/'})
    assert status.startswith('403') and b'Forbidden Referer header.' in body
    assert wsgi_get(app, '/')[0].startswith('403')


def test_referer_deny_mode_missing_and_custom_error():
    deny = app_with({'tools.referer.on': True, 'tools.referer.pattern': r'http://spam\.',
                     'tools.referer.accept': False, 'tools.referer.accept_missing': True,
                     'tools.referer.error': 400, 'tools.referer.message': 'No spam'})
    assert wsgi_get(deny, '/')[0].startswith('200')
    assert wsgi_get(deny, '/', headers={'Referer': 'http://ok.example/'})[0].startswith('200')
    status, _, body = wsgi_get(deny, '/', headers={'Referer': 'http://spam.example/'})
    assert status.startswith('400') and b'No spam' in body


# -- accept ------------------------------------------------------------------

def accept_app(media):
    return app_with({'tools.accept.on': True, 'tools.accept.media': media})


def test_accept_passes_matching_and_wildcard_ranges():
    app = accept_app(['text/html', 'application/json'])
    for value in ('application/json', 'text/*', '*/*', 'image/png, */*;q=0.1'):
        assert wsgi_get(app, '/', headers={'Accept': value})[0].startswith('200'), value
    # No Accept header accepts everything.
    assert wsgi_get(app, '/')[0].startswith('200')


def test_accept_gives_406_listing_what_the_resource_can_send():
    app = accept_app(['text/html', 'application/json'])
    status, _, body = wsgi_get(app, '/', headers={'Accept': 'image/png, image/*'})
    assert status.startswith('406')
    assert b'text/html, application/json' in body


def test_accept_q_zero_excludes_even_under_a_wildcard():
    app = accept_app('text/html')
    assert wsgi_get(app, '/', headers={'Accept': 'text/html;q=0, */*'})[0].startswith('406')
    assert wsgi_get(app, '/', headers={'Accept': 'text/html;q=0'})[0].startswith('406')


def test_accept_returns_the_client_preferred_type():
    app = Application(Root())
    assert wsgi_get(app, '/choose')[2] == b'text/html'
    cases = {
        'application/json': b'application/json',
        'text/html;q=0.5, application/json': b'application/json',
        'text/*, application/json;q=0.9': b'text/html',
        '*/*;q=0.8, text/html;q=0.1': b'application/json',
        '*/*': b'text/html',
    }
    for value, expected in cases.items():
        assert wsgi_get(app, '/choose', headers={'Accept': value})[2] == expected, value


# -- autovary ----------------------------------------------------------------

def test_autovary_names_the_request_headers_read():
    app = app_with({'tools.autovary.on': True})
    headers = wsgi_get(app, '/reads')[1]
    # Accept-Charset is read by the encode tool, which is on by default.
    assert headers['Vary'] == 'Accept-Charset, Accept-Language, Host, X-Custom'
    assert wsgi_get(app, '/')[1]['Vary'] == 'Accept-Charset'
    # Nothing read at all: no Vary.
    quiet = app_with({'tools.autovary.on': True, 'tools.encode.on': False})
    assert 'Vary' not in wsgi_get(quiet, '/')[1]


def test_autovary_ignore_and_headers_read_by_other_tools():
    app = app_with({'tools.autovary.on': True, 'tools.autovary.ignore': ['host'],
                    'tools.accept.on': True, 'tools.accept.media': 'text/html'})
    assert wsgi_get(app, '/reads')[1]['Vary'] == 'Accept, Accept-Charset, Accept-Language, X-Custom'


# -- redirect ----------------------------------------------------------------

def test_redirect_internal_serves_the_target_at_the_same_url():
    app = Application(Root(), '', {'/index': {'tools.redirect.on': True,
                                              'tools.redirect.url': '/target'}})
    status, _, body = wsgi_get(app, '/')
    assert status.startswith('200') and body == b'target (from /)'


def test_redirect_external_sends_the_client_there():
    app = Application(Root(), '', {'/index': {'tools.redirect.on': True,
                                              'tools.redirect.url': '/target',
                                              'tools.redirect.internal': False}})
    status, headers, _ = wsgi_get(app, '/')
    assert status.startswith('303')
    assert headers['Location'] == 'http://127.0.0.1/target'


# -- flatten -----------------------------------------------------------------

def test_flatten_sends_the_leaves_of_nested_generators():
    app = app_with({'tools.flatten.on': True})
    assert wsgi_get(app, '/nested')[2] == b'<1>[0]<2>[0][1]'


def test_without_flatten_nested_generators_do_not_make_a_body():
    status = wsgi_get(Application(Root()), '/nested')[0]
    assert status.startswith('500')


# -- params ------------------------------------------------------------------

def test_params_converts_by_annotation():
    app = app_with({'tools.params.on': True})
    assert wsgi_get(app, '/typed', 'limit=5&ratio=0.5&name=n')[2] == b"5 0.5 'n'"
    assert wsgi_get(app, '/typed', 'limit=7')[2] == b"7 1.0 'x'"
    assert wsgi_get(app, '/many', 'ids=1&ids=2')[2] == b'[1, 2]'
    # An annotation that is no type to call is left alone.
    assert wsgi_get(app, '/generic', 'tags=a')[2] == b"'a'"
    # Off: the handler gets strings.
    assert wsgi_get(Application(Root()), '/typed', 'limit=5')[2] == b"'5' 1.0 'x'"


def test_params_conversion_failure_is_a_400_naming_the_parameter():
    app = app_with({'tools.params.on': True})
    status, _, body = wsgi_get(app, '/typed', 'limit=ten')
    assert status.startswith('400') and b'limit' in body
    custom = app_with({'tools.params.on': True, 'tools.params.error': 422})
    assert wsgi_get(custom, '/typed', 'limit=5&ratio=half')[0].startswith('422')


def test_params_looks_through_decorators():
    app = app_with({'tools.params.on': True}, Wrapped())
    assert wsgi_get(app, '/', 'count=3')[2] == b'3'

