"""The assertion vocabulary shared by :class:`~pyframe.testing.WebCase`
and the in-process :class:`~pyframe.testing.Client`.

:class:`ResponseAssertions` works on three attributes of whatever it is
mixed into: ``status`` (a str such as ``'200 OK'``), ``body`` (bytes) and
the header pairs returned by :meth:`ResponseAssertions._header_pairs`.
Every failure raises :class:`AssertionError` with a message that shows
the response, so that a failing test explains itself.
"""

from __future__ import annotations

import html
import re
from typing import Any

from pyframe.lib.httputil import valid_status

__all__ = ['ResponseAssertions']

#: How much of a body a failure message shows.
_EXCERPT = 500


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode('utf-8')


def _excerpt(body: bytes) -> str:
    text = repr(body[:_EXCERPT])
    if len(body) > _EXCERPT:
        text += f' ... ({len(body)} bytes in all)'
    return text


def _status_matches(actual: str, wanted: Any) -> bool:
    code_text, _, reason = actual.partition(' ')
    if isinstance(wanted, int):
        return code_text == str(wanted)
    wanted = str(wanted).strip()
    if wanted.isdigit():
        return code_text == wanted
    return actual.strip() == wanted


class ResponseAssertions:
    """Assertions about the last response (``status``, headers, ``body``)."""

    status: str | None = None
    body: bytes = b''

    def _header_pairs(self) -> list[tuple[str, str]]:
        return list(getattr(self, 'headers', None) or [])

    def _fail(self, msg: str) -> None:
        raise AssertionError(msg)

    def _describe(self) -> str:
        """The response, for failure messages."""
        lines = [f'  status: {self.status!r}']
        lines.extend(f'  {name}: {value}' for name, value in self._header_pairs())
        lines.append(f'  body: {_excerpt(self.body or b"")}')
        request = getattr(self, '_last_request', None)
        head = f'Response to {request}:' if request else 'Response:'
        return head + '\n' + '\n'.join(lines)

    def _failure(self, default: str, msg: str | None) -> None:
        self._fail(f'{msg or default}\n{self._describe()}')

    # -- status and headers -------------------------------------------------

    def assertStatus(self, status: Any, msg: str | None = None) -> None:
        """Fail unless the status is ``status``: an int (``404``), a str
        (``'404'`` or ``'404 Not Found'``), or a list/tuple of those, any
        of which will do."""
        if self.status is None:
            self._fail('No response yet: make a request before assertStatus.')
        choices = status if isinstance(status, (list, tuple, set)) else [status]
        if not any(_status_matches(self.status, wanted) for wanted in choices):
            wanted = ' or '.join(repr(choice) for choice in choices)
            self._failure(f'Status {self.status!r} is not {wanted}.', msg)

    def _values(self, name: str) -> list[str]:
        key = name.lower()
        return [str(value) for header, value in self._header_pairs() if header.lower() == key]

    def assertHeader(self, key: str, value: Any = None, msg: str | None = None) -> str:
        """Fail unless header ``key`` (any case) is present and, when
        ``value`` is given, has exactly that value; return its value."""
        values = self._values(key)
        if not values:
            self._failure(f'Header {key!r} is missing.', msg)
        if value is None:
            return values[0]
        if str(value) not in values:
            self._failure(f'Header {key!r} is {values[0]!r}, not {str(value)!r}.', msg)
        return str(value)

    def assertNoHeader(self, key: str, msg: str | None = None) -> None:
        """Fail if header ``key`` (any case) is present."""
        values = self._values(key)
        if values:
            self._failure(f'Header {key!r} should be absent but is {values[0]!r}.', msg)

    # -- body ---------------------------------------------------------------

    def assertBody(self, value: Any, msg: str | None = None) -> None:
        """Fail unless the body equals ``value`` (str is encoded as UTF-8)."""
        expected = _as_bytes(value)
        if self.body != expected:
            self._failure(f'Body is not {_excerpt(expected)}.', msg)

    def assertInBody(self, value: Any, msg: str | None = None) -> None:
        """Fail unless ``value`` occurs in the body."""
        if _as_bytes(value) not in (self.body or b''):
            self._failure(f'{value!r} not found in the body.', msg)

    def assertNotInBody(self, value: Any, msg: str | None = None) -> None:
        """Fail if ``value`` occurs in the body."""
        if _as_bytes(value) in (self.body or b''):
            self._failure(f'{value!r} found in the body.', msg)

    def assertMatchesBody(self, pattern: Any, msg: str | None = None, flags: int = 0) -> re.Match:
        """Fail unless regular expression ``pattern`` (str or bytes) is
        found in the body; return the match."""
        if isinstance(pattern, str):
            pattern = pattern.encode('utf-8')
        match = re.search(pattern, self.body or b'', flags)
        if match is None:
            self._failure(f'No match for {pattern!r} in the body.', msg)
        return match

    def assertErrorPage(self, status: Any, message: str | None = None,
                        pattern: str = '', msg: str | None = None) -> None:
        """Fail unless the response is pyframe's default error page for
        ``status``; when ``message`` is given the page must show it.
        ``pattern``, a regular expression, must then be found in the
        traceback the page shows."""
        self.assertStatus(status, msg)
        code, reason, _ = valid_status(status)
        actual_reason = (self.status or '').partition(' ')[2] or reason
        body = (self.body or b'').decode('utf-8', 'replace')
        heading = f'<h2>{html.escape(f"{code} {actual_reason}")}</h2>'
        if heading not in body:
            self._failure(f'Not the default error page for {code}: {heading!r} is missing.', msg)
        if message is not None:
            shown = html.escape(message)
            if f'<p>{shown}</p>' not in body:
                self._failure(f'The error page does not show the message {message!r}.', msg)
        if pattern:
            found = re.search(r'<pre id="traceback">(.*?)</pre>', body, re.S)
            traceback = html.unescape(found.group(1)) if found else ''
            if not re.search(pattern, traceback):
                self._failure(f'No match for {pattern!r} in the traceback of the error page.', msg)
