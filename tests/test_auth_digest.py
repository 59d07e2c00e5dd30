"""HTTP Digest authentication: pyframe.lib.auth_digest over real HTTP.

Digests for hand-built headers are computed here from RFC 2617 directly,
not with the module under test.
"""

from __future__ import annotations

import hashlib
import time

import pytest
import requests
from requests.auth import HTTPDigestAuth

import pyframe
from live import live  # noqa: F401  (fixture)
from pyframe.lib import auth_digest
from pyframe.tools import Tool, Toolbox
from support import wsgi_get

REALM = 'wonderland'
KEY = 'a565c27146791cfb'
USERS = {'alice': '4x5istwelve', 'jürgen': 'pässwörd', 'zoë': 'ünïcode€'}

box = Toolbox('authdigesttools')
box.auth_digest = Tool('before_handler', auth_digest.digest_auth, priority=1)


class Root:
    @pyframe.expose
    def index(self, **params):
        return f'hello {pyframe.request.login}'

    @pyframe.expose
    def upload(self, **params):
        data = pyframe.request.body.read()
        return f'{pyframe.request.login} sent {data!r} {sorted(params)}'

    @pyframe.expose
    def public(self):
        return 'public'


def config(**extra):
    section = {
        'authdigesttools.auth_digest.on': True,
        'authdigesttools.auth_digest.realm': REALM,
        'authdigesttools.auth_digest.get_ha1': auth_digest.get_ha1_dict_plain(USERS),
        'authdigesttools.auth_digest.key': KEY,
    }
    section.update({f'authdigesttools.auth_digest.{k}': v for k, v in extra.items()})
    return {'/': section, '/public': {'authdigesttools.auth_digest.on': False}}


@pytest.fixture(autouse=True)
def forget_nonce_counts():
    # Nonces are per second: tests must not see each other's (nonce, nc).
    auth_digest.seen_nonce_counts.clear()
    yield
    auth_digest.seen_nonce_counts.clear()


@pytest.fixture
def site(live):  # noqa: F811
    return live(Root(), config=config())


def md5(value: str | bytes) -> str:
    return hashlib.md5(value.encode('utf-8') if isinstance(value, str) else value).hexdigest()


def challenge_of(response) -> dict[str, str]:
    value = response.headers['WWW-Authenticate']
    assert value.startswith('Digest ')
    return auth_digest.parse_params(value[len('Digest '):])


def fresh_nonce(site) -> str:
    response = site.get('/')
    assert response.status_code == 401
    return challenge_of(response)['nonce']


def digest_header(nonce: str, uri: str = '/', method: str = 'GET', user: str = 'alice',
                  password: str = '4x5istwelve', realm: str = REALM, qop: str | None = 'auth',
                  nc: str = '00000001', cnonce: str = '0a4f113b', algorithm: str | None = None,
                  body: bytes = b'', header_user: str | None = None) -> str:
    """A Digest Authorization value computed by hand from RFC 2617."""
    ha1 = md5(f'{user}:{realm}:{password}')
    if algorithm == 'MD5-sess':
        ha1 = md5(f'{ha1}:{nonce}:{cnonce}')
    a2 = f'{method}:{uri}'
    if qop == 'auth-int':
        a2 += ':' + md5(body)
    ha2 = md5(a2)
    if qop:
        response = md5(f'{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}')
    else:
        response = md5(f'{ha1}:{nonce}:{ha2}')
    fields = [f'username="{header_user or user}"', f'realm="{realm}"', f'nonce="{nonce}"',
              f'uri="{uri}"', f'response="{response}"']
    if algorithm:
        fields.append(f'algorithm={algorithm}')
    if qop:
        fields += [f'qop={qop}', f'nc={nc}', f'cnonce="{cnonce}"']
    return 'Digest ' + ', '.join(fields)


def raw_get(site, header: str, path: str = '/', method: str = 'GET', body: bytes = b'',
            content_type: str = 'application/octet-stream'):
    headers = {'Authorization': header}
    if body:
        headers['Content-Type'] = content_type
    with site.raw() as conn:
        conn.request(method, path, headers, body)
        return conn.read_response(method)


# -- real clients ---------------------------------------------------------------

def test_challenge(site):
    response = site.get('/')
    assert response.status_code == 401
    value = response.headers['WWW-Authenticate']
    assert value.startswith(f'Digest realm="{REALM}", nonce="')
    assert value.endswith('algorithm="MD5", qop="auth"')
    nonce = challenge_of(response)['nonce']
    timestamp, _, mac = nonce.partition(':')
    assert abs(int(timestamp) - time.time()) < 5 and len(mac) == 64
    assert site.get('/public').text == 'public'


