"""HTTP helpers that know nothing about the rest of pyframe.

Everything here is pure data handling (paths, ranges, header elements,
query strings, dates, header maps), so that request/response code and tools
can share one strict, fast implementation. Several functions run on every
request: patterns are compiled once at import and the common inputs take a
short path.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import http
import math
import re
import time
from typing import Any, Iterable
from urllib.parse import unquote

__all__ = [
    'add_param', 'valid_host',
    'AcceptElement', 'CaseInsensitiveDict', 'HeaderElement', 'HeaderMap', 'Host',
    'decode_TEXT', 'decode_TEXT_maybe', 'get_ranges', 'header_elements',
    'http_date', 'parse_http_date', 'parse_query_string', 'protocol_from_http',
    'response_codes', 'urljoin', 'urljoin_bytes', 'valid_status',
]

#: Status code -> (reason phrase, longer description), from the stdlib.
response_codes: dict[int, tuple[str, str]] = {
    status.value: (status.phrase, status.description) for status in http.HTTPStatus
}


class Host:
    """A network endpoint: ``ip``, ``port`` and, when known, ``name``."""

    __slots__ = ('ip', 'port', 'name')

    def __init__(self, ip: str, port: int, name: str | None = None) -> None:
        self.ip = ip
        self.port = port
        self.name = name or ip

    def __repr__(self) -> str:
        return f'Host({self.ip!r}, {self.port!r}, {self.name!r})'


# RFC 9110 7.2 / RFC 3986: a reg-name, an IPv4 address or a bracketed IPv6
# literal, then an optional port. Commas (two Host headers joined), paths,
# queries and spaces are excluded.
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+;=%-]*)(?::[0-9]*)?")


_valid_hosts: set[str] = set()


def valid_host(value: str) -> bool:
    """True when ``value`` is a syntactically valid Host header value."""
    # A site sees a handful of Host values; remember the good ones (capped,
    # since clients choose them).
    if value in _valid_hosts:
        return True
    if not _HOST.fullmatch(value):
        return False
    if len(_valid_hosts) < 256:
        _valid_hosts.add(value)
    return True


_STATUS_BY_CODE = {
    code: (code, reason, description)
    for code, (reason, description) in response_codes.items()
}


def valid_status(status) -> tuple[int, str, str]:
    """Return ``(code, reason, description)`` for a status int or string.

    Accepts ``404``, ``'404'`` or ``'404 Gone Fishing'``; raises ValueError
    for anything that is not a three-digit code from 100 to 599.
    """
    if status is None:
        status = 200
    if type(status) is int:
        # Handlers mostly use plain ints: answer from the table.
        known = _STATUS_BY_CODE.get(status)
        if known is not None:
            return known
    text = str(status).strip()
    code_text, _, reason = text.partition(' ')
    try:
        code = int(code_text)
    except ValueError:
        raise ValueError(f'Illegal response status from server ({status!r} is non-numeric).') from None
    if code < 100 or code > 599:
        raise ValueError(f'Illegal response status from server ({code!r} is out of range).')
    default_reason, description = response_codes.get(code, ('', ''))
    return code, (reason or default_reason), description


# --------------------------------------------------------------------------
# Paths and protocol versions

_SLASH_RUN = re.compile(r'/{2,}')
_SLASH_RUN_BYTES = re.compile(rb'/{2,}')


def urljoin(*atoms: str) -> str:
    """Join path pieces (e.g. SCRIPT_NAME and PATH_INFO) into one path.

    Empty pieces are skipped, exactly one slash separates the pieces, and
    no result is empty (``'/'`` instead). Runs of slashes anywhere collapse
    to one: they mean nothing to dispatch, and a leading ``//`` would read
    as a host name if the path ever ends up in a Location header.
    """
    url = '/'.join([atom for atom in atoms if atom])
    if '//' in url:
        url = _SLASH_RUN.sub('/', url)
    return url or '/'


def urljoin_bytes(*atoms: bytes) -> bytes:
    """Join byte-string path pieces like :func:`urljoin` does for str."""
    url = b'/'.join([atom for atom in atoms if atom])
    if b'//' in url:
        url = _SLASH_RUN_BYTES.sub(b'/', url)
    return url or b'/'


def _is_digits(text: str) -> bool:
    # str.isdigit alone also accepts non-ASCII digits that int() rejects or
    # that no HTTP grammar allows.
    return text.isascii() and text.isdigit()


# The two versions real clients send; everything else takes the slow path.
_KNOWN_PROTOCOLS = {'HTTP/1.1': (1, 1), 'HTTP/1.0': (1, 0)}


def protocol_from_http(protocol_str: str) -> tuple[int, int]:
    """Return ``(major, minor)`` from an ``'HTTP/x.y'`` string.

    Raises ValueError when the string is not of that shape.
    """
    known = _KNOWN_PROTOCOLS.get(protocol_str)
    if known is not None:
        return known
    name, _, version = protocol_str.strip().partition('/')
    major, dot, minor = version.partition('.')
    if not dot:
        minor = '0'  # 'HTTP/2', as some servers write it
    if name != 'HTTP' or not (_is_digits(major) and _is_digits(minor)):
        raise ValueError(f'Malformed HTTP protocol {protocol_str!r}.')
    return int(major), int(minor)


# --------------------------------------------------------------------------
# Range requests

# A Range header asking for more bytes than the whole representation
# (overlapping ranges) or for very many pieces is an amplification attack,
# not a real client; RFC 9110 section 14.2 lets us ignore it.
_MAX_RANGES = 100


def get_ranges(headervalue: str | None, content_length: int) -> list[tuple[int, int]] | None:
    """Turn a ``Range: bytes=...`` value into ``(start, stop)`` slice pairs.

    ``stop`` is exclusive, so ``bytes=3-6`` gives ``[(3, 7)]``. Ranges keep
    the client's order; ends past the content are clamped and a suffix range
    longer than the content means all of it.

    Returns None when the header must be ignored and the full content
    served with 200: no header, a unit other than ``bytes``, any malformed
    range spec (RFC 9110 treats an invalid Range as absent rather than
    unsatisfiable), empty content, or a request for more ranges or bytes
    than the content holds. Returns ``[]`` when the header is valid but no
    range is satisfiable: the caller answers 416.
    """
    if not headervalue or content_length <= 0:
        return None
    unit, equals, specs = headervalue.partition('=')
    if not equals or unit.strip().lower() != 'bytes':
        return None
    ranges: list[tuple[int, int]] = []
    total = 0
    seen_spec = False
    for spec in specs.split(','):
        spec = spec.strip()
        if not spec:
            continue  # HTTP lists tolerate empty elements
        seen_spec = True
        first, dash, last = spec.partition('-')
        if not dash:
            return None
        if not first:
            # Suffix range: the final ``last`` bytes.
            if not _is_digits(last):
                return None
            length = int(last)
            if length == 0:
                continue  # a zero-length suffix selects nothing
            start, stop = max(content_length - length, 0), content_length
        else:
            if not _is_digits(first):
                return None
            start = int(first)
            if last:
                if not _is_digits(last):
                    return None
                end = int(last)
                if end < start:
                    return None
                stop = min(end + 1, content_length)
            else:
                stop = content_length
            if start >= content_length:
                continue  # unsatisfiable on its own; others may still be fine
        total += stop - start
        ranges.append((start, stop))
    if not seen_spec or len(ranges) > _MAX_RANGES or total > content_length:
        return None
    return ranges


# --------------------------------------------------------------------------
# Header elements

# RFC 9110 token characters; anything else in a parameter value needs quotes.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_QUOTED_PAIR = re.compile(r'\\(.)')


def _split_unquoted(text: str, sep: str) -> list[str]:
    """Split ``text`` on ``sep`` except inside double-quoted strings."""
    if '"' not in text:
        return text.split(sep)  # the usual case, done in C
    parts = []
    start = 0
    in_quotes = escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == '\\' and in_quotes:
            escaped = True
        elif char == '"':
            in_quotes = not in_quotes
        elif char == sep and not in_quotes:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _unquote_param(value: str) -> str:
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return _QUOTED_PAIR.sub(r'\1', value[1:-1])
    return value


def _quote_param(value: str) -> str:
    if _TOKEN.fullmatch(value):
        return value
    return '"' + value.replace('\\', '\\\\').replace('"', '\\"') + '"'


def _parse_q(text: Any) -> float:
    """Return a q value in [0, 1]; anything unreadable counts as 0."""
    if text is None:
        return 1.0
    try:
        q = float(text)
    except (TypeError, ValueError):
        return 0.0
    # The comparison also rejects NaN.
    return q if 0.0 <= q <= 1.0 else 0.0


class HeaderElement:
    """One element of a comma-separated header: a value plus parameters.

    ``str()`` gives back ``value;key=value`` (parameter values quoted when
    they need it). Elements compare, sort and hash by ``value``; they also
    compare equal to a plain string with the same value.
    """

    __slots__ = ('value', 'params')

    def __init__(self, value: str, params: dict[str, str] | None = None) -> None:
        self.value = value
        self.params = {} if params is None else params

    def __str__(self) -> str:
        if not self.params:
            return self.value
        return self.value + ''.join(
            f';{key}={_quote_param(str(val))}' for key, val in self.params.items())

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.value!r}, {self.params!r})'

    def __eq__(self, other: object) -> bool:
        if isinstance(other, HeaderElement):
            return self.value == other.value
        if isinstance(other, str):
            return self.value == other
        return NotImplemented

    def __lt__(self, other: HeaderElement) -> bool:
        return self.value < other.value

    def __hash__(self) -> int:
        return hash(self.value)

    @staticmethod
    def parse(elementstr: str) -> tuple[str, dict[str, str]]:
        """Split ``'value;k=v;k2="v 2"'`` into ``(value, {k: v, ...})``.

        Parameter names are lower-cased (they are case-insensitive in HTTP),
        values are stripped and unquoted; a name without ``=`` maps to ''.
        """
        value, *pieces = _split_unquoted(elementstr, ';')
        params = {}
        for piece in pieces:
            name, _, pvalue = piece.partition('=')
            name = name.strip()
            if name:
                params[name.lower()] = _unquote_param(pvalue.strip())
        return value.strip(), params

    @classmethod
    def from_str(cls, elementstr: str) -> HeaderElement:
        """Build an element from its header text."""
        return cls(*cls.parse(elementstr))


def _specificity(value: str, params: dict[str, str]) -> int:
    """Rank how narrow an Accept* value is: ``*/*`` < ``text/*`` < ``text/html``."""
    if value == '*' or value == '*/*':
        rank = 0
    elif value.endswith('/*'):
        rank = 1
    else:
        rank = 2
    # text/html;level=1 is narrower than text/html (RFC 9110 section 12.5.1).
    return rank + len(params) - ('q' in params)


