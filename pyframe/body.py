"""Request bodies: reading the entity and turning forms into parameters.

``request.body`` is a :class:`RequestBody`. When the request method has a
body (``request.methods_with_bodies``) and ``request.process_request_body``
is true, :meth:`RequestBody.process` runs before the handler: a processor
chosen by media type parses the entity and its parameters are merged into
``request.params`` (so they reach the handler as keyword arguments).
Otherwise the stream is left to the handler: ``request.body.read()``.

Multipart entities are parsed as they arrive, a block at a time: each part
becomes a :class:`Part` whose content is kept in memory while it is small
and written to a temporary file once it grows (file uploads always go to
a file), so a body of any size costs a bounded amount of memory.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any
from urllib.parse import unquote as _percent_decode

from .errors import HTTPError
from .lib import httputil

__all__ = ['Entity', 'Part', 'RequestBody', 'process_urlencoded', 'process_multipart',
           'process_multipart_form_data']


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
    """Merge a parameter dict into another.

    A new key keeps its value as it is (a processor may produce a list
    that is one value); a key present in both collects both values, the
    lists of repeated fields flattened, in a list.
    """
    for key, value in params.items():
        if key not in target:
            target[key] = list(value) if isinstance(value, list) else value
            continue
        for item in (value if isinstance(value, list) else (value,)):
            httputil.add_param(target, key, item)


def process_urlencoded(entity: Entity) -> None:
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
    raise _undecodable(entity.charsets_to_try())


def _undecodable(tried: list[str]) -> HTTPError:
    """The 400 for an entity none of the ``tried`` charsets decodes."""
    return HTTPError(
        400,
        f'The request entity could not be decoded. The following charsets '
        f'were attempted: {tried!r}',
    )


def _percent_encode_non_ascii(raw: bytes) -> str:
    """The body as the str parse_query_string expects: escapes stay as they
    are and raw non-ASCII bytes become escapes, so one charset decodes both."""
    if raw.isascii():
        return raw.decode('ascii')
    return ''.join(chr(b) if b < 128 else f'%{b:02X}' for b in raw)


# --------------------------------------------------------------------------
# Multipart

#: Bytes read from the stream at a time while parsing multipart entities.
_BLOCK = 65536
#: Largest head (all header lines) a part may have.
_MAX_PART_HEAD = 65536


def _bad_multipart(reason: str) -> HTTPError:
    return HTTPError(400, f'Malformed multipart body: {reason}')


class _MultipartReader:
    """Cut a multipart stream into part heads and part contents.

    The delimiter is searched for in a small rolling buffer: everything
    that cannot be the start of a delimiter is handed on as soon as it
    is read, so memory stays at about one block whatever the part sizes.
    Lines may end with CRLF (the standard) or a bare LF (some clients).
    """

    def __init__(self, fp, boundary: bytes) -> None:
        self._fp = fp
        self._delimiter = b'\n--' + boundary
        # A delimiter is a line break plus dashes plus boundary; the first
        # one may open the body, so a line break is assumed before it.
        self._buffer = b'\n'
        self._eof = False
        self.finished = False

    def _more(self) -> bool:
        if self._eof:
            return False
        data = self._fp.read(_BLOCK)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def skip_preamble(self) -> None:
        """Drop what precedes the first delimiter (400 if there is none)."""
        try:
            self._content_until_delimiter(keep=False).__next__()
        except StopIteration:
            pass

    def _content_until_delimiter(self, keep: bool = True) -> Iterator[bytes]:
        """Yield the bytes before the next delimiter, then move past it."""
        size = len(self._delimiter)
        start = 0
        while True:
            found = self._buffer.find(self._delimiter, start)
            if found >= 0:
                after = self._line_end(found + size)
                if after is None:
                    # Cannot tell yet whether this is a boundary line.
                    if not self._more():
                        raise _bad_multipart('the body ends inside a boundary line')
                    continue
                if after < 0:
                    # "--boundary" followed by other text is content.
                    start = found + 1
                    continue
                end = found - 1 if found and self._buffer[found - 1:found] == b'\r' else found
                if keep and end:
                    yield self._buffer[:end]
                self.finished = self._buffer.startswith(b'--', found + size)
                self._buffer = self._buffer[after:]
                return
            # A delimiter may still begin in the last ``size`` bytes.
            cut = len(self._buffer) - size
            if cut > 0:
                if keep:
                    yield self._buffer[:cut]
                self._buffer = self._buffer[cut:]
                start = max(0, start - cut)
            if not self._more():
                if not keep:
                    raise _bad_multipart('the boundary was not found')
                raise _bad_multipart('the body ends inside a part (no closing boundary)')

    def _line_end(self, index: int) -> int | None:
        """Where the boundary line whose boundary ends at ``index`` ends.

        ``--`` (the closing delimiter) or optional whitespace then a line
        break make it a boundary line: the index after it is returned.
        Anything else means the text is content (-1); None when more
        bytes are needed to decide.
        """
        buffer = self._buffer
        if buffer.startswith(b'--', index):
            return index + 2
        position = index
        while position < len(buffer) and buffer[position] in b' \t\r':
            position += 1
        if position < len(buffer):
            return position + 1 if buffer[position] == 0x0A else -1
        if self._eof or position - index > 1024:
            return -1
        return None

    def read_head(self) -> list[tuple[str, str]]:
        """Read the header lines of the next part, up to the empty line."""
        headers: list[tuple[str, str]] = []
        used = 0
        while True:
            end = self._buffer.find(b'\n')
            if end < 0:
                if used + len(self._buffer) > _MAX_PART_HEAD:
                    raise _bad_multipart('the part head is too long')
                if not self._more():
                    raise _bad_multipart('the body ends inside a part head')
                continue
            line, self._buffer = self._buffer[:end], self._buffer[end + 1:]
            used += end + 1
            if used > _MAX_PART_HEAD:
                raise _bad_multipart('the part head is too long')
            line = line.rstrip(b'\r')
            if not line:
                return headers
            text = _header_text(line)
            if text[0] in ' \t':
                # An obsolete folded line continues the previous field.
                if not headers:
                    raise _bad_multipart('invalid part header')
                name, value = headers[-1]
                headers[-1] = (name, f'{value} {text.strip()}')
                continue
            name, colon, value = text.partition(':')
            if not colon or not name.strip() or name != name.strip():
                raise _bad_multipart(f'invalid part header {text[:50]!r}')
            headers.append((name, value.strip()))

    def read_content(self) -> Iterator[bytes]:
        """Yield the content of the current part in pieces."""
        return self._content_until_delimiter()

    def drain(self) -> None:
        """Read and drop the epilogue after the closing delimiter."""
        self._buffer = b''
        while self._more():
            self._buffer = b''


def _header_text(line: bytes) -> str:
    # Browsers send non-ASCII filenames as raw UTF-8 in part heads; other
    # bytes are kept as latin-1 so that nothing is lost or refused.
    try:
        return line.decode('utf-8')
    except UnicodeDecodeError:
        return line.decode('latin-1')


def _boundary(entity: Entity) -> bytes:
    """The boundary named by the entity's Content-Type (400 when unusable)."""
    boundary = entity.content_type.params.get('boundary', '') if entity.content_type else ''
    # RFC 2046: 1 to 70 characters, not ending in a space.
    if not boundary or len(boundary) > 70 or boundary.endswith(' '):
        raise _bad_multipart('missing or invalid boundary parameter')
    try:
        return boundary.encode('ascii')
    except UnicodeEncodeError:
        raise _bad_multipart('missing or invalid boundary parameter') from None


