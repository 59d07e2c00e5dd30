"""The scaffold project: ``pyframed -c site.conf`` serves it, as a real process."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from support import Child, free_port, wait_for, write_script

pytestmark = pytest.mark.slow

SCAFFOLD = Path(__file__).resolve().parent.parent / 'pyframe' / 'scaffold'


def fetch(port: int, path: str):
    """(status, content type, body) of GET ``path``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(f'http://127.0.0.1:{port}{path}', timeout=2) as resp:
            return resp.status, resp.headers.get('Content-Type', ''), resp.read().decode()
    except (urllib.error.URLError, OSError):
        return None


def test_package_files_exist():
    for name in ('__init__.py', 'site.conf', 'app.conf', 'static/site.css'):
        assert (SCAFFOLD / name).is_file(), name


def test_site_conf_serves_the_scaffold_and_sigterm_exits_0(tmp_path):
    port = free_port()
    # -c is repeatable: a second file moves the site off its 8080.
    override = write_script(
        tmp_path,
        'port.conf',
        f"""\
        [global]
        server.socket_port = {port}
        engine.autoreload.on = False
        """,
    )
    child = Child(
        ['-m', 'pyframe', '-c', SCAFFOLD / 'site.conf', '-c', override], cwd=tmp_path
    )
    try:
        status, ctype, body = wait_for(lambda: fetch(port, '/'), timeout=15)
        assert status == 200 and ctype.startswith('text/html')
        assert '/static/site.css' in body and '<h1>' in body

        status, ctype, css = fetch(port, '/static/site.css')
        assert status == 200 and ctype.startswith('text/css')
        assert css == (SCAFFOLD / 'static' / 'site.css').read_text()

        status, ctype, text = fetch(port, '/about')
        assert status == 200 and 'About' in text

        status, ctype, text = fetch(port, '/status')
        assert status == 200 and ctype.startswith('application/json')
        assert json.loads(text)['status'] == 'ok'

        child.proc.send_signal(signal.SIGTERM)
        assert child.wait() == 0
        assert 'Caught signal SIGTERM.' in child.output()
    finally:
        child.stop()
