"""Tutorial 9: uploading and downloading files, over real HTTP."""

from __future__ import annotations

import hashlib
import os
import signal
from pathlib import Path

import pytest
import requests

import pyframe
from support import free_port, write_script


TUT09 = '''
    import runpy, sys
    import pyframe
    pyframe.config.update({'server.socket_port': int(sys.argv[1]),
                           'engine.autoreload.on': False, 'checker.on': False})
    runpy.run_module('pyframe.tutorial.tut09_files', run_name='__main__')
'''


@pytest.mark.slow
def test_tutorial_9_uploads_and_downloads_files(tmp_path, spawn):
    port = free_port()
    child = spawn([write_script(tmp_path, 'tut09.py', TUT09), port])
    child.wait_output('Bus STARTED')
    base = f'http://127.0.0.1:{port}'
    try:
        assert 'multipart/form-data' in requests.get(base + '/', timeout=5).text
        data = os.urandom(300_000)
        answer = requests.post(base + '/upload', timeout=10,
                               files={'myFile': ('r\u00e9sum\u00e9.bin', data, 'application/octet-stream')})
        assert answer.status_code == 200
        assert 'myFile length: 300000' in answer.text
        assert 'myFile filename: r\u00e9sum\u00e9.bin' in answer.text
        assert 'myFile mime-type: application/octet-stream' in answer.text
        assert hashlib.sha256(data).hexdigest() in answer.text
        download = requests.get(base + '/download', timeout=5)
        assert download.headers['Content-Type'] == 'application/x-download'
        assert 'attachment' in download.headers['Content-Disposition']
        source = Path(pyframe.__file__).parent / 'tutorial' / 'tut09_files.py'
        assert download.content == source.read_bytes()
    finally:
        os.kill(child.pid, signal.SIGTERM)
        child.wait(15)
