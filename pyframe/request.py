"""The Request and Response objects a page handler sees.

Both are created for every request, so they stay cheap: class attributes
carry the defaults (config keys ``request.*`` and ``response.*`` override
them per request) and nothing is parsed before somebody asks for it.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qsl

from .lib.httputil import Host

__all__ = ['Request', 'Response']


class Request:
    """One HTTP request, as the application sees it."""

    method = 'GET'
    scheme = 'http'
    base = ''
    protocol = (1, 1)
    query_string = ''
    query_string_encoding = 'utf-8'
    script_name = ''
    path_info = '/'
    app = None
    handler = None
    login = None
    is_index = None
    show_tracebacks = True
    throw_errors = False
    closed = False
    stage = None
    wsgi_environ: dict = {}

    def __init__(self, local_host: Host, remote_host: Host,
                 scheme: str = 'http', server_protocol: str = 'HTTP/1.1') -> None:
        self.local = local_host
        self.remote = remote_host
        self.scheme = scheme
        self.server_protocol = server_protocol
        self.config = {}
        self._params = None

    @property
    def params(self) -> dict:
        """Query-string (and later body) parameters; repeated keys give lists."""
        if self._params is None:
            params: dict = {}
            for key, value in parse_qsl(self.query_string, keep_blank_values=True,
                                        encoding=self.query_string_encoding,
                                        errors='strict'):
                if key in params:
                    existing = params[key]
                    if isinstance(existing, list):
                        existing.append(value)
                    else:
                        params[key] = [existing, value]
                else:
                    params[key] = value
            self._params = params
        return self._params

    @params.setter
    def params(self, value: dict) -> None:
        self._params = value


class Response:
    """The response being built for the current request."""

    status = '200 OK'
    timeout = 300
    timed_out = False
    stream = False

    def __init__(self) -> None:
        self.headers = {'Content-Type': 'text/html;charset=utf-8'}
        self.body = b''
        self.time = time.time()

    def check_timeout(self) -> None:
        """Mark the response timed out once ``timeout`` seconds have passed."""
        if time.time() > self.time + self.timeout:
            self.timed_out = True