class AcceptElement(HeaderElement):
    """An element of an Accept, Accept-* or TE header, with a q value.

    Ordering is by preference, most preferred being the *smallest*, so that
    plain ``sorted(elements)`` lists the best choice first: higher q first,
    then the more specific value, and equal ones keep their original order
    (the sort is stable). Equality and hashing still go by ``value``.
    """

    __slots__ = ()

    @property
    def qvalue(self) -> float:
        """The q parameter as a float in [0, 1]; 1 when absent.

        A malformed or out-of-range q counts as 0 ("not acceptable") rather
        than raising: a bad client header must not turn into a server error,
        and refusing that one choice is the cautious reading.
        """
        return _parse_q(self.params.get('q'))

    def _preference(self) -> tuple[float, int]:
        return -self.qvalue, -_specificity(self.value, self.params)

    def __lt__(self, other: HeaderElement) -> bool:
        if isinstance(other, AcceptElement):
            return self._preference() < other._preference()
        return NotImplemented


def _is_accept_header(fieldname: str) -> bool:
    name = fieldname.lower()
    return name.startswith('accept') or name == 'te'


# Only short values are cached, so hostile clients cannot pin megabytes of
# distinct huge headers in memory.
_CACHEABLE_LENGTH = 1024


@functools.lru_cache(maxsize=512)
def _parsed_elements(fieldvalue: str, accept: bool) -> tuple[tuple[str, tuple], ...]:
    """Parse and order a header value once; browsers repeat the same ones.

    Returns immutable (value, param items) pairs so the cache can never be
    changed through the element objects built from it.
    """
    parsed = []
    for piece in _split_unquoted(fieldvalue, ','):
        if piece.strip():
            value, params = HeaderElement.parse(piece)
            parsed.append((value, params))
    if accept:
        parsed.sort(key=lambda pair: (-_parse_q(pair[1].get('q')),
                                      -_specificity(pair[0], pair[1])))
    return tuple((value, tuple(params.items())) for value, params in parsed)