def test_requests_digest_auth_succeeds_and_sets_login(site):
    auth = HTTPDigestAuth('alice', '4x5istwelve')
    with requests.Session() as session:
        for query in ('', '?a=1&b=%20x', ''):
            response = session.get(site.url('/' + query), auth=auth, timeout=5)
            assert response.status_code == 200
            assert response.text == 'hello alice'


def test_requests_digest_auth_post(site):
    response = site.post('/upload', data=b'payload', auth=HTTPDigestAuth('alice', '4x5istwelve'),
                         headers={'Content-Type': 'application/octet-stream'})
    assert response.status_code == 200
    assert response.text == "alice sent b'payload' []"


def test_wrong_password_and_unknown_user_get_401(site):
    for auth in (HTTPDigestAuth('alice', 'wrong'), HTTPDigestAuth('bob', '4x5istwelve')):
        response = site.get('/', auth=auth)
        assert response.status_code == 401
        assert 'stale' not in response.headers['WWW-Authenticate']


def test_non_ascii_users(site):
    # requests sends the user name as ISO-8859-1 but hashes it as UTF-8.
    response = site.get('/', auth=HTTPDigestAuth('jürgen', 'pässwörd'))
    assert response.status_code == 200
    assert response.text == 'hello jürgen'
    # A UTF-8 user name on the wire is decoded with accept_charset.
    nonce = fresh_nonce(site)
    header = digest_header(nonce, user='zoë', password='ünïcode€',
                           header_user='zoë'.encode().decode('latin-1'))
    response = raw_get(site, header)
    assert response.status == 200
    assert response.body.decode() == 'hello zoë'


# -- hand-built headers ------------------------------------------------------------

def test_hand_built_qop_auth_rfc2069_and_md5_sess(site):
    nonce = fresh_nonce(site)
    assert raw_get(site, digest_header(nonce)).status == 200
    assert raw_get(site, digest_header(nonce, qop=None)).status == 200
    response = raw_get(site, digest_header(nonce, algorithm='MD5-sess', nc='00000002'))
    assert response.status == 200 and response.body == b'hello alice'


def test_auth_int_hashes_the_entity(site):
    nonce = fresh_nonce(site)
    body = b'\x00binary entity\xff'
    header = digest_header(nonce, '/upload', 'POST', qop='auth-int', body=body)
    response = raw_get(site, header, '/upload', 'POST', body)
    assert response.status == 200
    # The handler still reads the whole entity after the tool hashed it.
    assert response.body == f"alice sent {body!r} []".encode()
    # The same digest for another entity fails: the body was tampered with.
    header = digest_header(nonce, '/upload', 'POST', qop='auth-int', body=body, nc='00000002')
    assert raw_get(site, header, '/upload', 'POST', b'tampered').status == 401
    # auth-int also works for a request without a body.
    assert raw_get(site, digest_header(nonce, qop='auth-int', nc='00000003')).status == 200


def test_auth_int_on_a_parsed_form_cannot_be_verified(site):
    nonce = fresh_nonce(site)
    body = b'a=1'
    header = digest_header(nonce, '/upload', 'POST', qop='auth-int', body=body)
    response = raw_get(site, header, '/upload', 'POST', body,
                       content_type='application/x-www-form-urlencoded')
    assert response.status == 401


def test_expired_nonce_gets_stale_true(site):
    old = auth_digest.synthesize_nonce(REALM, KEY, int(time.time()) - 3600)
    response = raw_get(site, digest_header(old))
    assert response.status == 401
    value = response.headers['WWW-Authenticate']
    assert value.endswith(', stale="true"')
    assert auth_digest.parse_params(value[7:])['nonce'] != old
    # Wrong credentials with an expired nonce: no stale, the user must retype.
    response = raw_get(site, digest_header(old, password='nope'))
    assert response.status == 401 and 'stale' not in response.headers['WWW-Authenticate']


def test_replayed_nonce_count_is_refused(site):
    nonce = fresh_nonce(site)
    header = digest_header(nonce)
    assert raw_get(site, header).status == 200
    replay = raw_get(site, header)
    assert replay.status == 401
    assert 'nonce="' in replay.headers['WWW-Authenticate']
    assert raw_get(site, digest_header(nonce, nc='00000002')).status == 200


def test_forged_requests_do_not_burn_nonce_counts(site):
    nonce = fresh_nonce(site)
    assert raw_get(site, digest_header(nonce, password='guess')).status == 401
    assert raw_get(site, digest_header(nonce)).status == 200


@pytest.mark.parametrize('forge', [
    lambda n: n[:-1] + ('0' if n[-1] != '0' else '1'),                 # bad hash
    lambda n: str(int(n.split(':')[0]) + 100) + ':' + n.split(':')[1],  # moved timestamp
    lambda n: auth_digest.synthesize_nonce(REALM, 'another key'),
    lambda n: auth_digest.synthesize_nonce('other realm', KEY),
    lambda n: 'garbage',
    lambda n: ':' + n.split(':')[1],
])
def test_forged_nonce_gets_401_without_stale(site, forge):
    nonce = forge(fresh_nonce(site))
    response = raw_get(site, digest_header(nonce))
    assert response.status == 401
    assert 'stale' not in response.headers['WWW-Authenticate']


