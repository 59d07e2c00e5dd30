"""``pyframe.url()``: build URLs pointing into the application."""

from __future__ import annotations

import urllib.parse

from .context import serving

__all__ = ['url', 'normalize_path']


def normalize_path(path: str) -> str:
    """Resolve '.' and '..' segments of an absolute path ('/a/./b/../c' -> '/a/c')."""
    if '.' not in path:
        return path
    segments: list[str] = []
    parts = path.split('/')
    for part in parts:
        if part == '..':
            if len(segments) > 1:
                segments.pop()
        elif part != '.':
            segments.append(part)
    if parts[-1] in ('.', '..'):
        segments.append('')  # '/a/b/..' names the directory '/a/'
    return '/'.join(segments) or '/'


def url(path: str = '', qs='', script_name: str | None = None,
        base: str | None = None, relative=None) -> str:
    """Return the absolute URL of ``path`` in the current application.

    A ``path`` without a leading slash is relative to the current page
    (an index page counts as a directory); one with a slash is relative to
    the application's mount point. ``qs`` is a query string or a dict or
    list of pairs to encode. Outside of a request, the base comes from the
    default server's host and port.

    ``relative`` (default: the application's ``relative_urls``) makes the
    result relative to the current page, or with ``'server'`` an
    absolute path without scheme and host.
    """
    if not isinstance(qs, str):
        qs = urllib.parse.urlencode(qs, doseq=True)
    if qs:
        qs = '?' + qs

    request = serving.request
    if request.app is not None:
        if not path.startswith('/'):
            current = request.path_info
            # Treat the page the way the browser will have resolved it.
            if request.is_index is True and not current.endswith('/'):
                current += '/'
            elif request.is_index is False and current.endswith('/') and current != '/':
                current = current[:-1]
            path = current if path == '' else urllib.parse.urljoin(current, path)
        if script_name is None:
            script_name = request.script_name
        if base is None:
            base = request.base
        new_url = base + script_name + normalize_path(path) + qs
    else:
        if base is None:
            import pyframe

            base = pyframe.server.base()
        new_url = base + normalize_path((script_name or '') + path) + qs

    if relative is None:
        relative = getattr(request.app, 'relative_urls', False)
    if relative == 'server':
        # Keep the absolute path: drop 'scheme://host'.
        return '/' + new_url.split('/', 3)[3] if new_url.count('/') >= 3 else '/'
    if relative:
        here = url(relative=False).split('/')[:-1]
        there = new_url.split('/')
        while here and there and here[0] == there[0]:
            here.pop(0)
            there.pop(0)
        return '/'.join(['..'] * len(here) + there)
    return new_url