def header_elements(fieldname: str, fieldvalue: str | None) -> list[HeaderElement]:
    """Split a comma-separated header into elements, most preferred first.

    Accept* and TE headers give AcceptElement objects ordered by q value
    and specificity. Other headers keep the order the client sent, because
    in headers such as Via or Forwarded the order is the meaning. An empty
    or missing value gives ``[]``.
    """
    if not fieldvalue:
        return []
    if not isinstance(fieldvalue, str):
        fieldvalue = str(fieldvalue)
    accept = _is_accept_header(fieldname)
    cls = AcceptElement if accept else HeaderElement
    parse = _parsed_elements if len(fieldvalue) <= _CACHEABLE_LENGTH else _parsed_elements.__wrapped__
    return [cls(value, dict(params)) for value, params in parse(fieldvalue, accept)]


# --------------------------------------------------------------------------
# RFC 2047 encoded words

# =?charset[*language]?encoding?text?=
_ENCODED_WORD = re.compile(r'=\?([^?\s*]+)(?:\*[^?\s]*)?\?([BbQq])\?([^?\s]*)\?=')


def _decode_word(charset: str, encoding: str, text: str) -> str | None:
    """Decode one encoded word; None when it cannot be decoded."""
    try:
        if encoding in 'Bb':
            # Senders often drop the padding; restore it before decoding.
            raw = base64.b64decode(text + '=' * (-len(text) % 4), validate=True)
        else:
            raw = binascii.a2b_qp(text.encode('ascii'), header=True)
        return raw.decode(charset)
    except (binascii.Error, ValueError, LookupError):
        # Covers bad base64, non-ASCII text, unknown charsets and bytes that
        # are invalid in the charset (UnicodeDecodeError is a ValueError).
        return None


