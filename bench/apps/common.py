"""What every benchmark app serves, and how a correct answer looks.

Each framework module in this package builds the same four endpoints:

``/``                   text/plain ``Hello, world!``
``/typical``            JSON built from ``name`` and ``count`` query params
                        (plus a per-session ``visits`` counter where the
                        framework has server-side sessions)
``/static/100k.bin``    a 100 KB file served by the framework's own
                        static-file mechanism
``/upload``             POST multipart/form-data with a 1 MB ``file`` part;
                        the answer is the part's size in bytes
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from typing import Any

HELLO = b'Hello, world!'
STATIC_NAME = '100k.bin'
STATIC_SIZE = 100 * 1024
UPLOAD_SIZE = 1024 * 1024
BOUNDARY = 'pyframe-bench-boundary-7f3a9c'
TYPICAL_QUERY = 'name=x&count=3'


def typical_payload(name: str, count: int, visits: int | None = None) -> dict[str, Any]:
    """The JSON document ``/typical`` returns; ``visits`` only with sessions."""
    payload: dict[str, Any] = {
        'greeting': f'Hello, {name}!',
        'items': list(range(count)),
    }
    if visits is not None:
        payload['visits'] = visits
    return payload


def expected_typical(visits: int | None) -> dict[str, Any]:
    """The payload the benchmark's ``/typical?name=x&count=3`` must get back."""
    return typical_payload('x', 3, visits)


def parse_json(body: bytes) -> Any:
    """Decode a JSON response body (bytes) into Python objects."""
    return json.loads(body.decode('utf-8'))


def make_static_dir() -> str:
    """Create a temp dir holding the 100 KB static file; return its path.

    The bytes are fixed (not random) so every run serves the same file.
    """
    directory = tempfile.mkdtemp(prefix='pyframe-bench-')
    block = bytes(range(256))
    content = (block * (STATIC_SIZE // len(block) + 1))[:STATIC_SIZE]
    with open(os.path.join(directory, STATIC_NAME), 'wb') as handle:
        handle.write(content)
    return directory


def remove_static_dir(directory: str) -> None:
    """Delete a directory made by :func:`make_static_dir`."""
    shutil.rmtree(directory, ignore_errors=True)


def multipart_body(size: int = UPLOAD_SIZE) -> tuple[bytes, str]:
    """Return ``(body, content_type)`` of a form upload of ``size`` bytes."""
    head = (
        f'--{BOUNDARY}\r\n'
        f'Content-Disposition: form-data; name="file"; filename="blob.bin"\r\n'
        f'Content-Type: application/octet-stream\r\n\r\n'
    ).encode('ascii')
    tail = f'\r\n--{BOUNDARY}--\r\n'.encode('ascii')
    return head + b'\xab' * size + tail, f'multipart/form-data; boundary={BOUNDARY}'
