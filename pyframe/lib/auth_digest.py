"""HTTP Digest authentication (RFC 2617 / RFC 7616, MD5) as a tool.

Configure it with a realm, a ``get_ha1(realm, username)`` lookup and a
secret ``key`` used to sign nonces::

    from pyframe.lib import auth_digest

    config = {'/admin': {
        'tools.auth_digest.on': True,
        'tools.auth_digest.realm': 'staff',
        'tools.auth_digest.get_ha1': auth_digest.get_ha1_dict_plain({'ann': 's3cret'}),
        'tools.auth_digest.key': 'a long random secret',
    }}

Nonces are ``<timestamp>:<HMAC-SHA256(key, timestamp:realm)>``: the server
keeps no table of issued nonces, yet a client cannot forge one, and an old
one is recognised as stale (the client is told ``stale="true"`` and may
retry without asking the user again). Every (nonce, nc) pair that
authenticated is remembered (with its cnonce) for a while, so a captured request cannot be
replayed. Algorithms MD5 and MD5-sess, qop ``auth`` and ``auth-int`` and the
qop-less RFC 2069 form are understood. On success ``request.login`` is the
user name.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import unquote, urlsplit

from ..context import serving
from ..errors import HTTPError
from .auth_basic import quote_realm
from .cptools import _debug

__all__ = ['HttpDigestAuthorization', 'digest_auth', 'get_ha1_dict',
           'get_ha1_dict_plain', 'get_ha1_file_htdigest', 'md5_hex',
           'synthesize_nonce', 'www_authenticate']

_CONTEXT = 'TOOLS.AUTH_DIGEST'

#: Seconds a nonce stays fresh.
NONCE_MAX_AGE = 600
SUPPORTED_ALGORITHMS = ('MD5', 'MD5-sess')
SUPPORTED_QOP = ('auth', 'auth-int')
#: The charset user names fall back to when ``accept_charset`` fails.
FALLBACK_CHARSET = 'ISO-8859-1'

GetHA1 = Callable[[str, str], 'str | None']


def md5_hex(s: str | bytes) -> str:
    """The hex MD5 of ``s`` (a str is encoded as UTF-8)."""
    if isinstance(s, str):
        s = s.encode('utf-8')
    return hashlib.md5(s).hexdigest()


def _ha1(username: str, realm: str, password: str) -> str:
    return md5_hex(f'{username}:{realm}:{password}')


# -- credential stores -------------------------------------------------------

def get_ha1_dict(user_ha1_dict: Mapping[str, str]) -> GetHA1:
    """Return a ``get_ha1`` reading precomputed HA1 values from ``{user: ha1}``."""

    def get_ha1(realm: str, username: str) -> str | None:
        return user_ha1_dict.get(username)

    return get_ha1


def get_ha1_dict_plain(user_password_dict: Mapping[str, str]) -> GetHA1:
    """Return a ``get_ha1`` computing HA1 from plain passwords in ``{user: password}``."""

    def get_ha1(realm: str, username: str) -> str | None:
        password = user_password_dict.get(username)
        if password is None:
            return None
        return _ha1(username, realm, password)

    return get_ha1


def get_ha1_file_htdigest(filename: str) -> GetHA1:
    """Return a ``get_ha1`` reading an Apache ``htdigest`` file.

    Lines are ``user:realm:ha1``. The file is read on every lookup, so
    edits take effect without a restart; give an absolute path.
    """

    def get_ha1(realm: str, username: str) -> str | None:
        with open(filename, encoding='utf-8') as file:
            for line in file:
                parts = line.rstrip('\r\n').split(':')
                if len(parts) == 3 and parts[0] == username and parts[1] == realm:
                    return parts[2]
        return None

    return get_ha1


# -- nonces --------------------------------------------------------------------

def _nonce_mac(s: str, key: str, timestamp: str) -> str:
    return hmac.new(key.encode('utf-8'), f'{timestamp}:{s}'.encode('utf-8'),
                    hashlib.sha256).hexdigest()


def synthesize_nonce(s: str, key: str, timestamp: int | None = None) -> str:
    """Return a nonce ``<timestamp>:<mac>`` for ``s`` (e.g. the realm).

    The MAC is keyed with the server's secret ``key``, so a client can read
    the timestamp (to learn nothing useful) but cannot make a new one.
    """
    if timestamp is None:
        timestamp = int(time.time())
    return f'{timestamp}:{_nonce_mac(s, key, str(timestamp))}'


def _nonce_timestamp(nonce: str) -> int | None:
    timestamp, colon, _ = nonce.partition(':')
    if not colon or not timestamp.isascii() or not timestamp.isdigit():
        return None
    return int(timestamp)


class _SeenNonceCounts:
    """A bounded, thread-safe record of the (nonce, cnonce, nc) already used.

    The cnonce is part of the key because nonces are per realm and second:
    two clients may well be given the same nonce and both start at nc 1,
    with their own cnonces. A replay repeats all three (changing any one
    changes the digest). Only requests that authenticated are recorded, so
    a forger cannot burn a victim's counters; the oldest entries are
    forgotten first, which is safe enough as nonces expire anyway.
    """

    def __init__(self, maxsize: int = 10000) -> None:
        self.maxsize = maxsize
        self._pairs: collections.OrderedDict[tuple[str, str, str], None] = collections.OrderedDict()
        self._lock = threading.Lock()

    def add(self, nonce: str, cnonce: str, nc: str) -> bool:
        """Record the use; False when it was already recorded (a replay)."""
        pair = (nonce, cnonce, nc.lower())
        with self._lock:
            if pair in self._pairs:
                return False
            self._pairs[pair] = None
            while len(self._pairs) > self.maxsize:
                self._pairs.popitem(last=False)
            return True

    def clear(self) -> None:
        with self._lock:
            self._pairs.clear()


#: The nonce counts seen by :func:`digest_auth` in this process.
seen_nonce_counts = _SeenNonceCounts()


# -- the Authorization header ----------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PARAM = re.compile(
    rf'[ \t]*({_TOKEN})[ \t]*=[ \t]*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))[ \t]*(?:,|$)',
    re.DOTALL)
_NC = re.compile(r'[0-9a-fA-F]{8}\Z')


def parse_params(text: str) -> dict[str, str]:
    """Parse ``name=value, name="quoted, value"`` pairs (names lower-cased).

    Raises ValueError for anything else, including repeated names, which
    would make it ambiguous which value was signed.
    """
    params: dict[str, str] = {}
    pos = 0
    while pos < len(text):
        if text[pos] in ', \t':
            pos += 1
            continue
        match = _PARAM.match(text, pos)
        if match is None or match.end() == pos:
            raise ValueError(f'malformed parameter at {text[pos:pos + 20]!r}')
        name = match.group(1).lower()
        if match.group(2) is not None:
            value = re.sub(r'\\(.)', r'\1', match.group(2), flags=re.DOTALL)
        else:
            value = match.group(3)
        if name in params:
            raise ValueError(f'parameter {name!r} given twice')
        params[name] = value
        pos = match.end()
    return params


def _decode_username(value: str, accept_charset: str) -> str:
    """Reinterpret a header value (decoded as ISO-8859-1 by the server) in
    ``accept_charset``, keeping the ISO-8859-1 reading when that fails."""
    try:
        raw = value.encode(FALLBACK_CHARSET)
    except UnicodeEncodeError:
        return value
    try:
        return raw.decode(accept_charset)
    except (UnicodeDecodeError, LookupError):
        return value


class HttpDigestAuthorization:
    """A parsed and validated Digest ``Authorization`` header.

    Raises ValueError when ``auth_header`` is not a well-formed Digest
    header: not the Digest scheme, a required field missing, an unknown
    algorithm or qop, a bad nonce count.
    """

    def __init__(self, auth_header: str, http_method: str, debug: bool = False,
                 accept_charset: str = 'utf-8') -> None:
        self.http_method = http_method
        self.debug = debug
        scheme, _, rest = auth_header.strip().partition(' ')
        if scheme.lower() != 'digest':
            raise ValueError('the Authorization scheme is not Digest')
        params = parse_params(rest)
        self.params = params
        missing = [name for name in ('username', 'realm', 'nonce', 'uri', 'response')
                   if not params.get(name)]
        if missing:
            raise ValueError(f'missing Digest fields: {", ".join(missing)}')
        self.username = _decode_username(params['username'], accept_charset)
        self.realm = params['realm']
        self.nonce = params['nonce']
        self.uri = params['uri']
        self.response = params['response']
        self.opaque = params.get('opaque')
        self.cnonce = params.get('cnonce')
        self.nc = params.get('nc')
        self.qop = params.get('qop')

        algorithm = params.get('algorithm', 'MD5')
        for known in SUPPORTED_ALGORITHMS:
            if algorithm.lower() == known.lower():
                self.algorithm = known
                break
        else:
            raise ValueError(f'unsupported algorithm {algorithm!r}')

        if self.qop is not None:
            if self.qop not in SUPPORTED_QOP:
                raise ValueError(f'unsupported qop {self.qop!r}')
            if not self.cnonce or not self.nc:
                raise ValueError('qop requires cnonce and nc')
            if not _NC.match(self.nc):
                raise ValueError(f'nc must be 8 hex digits, not {self.nc!r}')
        elif self.cnonce is not None or self.nc is not None:
            raise ValueError('cnonce and nc are only allowed with qop')
        if self.algorithm == 'MD5-sess' and not self.cnonce:
            raise ValueError('MD5-sess requires a cnonce')

    def __repr__(self) -> str:
        return (f'<{type(self).__name__} username={self.username!r} realm={self.realm!r} '
                f'uri={self.uri!r} algorithm={self.algorithm} qop={self.qop}>')

    def validate_nonce(self, s: str, key: str) -> bool:
        """True if the nonce was made by :func:`synthesize_nonce` with these
        ``s`` and ``key`` (its timestamp was not tampered with)."""
        timestamp = _nonce_timestamp(self.nonce)
        if timestamp is None:
            return False
        expected = synthesize_nonce(s, key, timestamp)
        return hmac.compare_digest(expected.encode('utf-8'), self.nonce.encode('utf-8'))

    def is_nonce_stale(self, max_age_seconds: int = NONCE_MAX_AGE) -> bool:
        """True if the nonce is older than ``max_age_seconds``.

        Validate the nonce first: only then can its timestamp be trusted.
        """
        timestamp = _nonce_timestamp(self.nonce)
        if timestamp is None:
            return True
        return time.time() - timestamp > max_age_seconds

    def HA2(self, entity_body: bytes | str = b'') -> str:
        """Hash of the method and URI (and of the body for ``auth-int``)."""
        a2 = f'{self.http_method}:{self.uri}'
        if self.qop == 'auth-int':
            a2 = f'{a2}:{md5_hex(entity_body)}'
        return md5_hex(a2)

    def request_digest(self, ha1: str, entity_body: bytes | str = b'') -> str:
        """The response the client should have sent, given the user's HA1.

        ``entity_body`` matters for ``qop=auth-int`` only: it is the request
        entity as received.
        """
        if self.algorithm == 'MD5-sess':
            # The session key binds the stored HA1 to this nonce and cnonce.
            ha1 = md5_hex(f'{ha1}:{self.nonce}:{self.cnonce}')
        ha2 = self.HA2(entity_body)
        if self.qop:
            return md5_hex(f'{ha1}:{self.nonce}:{self.nc}:{self.cnonce}:{self.qop}:{ha2}')
        # RFC 2069, without qop.
        return md5_hex(f'{ha1}:{self.nonce}:{ha2}')

    def check_response(self, ha1: str, entity_body: bytes | str = b'') -> bool:
        """True if the client's response matches (compared in constant time)."""
        expected = self.request_digest(ha1, entity_body)
        return hmac.compare_digest(expected.encode('ascii'),
                                   self.response.lower().encode('utf-8', 'replace'))


