"""An in-process HTTP cache for GET responses, and the Expires header tool.

Turn it on with ``tools.caching.on = True``. A cached response is served
instead of calling the page handler (or answered 304 when the client's
copy is still current); POST, PUT and DELETE to a URI drop what is cached
for it. Responses that vary (``Vary`` response header) are kept once per
combination of the named request headers' values.

Config entries other than the tool's own arguments set attributes of the
cache: ``tools.caching.delay = 3600`` keeps entries an hour.
``tools.caching.cache_class`` picks another :class:`Cache` implementation
(a class or its dotted name).
"""

from __future__ import annotations

import datetime
import heapq
import itertools
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from ..context import serving
from ..errors import HTTPError, HTTPRedirect
from ..tools import Tool
from . import httputil, reprconf

__all__ = ['Cache', 'AntiStampedeCache', 'MemoryCache', 'CachedResponse', 'CachingTool',
           'get', 'tee_output', 'expires']


def _log(message: str) -> None:
    sys.modules['pyframe'].log(message, 'TOOLS.CACHING')


class Cache:
    """The interface of a response cache; every method works on the
    resource of the current request."""

    def get(self) -> Any:
        """Return the cached variant for the current request, or None."""
        raise NotImplementedError

    def put(self, obj: Any, size: int) -> None:
        """Store ``obj`` (``size`` bytes) for the current request."""
        raise NotImplementedError

    def delete(self) -> None:
        """Drop every variant cached for the current request's URI."""
        raise NotImplementedError

    def clear(self) -> None:
        """Drop everything."""
        raise NotImplementedError


class CachedResponse(NamedTuple):
    """What :class:`MemoryCache` keeps of a response."""

    status: str
    headers: dict
    body: bytes
    time: float


