"""Tutorials 8, 9 and 10 (examples/tutorial08_ajax, tutorial09_sqlite,
tutorial10_spa) run as real processes: their REST service driven over
HTTP, the database checked across a restart, and the pages driven in a
headless Chromium."""

from __future__ import annotations

import sqlite3
import string
from pathlib import Path

import pytest
import requests

from support import REPO, Example, child_env, free_port, http_answers, require_program, wait_for

EXAMPLES = REPO / 'examples'
TUT08 = EXAMPLES / 'tutorial08_ajax' / 'tut08.py'
TUT09 = EXAMPLES / 'tutorial09_sqlite' / 'tut09.py'
TUT10 = EXAMPLES / 'tutorial10_spa' / 'tut10.py'

pytestmark = pytest.mark.slow



@pytest.fixture
def serve(spawn, tmp_path):
    """Start an example script on a free port, with its data in tmp_path."""

    def start(script: Path, **env: str) -> Example:
        port = free_port()
        env = {'PYFRAME_PORT': str(port),
               'PYFRAME_DB': str(tmp_path / 'strings.db'),
               'PYFRAME_SESSIONS': str(tmp_path / 'sessions'), **env}
        child = spawn([script], cwd=tmp_path, env=child_env(**env))
        child.wait_output('Bus STARTED', timeout=20)
        base = f'http://127.0.0.1:{port}'
        wait_for(lambda: http_answers(base), timeout=20)
        return Example(child, base)

    return start



def _is_hex(text: str, length: int) -> bool:
    return len(text) == length and set(text) <= set(string.hexdigits)


# -- The REST service: the same contract in all three tutorials ---------------

@pytest.mark.parametrize('script', [TUT08, TUT09, TUT10], ids=['tut08', 'tut09', 'tut10'])
def test_generator_service_round_trip(serve, script):
    app = serve(script)
    url = app.url('/generator')
    visitor, other = requests.Session(), requests.Session()

    assert visitor.get(url, timeout=5).status_code == 404

    made = visitor.post(url, data={'length': '12'}, timeout=5)
    assert made.status_code == 200
    assert _is_hex(made.text, 12)
    assert made.headers['Content-Type'].startswith('text/plain')
    assert 'session_id' in visitor.cookies

    got = visitor.get(url, timeout=5)
    assert (got.status_code, got.text) == (200, made.text)
    # The string belongs to the visitor's session, not to everybody.
    assert other.get(url, timeout=5).status_code == 404

    assert _is_hex(visitor.post(url, timeout=5).text, 8)  # length defaults to 8

    put = visitor.put(url, data={'another_string': 'hello world'}, timeout=5)
    assert (put.status_code, put.text) == (200, '')
    assert visitor.get(url, timeout=5).text == 'hello world'

    deleted = visitor.delete(url, timeout=5)
    assert deleted.status_code == 200
    assert visitor.get(url, timeout=5).status_code == 404


@pytest.mark.parametrize('script', [TUT08, TUT09], ids=['tut08', 'tut09'])
def test_generator_service_rejects_bad_requests(serve, script):
    app = serve(script)
    url = app.url('/generator')
    s = requests.Session()
    for length in ('abc', '0', '23'):
        bad = s.post(url, data={'length': length}, timeout=5)
        assert bad.status_code == 400, length
        assert 'from 1 to 22' in bad.text
    # As in CherryPy, a missing parameter is a 404 and an unexpected one
    # in the body a 400.
    assert s.put(url, data={'other': 'x'}, timeout=5).status_code == 404
    assert s.put(url, data={'another_string': 'x', 'other': 'y'}, timeout=5).status_code == 400
    # GET answers in plain text only.
    s.post(url, timeout=5)
    assert s.get(url, headers={'Accept': 'application/json'}, timeout=5).status_code == 406
    patched = s.patch(url, timeout=5)
    assert patched.status_code == 405
    assert set(patched.headers['Allow'].split(', ')) >= {'GET', 'POST', 'PUT', 'DELETE'}