# -- the tool ------------------------------------------------------------------

def www_authenticate(realm: str, key: str, algorithm: str = 'MD5', nonce: str | None = None,
                     qop: str = 'auth', stale: bool = False) -> str:
    """The value of a Digest ``WWW-Authenticate`` challenge."""
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise ValueError(f'unsupported algorithm {algorithm!r}')
    if nonce is None:
        nonce = synthesize_nonce(realm, key)
    value = (f'Digest realm={quote_realm(realm)}, nonce="{nonce}", '
             f'algorithm="{algorithm}", qop="{qop}"')
    if stale:
        value += ', stale="true"'
    return value


def _origin_form(uri: str) -> str:
    """``uri`` as path[?query], dropping the scheme and host of an absolute URI."""
    parts = urlsplit(uri)
    if parts.scheme or parts.netloc:
        return (parts.path or '/') + ('?' + parts.query if parts.query else '')
    return uri


def _uri_matches(uri: str, request) -> bool:
    """True if the Digest ``uri`` names the request target (path and query).

    A digest signs the uri field, not the request line: without this check
    a response captured for one resource would open any other. Paths are
    compared percent-decoded, since a client may encode them differently in
    the header and in the request line.
    """
    uri = _origin_form(uri)
    path, _, query = uri.partition('?')
    environ = getattr(request, 'wsgi_environ', None) or {}
    raw_target = environ.get('REQUEST_URI')
    try:
        if raw_target:
            raw_target = _origin_form(raw_target)
            if raw_target == uri:
                return True
            target_path, _, target_query = raw_target.partition('?')
            target_path = unquote(target_path, errors='strict')
        else:
            target_path = request.script_name + request.path_info
            target_query = request.query_string
        return unquote(path, errors='strict') == target_path and query == target_query
    except (UnicodeDecodeError, ValueError):
        return False


