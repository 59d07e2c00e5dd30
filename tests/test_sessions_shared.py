"""MemcachedSession and RedisSession against real servers, over real HTTP.

Every test runs once per backend. The servers come from the fixtures of
``servers.py`` (skipped locally when the program is missing, a failure in
CI). Beyond one process, two child processes serving the same application
share a session through the store, and a process killed while holding a
session lock blocks the other only until the lock's TTL runs out.
"""

from __future__ import annotations

import signal
import socket
import time

import pytest
import requests

import pyframe
from pyframe.lib import sessions
from pyframe.lib.sessions import MemcachedSession, RedisSession
from live import TIMEOUT, live  # noqa: F401
from live import hammer_session_counter as hammer
from servers import memcached_server, redis_server  # noqa: F401
from support import free_port, wait_for, write_script

pytestmark = pytest.mark.slow


def store_options(backend: str, address: tuple[str, int]) -> dict:
    """The tools.sessions settings that point a site at ``address``."""
    host, port = address
    if backend == 'memcached':
        return {'storage_class': MemcachedSession, 'servers': [f'{host}:{port}']}
    return {'storage_class': RedisSession, 'url': f'redis://{host}:{port}/0'}


@pytest.fixture(params=['memcached', 'redis'])
def store(request):
    """(backend name, its address): only the server the test needs starts."""
    backend = request.param
    address = request.getfixturevalue(f'{backend}_server')
    return backend, address


def bump(sess) -> str:
    count = sess.get('count', 0)
    # Widen the read-modify-write window, so that without a working lock
    # the concurrency test loses updates instead of passing by luck.
    time.sleep(0.003)
    sess['count'] = count + 1
    return str(sess['count'])


class Root:
    @pyframe.expose
    def index(self):
        return bump(sessions.session)

    @pyframe.expose
    def explicit(self):
        sess = sessions.session
        sess.acquire_lock()
        try:
            return bump(sess)
        finally:
            sess.save()


def serve(live, store, **options):  # noqa: F811
    settings = {'tools.sessions.on': True}
    merged = store_options(*store)
    merged.update(options)
    settings.update({f'tools.sessions.{key}': value for key, value in merged.items()})
    return live(Root(), config={'/': settings}, thread_pool=10)


def test_counter_increments_per_client(live, store):  # noqa: F811
    site = serve(live, store)
    alice, bob = requests.Session(), requests.Session()
    assert [alice.get(site.url(), timeout=TIMEOUT).text for _ in range(3)] == ['1', '2', '3']
    assert bob.get(site.url(), timeout=TIMEOUT).text == '1'
    assert alice.cookies['session_id'] != bob.cookies['session_id']


@pytest.mark.parametrize('bad', ['ab' * 20, 'nothex', 'a b flush_all', '../x'])
def test_unknown_or_malformed_id_is_replaced(live, store, bad):  # noqa: F811
    site = serve(live, store)
    response = site.get('/', cookies={'session_id': bad})
    assert response.text == '1'
    assert response.cookies['session_id'] != bad
    assert len(response.cookies['session_id']) == 40


def test_data_expires_in_the_store(live, store):  # noqa: F811
    # timeout is in minutes: one second here.
    site = serve(live, store, timeout=1 / 60)
    browser = requests.Session()
    assert browser.get(site.url(), timeout=TIMEOUT).text == '1'
    old = browser.cookies['session_id']
    options = store_options(*store)
    cls = options.pop('storage_class')
    probe = cls(**options)
    assert probe._load_id(old) is not None
    # The store itself drops the entry (not only our expiry check).
    wait_for(lambda: probe._load_id(old) is None, timeout=5, interval=0.1)
    response = site.get('/', cookies={'session_id': old})
    assert response.text == '1' and response.cookies['session_id'] != old


@pytest.mark.parametrize('locking, path', [('implicit', '/'), ('explicit', '/explicit')])
def test_concurrent_updates_are_not_lost(live, store, locking, path):  # noqa: F811
    site = serve(live, store, locking=locking, lock_timeout=20)
    assert hammer(site, path) == 8 * 25 + 2


# -- two processes --------------------------------------------------------------

CHILD = '''
    import sys
    import time

    import pyframe
    from pyframe.lib import sessions
    from pyframe.lib.sessions import MemcachedSession, RedisSession
    from pyframe.process.wspbus import Bus

    port, backend, host, store_port, lock_ttl = sys.argv[1:6]


    class Root:
        @pyframe.expose
        def index(self):
            sess = sessions.session
            sess['count'] = sess.get('count', 0) + 1
            return str(sess['count'])

        @pyframe.expose
        def hold(self):
            # The implicit lock is held from before this handler runs.
            print('holding', flush=True)
            time.sleep(60)
            return 'never'


    if backend == 'memcached':
        store = {'storage_class': MemcachedSession, 'servers': [f'{host}:{store_port}']}
    else:
        store = {'storage_class': RedisSession, 'url': f'redis://{host}:{store_port}/0'}
    store.update(lock_ttl=float(lock_ttl), lock_timeout=15)
    config = {'tools.sessions.on': True}
    config.update({f'tools.sessions.{key}': value for key, value in store.items()})

    tree = pyframe.Tree()
    tree.mount(Root(), '', {'/': config})
    bus = Bus()
    bus.subscribe('log', lambda msg, level=20: print(msg, flush=True))
    server = pyframe.Server(bus)
    server.socket_host = '127.0.0.1'
    server.socket_port = int(port)
    server.wsgi_app = tree
    server.subscribe()
    bus.start()
    print('READY', flush=True)
    bus.block()
'''


@pytest.fixture
def two_sites(store, spawn, tmp_path):
    """Two child processes serving the same app on the same store; yields
    [(child, base_url), ...]."""
    backend, (host, port) = store
    script = write_script(tmp_path, 'site.py', CHILD)
    sites = []
    for _ in range(2):
        site_port = free_port()
        child = spawn([script, site_port, backend, host, port, 2])
        sites.append((child, f'http://127.0.0.1:{site_port}'))
    for child, _ in sites:
        child.wait_output('READY')
    return sites


def test_two_processes_share_a_session(two_sites):
    (_, first), (_, second) = two_sites
    browser = requests.Session()
    counts = [browser.get((first, second)[i % 2] + '/', timeout=TIMEOUT).text
              for i in range(6)]
    assert counts == ['1', '2', '3', '4', '5', '6']


def test_a_killed_lock_holder_blocks_only_until_the_lock_ttl(two_sites):
    (holder, first), (_, second) = two_sites
    browser = requests.Session()
    assert browser.get(second + '/', timeout=TIMEOUT).text == '1'
    sid = browser.cookies['session_id']
    port = int(first.rsplit(':', 1)[1])
    with socket.create_connection(('127.0.0.1', port), timeout=TIMEOUT) as sock:
        sock.sendall(f'GET /hold HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                     f'Cookie: session_id={sid}\r\n\r\n'.encode())
        holder.wait_output('holding')
        holder.proc.send_signal(signal.SIGKILL)
        holder.proc.wait(10)
    started = time.monotonic()
    response = browser.get(second + '/', timeout=20)
    waited = time.monotonic() - started
    assert response.status_code == 200, response.text
    # The killed request never saved; the lock (TTL 2 s) was waited out.
    assert response.text == '2'
    assert 0.5 < waited < 10, waited