@pytest.mark.parametrize(('script', 'scripts'), [
    (TUT08, ['/static/js/generator.js']),
    (TUT10, ['/static/js/gen.js', '/static/js/tiny.js']),
], ids=['tut08', 'tut10'])
def test_page_and_its_files_come_from_the_app(serve, script, scripts):
    app = serve(script)
    page = requests.get(app.url('/'), timeout=5)
    assert page.status_code == 200
    assert page.headers['Content-Type'].startswith('text/html')
    assert page.headers['Content-Security-Policy'] == "default-src 'self'"
    assert '/static/css/style.css' in page.text
    assert scripts[0] in page.text
    # Offline: the page names no other host.
    assert 'http:' not in page.text and 'https:' not in page.text and '//' not in page.text

    for path in scripts:
        js = requests.get(app.url(path), timeout=5)
        assert js.status_code == 200
        assert 'javascript' in js.headers['Content-Type']
        assert 'fetch(' in js.text or 'export function' in js.text
        # Static files do not open sessions.
        assert 'Set-Cookie' not in js.headers
    css = requests.get(app.url('/static/css/style.css'), timeout=5)
    assert css.status_code == 200 and css.headers['Content-Type'].startswith('text/css')
    assert requests.get(app.url('/static/js/missing.js'), timeout=5).status_code == 404


# -- Tutorial 9: the database outlives the process ----------------------------

def test_tutorial_9_strings_survive_a_restart(serve, tmp_path):
    first = serve(TUT09)
    visitor = requests.Session()
    url = first.url('/generator')
    visitor.post(url, timeout=5)
    assert visitor.put(url, data={'another_string': 'kept'}, timeout=5).status_code == 200
    session_id = visitor.cookies['session_id']

    with sqlite3.connect(tmp_path / 'strings.db') as db:
        assert db.execute('SELECT session_id, value FROM user_string').fetchall() == [
            (session_id, 'kept')]

    # A polite stop (SIGTERM): the engine stops and closes the connections.
    first.child.proc.terminate()
    assert first.child.wait(20) == 0
    assert 'Closed the database connection of thread' in first.child.output()

    second = serve(TUT09)
    url = second.url('/generator')
    got = visitor.get(url, timeout=5)
    assert (got.status_code, got.text) == (200, 'kept')
    assert visitor.cookies['session_id'] == session_id
    assert requests.get(url, timeout=5).status_code == 404  # a new visitor has none

    assert visitor.delete(url, timeout=5).status_code == 200
    with sqlite3.connect(tmp_path / 'strings.db') as db:
        assert db.execute('SELECT COUNT(*) FROM user_string').fetchone() == (0,)


# -- The pages in a real browser ----------------------------------------------

@pytest.fixture(scope='module')
def browser(tmp_path_factory):
    """A headless Chromium driven by the system's chromedriver."""
    chromium = require_program('chromium')
    chromedriver = require_program('chromedriver')
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    # Both paths given: Selenium then has nothing to look up or download.
    options.binary_location = chromium
    for argument in ('--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', '--disable-background-networking',
                     '--disable-extensions', '--no-first-run',
                     f'--user-data-dir={tmp_path_factory.mktemp("chromium-profile")}'):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def _wait(driver, condition, timeout: float = 10):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The single-page app replaces its elements on every render: an element
    # found a moment ago may be gone; look again rather than fail.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(condition)


def _by_id(driver, element_id: str):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.ID, element_id)


def _status_is(text: str):
    return lambda driver: _by_id(driver, 'status').text == text


def _server_string(app: Example, driver) -> requests.Response:
    """GET /generator as the browser's visitor (with its session cookie)."""
    cookie = driver.get_cookie('session_id')
    assert cookie is not None, 'the page did not get a session cookie'
    return requests.get(app.url('/generator'), cookies={'session_id': cookie['value']}, timeout=5)


def _assert_only_own_origin(app: Example, driver) -> None:
    """Every file the page loaded came from the app itself."""
    urls = driver.execute_script(
        "return performance.getEntriesByType('resource').map((entry) => entry.name)")
    assert urls, 'the page loaded no resources at all'
    assert [url for url in urls if not url.startswith(app.base + '/')] == []
    assert any(url.endswith('/static/css/style.css') for url in urls)