def decode_TEXT(value: str) -> str:
    """Decode RFC 2047 encoded words: ``'=?utf-8?q?f=C3=BCr?='`` -> ``'für'``.

    Whitespace between two adjacent encoded words is dropped, as the RFC
    says; a word that cannot be decoded (unknown charset, bad bytes) is kept
    as it was written.
    """
    out = []
    pos = 0
    after_word = False
    for match in _ENCODED_WORD.finditer(value):
        between = value[pos:match.start()]
        decoded = _decode_word(*match.groups())
        if not (after_word and decoded is not None and (not between or between.isspace())):
            out.append(between)
        out.append(match.group() if decoded is None else decoded)
        after_word = decoded is not None
        pos = match.end()
    if not out:
        return value
    out.append(value[pos:])
    return ''.join(out)


def decode_TEXT_maybe(value: str) -> str:
    """Like :func:`decode_TEXT`, but only pay for it when ``=?`` appears."""
    return decode_TEXT(value) if '=?' in value else value


# --------------------------------------------------------------------------
# Query strings

# A server-side image map (<img ismap>) sends just "?x,y".
_IMAGE_MAP = re.compile(r'([0-9]+),([0-9]+)')


def _unquote_plus(text: str, encoding: str) -> str:
    if '+' in text:
        text = text.replace('+', ' ')
    return unquote(text, encoding, 'strict') if '%' in text else text


def parse_query_string(query_string: str, keep_blank_values: bool = True,
                       encoding: str = 'utf-8') -> dict[str, Any]:
    """Build a params dict from a query string.

    A key given once maps to its str value, a repeated key to a list of its
    values in order. ``+`` means space and percent-escapes are decoded with
    ``encoding``; invalid bytes raise UnicodeDecodeError for the caller to
    turn into a 4xx. Only ``&`` separates fields: ``;`` is data, as in
    browsers and the current URL standard. Fields with an empty name are
    dropped, and blank values too unless ``keep_blank_values``.
    A bare ``x,y`` (server-side image map click) gives ``{'x': int, 'y': int}``.
    """
    if not query_string:
        return {}
    params: dict[str, Any] = {}
    if '%' not in query_string and '+' not in query_string and ',' not in query_string:
        # Nothing to decode and no image map: the usual case, in one loop.
        for field in query_string.split('&'):
            name, _, value = field.partition('=')
            if not name or (not value and not keep_blank_values):
                continue
            if name in params:
                add_param(params, name, value)
            else:
                params[name] = value
        return params
    image_map = _IMAGE_MAP.fullmatch(query_string)
    if image_map:
        return {'x': int(image_map.group(1)), 'y': int(image_map.group(2))}
    for field in query_string.split('&'):
        name, _, value = field.partition('=')
        if not name or (not value and not keep_blank_values):
            continue
        add_param(params, _unquote_plus(name, encoding), _unquote_plus(value, encoding))
    return params