class AntiStampedeCache(dict):
    """A dict of cached values where one thread computes a missing value
    while the others asking for it wait, instead of all computing it.

    A key being computed maps to a :class:`threading.Event` (the sentinel);
    storing the value, or :meth:`release`, sets it.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Names of the request headers that select a variant (from Vary).
        self.selecting_headers: list[str] = []
        self._lock = threading.Lock()

    def wait(self, key: Any, timeout: float | None = 5, debug: bool = False) -> Any:
        """Return the value of ``key``, or None when the caller must compute it.

        When another thread is computing it, wait up to ``timeout`` seconds
        for its result; on a miss a sentinel is placed so that later
        callers wait for this one. ``timeout=None`` neither waits nor
        places sentinels.
        """
        with self._lock:
            value = self.get(key)
            if value is None:
                if timeout is not None:
                    self[key] = threading.Event()
                return None
        if not isinstance(value, threading.Event):
            return value
        if timeout is None:
            return None
        if debug:
            _log(f'Waiting up to {timeout}s for another thread to cache {key!r}')
        if not value.wait(timeout) and debug:
            _log(f'Timed out waiting for {key!r}; computing it here')
        value = self.get(key)
        # Still a sentinel (or gone): the other thread failed or is too slow.
        return None if isinstance(value, threading.Event) else value

    def store(self, key: Any, value: Any) -> Any:
        """Set ``key`` to ``value``, waking its waiters; return the old value."""
        with self._lock:
            old = self.get(key)
            self[key] = value
        if isinstance(old, threading.Event):
            old.set()
            return None
        return old

    def release(self, key: Any) -> None:
        """Remove the sentinel of ``key`` (if it is one), waking its waiters."""
        with self._lock:
            value = self.get(key)
            if not isinstance(value, threading.Event):
                return
            del self[key]
        value.set()


class MemoryCache(Cache):
    """An in-memory cache of responses, keyed by URI and then by variant.

    ``store[uri]`` is an :class:`AntiStampedeCache` whose
    ``selecting_headers`` are the header names of the URI's ``Vary``
    response header (assumed not to change for a URI); its keys are tuples
    of those request headers' values.
    """

    #: Most variants kept at once.
    maxobjects = 1000
    #: Largest body cached, in bytes.
    maxobj_size = 100000
    #: Most bytes of bodies kept in all.
    maxsize = 10000000
    #: Seconds a cached response stays fresh.
    delay = 600
    #: Seconds to wait for another thread computing the same response.
    antistampede_timeout = 5
    #: Seconds between two sweeps of the expiration thread.
    expire_freq = 0.1
    #: Log cache decisions to the error log.
    debug = False

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.expiration_thread: threading.Thread | None = None
        self.clear()

    # -- bookkeeping ---------------------------------------------------------

    def clear(self) -> None:
        """Drop everything and stop the expiration thread (a later
        :meth:`put` starts it again)."""
        self.stop()
        with self._lock:
            old = getattr(self, 'store', {})
            self.store: dict[str, AntiStampedeCache] = {}
            # (expires at, sequence, uri, key, entry) in expiry order.
            self._expirations: list = []
            self._sequence = itertools.count()
            self.cursize = 0
            self.objects = 0
            self.tot_puts = self.tot_gets = self.tot_hist = self.tot_expires = 0
            self.tot_non_modified = 0
        for uricache in old.values():
            for key in list(uricache):
                uricache.release(key)

    def stop(self) -> None:
        """Stop the expiration thread and wait for it to end."""
        thread = self.expiration_thread
        if thread is not None:
            self._stopping.set()
            thread.join()
            self.expiration_thread = None

    def _start_expiring(self) -> None:
        with self._lock:
            if self.expiration_thread is None:
                self._stopping.clear()
                thread = threading.Thread(target=self.expire_cache, daemon=True,
                                          name='pyframe cache expiration')
                self.expiration_thread = thread
                thread.start()

    def expire_cache(self) -> None:
        """Drop stale entries every ``expire_freq`` seconds until stopped
        (the body of ``expiration_thread``)."""
        while not self._stopping.wait(self.expire_freq):
            self.expire()

    def expire(self, now: float | None = None) -> int:
        """Drop the entries stale at ``now`` (default: the current time);
        return how many were dropped."""
        now = time.time() if now is None else now
        dropped = 0
        with self._lock:
            heap = self._expirations
            while heap and heap[0][0] <= now:
                _, _, uri, key, entry = heapq.heappop(heap)
                uricache = self.store.get(uri)
                # A newer put may have replaced the entry; that one has its
                # own place in the heap.
                if uricache is not None and uricache.get(key) is entry:
                    del uricache[key]
                    self._forget(entry)
                    dropped += 1
                    if not uricache:
                        del self.store[uri]
            self.tot_expires += dropped
        return dropped

    def _forget(self, entry: CachedResponse) -> None:
        self.cursize -= len(entry.body)
        self.objects -= 1

    # -- the Cache interface ---------------------------------------------------

    @staticmethod
    def _uri() -> str:
        request = serving.request
        uri = request.base + request.script_name + request.path_info
        if request.query_string:
            uri += '?' + request.query_string
        return uri

    @staticmethod
    def _variant_key(names: Iterable[str]) -> tuple:
        headers = serving.request.headers
        return tuple(headers.get(name, '') for name in names)

    def get(self) -> CachedResponse | None:
        """Return the fresh cached response for the current request, or None.

        On a miss the caller is expected to compute the response and
        :meth:`put` it (or :meth:`release` its claim): other threads asking
        for it meanwhile wait up to ``antistampede_timeout`` seconds.
        """
        request = serving.request
        uri = self._uri()
        with self._lock:
            self.tot_gets += 1
            uricache = self.store.get(uri)
            if uricache is None:
                uricache = self.store[uri] = AntiStampedeCache()
        while True:
            names = list(uricache.selecting_headers)
            key = self._variant_key(names)
            entry = uricache.wait(key, self.antistampede_timeout, self.debug)
            if entry is None and names != uricache.selecting_headers:
                # The response we waited for declared (new) Vary headers:
                # look again under the key they select.
                uricache.release(key)
                continue
            break
        if entry is None:
            if key in uricache:
                # Remember the claim so put() or release() can settle it.
                request._caching_claim = (uri, uricache, key)
            return None
        if entry.time + self.delay <= time.time():
            return None
        with self._lock:
            self.tot_hist += 1
        return entry

    def put(self, obj: CachedResponse, size: int) -> None:
        """Store ``obj`` for the current request if the size limits allow."""
        request = serving.request
        claim = request.__dict__.pop('_caching_claim', None)
        uri = self._uri()
        with self._lock:
            fits = (size <= self.maxobj_size and self.cursize + size <= self.maxsize
                    and self.objects < self.maxobjects)
            uricache = self.store.get(uri)
            if fits:
                if uricache is None:
                    uricache = self.store[uri] = AntiStampedeCache()
                vary = obj.headers.get('Vary', '')
                uricache.selecting_headers = sorted(
                    element.value for element in httputil.header_elements('Vary', vary))
                key = self._variant_key(uricache.selecting_headers)
                old = uricache.store(key, obj)
                if isinstance(old, CachedResponse):
                    self._forget(old)
                self.cursize += size
                self.objects += 1
                self.tot_puts += 1
                heapq.heappush(self._expirations,
                               (obj.time + self.delay, next(self._sequence), uri, key, obj))
            elif self.debug:
                _log(f'Not caching {uri!r}: {size} bytes exceed the cache limits')
        if claim is not None:
            # Wakes the waiters when the variant was stored under another
            # key, or not stored at all.
            self._settle(claim)
        if fits:
            self._start_expiring()

    def release(self) -> None:
        """Give up the current request's claim to compute its response."""
        claim = serving.request.__dict__.pop('_caching_claim', None)
        if claim is not None:
            self._settle(claim)

    def _settle(self, claim: tuple) -> None:
        uri, uricache, key = claim
        uricache.release(key)
        with self._lock:
            # get() makes an entry for every URI asked for; drop it again
            # when nothing got cached, or endless query strings would
            # fill the store with empty entries.
            if not uricache and self.store.get(uri) is uricache:
                del self.store[uri]

    def delete(self) -> None:
        """Drop every variant cached for the current request's URI."""
        with self._lock:
            uricache = self.store.pop(self._uri(), None)
            if uricache is None:
                return
            for key, entry in list(uricache.items()):
                if isinstance(entry, CachedResponse):
                    self._forget(entry)
                uricache.release(key)