def process_multipart(entity: Entity) -> None:
    """Parse a ``multipart/*`` entity into ``entity.parts``.

    Each part is an instance of ``entity.part_class``; a part that is
    itself multipart holds its own ``parts``. A missing or invalid
    boundary, a body without its closing boundary or a malformed part
    head is a 400.
    """
    reader = _MultipartReader(entity.fp, _boundary(entity))
    reader.skip_preamble()
    while not reader.finished:
        head = httputil.HeaderMap()
        for name, value in reader.read_head():
            head[name] = value
        part = entity.part_class(head, parent=entity)
        part.receive(reader.read_content())
        entity.parts.append(part)
        part.process()
    reader.drain()


def _form_values(part: Part, hint: str | None) -> Iterator[Any]:
    """What a form-data part contributes to params: the Part for files, the
    decoded text otherwise; a nested multipart part contributes its parts."""
    if part.parts:
        for inner in part.parts:
            yield from _form_values(inner, hint)
    elif part.filename is not None:
        yield part
    else:
        yield part.fullvalue(hint)


def process_multipart_form_data(entity: Entity) -> None:
    """Parse ``multipart/form-data`` into ``entity.params``.

    File parts are given as :class:`Part` objects (``.file``,
    ``.filename``, ...), other parts as text decoded with the part's
    charset, else the charset a ``_charset_`` field names, else the
    attempt charsets (400 when none decodes). Repeated names give lists.
    """
    process_multipart(entity)
    hint = None
    for part in entity.parts:
        if part.name == '_charset_' and part.filename is None:
            hint = part.fullvalue('ascii').strip() or None
            break
    for part in entity.parts:
        if part.name is None:
            raise _bad_multipart('a part has no Content-Disposition name')
        for value in _form_values(part, hint):
            httputil.add_param(entity.params, part.name, value)


