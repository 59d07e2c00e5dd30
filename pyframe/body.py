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


def _too_large(limit: int) -> HTTPError:
    return HTTPError(413, f'The request body is larger than {limit} bytes.')


class _BodyReader:
    """A file-like view of the request entity that never reads past it.

    PEP 3333 forbids reading ``wsgi.input`` beyond CONTENT_LENGTH (some
    servers block there), so a known length bounds every read. A size
    limit (``request.body.maxbytes``) is enforced while reading, which is
    the only way to catch chunked bodies, and the server's own limit
    error becomes a 413 too. Once a chunked body is consumed its trailer
    fields are read, so they cannot corrupt the next request on the
    connection, and are added to the request headers.

    Lines are cut here from blocks read with ``read()``: servers' own
    ``readline`` on chunked input is not reliable.
    """

    _BLOCK = 65536

    def __init__(self, fp, length: int | None, maxbytes: int | None, headers) -> None:
        self._fp = fp
        self._remaining = length
        self._maxbytes = maxbytes
        self._headers = headers
        self._count = 0
        self._buffer = b''
        self.done = length == 0

    def _fill(self, size: int) -> bytes:
        """Read at most ``size`` new bytes from the stream ('' at the end)."""
        from cheroot.errors import MaxSizeExceeded

        if self.done:
            return b''
        if self._remaining is not None:
            size = min(size, self._remaining)
        try:
            data = self._fp.read(size)
        except MaxSizeExceeded:
            raise _too_large(self._maxbytes or 0) from None
        except OSError as exc:
            # cheroot refuses a chunk announced past its limit this way.
            if exc.args and exc.args[0] == 'Request Entity Too Large':
                raise _too_large(self._maxbytes or 0) from None
            raise
        self._count += len(data)
        if self._maxbytes is not None and self._count > self._maxbytes:
            raise _too_large(self._maxbytes)
        if self._remaining is not None:
            self._remaining -= len(data)
            if self._remaining <= 0 or not data:
                self.done = True
        elif not data:
            self._finish_chunked()
        return data

    def _finish_chunked(self) -> None:
        self.done = True
        read_trailers = getattr(self._fp, 'read_trailer_lines', None)
        if read_trailers is None:
            return
        for line in read_trailers():
            name, _, value = line.decode('latin-1').partition(':')
            if name.strip():
                self._headers[name.strip()] = value.strip()

    def read(self, size: int | None = None) -> bytes:
        """Read up to ``size`` bytes (everything left when None or negative)."""
        if size is None or size < 0:
            parts = [self._buffer]
            self._buffer = b''
            while True:
                data = self._fill(self._BLOCK)
                if not data:
                    return b''.join(parts)
                parts.append(data)
        if len(self._buffer) < size:
            self._buffer += self._fill(size - len(self._buffer))
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readline(self, size: int | None = None) -> bytes:
        """Read one line, newline included (at most ``size`` bytes)."""
        while True:
            end = self._buffer.find(b'\n')
            if end >= 0 and (size is None or size < 0 or end < size):
                line, self._buffer = self._buffer[:end + 1], self._buffer[end + 1:]
                return line
            if size is not None and 0 <= size <= len(self._buffer):
                line, self._buffer = self._buffer[:size], self._buffer[size:]
                return line
            data = self._fill(self._BLOCK)
            if not data:
                line, self._buffer = self._buffer, b''
                return line
            self._buffer += data

    def readlines(self, sizehint: int | None = None) -> list[bytes]:
        """Read the remaining lines."""
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if sizehint and total >= sizehint:
                break
        return lines

    def __iter__(self):
        return iter(self.readline, b'')

    def drain(self) -> None:
        """Read and drop what is left, so the connection can serve on."""
        self._buffer = b''
        while self._fill(self._BLOCK):
            pass


def _merge_params(target: dict, params: dict) -> None:
    """Merge a parameter dict into another; values of repeated keys
    (lists included) accumulate in a list."""
    for key, value in params.items():
        for item in (value if isinstance(value, list) else (value,)):
            httputil.add_param(target, key, item)


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
        _merge_params(entity.params, params)
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
        self.rfile = fp
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
        self._fp = None

    @property
    def fp(self) -> _BodyReader:
        """The entity stream, bounded by its length and by ``maxbytes``."""
        if self._fp is None:
            self._fp = _BodyReader(self.rfile, self.length, self.maxbytes, self.headers)
        return self._fp

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
            raise _too_large(self.maxbytes)
        media = self.content_type.value.lower() if self.content_type else ''
        processor = self.processors.get(media) or self.processors.get(media.split('/', 1)[0])
        if processor is None:
            return  # unknown types are left for the handler to read
        processor(self)
        _merge_params(self.request_params, self.params)

    def drain(self) -> None:
        """Discard an unread chunked entity.

        The server skips what is left of a body with a Content-Length, but
        not of a chunked one, whose leftovers would be parsed as the next
        request on the connection.
        """
        if self.length is None and 'Transfer-Encoding' in self.headers:
            reader = self.fp
            if not reader.done:
                reader.drain()

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
