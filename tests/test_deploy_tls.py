"""HTTPS on pyframe's own server, checked with requests and ``openssl s_client``.

Certificates are made in each test with the ``openssl`` program; the server
is a real ``pyframed`` process configured with ``server.ssl_certificate``
and ``server.ssl_private_key`` (see docs/deploy/tls.rst).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import requests

from support import Child, free_port, require_program, wait_for, write_script

pytestmark = [pytest.mark.integration, pytest.mark.slow]

APP = """\
import pyframe


class Root:
    @pyframe.expose
    def index(self):
        request = pyframe.request
        return f'{request.scheme} {request.base} {request.path_info}'


pyframe.tree.mount(Root())
"""

# Just enough of a CA config for `openssl ca` to sign with chosen dates.
CA_CONFIG = """\
[ca]
default_ca = test_ca
[test_ca]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any_name
[any_name]
commonName = supplied
[ext]
subjectAltName = IP:127.0.0.1
"""


def openssl(*args: str, cwd: Path, stdin: str | None = None, check: bool = True) -> str:
    """Run the openssl program; return its output (fail the test if it fails)."""
    result = subprocess.run(
        [require_program('openssl'), *args], cwd=cwd, input=stdin,
        capture_output=True, text=True, timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def self_signed(directory: Path, cn: str = '127.0.0.1') -> tuple[Path, Path]:
    """A fresh self-signed certificate and key for ``cn`` (and 127.0.0.1)."""
    directory.mkdir(parents=True, exist_ok=True)
    openssl(
        'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
        '-subj', f'/CN={cn}', '-addext', 'subjectAltName=IP:127.0.0.1',
        '-keyout', 'key.pem', '-out', 'cert.pem', cwd=directory,
    )
    return directory / 'cert.pem', directory / 'key.pem'


def expired(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 that expired in 2020."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / 'ca.cnf').write_text(CA_CONFIG)
    (directory / 'index.txt').write_text('')
    (directory / 'serial').write_text('01\n')
    openssl('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
            '-keyout', 'key.pem', '-out', 'req.csr', cwd=directory)
    openssl('ca', '-batch', '-selfsign', '-config', 'ca.cnf', '-keyfile', 'key.pem',
            '-in', 'req.csr', '-out', 'cert.pem', '-notext', '-extensions', 'ext',
            '-startdate', '20200101000000Z', '-enddate', '20200102000000Z',
            cwd=directory)
    return directory / 'cert.pem', directory / 'key.pem'


@pytest.fixture
def https_server(tmp_path):
    """Start ``pyframed`` serving HTTPS with the given files; return its port."""
    children = []

    def start(cert: Path, key: Path) -> int:
        port = free_port()
        site = tmp_path / f'site{len(children)}'
        site.mkdir()
        write_script(site, 'tls_app.py', APP)
        conf = write_script(site, 'site.conf', f"""\
            [global]
            server.socket_port = {port}
            server.ssl_certificate = {str(cert)!r}
            server.ssl_private_key = {str(key)!r}
            engine.autoreload.on = False
            """)
        child = Child(['-m', 'pyframe', '-c', conf, '-i', 'tls_app'], cwd=site)
        children.append(child)
        child.wait_output(f'Serving on https://127.0.0.1:{port}', timeout=20)
        return port

    start.children = children
    yield start
    for child in children:
        child.stop()


def test_requests_gets_https_with_the_generated_certificate(tmp_path, https_server):
    cert, key = self_signed(tmp_path / 'certs')
    port = https_server(cert, key)

    response = requests.get(f'https://127.0.0.1:{port}/', verify=str(cert), timeout=10)

    assert response.status_code == 200
    # The application sees the request as HTTPS and builds https URLs.
    assert response.text == f'https https://127.0.0.1:{port} /'


def test_openssl_s_client_handshake_certificate_and_request(tmp_path, https_server):
    cert, key = self_signed(tmp_path / 'certs', cn='pyframe-test.local')
    port = https_server(cert, key)

    typed = f'GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n'
    # -ign_eof: keep reading the answer after our input ends. OpenSSL 3
    # exits 1 when the server closes the TCP connection after the response
    # without a TLS close_notify (as most servers do), so the status is not
    # checked; the transcript is.
    output = openssl(
        's_client', '-connect', f'127.0.0.1:{port}', '-servername', 'pyframe-test.local',
        '-CAfile', str(cert), '-ign_eof', cwd=tmp_path, stdin=typed, check=False,
    )

    assert 'Verify return code: 0 (ok)' in output
    # The certificate served is the one generated (same subject, same
    # fingerprint as the PEM printed in the transcript).
    assert 'subject=CN = pyframe-test.local' in output
    served_pem = output[output.index('-----BEGIN CERTIFICATE-----'):
                        output.index('-----END CERTIFICATE-----') + 25]
    fingerprint = 'openssl', 'x509', '-noout', '-fingerprint', '-sha256'
    assert (openssl(*fingerprint[1:], cwd=tmp_path, stdin=served_pem)
            == openssl(*fingerprint[1:], '-in', str(cert), cwd=tmp_path))
    assert 'HTTP/1.1 200 OK' in output
    assert f'https https://127.0.0.1:{port} /' in output


def test_plain_http_on_the_tls_port_gets_a_clean_error(tmp_path, https_server):
    cert, key = self_signed(tmp_path / 'certs')
    port = https_server(cert, key)

    with socket.create_connection(('127.0.0.1', port), timeout=10) as conn:
        conn.sendall(b'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
        answer = b''
        while chunk := conn.recv(4096):
            answer += chunk

    assert answer.startswith(b'HTTP/1.1 400 Bad Request\r\n'), answer
    assert answer.endswith(b'\r\n\r\nThis port speaks HTTPS only; use an https:// URL instead.')
    # ...and the server goes on serving HTTPS.
    response = requests.get(f'https://127.0.0.1:{port}/', verify=str(cert), timeout=10)
    assert response.status_code == 200
    log = https_server.children[0].output()
    assert 'attempted to speak plain HTTP' in log
    assert 'Traceback' not in log


def test_untrusted_certificate_is_refused_by_a_verifying_client(tmp_path, https_server):
    cert, key = self_signed(tmp_path / 'certs')
    other, _ = self_signed(tmp_path / 'other')
    port = https_server(cert, key)
    url = f'https://127.0.0.1:{port}/'

    # Trusting the system CAs only, or another self-signed certificate.
    for verify in (True, str(other)):
        with pytest.raises(requests.exceptions.SSLError, match='certificate verify failed'):
            requests.get(url, verify=verify, timeout=10)
    assert requests.get(url, verify=str(cert), timeout=10).status_code == 200


def test_expired_certificate_is_refused_by_a_verifying_client(tmp_path, https_server):
    cert, key = expired(tmp_path / 'expired')
    port = https_server(cert, key)

    with pytest.raises(requests.exceptions.SSLError, match='certificate has expired'):
        requests.get(f'https://127.0.0.1:{port}/', verify=str(cert), timeout=10)