def test_wrong_realm_gets_401(site):
    nonce = fresh_nonce(site)
    assert raw_get(site, digest_header(nonce, realm='elsewhere')).status == 401


def test_uri_must_match_the_request(site):
    nonce = fresh_nonce(site)
    assert raw_get(site, digest_header(nonce, '/upload'), '/').status == 400
    assert raw_get(site, digest_header(nonce, '/?a=1', nc='00000002'), '/?a=2').status == 400
    assert raw_get(site, digest_header(nonce, '/?a=1', nc='00000003'), '/?a=1').status == 200
    # The same resource written differently is still the same resource.
    assert raw_get(site, digest_header(nonce, '/%75pload', 'POST', nc='00000004'),
                   '/upload', 'POST', b'x').status == 200
    absolute = f'http://127.0.0.1:{site.port}/'
    assert raw_get(site, digest_header(nonce, absolute, nc='00000005'), '/').status == 200


def _fields(nonce: str) -> dict[str, str]:
    return {'username': '"alice"', 'realm': f'"{REALM}"', 'nonce': f'"{nonce}"', 'uri': '"/"',
            'response': '"' + '0' * 32 + '"', 'qop': 'auth', 'nc': '00000001', 'cnonce': '"x"'}


@pytest.mark.parametrize('change', [
    {'username': None}, {'realm': None}, {'nonce': None}, {'uri': None}, {'response': None},
    {'cnonce': None}, {'nc': None}, {'nc': '1'}, {'nc': 'zzzzzzzz'}, {'qop': 'auth-conf'},
    {'algorithm': 'SHA-256'}, {'algorithm': 'MD4'}, {'username': '""'},
    {'qop': None},  # cnonce and nc without qop
])
def test_malformed_digest_fields_get_400(site, change):
    fields = _fields(fresh_nonce(site))
    fields.update(change)
    header = 'Digest ' + ', '.join(f'{k}={v}' for k, v in fields.items() if v is not None)
    assert raw_get(site, header).status == 400


@pytest.mark.parametrize('header, status', [
    ('Digest', 400),
    ('Digest ,,,', 400),
    ('Digest username="alice', 400),                 # unterminated quote
    ('Digest username=alice realm=x', 400),
    ('Digest username="a", username="b"', 400),
    ('Digest ===', 400),
    ('Basic YWxpY2U6NHg1aXN0d2VsdmU=', 401),
    ('Digestive username="alice"', 401),
    ('', 401),
])
def test_garbage_headers_never_500(site, header, status):
    assert raw_get(site, header).status == status


# -- helpers ----------------------------------------------------------------------------

def test_rfc2617_example():
    header = ('Digest username="Mufasa", realm="testrealm@host.com", '
              'nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", '
              'qop=auth, nc=00000001, cnonce="0a4f113b", '
              'response="6629fae49393a05397450978507c4ef1", '
              'opaque="5ccc069c403ebaf9f0171e9517f40e41"')
    auth = auth_digest.HttpDigestAuthorization(header, 'GET')
    assert (auth.username, auth.uri, auth.qop, auth.algorithm) == (
        'Mufasa', '/dir/index.html', 'auth', 'MD5')
    get_ha1 = auth_digest.get_ha1_dict_plain({'Mufasa': 'Circle Of Life'})
    ha1 = get_ha1('testrealm@host.com', 'Mufasa')
    assert auth.request_digest(ha1) == '6629fae49393a05397450978507c4ef1'
    assert auth.check_response(ha1)
    assert not auth.check_response(md5('other'))


def test_nonce_synthesis_and_validation():
    nonce = auth_digest.synthesize_nonce('s', 'key', 1000)
    assert nonce.startswith('1000:')
    assert auth_digest.synthesize_nonce('s', 'key', 1000) == nonce

    def parsed(n):
        return auth_digest.HttpDigestAuthorization(
            f'Digest username="u", realm="r", nonce="{n}", uri="/", response="x"', 'GET')

    assert parsed(nonce).validate_nonce('s', 'key')
    assert not parsed(nonce).validate_nonce('s', 'other key')
    assert not parsed(nonce).validate_nonce('t', 'key')
    assert not parsed('1001' + nonce[4:]).validate_nonce('s', 'key')
    assert parsed(nonce).is_nonce_stale()
    current = auth_digest.synthesize_nonce('s', 'key')
    assert not parsed(current).is_nonce_stale()
    assert parsed(current).is_nonce_stale(max_age_seconds=-1)
    assert parsed('junk').is_nonce_stale() and not parsed('junk').validate_nonce('s', 'key')


