"""Charsets and content codings: the encode, decode and gzip tools.

- :class:`ResponseEncoder` (the ``encode`` tool) negotiates the charset of
  text responses with the client's Accept-Charset and encodes the body.
- :func:`decode` chooses the charsets request entities are decoded with.
- :func:`gzip` compresses responses the client accepts gzip for.
"""

from __future__ import annotations

import codecs
import gzip as _gzip
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from ..context import serving
from ..errors import HTTPError
from . import httputil

__all__ = ['ResponseEncoder', 'encode', 'decode', 'gzip', 'compress', 'decompress']


def _codec_name(charset: str) -> str | None:
    """The canonical codec name of ``charset`` ('UTF8' -> 'utf-8'), or None
    when Python has no such codec."""
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def _byte_chunks(body: Iterable, charset: str, errors: str = 'strict') -> Iterator[bytes]:
    """``body`` with its text chunks encoded in ``charset``, lazily."""
    for chunk in body:
        yield chunk.encode(charset, errors) if isinstance(chunk, str) else chunk


def _as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


# ---------------------------------------------------------------------------
# Response charsets

# Responses reuse a handful of Content-Type values: parse each once. The
# cached elements are shared, so they are never changed in place.
_content_types: dict[str, httputil.HeaderElement | None] = {}
_charset_content_types: dict[tuple[str, str], str] = {}
_CACHE_MAX = 256


def _content_type_element(value: str) -> httputil.HeaderElement | None:
    """The first element of a Content-Type value (parsed once per value)."""
    try:
        return _content_types[value]
    except KeyError:
        pass
    elements = httputil.header_elements('Content-Type', value)
    element = elements[0] if elements else None
    if len(_content_types) >= _CACHE_MAX:
        _content_types.clear()
    _content_types[value] = element
    return element


def _with_charset(element: httputil.HeaderElement, charset: str) -> str:
    """The Content-Type value of ``element`` declaring ``charset``."""
    key = (str(element), charset)
    value = _charset_content_types.get(key)
    if value is None:
        value = str(httputil.HeaderElement(element.value, {**element.params, 'charset': charset}))
        if len(_charset_content_types) >= _CACHE_MAX:
            _charset_content_types.clear()
        _charset_content_types[key] = value
    return value


