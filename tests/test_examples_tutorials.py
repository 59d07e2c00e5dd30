"""The walkthrough examples of tutorials 1, 2, 3, 4, 6 and 11, run as real
processes and visited over HTTP the way the tutorials' text describes."""

from __future__ import annotations

import http.client
import re
import signal
import string

import pytest
import requests

from support import REPO, Example, child_env, free_port, http_answers, wait_for

EXAMPLES = REPO / 'examples'
HEX = set(string.hexdigits)

# Runs an example file as ``__main__`` with the autoreloader off. The
# autoreloader re-executes a process whose source files change; other work
# on this checkout while the tests run would otherwise restart an example
# between two requests. Everything else is the example's own code.
LAUNCHER = '''\
import os, runpy, sys
import pyframe
pyframe.config.update({'engine.autoreload.on': False})
sys.argv = sys.argv[1:]
sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
runpy.run_path(sys.argv[0], run_name='__main__')
'''




def start(spawn, relative: str, port_via: str = 'env', plain: bool = False) -> Example:
    """Start ``examples/<relative>`` on a free port (given by argv or env).

    ``plain`` runs the file exactly as the README says, autoreloader and all.
    The child's working directory is a temporary one, so an example that
    finds its files relative to the current directory would fail here.
    """
    port = free_port()
    script = EXAMPLES / relative
    args = [script] if plain else ['-c', LAUNCHER, script]
    if port_via == 'argv':
        child = spawn([*args, port], env=child_env())
    else:
        child = spawn(args, env=child_env(PYFRAME_PORT=str(port)))
    child.wait_output('Bus STARTED', timeout=20)
    base = f'http://127.0.0.1:{port}'
    wait_for(lambda: http_answers(base), timeout=10)
    return Example(child, base)


def raw_get(base: str, path: str) -> int:
    """GET ``path`` byte for byte (no client-side ``..`` clean-up); the status."""
    host, port = base.removeprefix('http://').split(':')
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.request('GET', path)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.slow
def test_tutorial_1_says_hello_and_logs_like_the_transcript(spawn):
    app = start(spawn, 'tutorial01_hello.py', port_via='argv', plain=True)
    port = app.base.rsplit(':', 1)[1]
    log = app.child.output()
    for line in ('Listening for SIGTERM.', 'Bus STARTING',
                 "The Application mounted at '' has an empty config.",
                 f'Serving on http://127.0.0.1:{port}', 'Bus STARTED'):
        assert line in log

    r = requests.get(app.url('/'), timeout=5)
    assert (r.status_code, r.text) == (200, 'Hello world!')
    assert r.headers['Content-Type'].startswith('text/html')
    assert requests.get(app.url('/nothing-here'), timeout=5).status_code == 404


@pytest.mark.slow
def test_tutorial_2_each_url_has_its_method(spawn):
    app = start(spawn, 'tutorial02_urls.py')
    assert requests.get(app.url('/'), timeout=5).text == 'Hello world!'

    first = requests.get(app.url('/generate'), timeout=5)
    second = requests.get(app.url('/generate'), timeout=5)
    for r in (first, second):
        assert r.status_code == 200
        assert len(r.text) == 8 and set(r.text) <= HEX
    # 22 hex digits taken 8 at a time: two equal draws would mean no randomness.
    assert first.text != second.text

    # generate() takes no arguments: extra path segments match nothing.
    assert requests.get(app.url('/generate/more'), timeout=5).status_code == 404


@pytest.mark.slow
def test_tutorial_3_query_string_sets_the_length(spawn):
    app = start(spawn, 'tutorial03_params.py', port_via='argv')
    r = requests.get(app.url('/generate?length=16'), timeout=5)
    assert r.status_code == 200
    assert len(r.text) == 16 and set(r.text) <= HEX and len(set(r.text)) == 16

    default = requests.get(app.url('/generate'), timeout=5)
    assert len(default.text) == 8

    for bad in ('x', '23', '-1'):
        r = requests.get(app.url('/generate'), params={'length': bad}, timeout=5)
        assert r.status_code == 400, bad
        assert 'length must be a number from 0 to 22' in r.text
    # A query-string key the method has no parameter for: no such page.
    assert requests.get(app.url('/generate?size=4'), timeout=5).status_code == 404


@pytest.mark.slow
def test_tutorial_4_form_by_get_and_by_post(spawn):
    app = start(spawn, 'tutorial04_form.py')
    page = requests.get(app.url('/'), timeout=5)
    assert page.status_code == 200
    assert re.search(r'<form method="get" action="generate">', page.text)
    assert 'name="length"' in page.text and 'Give it now!' in page.text

    # What the browser does on "Give it now!": GET the form's action,
    # resolved against the page's URL, with the field in the query string.
    by_get = requests.get(app.url('/generate'), params={'length': '12'}, timeout=5)
    assert by_get.status_code == 200 and len(by_get.text) == 12

    # The same field sent as a POST body reaches the same method.
    by_post = requests.post(app.url('/generate'), data={'length': '5'}, timeout=5)
    assert by_post.status_code == 200
    assert len(by_post.text) == 5 and set(by_post.text) <= HEX

    assert requests.post(app.url('/generate'), data={'length': 'lots'}, timeout=5).status_code == 400


