"""Serve files from disk or from file objects, with the HTTP niceties.

:func:`serve_file` and :func:`serve_fileobj` fill in the current response
(status, headers, a lazily read body) for a handler to return;
:func:`staticdir` and :func:`staticfile` are the callables behind the
``tools.staticdir`` and ``tools.staticfile`` handler tools.

What they take care of:

* Content-Type from :mod:`mimetypes` (``mimetypes.types_map`` may be
  extended by the application), with per-tool ``content_types`` overrides;
* Last-Modified, and the If-Modified-Since (304) / If-Unmodified-Since
  (412) checks of :func:`pyframe.lib.cptools.validate_since`;
* byte ranges: one range (206 + Content-Range), several ranges (206 +
  ``multipart/byteranges``), unsatisfiable ranges (416 + ``Content-Range:
  bytes */<size>``), guarded by If-Range;
* bodies read in 64 KiB chunks as the server sends them, never whole,
  with Content-Length declared so the response stays lazy;
* for :func:`staticdir`, requests may never leave the configured
  directory: ``..`` segments in any spelling, backslashes, NUL bytes and
  symlinks leading outside are refused with 403.
"""

from __future__ import annotations

import mimetypes
import os
import re
import stat
import unicodedata
import uuid
from typing import IO, Any, Iterator
from urllib.parse import quote, unquote

from ..context import serving
from ..errors import HTTPError, NotFound
from . import cptools, httputil

__all__ = ['file_generator', 'file_generator_limited', 'serve_download',
           'serve_file', 'serve_fileobj', 'staticdir', 'staticfile']

#: Bytes read from a file per body chunk.
CHUNK_SIZE = 65536

# Some platforms' mimetypes tables lack types browsers care about; add them
# once (without replacing what the system or the application configured).
for _ext, _type in (('.svg', 'image/svg+xml'), ('.svgz', 'image/svg+xml'),
                    ('.wasm', 'application/wasm'), ('.js', 'text/javascript'),
                    ('.mjs', 'text/javascript'), ('.woff', 'font/woff'),
                    ('.woff2', 'font/woff2'), ('.webp', 'image/webp')):
    mimetypes.types_map.setdefault(_ext, _type)
del _ext, _type

# What an unknown file is sent as: never text/html, which would let an
# uploaded file run script in the site's origin.
_FALLBACK_TYPE = 'application/octet-stream'


# --------------------------------------------------------------------------
# Chunked readers

class file_generator:
    """Iterate over a file object in chunks of ``chunkSize`` bytes.

    The file is closed once it is exhausted (or when :meth:`close` is
    called), so a response body made of it releases the file by itself.
    """

    def __init__(self, input: IO, chunkSize: int = CHUNK_SIZE) -> None:
        self.input = input
        self.chunkSize = chunkSize

    def __iter__(self) -> file_generator:
        return self

    def __next__(self) -> bytes:
        chunk = self.input.read(self.chunkSize)
        if chunk:
            return chunk
        self.close()
        raise StopIteration()

    next = __next__

    def close(self) -> None:
        """Close the underlying file (safe to call more than once)."""
        close = getattr(self.input, 'close', None)
        if close is not None:
            close()