def test_parse_params():
    assert auth_digest.parse_params('a="x, y", B=tok,c="q\\"d\\\\", d=""') == {
        'a': 'x, y', 'b': 'tok', 'c': 'q"d\\', 'd': ''}
    for bad in ('a', 'a="x', 'a=x y', '=x', 'a=1, a=2'):
        with pytest.raises(ValueError):
            auth_digest.parse_params(bad)


def test_header_validation_errors():
    with pytest.raises(ValueError, match='not Digest'):
        auth_digest.HttpDigestAuthorization('Basic abc', 'GET')
    with pytest.raises(ValueError, match='MD5-sess requires'):
        auth_digest.HttpDigestAuthorization(
            'Digest username="u", realm="r", nonce="n", uri="/", response="x", '
            'algorithm=MD5-sess', 'GET')
    auth = auth_digest.HttpDigestAuthorization(
        'Digest username="u", realm="r", nonce="n", uri="/", response="x", '
        'algorithm=md5-SESS, qop=auth-int, nc=0000000A, cnonce="c"', 'PUT')
    assert auth.algorithm == 'MD5-sess'
    ha1 = md5('u:r:p')
    expected = md5(f'{md5(f"{ha1}:n:c")}:n:0000000A:c:auth-int:{md5("PUT:/:" + md5(b"body"))}')
    assert auth.request_digest(ha1, b'body') == expected


def test_ha1_stores(tmp_path):
    ha1 = md5('alice:wonderland:4x5istwelve')
    assert auth_digest.get_ha1_dict({'alice': ha1})(REALM, 'alice') == ha1
    assert auth_digest.get_ha1_dict({'alice': ha1})(REALM, 'bob') is None
    assert auth_digest.get_ha1_dict_plain(USERS)(REALM, 'alice') == ha1
    assert auth_digest.get_ha1_dict_plain(USERS)(REALM, 'bob') is None
    htdigest = tmp_path / 'htdigest'
    htdigest.write_text(f'alice:elsewhere:{"0" * 32}\nalice:wonderland:{ha1}\n\nbroken line\n')
    get_ha1 = auth_digest.get_ha1_file_htdigest(str(htdigest))
    assert get_ha1(REALM, 'alice') == ha1
    assert get_ha1('elsewhere', 'alice') == '0' * 32
    assert get_ha1(REALM, 'bob') is None


def test_htdigest_file_over_http(live, tmp_path):  # noqa: F811
    htdigest = tmp_path / 'htdigest'
    htdigest.write_text(f'alice:{REALM}:{md5(f"alice:{REALM}:4x5istwelve")}\n')
    site = live(Root(), config=config(get_ha1=auth_digest.get_ha1_file_htdigest(str(htdigest))))
    assert site.get('/', auth=HTTPDigestAuth('alice', '4x5istwelve')).text == 'hello alice'
    assert site.get('/', auth=HTTPDigestAuth('alice', 'nope')).status_code == 401


def test_seen_nonce_counts_are_bounded():
    seen = auth_digest._SeenNonceCounts(maxsize=3)
    assert seen.add('n', 'c', '00000001') and not seen.add('n', 'c', '00000001')
    assert not seen.add('n', 'c', '00000001'.upper())
    # Another client given the same nonce has its own cnonce.
    assert seen.add('n', 'other', '00000001')
    assert seen.add('n', 'c', '00000002') and seen.add('n', 'c', '00000003')
    # The oldest entry was forgotten.
    assert seen.add('n', 'c', '00000001')


def test_two_clients_may_share_a_nonce(site):
    nonce = fresh_nonce(site)
    assert raw_get(site, digest_header(nonce, cnonce='first')).status == 200
    assert raw_get(site, digest_header(nonce, cnonce='second')).status == 200
    assert raw_get(site, digest_header(nonce, cnonce='first')).status == 401


def test_challenge_refuses_bad_realm():
    with pytest.raises(ValueError):
        auth_digest.www_authenticate('a\r\nX: y', KEY)
    value = auth_digest.www_authenticate('a"b', KEY, nonce='1:abc', stale=True)
    assert value == 'Digest realm="a\\"b", nonce="1:abc", algorithm="MD5", qop="auth", stale="true"'


def test_in_process_with_wsgi_get():
    app = pyframe.Application(Root(), '', config())
    status, headers, _ = wsgi_get(app, '/')
    assert status.startswith('401')
    challenge = {k.lower(): v for k, v in headers.items()}['www-authenticate']
    nonce = auth_digest.parse_params(challenge[7:])['nonce']
    status, _, body = wsgi_get(app, '/', headers={'Authorization': digest_header(nonce)})
    assert status.startswith('200') and body == b'hello alice'
