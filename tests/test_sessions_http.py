"""The sessions tool over real HTTP: cookies, ids, locking under load."""

from __future__ import annotations

import os

import pytest
import requests

import pyframe
from pyframe.lib import sessions
from pyframe.lib.sessions import FileSession, RamSession
from pyframe.tools import Toolbox
from live import TIMEOUT, live  # noqa: F401
from live import hammer_session_counter as hammer

box = Toolbox('sesshttp')
box.sessions = sessions.SessionTool()


@pytest.fixture(autouse=True)
def clean_stores():
    yield
    RamSession.cache.clear()
    for cls in (RamSession, FileSession):
        cls.stop_clean_thread()
    assert len(RamSession.locks) == 0


class Root:
    @pyframe.expose
    def index(self):
        sess = sessions.session
        sess['count'] = sess.get('count', 0) + 1
        return str(sess['count'])

    @pyframe.expose
    def explicit(self):
        sess = sessions.session
        sess.acquire_lock()
        try:
            sess['count'] = sess.get('count', 0) + 1
            return str(sess['count'])
        finally:
            sess.save()  # saves and releases

    @pyframe.expose
    def regen(self):
        before = sessions.session.id
        box.sessions.regenerate()
        return f'{before} {sessions.session.id} {sessions.session.get("count")}'

    @pyframe.expose
    def bye(self):
        sessions.expire()
        return 'bye'


def serve(live, **options):  # noqa: F811
    config = {'sesshttp.sessions.on': True}
    config.update({f'sesshttp.sessions.{key}': value for key, value in options.items()})
    return live(Root(), config={'/': config}, thread_pool=10)


def client() -> requests.Session:
    return requests.Session()


def test_counter_per_client(live):  # noqa: F811
    site = serve(live)
    alice, bob = client(), client()
    assert [alice.get(site.url(), timeout=TIMEOUT).text for _ in range(3)] == ['1', '2', '3']
    assert bob.get(site.url(), timeout=TIMEOUT).text == '1'
    assert alice.cookies['session_id'] != bob.cookies['session_id']


@pytest.mark.parametrize('bad', ['ab' * 20, 'nothex', '../x'])
def test_unknown_or_malformed_id_is_replaced(live, bad):  # noqa: F811
    site = serve(live)
    response = site.get('/', cookies={'session_id': bad})
    assert response.text == '1'
    assert response.cookies['session_id'] != bad


def test_regenerate_changes_id_keeps_data(live):  # noqa: F811
    site = serve(live)
    browser = client()
    browser.get(site.url(), timeout=TIMEOUT)
    old = browser.cookies['session_id']
    before, after, count = browser.get(site.url('/regen'), timeout=TIMEOUT).text.split()
    assert before == old and after != old and count == '1'
    assert browser.cookies['session_id'] == after
    assert browser.get(site.url(), timeout=TIMEOUT).text == '2'
    # The old id is dead: presenting it starts afresh.
    response = site.get('/', cookies={'session_id': old})
    assert response.text == '1' and response.cookies['session_id'] != old


def test_expire_drops_cookie_and_data(live):  # noqa: F811
    site = serve(live)
    browser = client()
    browser.get(site.url(), timeout=TIMEOUT)
    old = browser.cookies['session_id']
    response = browser.get(site.url('/bye'), timeout=TIMEOUT)
    header = response.headers['Set-Cookie']
    assert 'Max-Age=0' in header
    assert header.startswith(('session_id="";', 'session_id=;'))
    assert 'session_id' not in browser.cookies
    again = site.get('/', cookies={'session_id': old})
    assert again.text == '1' and again.cookies['session_id'] != old


def test_cookie_options(live):  # noqa: F811
    site = serve(live, name='sid', path='/app', domain='example.test', secure=True,
                 httponly=True, samesite='Strict', timeout=2)
    header = site.get('/').headers['Set-Cookie']
    assert header.startswith('sid=')
    for part in ('Path=/app', 'Domain=example.test', 'Secure', 'HttpOnly',
                 'SameSite=Strict', 'Max-Age=120', 'expires='):
        assert part.lower() in header.lower(), part


def test_path_header_and_session_cookie(live):  # noqa: F811
    site = serve(live, path_header='X-Path', persistent=False)
    header = site.get('/', headers={'X-Path': '/mounted'}).headers['Set-Cookie']
    assert 'Path=/mounted' in header
    assert 'max-age' not in header.lower() and 'expires' not in header.lower()


def test_file_sessions_store_files(live, tmp_path):  # noqa: F811
    site = serve(live, storage_class=FileSession, storage_path=str(tmp_path))
    browser = client()
    assert browser.get(site.url(), timeout=TIMEOUT).text == '1'
    assert browser.get(site.url(), timeout=TIMEOUT).text == '2'
    assert os.listdir(tmp_path) == ['session-' + browser.cookies['session_id']]


@pytest.mark.parametrize('locking, path', [('implicit', '/'), ('early', '/'),
                                           ('explicit', '/explicit')])
def test_concurrent_ram_updates_are_not_lost(live, locking, path):  # noqa: F811
    site = serve(live, locking=locking)
    assert hammer(site, path) == 8 * 25 + 2


@pytest.mark.parametrize('locking, path', [('implicit', '/'), ('explicit', '/explicit')])
def test_concurrent_file_updates_are_not_lost(live, tmp_path, locking, path):  # noqa: F811
    site = serve(live, storage_class=FileSession, storage_path=str(tmp_path), locking=locking)
    assert hammer(site, path) == 8 * 25 + 2
    # Only the data file: every lock file was removed.
    assert len(os.listdir(tmp_path)) == 1


class Streaming:
    @pyframe.expose
    def index(self):
        pyframe.response.stream = True

        def body():
            yield 'a'
            sessions.session['streamed'] = 'yes'
            yield 'b'
        return body()

    @pyframe.expose
    def read(self):
        return str(sessions.session.get('streamed'))


def test_streamed_body_saves_at_end_of_request(live):  # noqa: F811
    site = live(Streaming(), config={'/': {'sesshttp.sessions.on': True}})
    browser = client()
    assert browser.get(site.url(), timeout=TIMEOUT).text == 'ab'
    assert browser.get(site.url('/read'), timeout=TIMEOUT).text == 'yes'
