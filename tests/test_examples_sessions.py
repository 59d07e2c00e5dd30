"""examples/tutorial05_sessions.py and tutorial07_rest.py, run as real
processes and driven like the tutorials' transcripts."""

from __future__ import annotations

import string

import pytest
import requests

from support import REPO, child_env, free_port, http_answers, wait_for

EXAMPLES = REPO / 'examples'


def start(spawn, name: str, port_via: str) -> str:
    """Start example ``name`` on a free port; return its base URL."""
    port = free_port()
    script = EXAMPLES / name
    if port_via == 'argv':
        child = spawn([script, port], env=child_env())
    else:
        child = spawn([script], env=child_env(PYFRAME_PORT=str(port)))
    child.wait_output('Bus STARTED', timeout=20)
    base = f'http://127.0.0.1:{port}'
    wait_for(lambda: http_answers(base), timeout=10)
    return base



@pytest.mark.slow
def test_tutorial_5_string_follows_the_session(spawn):
    base = start(spawn, 'tutorial05_sessions.py', 'argv')
    visitor, other = requests.Session(), requests.Session()
    assert 'action="generate"' in visitor.get(base + '/', timeout=5).text
    generated = visitor.get(base + '/generate', params={'length': 8}, timeout=5)
    assert generated.status_code == 200
    assert len(generated.text) == 8 and set(generated.text) <= set(string.hexdigits)
    assert visitor.get(base + '/display', timeout=5).text == generated.text
    assert other.get(base + '/display', timeout=5).status_code == 500
    assert visitor.get(base + '/generate', params={'length': 'x'}, timeout=5).status_code == 400


@pytest.mark.slow
def test_tutorial_7_rest_transcript(spawn):
    base = start(spawn, 'tutorial07_rest.py', 'env') + '/'
    s = requests.Session()
    assert s.get(base, timeout=5).status_code == 500

    r = s.post(base, timeout=5)
    assert r.status_code == 200
    made = r.text
    assert len(made) == 8 and set(made) <= set(string.hexdigits)
    assert r.headers['Content-Type'].startswith('text/plain')

    r = s.get(base, timeout=5)
    assert (r.status_code, r.text) == (200, made)

    r = s.get(base, headers={'Accept': 'application/json'}, timeout=5)
    assert r.status_code == 406

    r = s.put(base, params={'another_string': 'hello'}, timeout=5)
    assert r.status_code == 200
    r = s.get(base, timeout=5)
    assert (r.status_code, r.text) == (200, 'hello')

    r = s.delete(base, timeout=5)
    assert r.status_code == 200
    assert s.get(base, timeout=5).status_code == 500

    # A verb the service has no method for.
    assert s.patch(base, timeout=5).status_code == 405
