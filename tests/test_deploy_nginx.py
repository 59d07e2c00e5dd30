"""pyframe behind a real nginx: two instances, one upstream, shared sessions.

The files of ``examples/deploy/nginx`` (the ones docs/deploy/nginx.rst
shows) are deployed as a user would: the application directory gets
``app.py``, ``app.conf``, the chosen ``sessions-*.conf`` as
``sessions.conf`` and one ``instance-NAME.conf`` per instance; each
instance runs the command of the ``pyframe@.service`` unit; nginx runs
``nginx-site.conf``. Only the ``{{...}}`` markers are filled in (ports,
paths, certificate). The whole deployment runs once with sessions in
memcached and once in redis.

The client talks to nginx from 127.0.0.2, an address nginx's own
connections to the instances never use, so the client address the
application reports can only have come from ``X-Forwarded-For``.
"""

from __future__ import annotations

import http.client
import json
import shlex
import shutil
import signal
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from nginx import NginxProcess, render, start_nginx
from servers import memcached_server, redis_server  # noqa: F401
from support import REPO, Child, child_env, free_port, require_program, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EXAMPLE = REPO / 'examples' / 'deploy' / 'nginx'
INSTANCES = ('a', 'b')
#: The client's address: any 127/8 address is local on Linux.
CLIENT_IP = '127.0.0.2'
#: What a client might claim in its own X-Forwarded-For header.
SPOOFED_IP = '203.0.113.9'
TIMEOUT = 10
START_TIMEOUT = 20


def unit_command(instance: str) -> list[str]:
    """The arguments after the program in the systemd unit's ExecStart."""
    for line in (EXAMPLE / 'pyframe@.service').read_text().splitlines():
        if line.startswith('ExecStart='):
            command = line.partition('=')[2].replace('%i', instance)
            program, *args = shlex.split(command)
            assert program.endswith('/pyframed')
            return args
    raise AssertionError('pyframe@.service has no ExecStart line')


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    openssl = require_program('openssl')
    cert, key = directory / 'cert.pem', directory / 'key.pem'
    subprocess.run(
        [openssl, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1',
         '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
         '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', str(key), '-out', str(cert)],
        check=True, capture_output=True, timeout=START_TIMEOUT,
    )
    return cert, key


def accepts(port: int) -> bool:
    """True when something accepts connections on 127.0.0.1:``port``."""
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
    except OSError:
        return False
    return True


@dataclass
class Deployment:
    """nginx and the two instances, as the tests reach them."""

    nginx: NginxProcess
    app_dir: Path
    instances: dict[str, Child]
    ports: dict[str, int]
    certificate: Path

    @property
    def http(self) -> str:
        return f'http://127.0.0.1:{self.nginx.ports[0]}'

    @property
    def https(self) -> str:
        return f'https://127.0.0.1:{self.nginx.ports[1]}'

    def app_access_text(self) -> str:
        """Both instances' access logs."""
        return ''.join(path.read_text(errors='replace')
                       for path in sorted(self.app_dir.glob('access-*.log')))

    def diagnostics(self) -> str:
        """Everything worth reading when a test fails."""
        logs = [f'--- {path.name}\n{path.read_text(errors="replace")}'
                for path in sorted(self.app_dir.glob('*.log'))]
        return '\n'.join([*logs, '--- nginx', self.nginx.error_text()])


def deploy_app(app_dir: Path, store: str, store_port: int,
               ports: dict[str, int]) -> None:
    """Lay out the application directory from the example files."""
    app_dir.mkdir()
    shutil.copy(EXAMPLE / 'app.py', app_dir)
    shutil.copy(EXAMPLE / 'app.conf', app_dir)
    sessions = (EXAMPLE / f'sessions-{store}.conf').read_text()
    (app_dir / 'sessions.conf').write_text(render(sessions, **{f'{store}_port': store_port}))
    template = (EXAMPLE / 'instance.conf').read_text()
    for name, port in ports.items():
        (app_dir / f'instance-{name}.conf').write_text(render(template, name=name, port=port))


