"""The functions behind pyframe's general-purpose built-in tools.

Each is called at a hook point of a request for which its tool is on,
with the tool's config entries as keyword arguments.
"""

from __future__ import annotations

import logging

from ..context import serving
from ..errors import HTTPRedirect
from ..log import log_request_error

__all__ = ['log_traceback', 'log_request_headers', 'trailing_slash']


def _site_log():
    import sys

    return sys.modules['pyframe'].log


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
    import sys

    request = serving.request
    path = request.path_info
    url = sys.modules['pyframe'].url
    if request.is_index is True:
        if missing and not path.endswith('/'):
            raise HTTPRedirect(url(path + '/', request.query_string), status or 301)
    elif request.is_index is False:
        if extra and path.endswith('/') and path != '/':
            raise HTTPRedirect(url(path[:-1], request.query_string), status or 301)