def _disposition(value: str | None) -> tuple[str | None, str | None]:
    """The (name, filename) of a Content-Disposition value.

    ``filename*`` (RFC 2231 / 5987, ``UTF-8''caf%C3%A9.txt``) wins over
    ``filename`` when it can be decoded.
    """
    if not value:
        return None, None
    _, params = httputil.HeaderElement.parse(value)
    filename = params.get('filename')
    extended = params.get('filename*')
    if extended:
        charset, quote, rest = extended.partition("'")
        _, quote2, encoded = rest.partition("'")
        if quote and quote2:
            try:
                filename = _percent_decode(encoded, encoding=charset or 'utf-8', errors='strict')
            except (LookupError, UnicodeDecodeError):
                pass
    return params.get('name'), filename


# --------------------------------------------------------------------------
# Entities


class Entity:
    """A MIME entity: the request body or one part of a multipart body.

    ``processors`` maps media types (or a bare major type such as
    ``'multipart'``) to callables parsing the entity into ``params`` and
    ``parts``; types without one are left unread for the handler.
    """

    #: Media type -> processor(entity) parsing the entity into ``params``.
    processors: dict[str, Callable[[Entity], None]] = {
        'application/x-www-form-urlencoded': process_urlencoded,
        'multipart/form-data': process_multipart_form_data,
        'multipart': process_multipart,
    }
    #: Charsets tried, in order, to decode a text entity.
    attempt_charsets: list[str] = ['utf-8']
    #: Charset assumed when the Content-Type names none.
    default_charset = 'utf-8'
    #: Class of the parts of a multipart entity.
    part_class: type[Part]
    #: Part content up to this many bytes is kept in memory.
    maxrambytes = 1000

    def __init__(self, headers: httputil.HeaderMap) -> None:
        self.headers = headers
        self.params: dict = {}
        self.parts: list[Part] = []
        self.processors = dict(type(self).processors)
        self.attempt_charsets = list(type(self).attempt_charsets)
        self.charset: str | None = None
        content_type = headers.get('Content-Type')
        self.content_type: httputil.HeaderElement | None = (
            httputil.HeaderElement.from_str(content_type) if content_type else None)
        self.name: str | None = None
        self.filename: str | None = None
        self.length: int | None = None
        self.file: IO[bytes] | None = None

    @property
    def type(self) -> httputil.HeaderElement | None:
        """The Content-Type element (an alias of ``content_type``)."""
        return self.content_type

    @property
    def fp(self) -> IO[bytes]:
        """The entity's content stream."""
        raise NotImplementedError

    def decode_text(self, data: bytes, charsets: list[str] | None = None) -> str:
        """Decode ``data`` with the first of ``charsets`` (default:
        :meth:`charsets_to_try`) that works, remembering it in
        :attr:`charset`; 400 when none does."""
        tried = self.charsets_to_try() if charsets is None else charsets
        for charset in tried:
            try:
                text = data.decode(charset)
            except (UnicodeDecodeError, LookupError):
                continue
            self.charset = charset
            return text
        raise _undecodable(tried)

    def charsets_to_try(self) -> list[str]:
        """The charsets to attempt: the declared one first, then the others."""
        declared = self.content_type.params.get('charset') if self.content_type else None
        charsets = list(self.attempt_charsets)
        if declared:
            charsets = [declared] + [c for c in charsets if c.lower() != declared.lower()]
        elif self.default_charset not in charsets:
            charsets.append(self.default_charset)
        return charsets

    def processor(self) -> Callable[[Entity], None]:
        """The processor for this entity's media type (``default_proc`` if none)."""
        media = self.content_type.value.lower() if self.content_type else ''
        return (self.processors.get(media)
                or self.processors.get(media.split('/', 1)[0])
                or type(self).default_proc)

    def default_proc(self) -> None:
        """Leave an entity of unknown type unread: the handler reads it."""

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

    def __iter__(self):
        return iter(self.readline, b'')

    def make_file(self) -> IO[bytes]:
        """A new binary temporary file for content too large for memory.

        It is unlinked at once (where the platform allows), so nothing is
        left behind once it is closed or collected.
        """
        return tempfile.TemporaryFile()