# -- the tool functions -----------------------------------------------------

_default_cache: Cache | None = None
_default_lock = threading.Lock()


def _cache_class(value: Any) -> type:
    return reprconf.attributes(value) if isinstance(value, str) else value


def _configured_cache(kwargs: dict) -> Cache:
    """Return the cache to use (``cache`` entry, else the module's own) with
    the remaining config entries set as its attributes."""
    global _default_cache
    cache = kwargs.pop('cache', None)
    cache_class = kwargs.pop('cache_class', None)
    if cache is None:
        with _default_lock:
            if _default_cache is None:
                _default_cache = _cache_class(cache_class or MemoryCache)()
            cache = _default_cache
    for name, value in kwargs.items():
        if getattr(cache, name, None) != value:
            setattr(cache, name, value)
    return cache


def _no_cache(headers: httputil.HeaderMap, name: str) -> bool:
    return any(element.value.lower() == 'no-cache' for element in headers.elements(name))


def _max_age(headers: httputil.HeaderMap) -> int | None:
    for element in headers.elements('Cache-Control'):
        name, _, value = element.value.partition('=')
        if name.strip().lower() == 'max-age':
            try:
                return int(value.strip().strip('"'))
            except ValueError:
                return None
    return None


def get(invalid_methods: Iterable[str] = ('POST', 'PUT', 'DELETE'), debug: bool = False,
        **kwargs: Any) -> bool:
    """Answer the request from the cache if possible; return True if so.

    A request with one of ``invalid_methods`` drops the cached copies of
    its URI (``request.cached`` and ``request.cacheable`` both False). A hit
    sets ``request.cached`` (and ``request.cacheable = False``), the cached
    status, headers (plus ``Age``) and body, or raises a 304 when the
    client's ``If-Modified-Since`` copy is current. A miss sets
    ``request.cacheable = True``.
    """
    request = serving.request
    response = serving.response
    cache = _configured_cache(kwargs)
    request.cached = False
    if request.method in invalid_methods:
        if debug:
            _log(f'{request.method} request: dropping the cached copies')
        cache.delete()
        request.cacheable = False
        return False
    if request.method not in ('GET', 'HEAD'):
        # Only safe methods can be answered from (or fill) the cache, even
        # when invalid_methods does not list the method.
        request.cacheable = False
        return False
    if _no_cache(request.headers, 'Pragma') or _no_cache(request.headers, 'Cache-Control'):
        # The client wants a fresh answer; it may still refresh the cache.
        request.cacheable = True
        return False

    entry = cache.get()
    if entry is None:
        request.cacheable = True
        return False
    status, headers, body, created = entry
    age = max(0, int(response.time - created))
    max_age = _max_age(request.headers)
    if max_age is not None and age > max_age:
        if debug:
            _log(f'Cached copy is {age}s old; the client accepts {max_age}s')
        release = getattr(cache, 'release', None)
        if release is not None:
            release()
        request.cacheable = True
        return False

    request.cached = True
    request.cacheable = False
    new_headers = httputil.HeaderMap()
    dict.update(new_headers, headers)
    new_headers['Age'] = str(age)
    response.headers = new_headers
    if debug:
        _log(f'Serving the cached copy ({age}s old)')
    _check_since(new_headers, request.headers, status)
    response.status = status
    response.body = body
    return True


def _check_since(cached: httputil.HeaderMap, request_headers: httputil.HeaderMap,
                 status: str) -> None:
    """Raise 304/412 per the request's If-(Un)Modified-Since and the cached
    Last-Modified."""
    last_modified = httputil.parse_http_date(cached.get('Last-Modified'))
    if last_modified is None or not str(status).startswith('2'):
        return
    since = httputil.parse_http_date(request_headers.get('If-Unmodified-Since'))
    if since is not None and last_modified > since:
        raise HTTPError(412)
    since = httputil.parse_http_date(request_headers.get('If-Modified-Since'))
    if since is not None and last_modified <= since:
        raise HTTPRedirect([], 304)