@pytest.mark.slow
def test_tutorial_6_static_files_from_public(spawn):
    app = start(spawn, 'tutorial06_static/tut06.py', port_via='argv')
    page = requests.get(app.url('/'), timeout=5).text
    assert '<link href="/static/css/style.css" rel="stylesheet">' in page

    css = requests.get(app.url('/static/css/style.css'), timeout=5)
    assert css.status_code == 200
    assert css.headers['Content-Type'].startswith('text/css')
    assert css.text == (EXAMPLES / 'tutorial06_static/public/css/style.css').read_text()
    assert 'background-color: blue' in css.text

    js = requests.get(app.url('/static/js/focus.js'), timeout=5)
    assert js.status_code == 200
    assert js.headers['Content-Type'].split(';')[0] in ('text/javascript', 'application/javascript')
    svg = requests.get(app.url('/static/images/logo.svg'), timeout=5)
    assert svg.status_code == 200
    assert svg.headers['Content-Type'] == 'image/svg+xml'
    assert svg.text.startswith('<svg')

    # A browser revalidating its cached copy gets "not modified".
    again = requests.get(app.url('/static/css/style.css'), timeout=5,
                         headers={'If-Modified-Since': css.headers['Last-Modified']})
    assert again.status_code == 304 and again.content == b''

    assert requests.get(app.url('/static/css/missing.css'), timeout=5).status_code == 404
    # Only public/ is published: the application's source stays private.
    assert raw_get(app.base, '/static/../tut06.py') in (403, 404)
    assert raw_get(app.base, '/static/%2e%2e/tut06.py') in (403, 404)

    # The session part of the tutorial still works alongside.
    visitor = requests.Session()
    made = visitor.get(app.url('/generate'), params={'length': 6}, timeout=5).text
    assert visitor.get(app.url('/display'), timeout=5).text == made


@pytest.mark.slow
def test_tutorial_11_store_dispatcher_tool_and_plugin(spawn):
    app = start(spawn, 'tutorial11_organize/serve.py')
    # The crew plugin filled the shelves when the engine started.
    assert 'Crew put 15 items back on the shelves.' in app.child.output()
    assert "Started monitor thread 'Crew rounds'." in app.child.output()

    front = requests.get(app.url('/'), timeout=5)
    assert front.status_code == 200
    assert front.headers['Content-Type'] == 'text/html;charset=utf-8'
    assert '<li>bread: 180 cents, 5 left</li>' in front.text

    # /till uses the method dispatcher (app.conf) and answers JSON.
    till = app.url('/till')
    stock = requests.get(till, timeout=5)
    assert stock.headers['Content-Type'] == 'application/json'
    assert stock.json()['apple'] == {'price': 40, 'left': 5}
    assert requests.delete(till, timeout=5).status_code == 405

    # Without a store card: full price.
    receipt = requests.post(till, data={'item': 'apple', 'quantity': '2'}, timeout=5).json()
    assert receipt == {'item': 'apple', 'quantity': 2, 'subtotal': 80,
                       'discount': 0, 'total': 80}

    # /card hands out the cookie the store_card tool looks for: 10% off.
    customer = requests.Session()
    card = customer.get(app.url('/card'), allow_redirects=False, timeout=5)
    assert card.status_code in (302, 303)
    assert card.headers['Location'] == app.url('/')
    assert customer.cookies.get('store_card') == 'yes'
    receipt = customer.post(till, data={'item': 'bread', 'quantity': '3'}, timeout=5).json()
    assert (receipt['subtotal'], receipt['discount'], receipt['total']) == (540, 54, 486)

    assert requests.get(till, timeout=5).json()['bread']['left'] == 2
    short = requests.post(till, data={'item': 'bread', 'quantity': '3'}, timeout=5)
    assert short.status_code == 409 and 'only 2 bread left' in short.text
    assert requests.post(till, data={'item': 'caviar'}, timeout=5).status_code == 404
    assert requests.post(till, data={'item': 'milk', 'quantity': '0'}, timeout=5).status_code == 400

    # Pages reach the plugin through the engine's custom 'restock' channel.
    assert requests.get(app.url('/restock'), timeout=5).status_code == 405
    restock = requests.post(app.url('/restock'), timeout=5)
    assert (restock.status_code, restock.text) == (200, '5 items put back on the shelves.')
    assert requests.get(till, timeout=5).json()['bread']['left'] == 5

    # The plugin's thread ends with the engine.
    app.child.proc.send_signal(signal.SIGTERM)
    assert app.child.wait(timeout=20) == 0
    log = app.child.output()
    assert "Stopped thread 'Crew rounds'." in log
    assert 'Bus EXITED' in log


def test_readme_start_commands_name_existing_files():
    readme = (EXAMPLES / 'README.rst').read_text()
    scripts = re.findall(r'``python (examples/\S+\.py)``', readme)
    # One start command per tutorial, 1 to 11, in order.
    assert [re.search(r'tutorial(\d\d)', s).group(1) for s in scripts] == [
        f'{n:02d}' for n in range(1, 12)]
    missing = [s for s in scripts if not (REPO / s).is_file()]
    assert not missing, f'README.rst starts files that do not exist: {missing}'