def start_instances(app_dir: Path, ports: dict[str, int]) -> dict[str, Child]:
    """Run each instance with the unit's command; wait until both listen."""
    children = {}
    try:
        for name in ports:
            children[name] = Child(['-m', 'pyframe', *unit_command(name)], app_dir,
                                   env=child_env())
        for name, port in ports.items():
            child = children[name]

            def ready(child=child, port=port):
                if child.proc.poll() is not None:
                    raise AssertionError(f'instance exited:\n{child.output()}')
                return accepts(port)

            wait_for(ready, timeout=START_TIMEOUT)
    except BaseException:
        for child in children.values():
            child.stop()
        raise
    return children


@contextmanager
def deployed(root: Path, store: str, store_port: int) -> Iterator[Deployment]:
    """Deploy the example under ``root``; stop every process on the way out."""
    ports = {name: free_port() for name in INSTANCES}
    deploy_app(root / 'app', store, store_port, ports)
    shutil.copytree(EXAMPLE / 'static', root / 'static')
    certificate, key = make_certificate(root)
    site = render(
        (EXAMPLE / 'nginx-site.conf').read_text(),
        port_a=ports['a'], port_b=ports['b'],
        listen_http=f'127.0.0.1:{free_port()}', listen_https=f'127.0.0.1:{free_port()}',
        certificate=certificate, certificate_key=key, static_dir=root / 'static',
    )
    instances = start_instances(root / 'app', ports)
    try:
        with start_nginx(root, site) as server:
            yield Deployment(server, root / 'app', instances, ports, certificate)
    finally:
        for child in instances.values():
            child.stop()


@pytest.fixture(scope='module', params=['memcached', 'redis'])
def deployment(request, tmp_path_factory):
    """The whole deployment, sessions in memcached or in redis (shared by
    the tests of the module, which only read from it)."""
    store = request.param
    _, store_port = request.getfixturevalue(f'{store}_server')
    with deployed(tmp_path_factory.mktemp(f'nginx-{store}'), store, store_port) as site:
        yield site