def add_param(params: dict, key: str, value: Any) -> None:
    """Add ``key=value`` to a parameter dict; a repeated key collects a list."""
    if key in params:
        existing = params[key]
        if isinstance(existing, list):
            existing.append(value)
        else:
            params[key] = [existing, value]
    else:
        params[key] = value


# --------------------------------------------------------------------------
# Header maps

# str keys -> str(key).title(), for CaseInsensitiveDict; only str keys go
# in (1, 1.0 and True are one dict key but three different titles).
_titled: dict[str, str] = {}


def _title(key: Any) -> str:
    """``str(key).title()``, remembered for str keys (bounded)."""
    titled = str(key).title()
    if type(key) is str:
        if len(_titled) >= 1024:
            _titled.clear()
        _titled[key] = titled
    return titled


class CaseInsensitiveDict(dict):
    """A dict whose keys are stored as ``str(key).title()``.

    Every way in (item access, ``in``, get, setdefault, pop, update,
    fromkeys, the constructor, ``|=``) applies the same conversion, so
    ``d['content-type']`` and ``d['Content-Type']`` are one entry.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        if args or kwargs:
            self.update(*args, **kwargs)

    # Each way in converts its key with a lookup in _titled (a site uses a
    # few dozen header names), str(key).title() only for a new one.

    def __getitem__(self, key: Any) -> Any:
        try:
            key = _titled[key]
        except (KeyError, TypeError):
            key = _title(key)
        return dict.__getitem__(self, key)

    def __setitem__(self, key: Any, value: Any) -> None:
        try:
            key = _titled[key]
        except (KeyError, TypeError):
            key = _title(key)
        dict.__setitem__(self, key, value)

    def __delitem__(self, key: Any) -> None:
        dict.__delitem__(self, _title(key))

    def __contains__(self, key: object) -> bool:
        try:
            key = _titled[key]
        except (KeyError, TypeError):
            key = _title(key)
        return dict.__contains__(self, key)

    def __ior__(self, other: Any) -> CaseInsensitiveDict:
        self.update(other)
        return self

    def get(self, key: Any, default: Any = None) -> Any:
        """Return the value for ``key`` (any case), or ``default``."""
        try:
            key = _titled[key]
        except (KeyError, TypeError):
            key = _title(key)
        return dict.get(self, key, default)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        """Return the value for ``key``, storing ``default`` first if absent."""
        return dict.setdefault(self, _title(key), default)

    def pop(self, key: Any, *default: Any) -> Any:
        """Remove ``key`` (any case) and return its value (or ``default``)."""
        return dict.pop(self, _title(key), *default)

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Add entries from a mapping or (key, value) pairs, and keywords."""
        store = dict.__setitem__  # skip per-item method dispatch: hot path
        items = other.items() if hasattr(other, 'items') else other
        for key, value in items:
            store(self, str(key).title(), value)
        for key, value in kwargs.items():
            store(self, key.title(), value)

    def copy(self) -> CaseInsensitiveDict:
        """Return a shallow copy of the same class."""
        new = type(self)()
        dict.update(new, self)  # keys are already converted
        return new

    @classmethod
    def fromkeys(cls, seq: Iterable[Any], value: Any = None) -> CaseInsensitiveDict:
        """Return a new instance with every key of ``seq`` set to ``value``."""
        new = cls()
        for key in seq:
            new[key] = value
        return new


_TOKEN_BYTES = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# Header names checked once and kept encoded: responses reuse a small set of
# names, so the check and encoding are skipped on every later response. The
# cap keeps names built from user data from growing it without end.
_checked_names: dict[str, bytes] = {}
_CHECKED_NAMES_MAX = 1024


