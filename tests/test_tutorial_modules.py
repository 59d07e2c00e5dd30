"""The tutorials in pyframe/tutorial, each run as a real process.

Port override: a tutorial calls ``pyframe.quickstart(root,
config=<tutorial.conf>)`` and that file's ``[global]`` section says port
8080. The runner below (not the tutorials) replaces ``pyframe.quickstart``
with a wrapper that parses the config it was given, lays this test's
overrides (free port, no autoreload) over its ``[global]`` section and
calls the real quickstart; it also sets the overrides up front for the
tutorials that pass no config. The tutorials themselves stay plain.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
import requests

import pyframe
from support import Child, free_port, wait_for, write_script

pytestmark = pytest.mark.slow

TUTORIAL_DIR = Path(pyframe.__file__).parent / 'tutorial'
TUTORIAL_CONF = TUTORIAL_DIR / 'tutorial.conf'

RUNNER = '''
    import runpy, sys
    import pyframe
    from pyframe.lib import reprconf

    module, port = sys.argv[1], int(sys.argv[2])
    overrides = {'server.socket_host': '127.0.0.1', 'server.socket_port': port,
                 'engine.autoreload.on': False}
    pyframe.config.update(overrides)
    real_quickstart = pyframe.quickstart

    def quickstart(root=None, script_name='', config=None):
        print('TUTORIAL CONFIG:', config, flush=True)
        sections = reprconf.as_dict(config) if config else {}
        sections = {name: dict(entries) for name, entries in sections.items()}
        sections.setdefault('global', {}).update(overrides)
        real_quickstart(root, script_name, sections)

    pyframe.quickstart = quickstart
    runpy.run_module(module, run_name='__main__')
'''

MODULES = ['tut01_helloworld', 'tut02_expose_methods', 'tut03_get_and_post',
           'tut04_complex_site', 'tut05_derived_objects', 'tut06_default_method',
           'tut07_sessions', 'tut08_generators_and_yield', 'tut09_files',
           'tut10_http_errors']


class Tutorial:
    """A running tutorial: ``get``/``post`` take paths below its root."""

    def __init__(self, child: Child, base: str):
        self.child, self.base = child, base

    def get(self, path='/', session=None, **kwargs):
        return (session or requests).get(self.base + path, timeout=5, **kwargs)

    def post(self, path, session=None, **kwargs):
        return (session or requests).post(self.base + path, timeout=5, **kwargs)


@pytest.fixture(scope='module')
def tutorial(tmp_path_factory):
    """``tutorial(name)``: that tutorial, started once for this module."""
    workdir = tmp_path_factory.mktemp('tutorials')
    runner = write_script(workdir, 'run_tutorial.py', RUNNER)
    running: dict[str, Tutorial] = {}

    def start(name: str) -> Tutorial:
        if name not in running:
            port = free_port()
            child = Child([runner, f'pyframe.tutorial.{name}', port], workdir)
            running[name] = Tutorial(child, f'http://127.0.0.1:{port}')
            child.wait_output('Bus STARTED')
        return running[name]

    yield start
    for item in running.values():
        if item.child.proc.poll() is None:
            os.kill(item.child.pid, signal.SIGTERM)
            try:
                item.child.wait(10)
            except Exception:
                pass
        item.child.stop()


def links(text: str) -> list[str]:
    return re.findall(r'href="([^"]*)"', text)


def test_tutorial_conf_is_the_shared_settings():
    conf = pyframe.reprconf.as_dict(str(TUTORIAL_CONF))
    assert conf['global']['server.socket_port'] == 8080
    assert conf['global']['server.socket_host'] == '127.0.0.1'
    assert conf['global']['engine.autoreload.on'] is False


@pytest.mark.parametrize('name', MODULES)
def test_every_tutorial_starts_documents_itself_and_stops(name, tutorial):
    module = __import__(f'pyframe.tutorial.{name}', fromlist=['_'])
    doc = module.__doc__
    assert f'python -m pyframe.tutorial.{name}' in doc
    assert 3 <= len(doc.strip().splitlines()) <= 20
    running = tutorial(name)
    out = running.child.output()
    if name not in ('tut01_helloworld', 'tut09_files'):
        # Loaded from the file next to the module, whatever the cwd.
        assert f'TUTORIAL CONFIG: {TUTORIAL_CONF}' in out
    assert running.get('/').status_code == 200
    assert 'Traceback' not in out


def test_tut01_hello_world(tutorial):
    assert tutorial('tut01_helloworld').get('/').text == 'Hello world!'


def test_tut02_pages_link_to_each_other(tutorial):
    t = tutorial('tut02_expose_methods')
    home = t.get('/')
    assert home.headers['Content-Type'] == 'text/html;charset=utf-8'
    assert links(home.text) == ['weather', 'about']
    for target in links(home.text):
        page = t.get('/' + target)
        assert page.status_code == 200
        assert links(page.text) == ['./']
    assert 'Sunny' in t.get('/weather').text
    assert t.get('/forecast_text').status_code == 404


def test_tut03_query_and_form_parameters(tutorial):
    t = tutorial('tut03_get_and_post')
    form = t.get('/').text
    assert 'action="greet" method="get"' in form and 'action="add" method="post"' in form
    assert 'Hello, Ada &amp; Bob!' in t.get('/greet', params={'name': 'Ada & Bob'}).text
    assert 'Please tell me your name' in t.get('/greet').text
    assert t.post('/add', data={'a': '2', 'b': '40'}).text == '2 + 40 = 42'
    assert t.get('/add', params={'a': '1', 'b': '1'}).text == '1 + 1 = 2'
    bad = t.post('/add', data={'a': 'two', 'b': '3'})
    assert bad.status_code == 400 and 'whole numbers' in bad.text
    assert t.post('/add', data={'a': '1'}).status_code == 404


def test_tut04_nested_objects(tutorial):
    t = tutorial('tut04_complex_site')
    assert links(t.get('/').text) == ['library/', 'cafe/']
    library = t.get('/library/').text
    assert '<h1>Library</h1>' in library
    assert links(library) == ['books/', 'maps/', '../']
    assert 'A cookbook' in t.get('/library/books/').text
    assert 'Town map' in t.get('/library/maps/town').text
    assert 'Tea and cake' in t.get('/cafe/').text
    redirect = t.get('/library', allow_redirects=False)
    assert redirect.status_code == 301
    assert redirect.headers['Location'] == t.base + '/library/'
    assert t.get('/library/videos/').status_code == 404


def test_tut05_shared_layout(tutorial):
    t = tutorial('tut05_derived_objects')
    from pyframe.tutorial.tut05_derived_objects import AnotherPage, HomePage, Page
    assert issubclass(HomePage, Page) and issubclass(AnotherPage, Page)
    assert (HomePage.title, AnotherPage.title) == ('Tutorial 5', 'Another Page')
    home, other = t.get('/').text, t.get('/another/').text
    assert '<title>Tutorial 5</title>' in home and '<h1>Tutorial 5</h1>' in home
    assert '<title>Another Page</title>' in other
    for page in (home, other):
        assert page.startswith('<html>') and page.endswith('</body></html>')
        assert 'Made with pyframe.' in page
    assert 'another/' in links(home) and '../' in links(other)


def test_tut06_default_method(tutorial):
    t = tutorial('tut06_default_method')
    listing = t.get('/users/').text
    assert links(listing) == ['ada', 'grace', 'linus']
    ada = t.get('/users/ada')
    assert ada.status_code == 200 and '<h1>ada</h1>' in ada.text
    assert t.get('/users/ada/likes').text == 'ada likes engines.'
    assert t.get('/users/grace/likes').text == 'grace likes compilers.'
    assert t.get('/users/nobody').status_code == 404
    assert t.get('/users/ada/hates').status_code == 404


def test_tut07_counter_per_visitor(tutorial):
    t = tutorial('tut07_sessions')
    alice, bob = requests.Session(), requests.Session()
    for expected in (1, 2, 3):
        assert f'seen this page {expected} time(s)' in t.get('/', alice).text
    assert 'seen this page 1 time(s)' in t.get('/', bob).text
    assert 'seen this page 4 time(s)' in t.get('/', alice).text
    # Without the cookie, every request is a first visit.
    assert 'seen this page 1 time(s)' in t.get('/').text
    assert 'seen this page 1 time(s)' in t.get('/').text
    assert 'Forgotten' in t.get('/forget', alice).text
    assert 'seen this page 1 time(s)' in t.get('/', alice).text
    assert 'seen this page 2 time(s)' in t.get('/', bob).text


def test_tut08_generator_output(tutorial):
    t = tutorial('tut08_generators_and_yield')
    page = t.get('/')
    assert page.status_code == 200
    assert page.text == (
        '<html><head><title>Countdown</title></head><body><h1>Countdown</h1>'
        '<ol><li>5</li><li>4</li><li>3</li><li>2</li><li>1</li></ol>'
        '<p>Lift-off!</p></body></html>')
    assert re.findall(r'<li>(\d+)</li>', t.get('/', params={'start': 3}).text) == ['3', '2', '1']


def test_tut09_upload_and_download(tutorial):
    t = tutorial('tut09_files')
    answer = t.post('/upload', files={'myFile': ('notes.txt', b'abc' * 10, 'text/plain')})
    assert 'myFile length: 30' in answer.text
    assert 'myFile filename: notes.txt' in answer.text
    assert t.get('/download').content == (TUTORIAL_DIR / 'tut09_files.py').read_bytes()


def test_tut10_errors_and_traceback_toggle(tutorial):
    t = tutorial('tut10_http_errors')
    index = t.get('/').text
    for target in ('toggle_tracebacks', 'forbidden', 'teapot', 'missing', 'broken'):
        assert target in links(index)

    forbidden = t.get('/forbidden')
    assert forbidden.status_code == 403 and 'This page is for staff only.' in forbidden.text
    assert t.get('/teapot').status_code == 418

    for path in ('/missing', '/no/such/page'):
        lost = t.get(path)
        assert lost.status_code == 404, path
        assert '<h1>Lost? (404 Not Found)</h1>' in lost.text, path

    # Tracebacks start shown (the default); the link flips them each time.
    assert 'Tracebacks are shown' in index
    broken = t.get('/broken')
    assert broken.status_code == 500 and 'KeyError' in broken.text
    toggled = t.get('/toggle_tracebacks', allow_redirects=False)
    assert toggled.status_code in (302, 303)
    assert toggled.headers['Location'] == t.base + '/'
    assert 'Tracebacks are hidden' in t.get('/').text
    hidden = t.get('/broken')
    assert hidden.status_code == 500 and 'KeyError' not in hidden.text
    # Following the redirect lands on the index, showing them again.
    assert 'Tracebacks are shown' in t.get('/toggle_tracebacks').text
    assert 'KeyError' in t.get('/broken').text