def file_generator_limited(fileobj: IO, count: int, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
    """Yield at most ``count`` bytes of ``fileobj`` from its current position,
    in chunks of at most ``chunk_size``. The file is left open."""
    remaining = count
    while remaining > 0:
        chunk = fileobj.read(min(chunk_size, remaining))
        if not chunk:
            return  # the file shrank under us: send what there is
        remaining -= len(chunk)
        yield chunk


def _range_then_close(fileobj: IO, start: int, count: int) -> Iterator[bytes]:
    """One range of ``fileobj``, closing it afterwards (single-range body)."""
    try:
        fileobj.seek(start)
        yield from file_generator_limited(fileobj, count)
    finally:
        _close(fileobj)


def _multipart_body(fileobj: IO, parts: list[tuple[bytes, int, int]], closing: bytes) -> Iterator[bytes]:
    """The body of a multipart/byteranges answer: each part's head, then its
    bytes read lazily, then the closing delimiter."""
    try:
        for head, start, stop in parts:
            yield head
            fileobj.seek(start)
            yield from file_generator_limited(fileobj, stop - start)
        yield closing
    finally:
        _close(fileobj)


def _close(fileobj: Any) -> None:
    close = getattr(fileobj, 'close', None)
    if close is not None:
        close()


# --------------------------------------------------------------------------
# Serving files and file objects

def _guess_type(path: str, content_types: dict | None = None) -> str:
    """The media type for ``path``: ``content_types`` (keys are extensions
    without the dot) first, then :data:`mimetypes.types_map`."""
    ext = os.path.splitext(path)[1]
    if content_types:
        key = ext[1:]
        found = content_types.get(key)
        if found is None:
            found = content_types.get(key.lower())
        if found:
            return found
    return mimetypes.types_map.get(ext) or mimetypes.types_map.get(ext.lower()) or _FALLBACK_TYPE


def _content_disposition(disposition: str, name: str) -> str:
    """``disposition; filename="..."`` as RFC 6266 wants it: an ASCII
    fallback always, and ``filename*`` (RFC 8187) for any other name."""
    # Header injection and path parts are never part of a suggested name.
    name = re.sub(r'[\x00-\x1f\x7f]', '', name).replace('/', '_').replace('\\', '_')
    fallback = unicodedata.normalize('NFKD', name).encode('ascii', 'ignore').decode('ascii')
    fallback = fallback.replace('"', "'") or 'download'
    value = f'{disposition}; filename="{fallback}"'
    if fallback != name:
        value += f"; filename*=UTF-8''{quote(name, safe='')}"
    return value


def serve_file(path: str, content_type: str | None = None, disposition: str | None = None,
               name: str | None = None, debug: bool = False) -> Any:
    """Make the current response serve the file at ``path`` and return its body.

    ``path`` must be absolute (ValueError otherwise): what a relative path
    means would depend on the process's working directory. A missing file
    or a directory answers 404. Content-Type is ``content_type`` when
    given, else guessed from the extension. With ``disposition`` (e.g.
    ``'attachment'``) a Content-Disposition header names the file ``name``
    (default: the file's base name).
    """
    return _serve_path(path, content_type, disposition, name, debug)


def _serve_path(path: str, content_type: str | None, disposition: str | None,
                name: str | None, debug: bool, content_types: dict | None = None) -> Any:
    response = serving.response
    if not os.path.isabs(path):
        raise ValueError(f"'{path}' is not an absolute path.")
    try:
        st = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL byte in the path
        _debug(debug, f'os.stat({path!r}) failed')
        raise NotFound()
    if not stat.S_ISREG(st.st_mode):
        # Directories, devices, FIFOs: nothing a client should read here.
        _debug(debug, f'{path!r} is not a regular file')
        raise NotFound()

    response.headers['Last-Modified'] = httputil.http_date(st.st_mtime)
    cptools.validate_since()

    if content_type is None:
        content_type = _guess_type(path, content_types)
    response.headers['Content-Type'] = content_type
    _debug(debug, f'Content-Type: {content_type}')
    if disposition is not None:
        response.headers['Content-Disposition'] = _content_disposition(
            disposition, os.path.basename(path) if name is None else name)

    try:
        fileobj = open(path, 'rb')
    except OSError:
        raise HTTPError(403, 'The file could not be opened.') from None
    return _serve_fileobj(fileobj, content_type, st.st_size, debug)


def serve_fileobj(fileobj: IO, content_type: str | None = None, disposition: str | None = None,
                  name: str | None = None, debug: bool = False) -> Any:
    """Make the current response serve ``fileobj`` and return its body.

    The file is read (and closed) as the response is sent. Its size and
    modification time come from ``os.fstat`` when it has a descriptor;
    otherwise a seekable file is measured from its current position, and
    a stream of unknown size is sent without ranges. Range requests seek
    in the file. Content-Disposition is only written when
    ``disposition`` is given, with ``name`` when given.
    """
    response = serving.response
    size: int | None = None
    try:
        st = os.fstat(fileobj.fileno())
    except (AttributeError, OSError, ValueError, TypeError):
        # io.BytesIO and friends: no descriptor.
        try:
            if fileobj.seekable():
                here = fileobj.tell()
                size = fileobj.seek(0, os.SEEK_END) - here
                fileobj.seek(here)
        except (AttributeError, OSError, ValueError):
            size = None
    else:
        if stat.S_ISREG(st.st_mode):
            size = st.st_size - fileobj.tell() if fileobj.seekable() else st.st_size
            response.headers['Last-Modified'] = httputil.http_date(st.st_mtime)
            try:
                cptools.validate_since()
            except BaseException:
                _close(fileobj)  # 304/412: the file will not be read
                raise

    if content_type is not None:
        response.headers['Content-Type'] = content_type
    if disposition is not None:
        value = disposition if name is None else _content_disposition(disposition, name)
        response.headers['Content-Disposition'] = value
    return _serve_fileobj(fileobj, content_type, size, debug)


def _if_range_allows(request: Any, response: Any) -> bool:
    """True unless an If-Range validator says the client's copy is stale.

    A date must equal Last-Modified exactly; an entity tag must strongly
    match the ETag already set. Anything else means "send it all"
    (RFC 9110 section 13.1.5).
    """
    validator = request.headers.get('If-Range')
    if not validator:
        return True
    validator = validator.strip()
    if validator.startswith(('"', 'W/')):
        etag = response.headers.get('ETag')
        return bool(etag) and not validator.startswith('W/') and validator == etag.strip()
    last_modified = httputil.parse_http_date(response.headers.get('Last-Modified'))
    wanted = httputil.parse_http_date(validator)
    return last_modified is not None and wanted is not None and last_modified == wanted


def _serve_fileobj(fileobj: IO, content_type: str | None, content_length: int | None,
                   debug: bool = False) -> Any:
    """Set status, headers and a lazy body for ``fileobj``; ``content_length``
    is the number of bytes from its current position (None: unknown)."""
    request = serving.request
    response = serving.response
    head_only = request.method == 'HEAD'

    if content_length is None:
        # Unknown size: no ranges, and the body is read as it is sent.
        _debug(debug, 'unknown size: serving the whole stream')
        response.body = file_generator(fileobj)
        return response.body

    response.headers['Accept-Ranges'] = 'bytes'
    try:
        base = fileobj.tell()  # ranges count from where the caller left the file
    except (AttributeError, OSError, ValueError):
        base = 0
    ranges = None
    if request.protocol >= (1, 1) and 'Range' in request.headers \
            and _if_range_allows(request, response):
        ranges = httputil.get_ranges(request.headers.get('Range'), content_length)
        if ranges == []:
            _close(fileobj)
            response.headers['Content-Range'] = f'bytes */{content_length}'
            _debug(debug, f'unsatisfiable range {request.headers.get("Range")!r}')
            raise HTTPError(416, 'Requested Range Not Satisfiable')

    if not ranges:
        response.headers['Content-Length'] = str(content_length)
        body: Any = file_generator(fileobj)
    elif len(ranges) == 1:
        start, stop = ranges[0]
        _debug(debug, f'single range {start}-{stop - 1}')
        response.status = '206 Partial Content'
        response.headers['Content-Range'] = f'bytes {start}-{stop - 1}/{content_length}'
        response.headers['Content-Length'] = str(stop - start)
        body = _range_then_close(fileobj, base + start, stop - start)
    else:
        _debug(debug, f'multiple ranges {ranges}')
        response.status = '206 Partial Content'
        boundary = uuid.uuid4().hex
        part_type = content_type or response.headers.get('Content-Type') or _FALLBACK_TYPE
        parts = []
        length = 0
        for index, (start, stop) in enumerate(ranges):
            # Each delimiter after the first begins with the CRLF that ends
            # the previous part's data (RFC 2046 section 5.1.1).
            head = (('\r\n' if index else '') + f'--{boundary}\r\n'
                    f'Content-Type: {part_type}\r\n'
                    f'Content-Range: bytes {start}-{stop - 1}/{content_length}\r\n\r\n'
                    ).encode('latin-1')
            parts.append((head, base + start, base + stop))
            length += len(head) + stop - start
        closing = f'\r\n--{boundary}--\r\n'.encode('ascii')
        length += len(closing)
        response.headers['Content-Type'] = f'multipart/byteranges; boundary={boundary}'
        response.headers['Content-Length'] = str(length)
        body = _multipart_body(fileobj, parts, closing)

    if head_only:
        # The headers are those of the GET; the file is never read.
        _close(fileobj)
        body = []
    response.body = body
    return response.body


def serve_download(path: str, name: str | None = None) -> Any:
    """Serve ``path`` as an ``application/x-download`` attachment, named
    ``name`` (default: the file's base name)."""
    return serve_file(path, 'application/x-download', 'attachment', name)


# --------------------------------------------------------------------------
# The tools

def _debug(debug: bool, message: str) -> None:
    cptools._debug(debug, message, 'TOOLS.STATIC')


def _attempt(filename: str, content_types: dict | None, debug: bool) -> bool:
    """Serve ``filename`` if it is a regular file; False when it is not."""
    try:
        st = os.stat(filename)
    except (OSError, ValueError):
        _debug(debug, f'{filename!r} not found')
        return False
    if not stat.S_ISREG(st.st_mode):
        _debug(debug, f'{filename!r} is not a regular file')
        return False
    _serve_path(filename, None, None, None, debug, content_types)
    return True


# Characters no static URL segment may carry once decoded: they either
# mean something else to some file system (backslash, ':' drive letters
# on Windows) or end C strings (NUL).
_FORBIDDEN = ('\x00', '\\')


def _segment_is_hostile(segment: str) -> bool:
    """True for a path segment that could step out of the served directory,
    however many times it was percent-encoded."""
    for _ in range(4):
        if segment in ('.', '..') or any(char in segment for char in _FORBIDDEN) \
                or '/' in segment or (os.sep != '/' and os.sep in segment):
            return True
        if os.altsep and os.altsep in segment:
            return True
        if os.name == 'nt' and ':' in segment:
            return True
        decoded = unquote(segment)
        if decoded == segment:
            return False
        segment = decoded
    return True  # still encoded after several rounds: nobody means well


def _inside(path: str, root: str) -> bool:
    """True when the real location of ``path`` (symlinks followed) is
    ``root`` or below it; ``root`` is already a real path."""
    real = os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


def staticdir(section: str, dir: str, root: str = '', match: str = '',
              content_types: dict | None = None, index: str = '', debug: bool = False) -> bool:
    """Serve the file below ``dir`` (joined to ``root`` when relative) that
    the request path names below ``section``; True when it did.

    Only GET and HEAD are served; other methods are left to the
    application (the tool returns False), so that a handler mounted at the
    same path can still answer them or 405. ``match`` is a regular
    expression searched for in the path before anything else. A directory
    is answered with its ``index`` file when one is configured and exists.
    Missing files are left to the application too (usually a 404).

    Paths trying to leave the directory are refused with 403: ``..`` or
    ``.`` segments in any percent-encoding, backslashes, NUL bytes, and
    files whose real location (symlinks followed) is outside it.
    """
    request = serving.request
    if not _wanted(match, debug):
        return False
    dir = _under_root(
        dir, root,
        'Static dir requires an absolute dir (or root). '
        f'Section {section!r} has dir {dir!r} and root {root!r}.')

    # The part of the URL below the section that configured the tool.
    if section == 'global':
        section = '/'
    prefix = section.rstrip('/')
    path_info = request.path_info
    if path_info == prefix or path_info.startswith(prefix + '/'):
        branch = path_info[len(prefix):]
    else:
        # Configured from somewhere the dispatcher could not tell: the
        # whole path is relative to the directory.
        branch = path_info

    segments = branch.split('/')
    if any(_segment_is_hostile(segment) for segment in segments):
        _debug(debug, f'refusing {branch!r}')
        raise HTTPError(403, 'Forbidden path.')
    # Empty segments ('//') add nothing, and must not reach os.path.join,
    # where an absolute piece would replace the directory.
    filename = os.path.join(dir, *[segment for segment in segments if segment])
    real_root = os.path.realpath(dir)
    if not _inside(filename, real_root):
        _debug(debug, f'{filename!r} resolves outside {real_root!r}')
        raise HTTPError(403, 'Forbidden path.')

    handled = _attempt(filename, content_types, debug)
    if not handled and index and os.path.isdir(filename):
        index_name = os.path.join(filename, index)
        if not _inside(index_name, real_root):
            raise HTTPError(403, 'Forbidden path.')
        handled = _attempt(index_name, content_types, debug)
        if handled:
            # The trailing_slash tool uses this to redirect '/dir' to '/dir/'.
            request.is_index = branch.endswith('/')
    return handled


def staticfile(filename: str, root: str | None = None, match: str = '',
               content_types: dict | None = None, debug: bool = False) -> bool:
    """Serve ``filename`` (joined to ``root`` when relative); True when it did.

    A relative ``filename`` without an absolute ``root`` is a
    configuration error (ValueError). Only GET and HEAD are served; a
    missing file is left to the application.
    """
    if not _wanted(match, debug):
        return False
    filename = _under_root(
        filename, root,
        f"Static file requires an absolute filename (or root): got {filename!r}"
        f" with root {root!r}.")
    return _attempt(filename, content_types, debug)


def _wanted(match: str, debug: bool) -> bool:
    """Whether the static tools serve this request: GET or HEAD, and a path
    matching ``match`` (a regular expression) when one is given."""
    request = serving.request
    if request.method not in ('GET', 'HEAD'):
        _debug(debug, f'method {request.method} not served')
        return False
    if match and not re.search(match, request.path_info):
        _debug(debug, f'{request.path_info!r} does not match {match!r}')
        return False
    return True


def _under_root(path: str, root: str | None, error: str) -> str:
    """``path`` made absolute with ``root``; ValueError(``error``) when it
    cannot be (a relative path with no absolute root)."""
    path = os.path.expanduser(path)
    if os.path.isabs(path):
        return path
    if not root or not os.path.isabs(os.path.expanduser(root)):
        raise ValueError(error)
    return os.path.join(os.path.expanduser(root), path)
