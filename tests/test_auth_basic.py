"""HTTP Basic authentication: pyframe.lib.auth_basic over real HTTP."""

from __future__ import annotations

import base64

import pytest
from requests.auth import HTTPBasicAuth

import pyframe
from live import live  # noqa: F401  (fixture)
from pyframe.lib import auth_basic
from pyframe.tools import Tool, Toolbox
from support import wsgi_get

USERS = {'ann': 's3cret', 'jürgen': 'pässwörd', 'zoë': 'ünïcode€'}

# A toolbox of our own, registered the way pyframe.tools should register it.
box = Toolbox('authbasictools')
box.auth_basic = Tool('before_handler', auth_basic.basic_auth, priority=1)


class Root:
    @pyframe.expose
    def index(self):
        return f'hello {pyframe.request.login}'

    @pyframe.expose
    def public(self):
        return f'public {pyframe.request.login}'


def config(realm='earth', **extra):
    section = {
        'authbasictools.auth_basic.on': True,
        'authbasictools.auth_basic.realm': realm,
        'authbasictools.auth_basic.checkpassword': auth_basic.checkpassword_dict(USERS),
    }
    section.update({f'authbasictools.auth_basic.{k}': v for k, v in extra.items()})
    return {'/': section, '/public': {'authbasictools.auth_basic.on': False}}


@pytest.fixture
def site(live):  # noqa: F811
    return live(Root(), config=config())


def basic(user: bytes | str, password: bytes | str = b'') -> str:
    raw = (user if isinstance(user, bytes) else user.encode()) + b':' + (
        password if isinstance(password, bytes) else password.encode())
    return 'Basic ' + base64.b64encode(raw).decode('ascii')


# -- real clients ---------------------------------------------------------------

def test_no_credentials_gets_a_challenge(site):
    response = site.get('/')
    assert response.status_code == 401
    assert response.headers['WWW-Authenticate'] == 'Basic realm="earth", charset="UTF-8"'
    assert site.get('/public').text == 'public None'


def test_requests_basic_auth_succeeds_and_sets_login(site):
    response = site.get('/', auth=HTTPBasicAuth('ann', 's3cret'))
    assert response.status_code == 200
    assert response.text == 'hello ann'


def test_wrong_password_and_unknown_user_get_401(site):
    for auth in (HTTPBasicAuth('ann', 'wrong'), HTTPBasicAuth('bob', 's3cret'),
                 HTTPBasicAuth('ann', ''), HTTPBasicAuth('', '')):
        response = site.get('/', auth=auth)
        assert response.status_code == 401
        assert response.headers['WWW-Authenticate'].startswith('Basic realm="earth"')


def test_utf8_credentials(site):
    # requests sends bytes as they are: UTF-8 here, as RFC 7617 recommends.
    auth = HTTPBasicAuth('zoë'.encode(), 'ünïcode€'.encode())
    response = site.get('/', auth=auth)
    assert response.status_code == 200
    assert response.text == 'hello zoë'


def test_latin1_credentials_fall_back(site):
    # requests encodes str credentials as ISO-8859-1: not valid UTF-8, so
    # the fallback charset applies.
    response = site.get('/', auth=HTTPBasicAuth('jürgen', 'pässwörd'))
    assert response.status_code == 200
    assert response.text == 'hello jürgen'


def test_accept_charset_other_than_utf8(live):  # noqa: F811
    site = live(Root(), config=config(accept_charset='cp1252'))
    response = site.get('/', headers={'Authorization': basic('zoë'.encode('cp1252'),
                                                             'ünïcode€'.encode('cp1252'))})
    assert response.status_code == 200
    assert response.text == 'hello zoë'
    # Only UTF-8 may be announced in the challenge.
    assert site.get('/').headers['WWW-Authenticate'] == 'Basic realm="earth"'


def test_realm_is_quoted_and_escaped(live):  # noqa: F811
    site = live(Root(), config=config(realm='say "hi" \\ there'))
    challenge = site.get('/').headers['WWW-Authenticate']
    assert challenge == 'Basic realm="say \\"hi\\" \\\\ there", charset="UTF-8"'


# -- hand-built headers ----------------------------------------------------------

@pytest.mark.parametrize('header, status', [
    ('Basic !!!notbase64!!!', 400),
    ('Basic ' + base64.b64encode(b'ann:s3cret').decode()[:-1], 400),  # bad padding
    ('Basic ' + base64.b64encode(b'no-colon-here').decode(), 400),
    ('Basic', 400),
    ('Basic    ', 400),
    ('Basic Ã©Ã©', 400),                                  # non-ASCII token
    ('Bearer abc.def', 401),
    ('Digest username="ann"', 401),
    ('', 401),
    ('   ', 401),
    ('basic ' + base64.b64encode(b'ann:wrong').decode(), 401),
])
def test_malformed_and_wrong_headers_never_500(site, header, status):
    with site.raw() as conn:
        conn.request('GET', '/', {'Authorization': header})
        response = conn.read_response()
    assert response.status == status, response.body
    if status == 401:
        assert response.headers['WWW-Authenticate'].startswith('Basic realm="earth"')


def test_scheme_is_case_insensitive_and_password_may_hold_colons(live):  # noqa: F811
    users = {'ann': 'a:b:c'}
    cfg = config()
    cfg['/']['authbasictools.auth_basic.checkpassword'] = auth_basic.checkpassword_dict(users)
    site = live(Root(), config=cfg)
    response = site.get('/', headers={'Authorization': 'bAsIc ' + basic('ann', 'a:b:c')[6:]})
    assert response.text == 'hello ann'


# -- helpers ------------------------------------------------------------------------

def test_checkpassword_dict():
    check = auth_basic.checkpassword_dict({'ann': 's3cret'})
    assert check('r', 'ann', 's3cret') is True
    assert check('r', 'ann', 's3cre') is False
    assert check('r', 'ann', '') is False
    assert check('r', 'bob', 's3cret') is False
    assert check('r', 'bob', '\0unknown') is False


def test_quote_realm_refuses_header_injection():
    assert auth_basic.quote_realm('a"b\\c') == '"a\\"b\\\\c"'
    for realm in ('a\r\nSet-Cookie: x=1', 'a\nb', 'a\rb'):
        with pytest.raises(ValueError):
            auth_basic.quote_realm(realm)


def test_parse_credentials():
    assert auth_basic.parse_credentials(basic('ann', 'x:y')) == ('ann', 'x:y')
    assert auth_basic.parse_credentials('Negotiate abc') is None
    with pytest.raises(pyframe.HTTPError):
        auth_basic.parse_credentials('Basic %%%')


def test_in_process_with_wsgi_get():
    app = pyframe.Application(Root(), '', config())
    status, headers, body = wsgi_get(app, '/', headers={'Authorization': basic('ann', 's3cret')})
    assert status.startswith('200') and body == b'hello ann'
    status, headers, _ = wsgi_get(app, '/')
    assert status.startswith('401')
