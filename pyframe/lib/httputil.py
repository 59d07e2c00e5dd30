"""HTTP helpers that know nothing about the rest of pyframe."""

from __future__ import annotations

import http

__all__ = ['Host', 'response_codes', 'valid_status']

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


def valid_status(status) -> tuple[int, str, str]:
    """Return ``(code, reason, description)`` for a status int or string.

    Accepts ``404``, ``'404'`` or ``'404 Gone Fishing'``; raises ValueError
    for anything that is not a three-digit code from 100 to 599.
    """
    if status is None:
        status = 200
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