class Part(Entity):
    """One part of a multipart entity.

    ``name`` and ``filename`` come from its Content-Disposition. Content
    is held in memory up to ``maxrambytes``; beyond that, and always for
    file uploads, it is in ``file``, a temporary file positioned at 0.
    """

    #: Charset of a part head whose Content-Type names none (RFC 7578: UTF-8).
    default_charset = 'utf-8'

    def __init__(self, headers: httputil.HeaderMap, parent: Entity | None = None) -> None:
        super().__init__(headers)
        self.parent = parent
        if parent is not None:
            # The body's charset choices (the decode tool...) apply to its parts.
            self.attempt_charsets = list(parent.attempt_charsets)
            self.default_charset = parent.default_charset
            self.maxrambytes = parent.maxrambytes
        if self.content_type is None:
            self.content_type = httputil.HeaderElement('text/plain')
        self.name, self.filename = _disposition(headers.get('Content-Disposition'))
        self._data: bytes | None = None
        self._value: Any = None

    def receive(self, chunks: Iterator[bytes]) -> None:
        """Store the part's content from ``chunks``, spilling to a file
        once it passes ``maxrambytes`` (at once for file uploads)."""
        held: list[bytes] = []
        size = 0
        out = self.make_file() if self.filename is not None else None
        for chunk in chunks:
            size += len(chunk)
            if out is None:
                held.append(chunk)
                if size <= self.maxrambytes:
                    continue
                out = self.make_file()
                chunk = b''.join(held)
                held = []
            out.write(chunk)
        self.length = size
        if out is None:
            self._data = b''.join(held)
        else:
            out.seek(0)
            self.file = out

    def process(self) -> None:
        """Parse nested multipart content into ``parts``; other content is
        kept as it is."""
        media = self.content_type.value.lower() if self.content_type else ''
        if media.startswith('multipart/'):
            process_multipart(self)
            if self.file is not None:
                self.file.seek(0)

    @property
    def fp(self) -> IO[bytes]:
        """The content as a binary stream."""
        if self.file is not None:
            return self.file
        if not isinstance(getattr(self, '_stream', None), io.BytesIO):
            self._stream = io.BytesIO(self._data or b'')
        return self._stream

    def raw(self) -> bytes:
        """The whole content as bytes (a file is read and rewound)."""
        if self.file is None:
            return self._data or b''
        self.file.seek(0)
        data = self.file.read()
        self.file.seek(0)
        return data

    def fullvalue(self, charset_hint: str | None = None) -> str:
        """The content decoded as text.

        The part's own charset is tried first, then ``charset_hint`` (a
        form's ``_charset_``), then the attempt charsets; 400 when none
        decodes it.
        """
        tried = self.charsets_to_try()
        if charset_hint and not (self.content_type and 'charset' in self.content_type.params):
            tried = [charset_hint] + [c for c in tried if c.lower() != charset_hint.lower()]
        return self.decode_text(self.raw(), tried)

    @property
    def value(self) -> Any:
        """Text of a form field; the bytes of a file upload."""
        if self._value is None:
            self._value = self.raw() if self.filename is not None else self.fullvalue()
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = value

    def __repr__(self) -> str:
        return (f'<{type(self).__name__} name={self.name!r} filename={self.filename!r} '
                f'content_type={str(self.content_type)!r} length={self.length}>')


Entity.part_class = Part


class RequestBody(Entity):
    """The request entity: stream, headers, media type and parameters."""

    #: Largest entity accepted for this path (None: the server's limit).
    maxbytes: int | None = None

    def __init__(self, fp, headers: httputil.HeaderMap, request_params: dict | None = None) -> None:
        super().__init__(headers)
        self.rfile = fp
        self.request_params = request_params if request_params is not None else {}
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

    def process(self) -> None:
        """Parse the entity with the processor for its media type and merge
        its params into the request's."""
        if self.length is None and 'Transfer-Encoding' not in self.headers:
            raise HTTPError(411, 'A request body needs a Content-Length or chunked encoding.')
        if self.maxbytes is not None and self.length is not None and self.length > self.maxbytes:
            raise _too_large(self.maxbytes)
        processor = self.processor()
        if processor is type(self).default_proc:
            self.default_proc()
            return
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
