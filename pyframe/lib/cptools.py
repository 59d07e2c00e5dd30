"""The functions behind pyframe's general-purpose built-in tools.

Each is called at a hook point of a request for which its tool is on,
with the tool's config entries as keyword arguments. Most can also be
called directly from a page handler (``accept`` returns its choice).
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import sys
import typing
from collections.abc import Iterable, Iterator
from typing import Any

from ..context import serving
from ..errors import HTTPError, HTTPRedirect, InternalRedirect
from ..log import log_request_error
from . import httputil

__all__ = [
    'validate_etags', 'validate_since', 'allow', 'proxy', 'ignore_headers',
    'response_headers', 'referer', 'accept', 'autovary', 'redirect', 'flatten',
    'convert_params', 'log_traceback', 'log_request_headers', 'trailing_slash',
    'SessionAuth', 'session_auth',
]


def _site_log():
    return sys.modules['pyframe'].log


def _debug(enabled: bool, message: str, context: str) -> None:
    """Write a tool's debug ``message`` to the error log when ``enabled``."""
    if enabled:
        _site_log()(message, context)


def _status_code() -> int:
    """The current response status as an int (it may be a str like '200 OK')."""
    return httputil.valid_status(serving.response.status)[0]


# -- conditional requests ----------------------------------------------------

# One entity-tag of an If-Match / If-None-Match list: opaque-tag in double
# quotes, possibly marked weak (RFC 9110 section 8.8.3). A comma may sit
# inside the quotes, so the list cannot simply be split on commas.
_ETAG = re.compile(r'\s*((?:W/)?"[^"]*"|\*)\s*(?:,|$)')


def _etag_list(value: str) -> list[str]:
    """Parse an If-Match / If-None-Match value into its entity-tags."""
    return [match.group(1) for match in _ETAG.finditer(value)]


def _opaque(tag: str) -> str:
    """The tag without its weakness marker, for weak comparison.

    The gzip tool marks the tag of a compressed response (``"x-gzip"``);
    a client revalidating that copy names the same content, so the marker
    is dropped too.
    """
    tag = tag[2:] if tag.startswith('W/') else tag
    return tag[:-6] + '"' if tag.endswith('-gzip"') else tag


def validate_etags(autotags: bool = False, debug: bool = False) -> None:
    """Answer If-Match (412) and If-None-Match (304 or 412) from the ETag.

    With ``autotags``, a 200 answer to GET or HEAD that has no ETag yet gets
    one: the MD5 of its (collapsed) body. Only use that on URLs whose body
    depends on nothing but the URL, and never on a streamed response.
    Conditions are only checked on 2xx responses: an error page is never
    turned into 304.
    """
    request = serving.request
    response = serving.response
    code = _status_code()
    etag = response.headers.get('ETag')
    if (autotags and not etag and code == 200 and request.method in ('GET', 'HEAD')
            and not response.stream):
        # Streamed bodies are skipped: hashing would read them all first.
        etag = '"%s"' % hashlib.md5(response.collapse_body(), usedforsecurity=False).hexdigest()
        response.headers['ETag'] = etag
        _debug(debug, f'ETag set to {etag}', 'TOOLS.ETAGS')
    if not 200 <= code <= 299:
        return

    if_match = request.headers.get('If-Match')
    if if_match is not None:
        tags = _etag_list(if_match)
        # If-Match compares strongly: a weak tag never matches (RFC 9110 13.1.1).
        strong = etag and not etag.startswith('W/')
        if '*' not in tags and not (strong and etag in tags):
            _debug(debug, f'If-Match {if_match!r} fails for ETag {etag!r}', 'TOOLS.ETAGS')
            raise HTTPError(412, 'The If-Match precondition failed.')

    if_none_match = request.headers.get('If-None-Match')
    if if_none_match is not None:
        tags = _etag_list(if_none_match)
        # If-None-Match compares weakly (RFC 9110 13.1.2).
        matched = '*' in tags or (
            etag is not None and _opaque(etag) in {_opaque(tag) for tag in tags})
        if matched:
            _debug(debug, f'If-None-Match {if_none_match!r} matches ETag {etag!r}', 'TOOLS.ETAGS')
            if request.method in ('GET', 'HEAD'):
                raise HTTPRedirect([], 304)
            raise HTTPError(412, 'The If-None-Match precondition failed.')


