"""The session_auth tool (login forms backed by the session) over real HTTP."""

from __future__ import annotations

import pytest
import requests

import pyframe
from pyframe.lib import cptools
from pyframe.lib.sessions import RamSession
from pyframe.tools import HandlerTool, Toolbox
from live import TIMEOUT, live  # noqa: F401

# Registered exactly as the default toolbox will register it.
box = Toolbox('sessauthtest')
box.session_auth = HandlerTool(cptools.session_auth)

USERS = {'alice': 'wonderland'}


def check(username, password):
    if USERS.get(username) != password:
        return 'Wrong login/password'
    return None


@pytest.fixture(autouse=True)
def clean_store():
    yield
    RamSession.cache.clear()
    RamSession.stop_clean_thread()


class Root:
    @pyframe.expose
    def index(self):
        return f'Hello, {pyframe.request.login}'

    @pyframe.expose
    def page(self, x=''):
        return f'page {x} for {pyframe.request.login}'


def serve(live, **tool_options):  # noqa: F811
    config = {'tools.sessions.on': True, 'sessauthtest.session_auth.on': True,
              'sessauthtest.session_auth.check_username_and_password': check}
    config.update({f'sessauthtest.session_auth.{key}': value
                   for key, value in tool_options.items()})
    return live(Root(), config={'/': config})


def get(client, site, path, **kwargs):
    return client.get(site.url(path), timeout=TIMEOUT, allow_redirects=False, **kwargs)


def post(client, site, path, **kwargs):
    return client.post(site.url(path), timeout=TIMEOUT, allow_redirects=False, **kwargs)


def test_protected_page_shows_login_screen(live):  # noqa: F811
    site = serve(live)
    answer = get(requests.Session(), site, '/page?x=1')
    assert answer.status_code == 200
    assert answer.headers['Content-Type'].startswith('text/html')
    assert 'action="do_login"' in answer.text
    assert 'name="from_page" value="/page?x=1"' in answer.text
    assert 'page 1' not in answer.text


def test_wrong_password_shows_error(live):  # noqa: F811
    site = serve(live)
    client = requests.Session()
    answer = post(client, site, '/do_login',
                  data={'username': 'alice<b>', 'password': 'nope', 'from_page': '/page'})
    assert answer.status_code == 200
    assert 'Wrong login/password' in answer.text
    assert 'value="alice&lt;b&gt;"' in answer.text  # escaped, kept in the form
    assert 'Hello' not in get(client, site, '/').text


def test_login_redirects_and_sets_request_login_then_logout(live):  # noqa: F811
    site = serve(live)
    client = requests.Session()
    get(client, site, '/')
    before = client.cookies.get('session_id')
    answer = post(client, site, '/do_login',
                  data={'username': 'alice', 'password': 'wonderland', 'from_page': '/page?x=2'})
    assert answer.status_code == 303
    assert answer.headers['Location'] == site.url('/page?x=2')
    assert client.cookies['session_id'] != before  # a new id after logging in
    assert get(client, site, '/page?x=2').text == 'page 2 for alice'
    assert get(client, site, '/').text == 'Hello, alice'

    answer = post(client, site, '/do_logout', data={'from_page': '/'})
    assert answer.status_code == 303
    assert answer.headers['Location'] == site.url('/')
    assert 'action="do_login"' in get(client, site, '/').text


def test_default_from_page_and_login_screen_path(live):  # noqa: F811
    site = serve(live)
    client = requests.Session()
    screen = get(client, site, '/login_screen', params={'username': 'bob"', 'error_msg': '<x>'})
    assert 'value="bob&quot;"' in screen.text and '&lt;x&gt;' in screen.text
    answer = post(client, site, '/do_login', data={'username': 'alice', 'password': 'wonderland'})
    assert answer.status_code == 303
    assert answer.headers['Location'] == site.url('/')


def test_default_check_lets_nobody_in(live):  # noqa: F811
    site = live(Root(), config={'/': {'tools.sessions.on': True,
                                      'sessauthtest.session_auth.on': True}})
    client = requests.Session()
    answer = post(client, site, '/do_login', data={'username': 'alice', 'password': 'x'})
    assert answer.status_code == 200
    assert 'action="do_login"' in answer.text


def test_anonymous_access(live):  # noqa: F811
    site = serve(live, anonymous=lambda: 'guest')
    assert get(requests.Session(), site, '/').text == 'Hello, guest'


def test_hooks_are_called(live):  # noqa: F811
    calls = []
    site = serve(live,
                 on_login=lambda name: calls.append(('login', name)),
                 on_logout=lambda name: calls.append(('logout', name)),
                 on_check=lambda name: calls.append(('check', name)))
    client = requests.Session()
    post(client, site, '/do_login', data={'username': 'alice', 'password': 'wonderland'})
    get(client, site, '/')
    post(client, site, '/do_logout')
    assert calls == [('login', 'alice'), ('check', 'alice'), ('logout', 'alice')]


def test_session_key_option(live):  # noqa: F811
    site = serve(live, session_key='who')
    client = requests.Session()
    post(client, site, '/do_login', data={'username': 'alice', 'password': 'wonderland'})
    assert get(client, site, '/').text == 'Hello, alice'


@pytest.mark.parametrize('path', ['/do_login', '/do_logout'])
def test_get_to_login_actions_is_405(live, path):  # noqa: F811
    site = serve(live)
    answer = get(requests.Session(), site, path,
                 params={'username': 'alice', 'password': 'wonderland'})
    assert answer.status_code == 405
    assert answer.headers['Allow'] == 'POST'


@pytest.mark.parametrize('target', [
    'http://evil.example/steal', '//evil.example/x', '/\\evil.example', 'https://evil.example',
])
def test_from_page_to_another_host_is_not_followed(live, target):  # noqa: F811
    site = serve(live)
    client = requests.Session()
    answer = post(client, site, '/do_login',
                  data={'username': 'alice', 'password': 'wonderland', 'from_page': target})
    assert answer.status_code == 303
    assert 'evil' not in answer.headers['Location']
    assert answer.headers['Location'].startswith(site.base)
    answer = post(client, site, '/do_logout', data={'from_page': target})
    assert 'evil' not in answer.headers['Location']


def test_from_page_on_this_site_as_absolute_url_is_kept(live):  # noqa: F811
    site = serve(live)
    answer = post(requests.Session(), site, '/do_login',
                  data={'username': 'alice', 'password': 'wonderland',
                        'from_page': site.url('/page')})
    assert answer.headers['Location'] == site.url('/page')


def test_unknown_option_is_an_error():
    with pytest.raises(TypeError):
        cptools.session_auth(no_such_option=1)