def get_from_client_address(url: str, headers: dict[str, str] | None = None
                            ) -> tuple[int, bytes]:
    """GET ``url`` (plain http) from CLIENT_IP; return (status, body)."""
    parsed = urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=TIMEOUT,
                                            source_address=(CLIENT_IP, 0))
    try:
        target = parsed.path + (f'?{parsed.query}' if parsed.query else '')
        connection.request('GET', target, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def instance_addresses(deployment: Deployment) -> set[str]:
    """How the instances name themselves in their answers."""
    return {f'127.0.0.1:{port}' for port in deployment.ports.values()}


def test_proxy_tool_gives_public_base_and_real_client(deployment):
    status, body = get_from_client_address(f'{deployment.http}/whoami',
                                           headers={'X-Forwarded-For': SPOOFED_IP})
    assert status == 200, deployment.diagnostics()
    seen = json.loads(body)
    assert seen['base'] == deployment.http
    assert seen['scheme'] == 'http'
    assert seen['url'] == f'{deployment.http}/whoami'
    # nginx overwrites the header: the client cannot choose its address.
    assert seen['remote_ip'] == CLIENT_IP
    assert seen['instance'] in instance_addresses(deployment)


def test_https_at_nginx_is_https_for_the_application(deployment):
    response = requests.get(f'{deployment.https}/whoami', timeout=TIMEOUT,
                            verify=str(deployment.certificate))
    assert response.status_code == 200, deployment.diagnostics()
    seen = response.json()
    assert seen['scheme'] == 'https'
    assert seen['base'] == deployment.https
    assert seen['url'] == f'{deployment.https}/whoami'
    # The instance itself was reached over plain http.
    assert seen['instance'] in instance_addresses(deployment)


def test_redirects_name_the_public_address(deployment):
    response = requests.get(f'{deployment.https}/elsewhere', timeout=TIMEOUT,
                            verify=str(deployment.certificate), allow_redirects=False)
    assert response.status_code in (302, 303), deployment.diagnostics()
    assert response.headers['Location'] == f'{deployment.https}/whoami'


def test_access_logs_record_the_client_address(deployment):
    probe = uuid.uuid4().hex
    # The probe goes in the User-Agent, which both access logs record.
    status, body = get_from_client_address(f'{deployment.http}/',
                                           headers={'User-Agent': f'probe/{probe}'})
    assert status == 200, deployment.diagnostics()
    assert body.decode().startswith('Hello from 127.0.0.1:')
    line = wait_for(lambda: next((line for line in deployment.app_access_text().splitlines()
                                  if probe in line), None), timeout=TIMEOUT)
    assert line.startswith(f'{CLIENT_IP} ')
    assert '"GET / HTTP/1.' in line and '" 200 ' in line
    # nginx too writes its line once the response has gone out.
    nginx_line = wait_for(lambda: next((line for line in deployment.nginx.access_text()
                                        .splitlines() if probe in line), None), timeout=TIMEOUT)
    assert nginx_line.startswith(f'{CLIENT_IP} ')


def test_static_files_are_served_by_nginx_alone(deployment):
    probe = uuid.uuid4().hex
    expected = (EXAMPLE / 'static' / 'hello.txt').read_bytes()
    found = requests.get(f'{deployment.http}/static/hello.txt?{probe}', timeout=TIMEOUT)
    assert found.status_code == 200, deployment.diagnostics()
    assert found.content == expected
    assert found.headers['Content-Type'].startswith('text/plain')
    assert found.headers['Server'].startswith('nginx')
    missing = requests.get(f'{deployment.http}/static/missing.txt?{probe}', timeout=TIMEOUT)
    assert missing.status_code == 404
    assert '<center>nginx' in missing.text  # nginx's own error page

    # Two more requests reach both instances (round robin); once their
    # lines are in the logs, the static requests would be too, had the
    # instances seen them.
    markers = [uuid.uuid4().hex for _ in INSTANCES]
    for marker in markers:
        assert requests.get(f'{deployment.http}/', headers={'User-Agent': marker},
                            timeout=TIMEOUT).ok
    wait_for(lambda: all(m in deployment.app_access_text() for m in markers), timeout=TIMEOUT)
    assert '/static/' not in deployment.app_access_text()
    wait_for(lambda: f'"GET /static/hello.txt?{probe} HTTP/1.1" 200 '
             in deployment.nginx.access_text(), timeout=TIMEOUT)


def test_sessions_are_shared_by_both_instances(deployment):
    with requests.Session() as browser:
        answers = []
        for _ in range(20):
            response = browser.get(f'{deployment.http}/count', timeout=TIMEOUT)
            assert response.status_code == 200, deployment.diagnostics()
            answers.append(response.json())
        cookie = browser.cookies['session_id']
    assert [answer['count'] for answer in answers] == list(range(1, 21))
    assert {answer['instance'] for answer in answers} == instance_addresses(deployment)
    assert len(cookie) == 40

    # Another visitor starts from one, whichever instance answers.
    with requests.Session() as other:
        assert other.get(f'{deployment.http}/count', timeout=TIMEOUT).json()['count'] == 1


def test_a_stopped_instance_loses_no_session(tmp_path, memcached_server):  # noqa: F811
    # Its own deployment: this test stops and restarts an instance.
    with deployed(tmp_path, 'memcached', memcached_server[1]) as site:
        with requests.Session() as browser:
            def count() -> dict:
                response = browser.get(f'{site.http}/count', timeout=TIMEOUT)
                assert response.status_code == 200, site.diagnostics()
                return response.json()

            before = [count() for _ in range(4)]
            old = site.instances['a']
            old.proc.send_signal(signal.SIGTERM)
            assert old.wait(START_TIMEOUT) == 0, old.output()
            # nginx moves on to instance b, which knows the session.
            alone = [count() for _ in range(4)]
            assert {answer['instance'] for answer in alone} == {f'127.0.0.1:{site.ports["b"]}'}

            site.instances['a'] = start_instances(site.app_dir, {'a': site.ports['a']})['a']
            old.stop()
            # nginx keeps a failed server aside for fail_timeout (10 s):
            # ask the restarted instance directly, with the same cookie.
            direct = browser.get(f'http://127.0.0.1:{site.ports["a"]}/count', timeout=TIMEOUT)
    assert [answer['count'] for answer in before + alone] == list(range(1, 9))
    assert direct.json() == {'count': 9, 'instance': f'127.0.0.1:{site.ports["a"]}'}