def validate_since() -> None:
    """Answer If-Unmodified-Since (412) and If-Modified-Since (304) from
    the response's Last-Modified header.

    Unreadable dates are ignored, as RFC 9110 asks; so is each date
    condition when its entity-tag counterpart (If-Match, If-None-Match)
    is present, the tag being the more precise test.
    """
    request = serving.request
    response = serving.response
    last_modified = httputil.parse_http_date(response.headers.get('Last-Modified'))
    if last_modified is None or not 200 <= _status_code() <= 299:
        return
    headers = request.headers
    if 'If-Match' not in headers:
        since = httputil.parse_http_date(headers.get('If-Unmodified-Since'))
        if since is not None and last_modified > since:
            raise HTTPError(412, 'The resource was modified after If-Unmodified-Since.')
    if 'If-None-Match' not in headers and request.method in ('GET', 'HEAD'):
        since = httputil.parse_http_date(headers.get('If-Modified-Since'))
        if since is not None and last_modified <= since:
            raise HTTPRedirect([], 304)


# -- request filters ---------------------------------------------------------

def _as_list(value: Any) -> list:
    """A config value that may be one string or a sequence, as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def allow(methods: Any = None, debug: bool = False) -> None:
    """Answer 405 unless the request method is one of ``methods``.

    ``methods`` is one method or a list, in any case; it defaults to GET
    and HEAD, and allowing GET allows HEAD too (pyframe answers HEAD as a
    GET without body). The Allow header is set on every response.
    """
    allowed = [method.upper() for method in _as_list(methods) if method] or ['GET', 'HEAD']
    if 'GET' in allowed and 'HEAD' not in allowed:
        allowed.append('HEAD')
    serving.response.headers['Allow'] = ', '.join(allowed)
    method = serving.request.method
    if method not in allowed:
        _debug(debug, f'{method} not in {allowed}', 'TOOLS.ALLOW')
        raise HTTPError(405)


def _first(value: str) -> str:
    """The first entry of a comma-separated header value (proxies append)."""
    return value.split(',', 1)[0].strip()


_SCHEME = re.compile(r'[A-Za-z][A-Za-z0-9+.-]*')


def proxy(base: str | None = None, local: str = 'X-Forwarded-Host',
          remote: str = 'X-Forwarded-For', scheme: str = 'X-Forwarded-Proto',
          debug: bool = False) -> None:
    """Rewrite ``request.base`` and ``request.remote`` for a reverse proxy.

    The new base is the first host of the ``local`` header, else ``base``,
    else the Host header; it gets the scheme of the ``scheme`` header (or
    the request's) unless it names one. ``base`` must not end in a slash;
    to keep a path in it, set ``local`` to '' so the header cannot replace
    it. The client address becomes the first entry of the ``remote``
    header when that is a valid IP address; set ``remote`` to '' to keep
    the proxy's.
    """
    request = serving.request
    headers = request.headers
    url_scheme = _first(headers.get(scheme) or '') if scheme else ''
    if not _SCHEME.fullmatch(url_scheme):
        url_scheme = request.base.partition('://')[0] or request.scheme
    forwarded_host = _first(headers.get(local) or '') if local else ''
    if forwarded_host and not httputil.valid_host(forwarded_host):
        # A path, query or space in a host would end up in every URL built.
        forwarded_host = ''
    new_base = forwarded_host or base or headers.get('Host') or request.base.partition('://')[2]
    if '://' not in new_base:
        new_base = f'{url_scheme.lower()}://{new_base}'
    request.base = new_base.rstrip('/')
    _debug(debug, f'base set to {request.base!r}', 'TOOLS.PROXY')

    if remote:
        address = _first(headers.get(remote) or '')
        try:
            ip = str(ipaddress.ip_address(address))
        except ValueError:
            return
        # request.remote may be the class-wide default Host: replace it.
        request.remote = httputil.Host(ip, request.remote.port)
        _debug(debug, f'remote ip set to {ip!r}', 'TOOLS.PROXY')


def ignore_headers(headers: Any = ('Range',), debug: bool = False) -> None:
    """Remove the named request headers (e.g. Range, which a front server
    may have applied already)."""
    request_headers = serving.request.headers
    for name in _as_list(headers):
        if request_headers.pop(name, None) is not None:
            _debug(debug, f'ignoring request header {name!r}', 'TOOLS.IGNORE_HEADERS')


def response_headers(headers: Iterable[tuple[str, str]] | None = None,
                     debug: bool = False) -> None:
    """Set the given (name, value) pairs as response headers."""
    response_headers = serving.response.headers
    for name, value in headers or ():
        response_headers[name] = value
        _debug(debug, f'set response header {name}: {value}', 'TOOLS.RESPONSE_HEADERS')


def referer(pattern: str, accept: bool = True, accept_missing: bool = False,
            error: int = 403, message: str = 'Forbidden Referer header.',
            debug: bool = False) -> None:
    """Answer ``error`` unless the Referer header passes ``pattern``.

    With ``accept`` the Referer must match the regular expression (from
    its start); without, it must not. A missing Referer passes only with
    ``accept_missing``.
    """
    value = serving.request.headers.get('Referer')
    if value is None:
        if accept_missing:
            return
    elif bool(re.match(pattern, value)) == bool(accept):
        return
    _debug(debug, f'Referer {value!r} refused by {pattern!r}', 'TOOLS.REFERER')
    raise HTTPError(error, message)


def _matches(media_range: str, media_type: str) -> bool:
    """Whether an Accept media range (``*/*``, ``text/*``) covers a type."""
    if media_range in ('*/*', '*', media_type):
        return True
    return media_range.endswith('/*') and media_type.partition('/')[0] == media_range[:-2]


def accept(media: Any = None, debug: bool = False) -> str | None:
    """Return the media type of ``media`` the client prefers, or 406.

    ``media`` is one media type or a list of those the resource can send;
    None means no check (and returns None). A type's quality comes from the
    most specific Accept range covering it, so ``text/html;q=0`` refuses
    text/html even next to ``*/*``. The best quality wins; ties go to the
    client's order, then to the order of ``media``. No Accept header
    accepts anything: the first of ``media`` is returned.
    """
    offered = _as_list(media)
    if not offered:
        return None
    ranges = serving.request.headers.elements('Accept')
    if not ranges:
        return offered[0]
    best = None
    for index, media_type in enumerate(offered):
        bare = media_type.partition(';')[0].strip().lower()
        covering = [(position, element) for position, element in enumerate(ranges)
                    if _matches(element.value.lower(), bare)]
        if not covering:
            continue
        # The most precise range decides; ranges come most preferred
        # first, so among equally precise ones the first counts.
        position, element = min(
            covering, key=lambda item: (-_range_precision(item[1].value), item[0]))
        if element.qvalue <= 0:
            continue
        # ranges are sorted by q, so position ranks by quality first.
        key = (position, index)
        if best is None or key < best[0]:
            best = (key, media_type)
    if best is None:
        _debug(debug, f'no match for Accept {serving.request.headers.get("Accept")!r}',
               'TOOLS.ACCEPT')
        raise HTTPError(406, 'This resource can only send these media types: '
                             + ', '.join(offered) + '.')
    return best[1]


def _range_precision(media_range: str) -> int:
    """0 for ``*/*``, 1 for ``type/*``, 2 for a full media type."""
    if media_range in ('*/*', '*'):
        return 0
    return 1 if media_range.endswith('/*') else 2


# Request headers read by the body machinery itself, not by the handler:
# the response does not vary on them in a way a cache can use.
_NOT_VARYING = frozenset({'Content-Disposition', 'Content-Length', 'Content-Type'})


class _WatchedHeaders(httputil.HeaderMap):
    """Request headers that remember which names were looked up."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.accessed: set[str] = set()

    def __getitem__(self, key: Any) -> Any:
        self.accessed.add(str(key).title())
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        """Return the value for ``key`` (any case), remembering the lookup."""
        self.accessed.add(str(key).title())
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.accessed.add(str(key).title())
        return super().__contains__(key)


def autovary(ignore: Any = None, debug: bool = False) -> None:
    """Name in the Vary response header every request header the request
    handling looked up (except those in ``ignore`` and the body's own
    Content-* headers), so caches key on them.
    """
    request = serving.request
    watched = _WatchedHeaders()
    # The keys are already title-cased: copy them without converting again.
    dict.update(watched, request.headers)
    request.headers = watched
    skipped = _NOT_VARYING | {str(name).title() for name in _as_list(ignore)}

    def set_vary() -> None:
        response_headers = serving.response.headers
        present = response_headers.values('Vary')
        names = sorted(watched.accessed - skipped - set(present))
        if names:
            response_headers['Vary'] = ', '.join(present + names)
        _debug(debug, f'Vary: {response_headers.get("Vary")}', 'TOOLS.AUTOVARY')
    # Late in before_finalize, so that the other tools' lookups count too.
    request.hooks.attach('before_finalize', set_vary, priority=95)


def redirect(url: str = '', internal: bool = True, debug: bool = False) -> None:
    """Serve ``url`` instead: within this request (InternalRedirect) when
    ``internal``, else by sending the client there (HTTPRedirect)."""
    _debug(debug, f'redirect to {url!r} (internal={internal})', 'TOOLS.REDIRECT')
    if internal:
        raise InternalRedirect(url)
    raise HTTPRedirect(url)


def _flattened(chunks: Iterable) -> Iterator:
    for chunk in chunks:
        if isinstance(chunk, (str, bytes, bytearray, memoryview)):
            yield chunk
        else:
            yield from _flattened(chunk)


def flatten(debug: bool = False) -> None:
    """Let the body be nested iterables (generators yielding generators):
    the response sends their leaves, the str or bytes chunks, in order."""
    _debug(debug, 'flattening the response body', 'TOOLS.FLATTEN')
    serving.response.body = _flattened(serving.response.body)


def _innermost_callable(handler: Any) -> Any:
    """The user's function behind a page handler (a PageHandler keeps it in
    ``.callable``). Decorators made with functools.wraps need no unwrapping:
    they copy the annotations."""
    while hasattr(handler, 'callable'):
        handler = handler.callable
    return handler


def _annotations(func: Any) -> dict[str, Any]:
    """The parameter annotations of ``func``, resolved when they are strings."""
    try:
        hints = typing.get_type_hints(func)
    except Exception:
        # An annotation naming something not importable here: use the raw
        # ones and skip those that are not callable below.
        hints = dict(getattr(func, '__annotations__', {}))
    hints.pop('return', None)
    return hints


def convert_params(exception: type[BaseException] | tuple = ValueError,
                   error: int = 400) -> None:
    """Convert ``request.params`` to the types the handler annotates.

    ``def page(self, limit: int)`` receives an int. A conversion raising
    ``exception`` answers ``error`` naming the parameter. Repeated
    parameters (lists) are converted item by item; annotations that
    cannot convert (strings, generic aliases) are left alone.
    """
    request = serving.request
    if request.handler is None:
        return
    func = _innermost_callable(request.handler)
    params = request.params
    for name, kind in _annotations(func).items():
        if name not in params or not isinstance(kind, type):
            continue
        value = params[name]
        try:
            if isinstance(value, list):
                params[name] = [kind(item) for item in value]
            else:
                params[name] = kind(value)
        except exception as exc:
            raise HTTPError(error, f'Invalid value for parameter {name!r}: {exc}') from None


# -- logging and URLs ----------------------------------------------------------
def log_traceback(severity: int = logging.ERROR, debug: bool = False) -> None:
    """Write the traceback of the error being handled to the error log,
    naming the stage of the request that failed."""
    request = serving.request
    log_request_error(f'Error while {request._failed_stage or request.stage}', severity)


def log_request_headers(debug: bool = False) -> None:
    """Write the request headers to the error log (with an error's traceback)."""
    lines = [f'  {name}: {value}' for name, value in serving.request.header_list]
    _site_log()('\nRequest Headers:\n' + '\n'.join(lines), 'HTTP')


def trailing_slash(missing: bool = True, extra: bool = False, status: int | None = None,
                   debug: bool = False) -> None:
    """Redirect to the canonical URL of the page regarding its final slash.

    An index (a URL naming a directory) without its slash is redirected to
    the URL with it when ``missing``; another page with a slash to the URL
    without it when ``extra``. ``status`` defaults to 301.
    """
    request = serving.request
    path = request.path_info
    url = sys.modules['pyframe'].url
    if request.is_index is True:
        if missing and not path.endswith('/'):
            raise HTTPRedirect(url(path + '/', request.query_string), status or 301)
    elif request.is_index is False:
        if extra and path.endswith('/') and path != '/':
            raise HTTPRedirect(url(path[:-1], request.query_string), status or 301)


# -- login forms backed by the session ---------------------------------------

class SessionAuth:
    """Keep a part of the site for users who logged in through a form.

    The logged-in user's name sits in the session under ``session_key``;
    the ``sessions`` tool must therefore be on wherever this runs. Paths
    ending in ``login_screen``, ``do_login`` and ``do_logout`` are answered
    here; any other request goes through :meth:`do_check`.

    Every attribute can be replaced per instance (the ``session_auth`` tool
    does so from its config entries). Replacements are plain callables, not
    methods: a ``check_username_and_password`` entry is called as
    ``func(username, password)``.
    """

    session_key = 'username'
    debug = False

    def check_username_and_password(self, username: str, password: str) -> str | None:
        """Return an error message when the credentials are wrong, else None.

        Nothing is configured by default, so every login fails: a site has
        to say how its users are checked before anyone gets in.
        """
        return 'No way to check passwords is configured.'

    def anonymous(self) -> str | None:
        """The user name to give a visitor who did not log in (None: none)."""
        return None

    def on_login(self, username: str) -> None:
        """Called once ``username`` has logged in."""

    def on_logout(self, username: str) -> None:
        """Called once ``username`` has logged out."""

    def on_check(self, username: str) -> None:
        """Called on each request of logged-in user ``username``."""

    def login_screen(self, from_page: str = '..', username: str = '',
                     error_msg: str = '', **kwargs: Any) -> bytes:
        """The HTML login form, posting to ``do_login`` next to the page."""
        import html

        def attr(value: Any) -> str:
            return html.escape(str(value or ''), quote=True)

        page = f"""<!DOCTYPE html>
<html><head><title>Log in</title></head>
<body>
<form method="post" action="do_login">
  <p>{html.escape(str(error_msg or ''))}</p>
  <label>Login: <input type="text" name="username" value="{attr(username)}" size="20" maxlength="80"></label><br>
  <label>Password: <input type="password" name="password" size="20" maxlength="80"></label><br>
  <input type="hidden" name="from_page" value="{attr(from_page)}">
  <input type="submit" value="Log in">
</form>
</body></html>
"""
        return page.encode('utf-8')

    # -- the actions -----------------------------------------------------------

    def _debug_message(self, template: str, context: dict | None = None) -> None:
        if self.debug:
            _site_log()(template % (context or {}), 'TOOLS.SESSAUTH')

    def _answer_with(self, body: bytes) -> bool:
        """Make ``body`` (HTML) the response; True: the request is answered."""
        response = serving.response
        response.headers['Content-Type'] = 'text/html;charset=utf-8'
        # A Content-Length set for the page the handler would have produced
        # no longer describes this body.
        response.headers.pop('Content-Length', None)
        response.body = body
        return True

    def _safe_from_page(self, from_page: Any) -> str:
        """``from_page`` if it stays on this site, else the default ``..``.

        The login form carries from_page back to us, so anyone can craft a
        link that would send a user who just logged in to another site (an
        open redirect). Only paths, or absolute URLs naming this very site,
        are kept.
        """
        from urllib.parse import urlsplit

        if not isinstance(from_page, str) or not from_page:
            return '..'
        # Browsers read a backslash as a slash ("/\\evil" is "//evil"), and
        # control characters are stripped by some before parsing.
        if '\\' in from_page or any(ord(ch) < 32 or ord(ch) == 127 for ch in from_page):
            return '..'
        parts = urlsplit(from_page)
        if parts.scheme or parts.netloc:
            here = urlsplit(serving.request.base)
            if (parts.scheme.lower(), parts.netloc.lower()) != (here.scheme.lower(), here.netloc.lower()):
                return '..'
        return from_page

    def do_login(self, username: str, password: str, from_page: str = '..',
                 **kwargs: Any) -> bool:
        """Log the user in and redirect (303) to ``from_page``.

        Wrong credentials answer with the login screen and the error.
        """
        response = serving.response
        error_msg = self.check_username_and_password(username, password)
        if error_msg:
            body = self.login_screen(from_page, username, error_msg)
            self._debug_message('Login failed for %(username)r', {'username': username})
            return self._answer_with(body)
        session = serving.session
        # A new session id after the login: an id an attacker planted or
        # saw before it does not become a logged-in one (session fixation).
        session.regenerate()
        session[self.session_key] = username
        serving.request.login = username
        self.on_login(username)
        self._debug_message('%(username)r logged in', {'username': username})
        response.headers.pop('Content-Length', None)
        raise HTTPRedirect(self._safe_from_page(from_page), 303)

    def do_logout(self, from_page: str = '..', **kwargs: Any) -> bool:
        """Log the current user out and redirect (303) to ``from_page``."""
        session = serving.session
        username = session.get(self.session_key)
        session.pop(self.session_key, None)
        serving.request.login = None
        if username:
            self.on_logout(username)
            self._debug_message('%(username)r logged out', {'username': username})
        raise HTTPRedirect(self._safe_from_page(from_page), 303)

    def do_check(self) -> bool:
        """Let logged-in (or anonymous) users through; show others the form.

        Returns True when the login screen answered the request.
        """
        request = serving.request
        session = serving.session
        username = session.get(self.session_key)
        if not username:
            username = self.anonymous()
            if username:
                session[self.session_key] = username
        if not username:
            here = request.script_name + request.path_info
            if request.query_string:
                here += '?' + request.query_string
            self._debug_message('No user in the session: login screen for %(page)r',
                                {'page': here})
            return self._answer_with(self.login_screen(here))
        request.login = username
        self.on_check(username)
        return False

    def run(self) -> bool:
        """Answer the login/logout paths, or check the session; True: answered."""
        request = serving.request
        path = request.path_info
        params = {key: value for key, value in request.params.items()}
        if path.endswith('login_screen'):
            return self._answer_with(self.login_screen(**params))
        if path.endswith('do_login') or path.endswith('do_logout'):
            if request.method != 'POST':
                serving.response.headers['Allow'] = 'POST'
                raise HTTPError(405)
            if path.endswith('do_logout'):
                return self.do_logout(**params)
            # A repeated field arrives as a list; it is no valid credential.
            for name in ('username', 'password'):
                if not isinstance(params.get(name, ''), str):
                    params[name] = ''
                params.setdefault(name, '')
            return self.do_login(**params)
        return self.do_check()


def session_auth(**kwargs: Any) -> bool:
    """The ``session_auth`` tool: run a :class:`SessionAuth` for the request.

    Each keyword (a config entry of the tool) replaces the attribute of
    that name on the instance: ``check_username_and_password``,
    ``anonymous``, ``on_login``, ``login_screen``, ``session_key``,
    ``debug``... Returns True when the request was answered here.
    """
    auth = SessionAuth()
    for name, value in kwargs.items():
        if not hasattr(SessionAuth, name):
            raise TypeError(f'session_auth has no option {name!r}')
        setattr(auth, name, value)
    return auth.run()


# Log-ins must be checked before the other handler tools look at the request.
session_auth.priority = 50  # type: ignore[attr-defined]
