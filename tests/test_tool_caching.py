"""The caching and expires tools (pyframe.lib.caching)."""

from __future__ import annotations

import datetime
import threading
import time

import pytest

import pyframe
from pyframe.lib import caching, httputil
from pyframe.tools import Tool, Toolbox
from pyframe.tree import Application
from support import wait_for, wsgi_get

EXPIRY_THREAD = 'pyframe cache expiration'


def expiry_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == EXPIRY_THREAD]


@pytest.fixture
def box():
    """A private toolbox holding the tools as pyframe.tools registers them."""
    toolbox = Toolbox('cachetools')
    toolbox.caching = caching.CachingTool('before_handler', caching.get, 'caching')
    toolbox.expires = Tool('before_finalize', caching.expires)
    yield toolbox
    if toolbox.caching.cache is not None:
        toolbox.caching.cache.clear()
    assert not expiry_threads()


class Counting:
    """A root whose pages count their calls."""

    def __init__(self):
        self.calls: dict[str, int] = {}

    def count(self, name: str) -> int:
        self.calls[name] = self.calls.get(name, 0) + 1
        return self.calls[name]

    @pyframe.expose
    def index(self, **params):
        return f'index call {self.count("index")}'

    @pyframe.expose
    def other(self, **params):
        return f'other call {self.count("other")}'

    @pyframe.expose
    def lang(self):
        pyframe.response.headers['Vary'] = 'Accept-Language'
        language = pyframe.request.headers.get('Accept-Language', 'none')
        return f'{language} call {self.count("lang")}'

    @pyframe.expose
    def dated(self):
        pyframe.response.headers['Last-Modified'] = httputil.http_date(1_000_000_000)
        return f'dated call {self.count("dated")}'

    @pyframe.expose
    def big(self):
        self.count('big')
        return 'x' * 50

    @pyframe.expose
    def cookie(self):
        pyframe.response.cookie['flavour'] = 'oat'
        return f'cookie call {self.count("cookie")}'

    @pyframe.expose
    def missing(self):
        self.count('missing')
        raise pyframe.HTTPError(404)

    @pyframe.expose
    def fails_once(self):
        if self.count('fails_once') == 1:
            raise RuntimeError('first call fails')
        return 'recovered'

    @pyframe.expose
    def slow(self):
        self.count('slow')
        time.sleep(0.3)
        return 'slow page'


def make_app(root, **settings):
    config = {'cachetools.caching.on': True}
    config.update({f'cachetools.caching.{key}': value for key, value in settings.items()})
    return Application(root, '', {'/': config})


def test_second_get_is_served_from_cache_with_age(box):
    root = Counting()
    app = make_app(root)
    status, headers, body = wsgi_get(app, '/')
    assert (status, body) == ('200 OK', b'index call 1')
    assert 'Age' not in headers
    status, headers, body = wsgi_get(app, '/')
    assert (status, body) == ('200 OK', b'index call 1')
    assert headers['Age'] == '0'
    assert headers['Content-Length'] == str(len(body))
    assert root.calls == {'index': 1}
    # Another URI (or query string) is another entry.
    assert wsgi_get(app, '/', query='a=1')[2] == b'index call 2'
    assert wsgi_get(app, '/other')[2] == b'other call 1'


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE'])
def test_modifying_methods_invalidate_the_cached_copy(box, method):
    root = Counting()
    app = make_app(root)
    wsgi_get(app, '/')
    assert wsgi_get(app, '/')[2] == b'index call 1'
    assert wsgi_get(app, '/', method=method, body=b'x=1',
                    headers={'Content-Type': 'application/x-www-form-urlencoded'})[2] == b'index call 2'
    assert wsgi_get(app, '/')[2] == b'index call 3'
    assert wsgi_get(app, '/')[2] == b'index call 3'


def test_variants_follow_the_vary_header(box):
    root = Counting()
    app = make_app(root)
    assert wsgi_get(app, '/lang', headers={'Accept-Language': 'en'})[2] == b'en call 1'
    assert wsgi_get(app, '/lang', headers={'Accept-Language': 'fr'})[2] == b'fr call 2'
    assert wsgi_get(app, '/lang', headers={'Accept-Language': 'en'})[2] == b'en call 1'
    assert wsgi_get(app, '/lang', headers={'Accept-Language': 'fr'})[2] == b'fr call 2'
    assert wsgi_get(app, '/lang')[2] == b'none call 3'
    assert root.calls == {'lang': 3}
    assert box.caching.cache.objects == 3


def test_if_modified_since_gets_304_from_the_cached_last_modified(box):
    root = Counting()
    app = make_app(root)
    wsgi_get(app, '/dated')
    current = {'If-Modified-Since': httputil.http_date(1_000_000_000)}
    status, headers, body = wsgi_get(app, '/dated', headers=current)
    assert (status, body) == ('304 Not Modified', b'')
    older = {'If-Modified-Since': httputil.http_date(999_000_000)}
    status, headers, body = wsgi_get(app, '/dated', headers=older)
    assert (status, body) == ('200 OK', b'dated call 1')
    assert root.calls == {'dated': 1}


def test_client_no_cache_refreshes_the_copy(box):
    root = Counting()
    app = make_app(root)
    wsgi_get(app, '/')
    assert wsgi_get(app, '/', headers={'Cache-Control': 'no-cache'})[2] == b'index call 2'
    assert wsgi_get(app, '/')[2] == b'index call 2'


