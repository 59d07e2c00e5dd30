"""Request bodies: reading the entity and turning forms into parameters.

``request.body`` is a :class:`RequestBody`. When the request method has a
body (``request.methods_with_bodies``) and ``request.process_request_body``
is true, :meth:`RequestBody.process` runs before the handler: a processor
chosen by media type parses the entity and its parameters are merged into
``request.params`` (so they reach the handler as keyword arguments).
Otherwise the stream is left to the handler: ``request.body.read()``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import HTTPError
from .lib import httputil

__all__ = ['RequestBody', 'process_urlencoded']


def _merge_param(params: dict, key: str, value: Any) -> None:
    """Add ``key=value`` to ``params``; a repeated key collects a list."""
    if key in params:
        existing = params[key]
        if isinstance(existing, list):
            existing.append(value)
        else:
            params[key] = [existing, value]
    else:
        params[key] = value


def process_urlencoded(entity: RequestBody) -> None:
    """Parse an ``application/x-www-form-urlencoded`` body into params.

    The charsets of ``attempt_charsets`` are tried in order (the one the
    Content-Type names first); if none decodes the body: 400.
    """
    raw = entity.fp.read()
    if isinstance(raw, str):
        raw = raw.encode('latin-1')
    text = _percent_encode_non_ascii(raw)
    for charset in entity.charsets_to_try():
        try:
            params = httputil.parse_query_string(text, encoding=charset)
        except UnicodeDecodeError:
            continue
        entity.charset = charset
        for key, value in params.items():
            if isinstance(value, list):
                for item in value:
                    _merge_param(entity.params, key, item)
            else:
                _merge_param(entity.params, key, value)
        return
    raise HTTPError(
        400,
        f'The request entity could not be decoded. The following charsets '
        f'were attempted: {entity.charsets_to_try()!r}',
    )


def _percent_encode_non_ascii(raw: bytes) -> str:
    """The body as the str parse_query_string expects: escapes stay as they
    are and raw non-ASCII bytes become escapes, so one charset decodes both."""
    if raw.isascii():
        return raw.decode('ascii')
    return ''.join(chr(b) if b < 128 else f'%{b:02X}' for b in raw)


class RequestBody:
    """The request entity: stream, headers, media type and parameters."""

    #: Media type -> processor(entity) parsing the entity into ``params``.
    processors: dict[str, Callable[[RequestBody], None]] = {
        'application/x-www-form-urlencoded': process_urlencoded,
    }
    #: Charsets tried, in order, to decode a text entity.
    attempt_charsets = ['utf-8']
    #: Charset assumed when the Content-Type names none.
    default_charset = 'utf-8'
    #: Largest entity accepted for this path (None: the server's limit).
    maxbytes: int | None = None

    def __init__(self, fp, headers: httputil.HeaderMap, request_params: dict | None = None) -> None:
        self.fp = fp
        self.headers = headers
        self.params: dict = {}
        self.request_params = request_params if request_params is not None else {}
        self.processors = dict(type(self).processors)
        self.charset: str | None = None
        elements = headers.elements('Content-Type')
        self.content_type = elements[0] if elements else None
        length = headers.get('Content-Length')
        try:
            self.length = int(length) if length is not None else None
        except ValueError:
            raise HTTPError(400, f'Invalid Content-Length {length!r}') from None
        if self.length is not None and self.length < 0:
            raise HTTPError(400, f'Invalid Content-Length {length!r}')

    def charsets_to_try(self) -> list[str]:
        """The charsets to attempt: the declared one first, then the others."""
        declared = self.content_type.params.get('charset') if self.content_type else None
        charsets = list(self.attempt_charsets)
        if declared:
            charsets = [declared] + [c for c in charsets if c.lower() != declared.lower()]
        elif self.default_charset not in charsets:
            charsets.append(self.default_charset)
        return charsets

    def process(self) -> None:
        """Parse the entity with the processor for its media type."""
        if self.length is None and 'Transfer-Encoding' not in self.headers:
            raise HTTPError(411, 'A request body needs a Content-Length or chunked encoding.')
        if self.maxbytes is not None and self.length is not None and self.length > self.maxbytes:
            raise HTTPError(413, f'The entity is larger than {self.maxbytes} bytes.')
        media = self.content_type.value.lower() if self.content_type else ''
        processor = self.processors.get(media) or self.processors.get(media.split('/', 1)[0])
        if processor is None:
            return  # unknown types are left for the handler to read
        processor(self)
        for key, value in self.params.items():
            if key in self.request_params:
                existing = self.request_params[key]
                if not isinstance(existing, list):
                    existing = [existing]
                self.request_params[key] = existing + (value if isinstance(value, list) else [value])
            else:
                self.request_params[key] = value

    def read(self, size: int | None = None) -> bytes:
        """Read up to ``size`` bytes of the entity (all when None)."""
        if size is None or size < 0:
            return self.fp.read()
        return self.fp.read(size)

    def readline(self, size: int | None = None) -> bytes:
        """Read one line of the entity."""
        return self.fp.readline() if size is None else self.fp.readline(size)

    def readlines(self, sizehint: int | None = None) -> list[bytes]:
        """Read the rest of the entity as a list of lines."""
        return self.fp.readlines() if sizehint is None else self.fp.readlines(sizehint)