def _entity_body(request) -> bytes | None:
    """The request entity for ``auth-int``, or None if it cannot be had.

    The body is read here and handed back to the stream so the handler can
    still read it. A body already parsed into params (a form) is gone: its
    integrity cannot be checked.
    """
    body = getattr(request, 'body', None)
    if body is None:
        return b''
    reader = body.fp
    if getattr(reader, '_count', 0) or getattr(reader, '_buffer', b''):
        return None
    data = reader.read()
    if data:
        if not hasattr(reader, '_buffer'):
            return None
        # Put the bytes back in front of the (now exhausted) stream.
        reader._buffer = data
    return data


def _unauthorized(realm: str, key: str, stale: bool = False,
                  message: str = 'You are not authorized to access that resource'):
    serving.response.headers['WWW-Authenticate'] = www_authenticate(realm, key, stale=stale)
    return HTTPError(401, message)


def digest_auth(realm: str, get_ha1: GetHA1, key: str, debug: bool = False,
                accept_charset: str = 'utf-8') -> None:
    """Require HTTP Digest credentials.

    ``get_ha1(realm, username)`` returns MD5(username:realm:password) or
    None for unknown users; ``key`` is a server secret signing the nonces.
    Without a Digest header, or with wrong credentials, a forged, stale or
    replayed nonce, the answer is 401 with a fresh challenge; a malformed
    header, or one whose ``uri`` is not the request's, gets 400. On success
    ``request.login`` is the user name.
    """
    # A bad realm is a configuration error: fail before reading the request.
    quote_realm(realm)
    request = serving.request
    header = request.headers.get('Authorization')
    if not header or header.strip().partition(' ')[0].lower() != 'digest':
        _debug(debug, 'No Digest Authorization header', _CONTEXT)
        raise _unauthorized(realm, key)
    try:
        auth = HttpDigestAuthorization(header, request.method, debug=debug,
                                       accept_charset=accept_charset)
    except ValueError as exc:
        _debug(debug, f'Malformed Digest header: {exc}', _CONTEXT)
        raise HTTPError(400, 'The Authorization header is malformed.') from None
    _debug(debug, repr(auth), _CONTEXT)
    if not _uri_matches(auth.uri, request):
        raise HTTPError(400, 'The Authorization uri does not match the request.')
    if auth.realm != realm:
        _debug(debug, f'Wrong realm {auth.realm!r}', _CONTEXT)
        raise _unauthorized(realm, key)
    if not auth.validate_nonce(realm, key):
        _debug(debug, 'Nonce not issued by this server', _CONTEXT)
        raise _unauthorized(realm, key)

    ha1 = get_ha1(realm, auth.username)
    if ha1 is None:
        _debug(debug, f'Unknown user {auth.username!r}', _CONTEXT)
        raise _unauthorized(realm, key)
    entity_body: bytes | None = b''
    if auth.qop == 'auth-int':
        entity_body = _entity_body(request)
        if entity_body is None:
            _debug(debug, 'auth-int: the entity was already consumed', _CONTEXT)
            raise _unauthorized(realm, key)
    if not auth.check_response(ha1, entity_body):
        _debug(debug, f'Wrong response for {auth.username!r}', _CONTEXT)
        raise _unauthorized(realm, key)

    # The credentials are right: a stale nonce only needs renewing, which
    # the client can do without asking the user again.
    if auth.is_nonce_stale(NONCE_MAX_AGE):
        _debug(debug, 'Stale nonce', _CONTEXT)
        raise _unauthorized(realm, key, stale=True)
    if auth.nc is not None and not seen_nonce_counts.add(auth.nonce, auth.cnonce or '', auth.nc):
        _debug(debug, f'Replayed nonce count {auth.nc}', _CONTEXT)
        raise _unauthorized(realm, key)
    _debug(debug, f'Authenticated {auth.username!r}', _CONTEXT)
    request.login = auth.username