def test_entries_expire_after_delay_set_by_config(box):
    root = Counting()
    app = make_app(root, delay=0.3, expire_freq=0.02)
    assert wsgi_get(app, '/')[2] == b'index call 1'
    cache = box.caching.cache
    assert (cache.delay, cache.expire_freq) == (0.3, 0.02)
    assert wsgi_get(app, '/')[2] == b'index call 1'
    assert len(expiry_threads()) == 1
    wait_for(lambda: cache.objects == 0, timeout=5)
    assert cache.cursize == 0 and cache.store == {}
    assert wsgi_get(app, '/')[2] == b'index call 2'


def test_size_limits(box):
    root = Counting()
    app = make_app(root, maxobj_size=40)
    wsgi_get(app, '/big')
    wsgi_get(app, '/big')
    assert root.calls['big'] == 2
    # Nothing half-made stays behind for a URI that could not be cached.
    assert box.caching.cache.store == {}

    limited = make_app(Counting(), maxobjects=1)
    box.caching.cache.clear()
    wsgi_get(limited, '/')
    wsgi_get(limited, '/other')
    assert wsgi_get(limited, '/other')[2] == b'other call 2'
    assert wsgi_get(limited, '/')[2] == b'index call 1'

    box.caching.cache.clear()
    total = make_app(Counting(), maxobj_size=100000, maxobjects=1000, maxsize=15)
    wsgi_get(total, '/')  # 12 bytes
    wsgi_get(total, '/other')  # 12 more would pass maxsize
    assert box.caching.cache.cursize == 12
    assert box.caching.cache.objects == 1


def test_only_plain_200_responses_are_stored(box):
    root = Counting()
    app = make_app(root)
    for path in ('/cookie', '/missing'):
        wsgi_get(app, path)
        wsgi_get(app, path)
    assert root.calls == {'cookie': 2, 'missing': 2}
    assert box.caching.cache.objects == 0


def test_a_failed_handler_does_not_leave_others_waiting(box):
    root = Counting()
    app = make_app(root)
    assert wsgi_get(app, '/fails_once')[0].startswith('500')
    started = time.monotonic()
    assert wsgi_get(app, '/fails_once')[2] == b'recovered'
    # A stale claim would make this request wait antistampede_timeout (5 s).
    assert time.monotonic() - started < 2


def test_concurrent_misses_run_the_handler_once(box):
    root = Counting()
    app = make_app(root)
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(wsgi_get(app, '/slow')))
               for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not any(thread.is_alive() for thread in threads)
    assert [result[2] for result in results] == [b'slow page'] * 5
    assert root.calls == {'slow': 1}


def test_waiters_give_up_after_the_antistampede_timeout():
    store = caching.AntiStampedeCache()
    assert store.wait('k', timeout=0.05) is None  # a miss: this caller computes
    assert isinstance(store['k'], threading.Event)
    started = time.monotonic()
    assert store.wait('k', timeout=0.05) is None  # nobody stored it in time
    assert time.monotonic() - started >= 0.04
    store.store('k', 'value')
    assert store.wait('k') == 'value'
    assert store.wait('other', timeout=None) is None
    assert 'other' not in store


def test_cache_class_and_clear_stop_the_expiration_thread(box):
    class Counted(caching.MemoryCache):
        puts = 0

        def put(self, obj, size):
            type(self).puts += 1
            super().put(obj, size)

    app = make_app(Counting(), cache_class=Counted)
    wsgi_get(app, '/')
    assert isinstance(box.caching.cache, Counted) and Counted.puts == 1
    assert len(expiry_threads()) == 1
    box.caching.cache.clear()
    assert not expiry_threads()
    assert wsgi_get(app, '/')[2] == b'index call 2'


# -- expires ---------------------------------------------------------------------


def expires_app(headers=None, **settings):
    class Root:
        @pyframe.expose
        def index(self):
            for name, value in (headers or {}).items():
                pyframe.response.headers[name] = value
            return 'ok'

    config = {'cachetools.expires.on': True}
    config.update({f'cachetools.expires.{key}': value for key, value in settings.items()})
    return Application(Root(), '', {'/': config})


def test_expires_zero_forbids_caching(box):
    status, headers, _ = wsgi_get(expires_app(secs=0))
    assert headers['Pragma'] == 'no-cache'
    assert headers['Cache-Control'] == 'no-cache, must-revalidate'
    expiry = httputil.parse_http_date(headers['Expires'])
    assert expiry < time.time() - 364 * 86400


@pytest.mark.parametrize('secs', [3600, datetime.timedelta(hours=1)])
def test_expires_in_the_future(box, secs):
    _, headers, _ = wsgi_get(expires_app(secs=secs))
    date = httputil.parse_http_date(headers['Date'])
    assert httputil.parse_http_date(headers['Expires']) - date == pytest.approx(3600, abs=1)
    assert 'Pragma' not in headers and 'Cache-Control' not in headers


def test_expires_leaves_validated_responses_alone_unless_forced(box):
    stamp = httputil.http_date(1_000_000_000)
    _, headers, _ = wsgi_get(expires_app({'Last-Modified': stamp}, secs=0))
    assert 'Expires' not in headers and 'Pragma' not in headers
    _, headers, _ = wsgi_get(expires_app({'Last-Modified': stamp, 'Cache-Control': 'private'},
                                         secs=0, force=True))
    assert headers['Pragma'] == 'no-cache'
    assert headers['Cache-Control'] == 'no-cache, must-revalidate'
    assert 'Expires' in headers