def _type_into(element, text: str) -> None:
    """Replace the field's text the way a user does: select all, type."""
    from selenium.webdriver.common.keys import Keys

    # One command: the single-page app re-renders the field on every key,
    # so a second command could find the element replaced.
    element.send_keys(Keys.CONTROL, 'a', Keys.NULL, text)


@pytest.mark.browser
@pytest.mark.integration
def test_tutorial_8_page_in_chromium(serve, browser):
    app = serve(TUT08)
    browser.delete_all_cookies()
    browser.get(app.url('/'))
    string_form = _by_id(browser, 'the-string')
    assert not string_form.is_displayed()

    length = browser.find_element('name', 'length')
    _type_into(length, '12')
    _by_id(browser, 'generate-string').click()
    _wait(browser, _status_is('Generated!'))
    shown = string_form.find_element('name', 'value')
    assert string_form.is_displayed()
    first = shown.get_attribute('value')
    assert _is_hex(first, 12)

    # Generating again shows a new string (12 distinct hex digits: a
    # repeat is as good as impossible).
    _by_id(browser, 'generate-string').click()
    _wait(browser, lambda d: shown.get_attribute('value') != first)
    second = shown.get_attribute('value')
    assert _is_hex(second, 12) and second != first
    assert _server_string(app, browser).text == second

    _type_into(shown, 'typed by a robot')
    _by_id(browser, 'replace-string').click()
    _wait(browser, _status_is('Replaced!'))
    assert _server_string(app, browser).text == 'typed by a robot'

    # A reload shows the stored string again: it lives on the server.
    browser.refresh()
    _wait(browser, lambda d: _by_id(d, 'the-string').is_displayed())
    shown = _by_id(browser, 'the-string').find_element('name', 'value')
    assert shown.get_attribute('value') == 'typed by a robot'

    _by_id(browser, 'delete-string').click()
    _wait(browser, _status_is('Deleted!'))
    assert not _by_id(browser, 'the-string').is_displayed()
    assert _server_string(app, browser).status_code == 404

    _assert_only_own_origin(app, browser)


@pytest.mark.browser
@pytest.mark.integration
def test_tutorial_10_single_page_app_in_chromium(serve, browser):
    app = serve(TUT10)
    browser.delete_all_cookies()
    browser.get(app.url('/'))
    length = _wait(browser, lambda d: _by_id(d, 'length'))
    assert length.get_attribute('value') == '8'

    # A length the server refuses: the status line says so.
    _type_into(length, '30')
    _by_id(browser, 'generate-string').click()
    _wait(browser, _status_is('Failed: 400 Bad Request'))

    _type_into(_by_id(browser, 'length'), '15')
    # Typing re-renders the form; the field must keep the focus meanwhile.
    assert browser.switch_to.active_element.get_attribute('id') == 'length'
    _by_id(browser, 'generate-string').click()
    _wait(browser, _status_is('Generated!'))
    shown = _by_id(browser, 'the-string')
    generated = shown.get_attribute('value')
    assert _is_hex(generated, 15)
    assert _server_string(app, browser).text == generated

    _type_into(_by_id(browser, 'the-string'), 'spa text')
    assert _by_id(browser, 'the-string').get_attribute('value') == 'spa text'
    _by_id(browser, 'replace-string').click()
    _wait(browser, _status_is('Replaced!'))
    assert _server_string(app, browser).text == 'spa text'

    browser.refresh()
    shown = _wait(browser, lambda d: d.find_elements('id', 'the-string'))[0]
    assert shown.get_attribute('value') == 'spa text'

    _by_id(browser, 'delete-string').click()
    _wait(browser, _status_is('Deleted!'))
    assert browser.find_elements('id', 'the-string') == []
    assert _by_id(browser, 'length').get_attribute('value') == '8'
    assert _server_string(app, browser).status_code == 404

    _assert_only_own_origin(app, browser)