def _name_bytes(name: Any) -> bytes:
    """Return a header name as wire bytes, refusing anything not a token."""
    if isinstance(name, bytes):
        if _TOKEN_BYTES.fullmatch(name):
            return name
        raise ValueError(f'Illegal header name {name!r}.')
    name = str(name)
    encoded = _checked_names.get(name)
    if encoded is None:
        if not _TOKEN.fullmatch(name):
            raise ValueError(f'Illegal header name {name!r}.')
        encoded = name.encode('ascii')
        if len(_checked_names) < _CHECKED_NAMES_MAX:
            _checked_names[name] = encoded
    return encoded


def _has_line_break(value: str | bytes) -> bool:
    # CR and LF would end the header early (response splitting); NUL is
    # just as forbidden in field values by RFC 9110. Three C-level scans
    # beat one regex search on short values.
    if isinstance(value, str):
        return '\r' in value or '\n' in value or '\0' in value
    return b'\r' in value or b'\n' in value or b'\0' in value


# Response headers repeat (Server, Content-Type, the Date of this second):
# each (name, value) pair is checked and encoded once. The cap bounds what
# values built from user data can make it hold.
_encoded_pairs: dict[tuple[str, str], tuple[bytes, bytes]] = {}
_ENCODED_PAIRS_MAX = 4096
_encoded_sets: dict[tuple, tuple] = {}
_ENCODED_SETS_MAX = 1024


class HeaderMap(CaseInsensitiveDict):
    """Request or response headers: a case-insensitive dict of name -> value.

    Request values are text (RFC 2047 words already decoded by whoever
    builds the map). Response values may be str, bytes or anything with a
    str(); :meth:`output` turns them into wire bytes, refusing any name or
    value that could split the response.
    """

    #: Charsets tried in order when encoding a str header value.
    encodings = ['ISO-8859-1']
    #: The HTTP version whose header rules this map follows.
    protocol = (1, 1)
    #: Fall back to an RFC 2047 UTF-8 encoded word when no charset fits.
    use_rfc_2047 = True

    def elements(self, key: str) -> list[HeaderElement]:
        """Return the parsed elements of header ``key``, most preferred first."""
        return header_elements(str(key), self.get(key))

    def values(self, key: Any = None) -> Any:
        """Return the element values of header ``key`` as a list of str.

        Without ``key`` this is the ordinary ``dict.values()``.
        """
        if key is None:
            return dict.values(self)
        return [element.value for element in self.elements(key)]

    def output(self) -> list[tuple[bytes, bytes]]:
        """Return all headers as (name, value) byte pairs ready for the wire."""
        if type(self) is not HeaderMap:
            # A subclass may encode differently: no shared cache.
            return self.encode_header_items(self.items())
        # Responses of one page repeat the same headers (the Date changes
        # once a second): whole header sets made only of str are encoded once.
        items = tuple(dict.items(self))
        try:
            known = _encoded_sets.get(items)
        except TypeError:  # an unhashable value
            return self.encode_header_items(items)
        if known is not None:
            return list(known)
        encoded = self.encode_header_items(items)
        if all(type(value) is str for _name, value in items):
            if len(_encoded_sets) >= _ENCODED_SETS_MAX:
                _encoded_sets.clear()
            _encoded_sets[items] = tuple(encoded)
        return encoded

    @classmethod
    def encode_header_items(cls, header_items: Iterable[tuple[Any, Any]]) -> list[tuple[bytes, bytes]]:
        """Encode (name, value) pairs to bytes for transmission.

        Names must be HTTP tokens; values are encoded by :meth:`encode`.
        A name or value containing CR, LF or NUL raises ValueError naming
        the header, so user data can never inject headers or a body.
        """
        encoded = []
        # Only the plain class shares the cache: a subclass may encode differently.
        cache = _encoded_pairs if cls is HeaderMap else None
        for name, value in header_items:
            if cache is not None and type(value) is str and type(name) is str:
                pair = cache.get((name, value))
                if pair is not None:
                    encoded.append(pair)
                    continue
            key = (name, value)
            if not isinstance(value, (str, bytes)):
                value = str(value)
            if _has_line_break(value):
                raise ValueError(f'Illegal character (CR, LF or NUL) in header {name!r}.')
            pair = (_name_bytes(name), cls.encode(value))
            encoded.append(pair)
            if cache is not None and type(key[1]) is str and type(name) is str:
                if len(cache) >= _ENCODED_PAIRS_MAX:
                    cache.clear()
                cache[key] = pair
        return encoded

    @classmethod
    def encode(cls, value: Any) -> bytes:
        """Encode one header value to bytes.

        Tries each charset of ``encodings``; when none fits, emits a single
        RFC 2047 encoded word (UTF-8, base64) if ``use_rfc_2047``, else
        raises ValueError. Bytes pass through unchanged.
        """
        if isinstance(value, bytes):
            return value
        if not isinstance(value, str):
            value = str(value)
        for charset in cls.encodings:
            try:
                return value.encode(charset)
            except UnicodeEncodeError:
                continue
        if cls.use_rfc_2047:
            return b'=?utf-8?b?' + base64.b64encode(value.encode('utf-8')) + b'?='
        raise ValueError(
            f'Header value {value!r} cannot be encoded with {cls.encodings!r} '
            'and RFC 2047 encoding is disabled.')