class ResponseEncoder:
    """The ``encode`` tool: encode text bodies in a charset the client accepts.

    Created with the tool's config (``tools.encode.encoding`` ...) when the
    tool is on, it takes the place of the page handler and encodes what the
    handler returned. Choice of the charset, in order:

    1. the charset the handler put in Content-Type itself, if any;
    2. ``encoding``, when given (406 if the client refuses it);
    3. ``default_encoding``, when the client accepts it and it can encode
       the body;
    4. the client's preferred charset (Accept-Charset order) that can.

    A missing Accept-Charset header accepts any charset. When nothing fits
    the answer is 406 naming the header and the charsets tried.
    """

    #: Charset to use whatever the client prefers (None: negotiate).
    encoding: str | None = None
    #: Charset used when the client accepts it.
    default_encoding: str = 'utf-8'
    #: Only encode ``text/*`` responses; other types are left untouched.
    text_only: bool = True
    #: Declare the charset in the Content-Type header.
    add_charset: bool = True
    #: The ``errors`` argument of ``str.encode`` ('strict', 'replace' ...).
    errors: str = 'strict'
    #: Message of the 500 raised when the forced ``encoding`` cannot encode the body.
    failmsg: str = 'Response body could not be encoded with %r.'
    #: Log the choices made.
    debug: bool = False

    def __init__(self, **kwargs: Any) -> None:
        self._configure(kwargs)
        request = serving.request
        self.oldhandler = None
        if (request.stage or '').startswith('before_finalize'):
            # Registered after the handler ran: encode the body as it is.
            self.encode_response()
        elif request.handler is not None:
            self.oldhandler = request.handler
            request.handler = self

    def _configure(self, kwargs: dict) -> None:
        for name, value in kwargs.items():
            # A misspelt config key must not be silently ignored.
            if name.startswith('_') or not hasattr(type(self), name) or callable(
                    getattr(type(self), name)):
                raise TypeError(f'ResponseEncoder got an unexpected argument {name!r}')
            setattr(self, name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the original handler, then encode what it produced."""
        response = serving.response
        response.body = self.oldhandler(*args, **kwargs)
        self.encode_response()
        return response.body

    # -- choosing ---------------------------------------------------------

    def _log(self, message: str) -> None:
        if self.debug:
            app = serving.request.app
            if app is not None:
                app.log.error(message, 'TOOLS.ENCODE')

    @staticmethod
    def _accepted() -> tuple[str | None, dict[str, float]]:
        """The Accept-Charset header and its codec name -> q map ('*' kept)."""
        request = serving.request
        header = request._header('Accept-Charset') if hasattr(request, '_header') else \
            request.headers.get('Accept-Charset')
        qvalues: dict[str, float] = {}
        if not header:
            return header, qvalues
        for element in httputil.header_elements('Accept-Charset', header):
            name = '*' if element.value == '*' else _codec_name(element.value)
            # Elements come most preferred first: keep a name's first q.
            if name is not None and name not in qvalues:
                qvalues[name] = element.qvalue
        return header, qvalues

    @staticmethod
    def _acceptable(charset: str, header: str | None, qvalues: dict[str, float]) -> bool:
        if not header:
            return True
        name = _codec_name(charset)
        if name is None:
            return False
        # An explicit entry overrides '*' (RFC 9110, 12.5.2).
        q = qvalues.get(name, qvalues.get('*', 0.0))
        return q > 0

    def _candidates(self, header: str | None, qvalues: dict[str, float]) -> list[str]:
        """Charsets to try, in order, when none is forced.

        A charset the client asked for keeps the client's spelling, which
        is what the Content-Type then declares (not Python's codec name).
        """
        if not header:
            # No Accept-Charset: any charset is fine, the default first.
            return [self.default_encoding]
        candidates = []
        seen = set()
        if self._acceptable(self.default_encoding, header, qvalues):
            candidates.append(self.default_encoding)
            seen.add(_codec_name(self.default_encoding))
        # Elements come most preferred first.
        for element in httputil.header_elements('Accept-Charset', header):
            if element.value == '*' or element.qvalue <= 0:
                continue
            name = _codec_name(element.value)
            if name is not None and name not in seen and qvalues.get(name, 0) > 0:
                candidates.append(element.value)
                seen.add(name)
        return candidates

    def _not_acceptable(self, header: str | None, tried: list[str]) -> HTTPError:
        return HTTPError(
            406, f'Your client sent this Accept-Charset header: {header}. '
                 f'We tried these charsets: {", ".join(tried)}.')

    # -- encoding ---------------------------------------------------------

    def encode_string(self, chunks: list, charset: str) -> list[bytes] | None:
        """Encode the str chunks with ``charset``; None if it cannot."""
        try:
            return [c.encode(charset, self.errors) if isinstance(c, str) else c for c in chunks]
        except (UnicodeEncodeError, LookupError):
            return None

    def encode_stream(self, charset: str) -> None:
        """Encode a streamed body chunk by chunk as it is sent."""
        response = serving.response
        response.body = _byte_chunks(response.body, charset, self.errors)

    def _text_content_type(self) -> httputil.HeaderElement | None | bool:
        """The Content-Type element if the body is to be encoded, else False."""
        value = dict.get(serving.response.headers, 'Content-Type')
        element = _content_type_element(value) if value else None
        if element is None:
            return None if not self.text_only else False
        if self.text_only and not element.value.lower().startswith('text/'):
            return False
        return element

    def encode_response(self) -> None:
        """Choose the charset and encode ``response.body`` with it."""
        response = serving.response
        content_type = self._text_content_type()
        if content_type is False:
            self._log('Not a text response: left as it is')
            return
        declared = content_type.params.get('charset') if content_type else None
        header, qvalues = self._accepted()
        if response.stream:
            charset = declared or self._stream_charset(header, qvalues)
            self.encode_stream(charset)
        else:
            body = response.body
            if (type(body) is list and len(body) == 1 and type(body[0]) is str
                    and not declared and not self.encoding and not header):
                # The usual case, one text chunk and no preference from the
                # client: what _encode_chunks would do, minus its search.
                charset = self.default_encoding
                try:
                    encoded_text = body[0].encode(charset, self.errors)
                except (UnicodeEncodeError, LookupError):
                    encoded_text = None
                if encoded_text is not None:
                    response.body = encoded_text
                    self._declare(response, content_type, charset, declared)
                    return
            chunks = list(body)
            if not any(isinstance(chunk, str) for chunk in chunks):
                # Bytes from the handler: it chose their charset itself.
                response.body = chunks
                return
            charset, encoded = self._encode_chunks(chunks, declared, header, qvalues)
            if all(isinstance(chunk, bytes) for chunk in encoded):
                # One chunk: finalize sends it without encoding it again.
                response.body = b''.join(encoded)
            else:
                # Nested iterables are left for the flatten tool.
                response.body = encoded
        self._declare(response, content_type, charset, declared)

    def _declare(self, response, content_type: httputil.HeaderElement | None, charset: str,
                 declared: str | None) -> None:
        """Record the charset chosen, in Content-Type when wanted."""
        if self.debug:
            self._log(f'Encoded the response with {charset!r}')
        # finalize() declares response.default_encoding when it declares a
        # charset itself: keep it truthful.
        response.default_encoding = charset
        if content_type is not None and self.add_charset and not declared:
            dict.__setitem__(response.headers, 'Content-Type',
                             _with_charset(content_type, charset))

    def _encode_chunks(self, chunks: list, declared: str | None, header: str | None,
                       qvalues: dict[str, float]) -> tuple[str, list[bytes]]:
        forced = declared or self.encoding
        if forced:
            if not declared and not self._acceptable(forced, header, qvalues):
                raise self._not_acceptable(header, [forced])
            encoded = self.encode_string(chunks, forced)
            if encoded is None:
                raise HTTPError(500, self.failmsg % forced)
            return forced, encoded
        candidates = self._candidates(header, qvalues)
        for charset in candidates:
            encoded = self.encode_string(chunks, charset)
            if encoded is not None:
                return charset, encoded
        raise self._not_acceptable(header, candidates or [self.default_encoding])

    def _stream_charset(self, header: str | None, qvalues: dict[str, float]) -> str:
        """The charset of a streamed body, chosen without a trial encoding."""
        if self.encoding:
            if not self._acceptable(self.encoding, header, qvalues):
                raise self._not_acceptable(header, [self.encoding])
            return self.encoding
        candidates = self._candidates(header, qvalues)
        if not candidates:
            raise self._not_acceptable(header, [self.default_encoding])
        return candidates[0]


#: The ``encode`` tool's callable (an instance is created per request).
encode = ResponseEncoder


# ---------------------------------------------------------------------------
# Request charsets



# Content-Type value -> the same declaring the default charset (None when
# the value is not a plain text type), for encode_handler_body.
_declared_text_types: dict[tuple[str, str], str | None] = {}


def _declared_text_type(content_type: str, charset: str) -> str | None:
    key = (content_type, charset)
    try:
        return _declared_text_types[key]
    except KeyError:
        pass
    element = _content_type_element(content_type)
    value = None
    if (element is not None and element.value.lower().startswith('text/')
            and 'charset' not in element.params):
        value = _with_charset(element, charset)
    if len(_declared_text_types) >= _CACHE_MAX:
        _declared_text_types.clear()
    _declared_text_types[key] = value
    return value


def encode_handler_body(kwargs: dict, response: Any = None) -> None:
    """Do what the encode tool does to what the page handler returned.

    The tool normally wraps the handler; a request plan whose last
    ``before_handler`` hook is the encode tool calls this right after the
    handler instead, which ends the same way without the wrapper. Bytes
    are left alone and one text chunk with no charset preference on
    either side is encoded on the spot; everything else goes through a
    :class:`ResponseEncoder` configured with ``kwargs``. ``response`` is
    the current one (found when not given).
    """
    if response is None:
        response = serving.response
    body = response._body
    if not kwargs and type(body) is list and len(body) == 1 and not response.stream:
        cls = ResponseEncoder
        chunk = body[0]
        if cls.debug:
            pass
        elif type(chunk) is bytes:
            return  # the handler chose the charset of its bytes itself
        elif type(chunk) is str and cls.text_only and cls.add_charset and not cls.encoding:
            content_type = dict.get(response.headers, 'Content-Type')
            charset = cls.default_encoding
            declared = _declared_text_type(content_type, charset) if content_type else None
            if declared is not None and not serving.request._header('Accept-Charset'):
                try:
                    encoded = chunk.encode(charset, cls.errors)
                except (UnicodeEncodeError, LookupError):
                    pass  # the full negotiation says what to do
                else:
                    response.body = encoded
                    response.default_encoding = charset
                    dict.__setitem__(response.headers, 'Content-Type', declared)
                    return
    encoder = ResponseEncoder.__new__(ResponseEncoder)
    encoder._configure(kwargs)
    encoder.oldhandler = None
    encoder.encode_response()


def decode(encoding: str | list[str] | None = None,
           default_encoding: str | list[str] = 'utf-8') -> None:
    """Choose the charsets request entities are decoded with.

    ``encoding`` (a charset or a list) restricts the attempts to exactly
    those, even when the Content-Type names another charset. Otherwise
    ``default_encoding`` charsets are added after the usual ones.
    """
    body = serving.request.body
    if body is None:
        return
    if encoding is not None:
        only = _as_list(encoding)
        body.attempt_charsets = only
        # The body tries the declared charset first; a restriction must
        # not let the client widen it, so the list is fixed here.
        body.charsets_to_try = lambda: list(only)
        return
    attempts = list(body.attempt_charsets)
    for charset in _as_list(default_encoding):
        if charset not in attempts:
            attempts.append(charset)
    body.attempt_charsets = attempts


# ---------------------------------------------------------------------------
# Compression


def compress(body: Iterable[bytes], compress_level: int, *,
             sync: bool = False) -> Iterator[bytes]:
    """Yield ``body`` (an iterable of bytes) as a gzip stream.

    With ``sync`` every input chunk is flushed out at once, so a streamed
    response reaches the client as it is produced (at some cost in size).
    """
    # wbits 16+15: a zlib stream with the gzip header and trailer.
    compressor = zlib.compressobj(compress_level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    for chunk in body:
        data = compressor.compress(chunk)
        if sync:
            data += compressor.flush(zlib.Z_SYNC_FLUSH)
        if data:
            yield data
    yield compressor.flush()


def decompress(body: bytes) -> bytes:
    """Return the content of gzip-compressed ``body``."""
    return _gzip.decompress(body)


def _mime_matches(media: str, patterns: Iterable[str]) -> bool:
    """True if ``media`` matches one of ``type/subtype``, ``type/*`` or
    ``type/*+suffix`` (such as ``application/*+json``)."""
    major, _, minor = media.partition('/')
    for pattern in patterns:
        pmajor, _, pminor = pattern.strip().lower().partition('/')
        if pmajor != major:
            continue
        if pminor == minor or pminor == '*':
            return True
        if pminor.startswith('*+') and minor.endswith(pminor[1:]):
            return True
    return False


def _add_vary(headers: httputil.HeaderMap, name: str) -> None:
    """Add ``name`` to the Vary header, keeping what it already lists."""
    values = [value.strip() for value in headers.get('Vary', '').split(',') if value.strip()]
    lowered = {value.lower() for value in values}
    if '*' in lowered or name.lower() in lowered:
        return
    headers['Vary'] = ', '.join(values + [name])


def _coding_qvalues() -> dict[str, float]:
    """The Accept-Encoding header as coding -> q (x-gzip counted as gzip)."""
    qvalues: dict[str, float] = {}
    header = serving.request.headers.get('Accept-Encoding')
    for element in httputil.header_elements('Accept-Encoding', header):
        coding = element.value.lower()
        if coding == 'x-gzip':
            coding = 'gzip'
        # Most preferred first: the first q given for a coding counts.
        qvalues.setdefault(coding, element.qvalue)
    return qvalues


def _not_modified_variant(request, response) -> None:
    """Make a 304 describe the compressed copy when that is what the
    client revalidated.

    A 304 has no body or Content-Type to decide on; but a client that
    sends back the "-gzip" tag of this ETag holds a copy this tool made,
    so the 304 repeats that tag and its Vary (RFC 9110, 15.4.5).
    """
    etag = response.headers.get('ETag')
    if not etag or not etag.endswith('"') or etag.endswith('-gzip"'):
        return
    variant = etag[:-1] + '-gzip"'
    if variant not in (request.headers.get('If-None-Match') or ''):
        return
    qvalues = _coding_qvalues()
    if qvalues.get('gzip', qvalues.get('*', 0.0)) > 0:
        response.headers['ETag'] = variant
        _add_vary(response.headers, 'Accept-Encoding')


def gzip(compress_level: int = 5, mime_types: Iterable[str] = ('text/html', 'text/plain'),
         debug: bool = False) -> None:
    """The ``gzip`` tool: compress the response when the client accepts gzip.

    Only responses whose Content-Type matches ``mime_types`` are
    compressed, and never twice (a Content-Encoding already set is kept).
    Those responses always get ``Vary: Accept-Encoding``, compressed or
    not, so caches keep the variants apart. A client refusing both gzip
    and identity (``identity;q=0``) gets 406.
    """
    request = serving.request
    response = serving.response

    def log(message: str) -> None:
        if debug and request.app is not None:
            request.app.log.error(message, 'TOOLS.GZIP')

    code = httputil.valid_status(response.status)[0]
    if code == 304:
        _not_modified_variant(request, response)
        return
    if code < 200 or code == 204:
        return
    if response.headers.get('Content-Encoding', 'identity').lower() != 'identity':
        log('Already content-encoded: not compressed again')
        return
    media = response.headers.get('Content-Type', '').split(';', 1)[0].strip().lower()
    if not _mime_matches(media, mime_types):
        log(f'Content-Type {media!r} is not one of {list(mime_types)!r}')
        return
    _add_vary(response.headers, 'Accept-Encoding')

    qvalues = _coding_qvalues()
    if not qvalues:
        return  # no header: identity is what is best understood
    star = qvalues.get('*')
    gzip_q = qvalues.get('gzip', star or 0.0)
    # RFC 9110 (12.5.3): identity is acceptable unless refused explicitly;
    # only an explicit preference for it outweighs an accepted gzip.
    identity_q = qvalues.get('identity', star)
    if gzip_q <= 0:
        if identity_q is not None and identity_q <= 0 and code < 400:
            # An error page is sent as it is rather than replaced by a 406.
            raise HTTPError(406, 'identity, gzip')
        log('The client does not accept gzip')
        return
    if identity_q is not None and identity_q > gzip_q:
        log('The client prefers an uncompressed response')
        return

    log(f'Compressing at level {compress_level}')
    response.headers['Content-Encoding'] = 'gzip'
    response.headers.pop('Content-Length', None)
    etag = response.headers.get('ETag')
    if etag and etag.endswith('"'):
        # The compressed bytes are another representation: a strong tag
        # must not also name the uncompressed one (RFC 9110, 8.8.3).
        response.headers['ETag'] = etag[:-1] + '-gzip"'

    if response.stream:
        # Declare the charset now: the headers are sent before the body is read.
        charset = response._charset()
        response.body = compress(_byte_chunks(response.body, charset), compress_level, sync=True)
    else:
        # finalize() sets the Content-Length of the compressed body.
        response.body = b''.join(compress([response.collapse_body()], compress_level))
