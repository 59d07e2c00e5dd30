"""HTTP Basic authentication (RFC 7617) as a ``before_handler`` tool.

Configure it with a realm and a ``checkpassword(realm, username, password)``
callable::

    from pyframe.lib import auth_basic

    config = {'/admin': {
        'tools.auth_basic.on': True,
        'tools.auth_basic.realm': 'staff',
        'tools.auth_basic.checkpassword': auth_basic.checkpassword_dict({'ann': 's3cret'}),
    }}

A request without usable credentials gets ``401`` and a ``WWW-Authenticate``
challenge; an Authorization header that cannot be decoded gets ``400``. On
success the user name is stored in ``request.login``.

Basic credentials travel in clear text: use it over TLS only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping

from ..context import serving
from ..errors import HTTPError
from .cptools import _debug

__all__ = ['basic_auth', 'checkpassword_dict', 'quote_realm']

_CONTEXT = 'TOOLS.AUTH_BASIC'

#: The charset RFC 7617 lets a client fall back to; it decodes any bytes.
FALLBACK_CHARSET = 'ISO-8859-1'


def quote_realm(realm: str) -> str:
    """Return ``realm`` as an HTTP quoted-string.

    CR and LF are refused (``ValueError``) rather than escaped: they would
    let a realm taken from untrusted data inject response headers.
    """
    if '\r' in realm or '\n' in realm:
        raise ValueError('an authentication realm may not contain CR or LF')
    return '"' + realm.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _is_utf8(charset: str) -> bool:
    return charset.lower().replace('_', '-') in ('utf-8', 'utf8')


def checkpassword_dict(user_password_dict: Mapping[str, str]) -> Callable[[str, str, str], bool]:
    """Return a ``checkpassword`` looking credentials up in ``{user: password}``.

    The comparison takes the same time whether the password is right or not,
    and whether the user exists or not, so timing tells an attacker nothing.
    """

    def checkpassword(realm: str, username: str, password: str) -> bool:
        known = user_password_dict.get(username)
        # Compare against something even for unknown users: the work done
        # should not reveal which user names exist.
        # Digests of equal length also keep the password's length secret.
        expected = hashlib.sha256((known if known is not None else '\0unknown').encode('utf-8'))
        given = hashlib.sha256(password.encode('utf-8'))
        matches = hmac.compare_digest(expected.digest(), given.digest())
        return known is not None and matches

    return checkpassword


def _challenge(realm: str, accept_charset: str) -> str:
    value = f'Basic realm={quote_realm(realm)}'
    # RFC 7617 only defines charset="UTF-8"; other charsets cannot be announced.
    if _is_utf8(accept_charset):
        value += ', charset="UTF-8"'
    return value


def _decode(raw: bytes, accept_charset: str) -> str:
    """Decode credentials with ``accept_charset``, else ISO-8859-1."""
    try:
        return raw.decode(accept_charset)
    except (UnicodeDecodeError, LookupError):
        return raw.decode(FALLBACK_CHARSET)


def parse_credentials(header: str, accept_charset: str = 'utf-8') -> tuple[str, str] | None:
    """Return ``(username, password)`` from a Basic Authorization value.

    None means the header is not Basic (the client should be challenged);
    ``HTTPError(400)`` means it is Basic but malformed.
    """
    scheme, _, token = header.strip().partition(' ')
    if scheme.lower() != 'basic':
        return None
    token = token.strip()
    if not token:
        raise HTTPError(400, 'The Basic Authorization header carries no credentials.')
    try:
        raw = base64.b64decode(token.encode('ascii'), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise HTTPError(400, 'The Basic credentials are not valid base64.') from None
    username, colon, password = _decode(raw, accept_charset).partition(':')
    if not colon:
        raise HTTPError(400, 'The Basic credentials have no colon between user and password.')
    return username, password


def basic_auth(realm: str, checkpassword: Callable[[str, str, str], bool],
               debug: bool = False, accept_charset: str = 'utf-8') -> None:
    """Require HTTP Basic credentials that ``checkpassword`` accepts.

    ``checkpassword(realm, username, password)`` returns True for valid
    credentials. On success ``request.login`` is the user name; otherwise
    the request is answered 401 with a challenge (400 for a malformed
    header).
    """
    # Fail on a bad realm before looking at the request: it is a config error.
    challenge = _challenge(realm, accept_charset)
    request = serving.request
    header = request.headers.get('Authorization')
    if header:
        credentials = parse_credentials(header, accept_charset)
        if credentials is not None:
            username, password = credentials
            if checkpassword(realm, username, password):
                _debug(debug, f'Authenticated {username!r}', _CONTEXT)
                request.login = username
                return
            _debug(debug, f'Wrong credentials for {username!r}', _CONTEXT)
        else:
            _debug(debug, 'Authorization scheme is not Basic', _CONTEXT)
    serving.response.headers['WWW-Authenticate'] = challenge
    raise HTTPError(401, 'You are not authorized to access that resource')