def _cacheable_response(response) -> bool:
    try:
        code = httputil.valid_status(response.status)[0]
    except ValueError:
        return False
    if code != 200 or 'Set-Cookie' in response.headers or response._cookie:
        return False
    if any(element.value == '*' for element in response.headers.elements('Vary')):
        # 'Vary: *' matches no later request (RFC 9111 4.1): never store it.
        return False
    for name in ('Cache-Control', 'Pragma'):
        for element in response.headers.elements(name):
            if element.value.lower() in ('no-cache', 'no-store', 'private'):
                return False
    return True


def tee_output(cache: Cache | None = None) -> None:
    """Wrap the response body so that, once it has all been produced, the
    response is stored in the cache.

    Meant for ``before_finalize`` at priority 100 (after every tool that
    changes the body, such as gzip): what gets stored is what is sent. A
    body that is never read to its end (an error, a client gone while
    streaming) is never stored, so truncated copies cannot be served.
    Only 200 responses without cookies or no-cache/no-store/private
    directives are stored.
    """
    request = serving.request
    response = serving.response
    if cache is None:
        cache = _configured_cache({})
    release = getattr(cache, 'release', None)
    if not getattr(request, 'cacheable', True) or not _cacheable_response(response):
        if release is not None:
            release()
        return

    def tee(body: Iterable) -> Iterator[bytes]:
        chunks = []
        stored = False
        try:
            for chunk in body:
                if isinstance(chunk, str):
                    chunk = chunk.encode(response._charset())
                chunks.append(chunk)
                yield chunk
            content = b''.join(chunks)
            headers = dict(response.headers)
            entry = CachedResponse(response.status, headers, content, response.time)
            cache.put(entry, len(content))
            stored = True
        finally:
            if not stored and release is not None:
                release()

    response.body = tee(response.body)


class CachingTool(Tool):
    """The ``caching`` tool: answer from the cache before the handler and
    store the handler's response after it.

    The tool keeps its own cache (``tool.cache``), made on first use from
    the ``cache_class`` config entry (default :class:`MemoryCache`).
    """

    def __init__(self, point: str = 'before_handler', callable=get, name: str | None = None,
                 priority: int = 90) -> None:
        # Priority 90: authentication and other checks at before_handler
        # run first, so a cached page is never shown to a refused client.
        super().__init__(point, callable, name, priority)
        self.cache: Cache | None = None
        self._lock = threading.Lock()

    def _wrapper(self, **kwargs: Any) -> None:
        request = serving.request
        if self.callable(cache=self.cache, **kwargs):
            request.handler = None
        elif request.cacheable:
            request.hooks.attach('before_finalize', tee_output, priority=100, cache=self.cache)
            release = getattr(self.cache, 'release', None)
            if release is not None:
                # An unexpected error skips before_finalize; the claim on
                # the response must still be given up for waiting threads.
                request.hooks.attach('on_end_request', release, failsafe=True)

    def _setup(self) -> None:
        args = self._merged_args()
        priority = self._priority_for(args)
        cache_class = args.pop('cache_class', None)
        if self.cache is None:
            with self._lock:
                if self.cache is None:
                    self.cache = _cache_class(cache_class or MemoryCache)()
        serving.request.hooks.attach(self._point, self._wrapper, priority=priority, **args)


# -- Expires ------------------------------------------------------------------

_ONE_YEAR = 365 * 24 * 3600


def expires(secs: int | float | datetime.timedelta = 0, force: bool = False,
            debug: bool = False) -> None:
    """Set the ``Expires`` response header to ``secs`` after the response time.

    ``secs`` may be a number or a ``datetime.timedelta``. Zero forbids
    caching: ``Expires`` a year in the past plus ``Pragma: no-cache`` and
    (HTTP/1.1) ``Cache-Control: no-cache, must-revalidate``. Unless
    ``force``, nothing changes when the response already has an ETag,
    Last-Modified, Age or Expires header (it manages its own freshness).
    """
    response = serving.response
    headers = response.headers
    if isinstance(secs, datetime.timedelta):
        secs = secs.total_seconds()
    if not force:
        present = [name for name in ('ETag', 'Last-Modified', 'Age', 'Expires') if name in headers]
        if present:
            if debug:
                _log(f'Expires not set: the response has {", ".join(present)}')
            return
    if secs == 0:
        if force or 'Pragma' not in headers:
            headers['Pragma'] = 'no-cache'
        if serving.request.protocol >= (1, 1) and (force or 'Cache-Control' not in headers):
            headers['Cache-Control'] = 'no-cache, must-revalidate'
        headers['Expires'] = httputil.http_date(response.time - _ONE_YEAR)
    else:
        headers['Expires'] = httputil.http_date(response.time + secs)