# --------------------------------------------------------------------------
# Dates (Date, Last-Modified, Expires, If-Modified-Since ...)

_DAY_NAMES = ('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')
_MONTH_NAMES = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun',
                'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')
_MONTHS = {name.lower(): number for number, name in enumerate(_MONTH_NAMES, 1)}

# The last formatted second: a busy server formats the same Date many times.
_http_dates: dict[int, str] = {}


def http_date(timestamp: float | None = None) -> str:
    """Format a POSIX timestamp (default: now) as an IMF-fixdate.

    For example ``'Sun, 06 Nov 1994 08:49:37 GMT'`` (RFC 9110 section 5.6.7).
    """
    second = math.floor(time.time() if timestamp is None else timestamp)
    text = _http_dates.get(second)
    if text is None:
        t = time.gmtime(second)
        text = (f'{_DAY_NAMES[t.tm_wday]}, {t.tm_mday:02d} {_MONTH_NAMES[t.tm_mon - 1]} '
                f'{t.tm_year:04d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT')
        # Responses need "now" and a few dates relative to it (cookie and
        # Expires dates): a handful of seconds are live at any moment.
        if len(_http_dates) >= 64:
            _http_dates.clear()
        _http_dates[second] = text
    return text


_TIME = r'(\d\d):(\d\d):(\d\d)'
# Weekday names are not checked against the date: recipients gain nothing
# from rejecting a date over a wrong day name.
_IMF_FIXDATE = re.compile(r'[A-Za-z]{3}, (\d\d) ([A-Za-z]{3}) (\d{4}) ' + _TIME + ' GMT')
_RFC850_DATE = re.compile(r'[A-Za-z]{6,9}, (\d\d)-([A-Za-z]{3})-(\d\d) ' + _TIME + ' GMT')
_ASCTIME_DATE = re.compile(r'[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) ' + _TIME + r' (\d{4})')


def _full_year(two_digits: int) -> int:
    # RFC 9110: a two-digit year more than 50 years ahead is in the past.
    this_year = time.gmtime().tm_year
    year = this_year - this_year % 100 + two_digits
    return year - 100 if year > this_year + 50 else year


def parse_http_date(text: str | None) -> float | None:
    """Return the POSIX timestamp of an HTTP date, or None if unreadable.

    Accepts the three formats of RFC 9110 section 5.6.7: IMF-fixdate,
    RFC 850 (two-digit year) and asctime.
    """
    if not text or not isinstance(text, str):
        return None
    text = text.strip()
    match = _IMF_FIXDATE.fullmatch(text)
    if match:
        day, month, year, hour, minute, sec = match.groups()
        year = int(year)
    else:
        match = _RFC850_DATE.fullmatch(text)
        if match:
            day, month, year, hour, minute, sec = match.groups()
            year = _full_year(int(year))
        else:
            match = _ASCTIME_DATE.fullmatch(text)
            if not match:
                return None
            month, day, hour, minute, sec, year = match.groups()
            year = int(year)
    month_number = _MONTHS.get(month.lower())
    if month_number is None:
        return None
    # A leap second (:60) is legal in the grammar; datetime has no room for it.
    seconds = min(int(sec), 59)
    try:
        moment = datetime.datetime(year, month_number, int(day), int(hour), int(minute),
                                   seconds, tzinfo=datetime.timezone.utc)
    except ValueError:
        return None  # e.g. 31 Feb or hour 25
    return moment.timestamp()
