"""Logging: an error log and an access log per site and per application.

Both logs are ordinary :mod:`logging` loggers named ``pyframe.error`` and
``pyframe.access`` (``pyframe.error.<appid>`` and ``pyframe.access.<appid>``
for an application's own logs), so any handler, filter or dictConfig setup
from the standard library applies to them. :class:`LogManager` adds the
switches the config namespace ``log.*`` exposes: ``screen``, ``error_file``,
``access_file`` and ``wsgi``.

Messages keep the classic web-server look::

    [21/Nov/2026:10:15:42] ENGINE Bus STARTED
"""

from __future__ import annotations

import datetime
import logging
import operator
import sys

__all__ = ['GlobalLogManager', 'LogManager', 'WSGIErrorHandler', 'log_request_error']

_MONTHS = ('Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun',
           'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec')


def _printable(text: str) -> str:
    """Escape what could forge or break a log line (quotes, control
    characters, non-ASCII) the way web servers do: ``\\xNN``."""
    if text.isascii() and text.isprintable() and '"' not in text and '\\' not in text:
        return text
    out = []
    for char in text:
        if char == '"' or char == '\\' or not (char.isascii() and char.isprintable()):
            out.extend(f'\\x{byte:02x}' for byte in char.encode('utf-8'))
        else:
            out.append(char)
    return ''.join(out)


_INFO = logging.INFO
_handlers_of = operator.attrgetter('handlers')
_NullHandler = logging.NullHandler


def _ancestry(logger: logging.Logger) -> tuple[logging.Logger, ...]:
    """``logger`` and the loggers its records propagate to, up to the root.

    Every dotted prefix of its name is made a real logger first: the
    chain then stays the same, because a logger made later (say
    ``pyframe``, to configure all of pyframe's logs) cannot slip in
    between as it would replace a placeholder.
    """
    parts = logger.name.split('.')
    for end in range(1, len(parts)):
        logging.getLogger('.'.join(parts[:end]))
    chain = []
    while logger is not None:
        chain.append(logger)
        logger = logger.parent
    return tuple(chain)


class WSGIErrorHandler(logging.Handler):
    """Write records to the current request's ``wsgi.errors`` stream."""

    def emit(self, record: logging.LogRecord) -> None:
        """Format ``record`` and write it to ``environ['wsgi.errors']``."""
        from .context import serving

        environ = getattr(serving.request, 'wsgi_environ', None) or {}
        stream = environ.get('wsgi.errors')
        if stream is None:
            return
        try:
            stream.write(self.format(record) + '\n')
            stream.flush()
        except Exception:
            self.handleError(record)


class LogManager:
    """The error and access logs of the site or of one application.

    ``appid`` None gives the site-wide logs ``<root>.error`` and
    ``<root>.access``; an application passes its id to get
    ``<root>.error.<id>`` and ``<root>.access.<id>``.
    """

    #: The access-log line, filled from the request and response.
    access_log_format = '{h} {l} {u} {t} "{r}" {s} {b} "{f}" "{a}"'

    def __init__(self, appid: str | None = None, logger_root: str = 'pyframe'):
        self.appid = appid
        self.logger_root = logger_root
        suffix = '' if appid is None else f'.{appid}'
        self.error_log = logging.getLogger(f'{logger_root}.error{suffix}')
        self.access_log = logging.getLogger(f'{logger_root}.access{suffix}')
        self.error_log.setLevel(logging.INFO)
        self.access_log.setLevel(logging.INFO)
        # Without any handler, the stdlib's last resort writes warnings and
        # errors to stderr: a NullHandler keeps the error log silent until
        # something is configured. Access lines are INFO, which the last
        # resort ignores, so the access log needs none.
        if not any(isinstance(h, logging.NullHandler) for h in self.error_log.handlers):
            self.error_log.addHandler(logging.NullHandler())
        self._access_chain = _ancestry(self.access_log)

    # -- writing ----------------------------------------------------------

    def time(self) -> str:
        """Return the current local time as ``[21/Nov/2026:10:15:42]``."""
        now = datetime.datetime.now()
        return (
            f'[{now.day:02d}/{_MONTHS[now.month - 1]}/{now.year:04d}:'
            f'{now.hour:02d}:{now.minute:02d}:{now.second:02d}]'
        )

    def error(
        self,
        msg: str = '',
        context: str = '',
        severity: int = logging.INFO,
        traceback: bool = False,
    ) -> None:
        """Write ``msg`` to the error log, tagged with ``context``.

        With ``traceback`` true, the exception being handled is appended.
        """
        if not self.error_log.isEnabledFor(severity):
            return
        exc_info = sys.exc_info() if traceback else None
        if exc_info is not None and exc_info[0] is None:
            exc_info = None
        parts = [self.time(), context, msg] if context else [self.time(), msg]
        self.error_log.log(severity, ' '.join(parts), exc_info=exc_info)

    def __call__(self, *args, **kwargs) -> None:
        """Same as :meth:`error`: ``log('message', 'CONTEXT')``."""
        self.error(*args, **kwargs)

    def _access_wanted(self) -> bool:
        """True when some handler would receive an access line.

        Walks the logger hierarchy as the stdlib does, ignoring the
        NullHandlers, so that formatting costs nothing when nobody listens.
        """
        access_log = self.access_log
        chain = self._access_chain
        if chain[0] is not access_log:
            # Somebody gave the manager another logger.
            chain = self._access_chain = _ancestry(access_log)
        if not any(map(_handlers_of, chain)):
            return False  # no handler anywhere: the usual production case
        if not access_log.isEnabledFor(_INFO):
            return False
        for logger in chain:
            handlers = logger.handlers
            if handlers:
                for handler in handlers:
                    if not isinstance(handler, _NullHandler):
                        return True
            if not logger.propagate:
                return False
        return False

    def access(self) -> None:
        """Write the access-log line of the current request.

        The line follows :attr:`access_log_format`, whose fields are
        ``{h}`` remote host, ``{l}`` '-', ``{u}`` login, ``{t}`` time,
        ``{r}`` request line, ``{s}`` status, ``{b}`` bytes sent,
        ``{f}`` Referer, ``{a}`` User-Agent, ``{o}`` Host, ``{i}`` the
        request's unique id and ``{z}`` the time in ISO 8601 (UTC).
        """
        chain = self._access_chain
        if chain[0] is self.access_log:
            # _access_wanted's first answer, minus a call (and a loop costs
            # less than any(map(...)) over the four loggers or so).
            for logger in chain:
                if logger.handlers:
                    break
            else:
                return  # no handler anywhere: the usual production case
        if not self._access_wanted():
            return
        from .context import serving

        request = serving.request
        response = serving.response
        headers = request.headers
        remote = request.remote
        status = response.output_status.split(b' ', 1)[0].decode('ascii', 'replace') or '-'
        fields = {
            'h': remote.name or remote.ip,
            'l': '-',
            'u': request.login or '-',
            't': self.time(),
            'r': request.request_line,
            's': status,
            'b': dict.get(response.headers, 'Content-Length') or '-',
            'f': headers.get('Referer', ''),
            'a': headers.get('User-Agent', ''),
            'o': headers.get('Host', '-'),
            'i': request.unique_id,
            'z': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        }
        safe = {key: _printable(str(value)) for key, value in fields.items()}
        try:
            self.access_log.log(logging.INFO, self.access_log_format.format(**safe))
        except Exception:
            self.error(traceback=True)

    # -- handlers ---------------------------------------------------------

    def _handler(self, logger: logging.Logger, key: str):
        for handler in logger.handlers:
            if getattr(handler, '_pyframe_handler', None) == key:
                return handler
        return None

    def _set_handler(
        self, logger: logging.Logger, key: str, handler: logging.Handler | None
    ) -> None:
        old = self._handler(logger, key)
        if old is not None:
            logger.removeHandler(old)
            old.close()
        if handler is not None:
            handler._pyframe_handler = key
            handler.setFormatter(logging.Formatter('%(message)s'))
            logger.addHandler(handler)

    @property
    def screen(self) -> bool:
        """True when the logs are written to stderr (errors) and stdout
        (accesses)."""
        return bool(
            self._handler(self.error_log, 'screen')
            or self._handler(self.access_log, 'screen')
        )

    @screen.setter
    def screen(self, on: bool) -> None:
        for logger, stream in ((self.error_log, sys.stderr),
                               (self.access_log, sys.stdout)):
            current = self._handler(logger, 'screen')
            if on and current is None:
                self._set_handler(logger, 'screen', logging.StreamHandler(stream))
            elif not on and current is not None:
                self._set_handler(logger, 'screen', None)

    def _file_name(self, logger: logging.Logger) -> str:
        handler = self._handler(logger, 'file')
        return handler.baseFilename if handler is not None else ''

    def _set_file(self, logger: logging.Logger, filename: str | None) -> None:
        if filename:
            handler = logging.FileHandler(filename, encoding='utf-8')
        else:
            handler = None
        self._set_handler(logger, 'file', handler)

    @property
    def error_file(self) -> str:
        """Path of the error log file ('' when there is none)."""
        return self._file_name(self.error_log)

    @error_file.setter
    def error_file(self, filename: str | None) -> None:
        self._set_file(self.error_log, filename)

    @property
    def access_file(self) -> str:
        """Path of the access log file ('' when there is none)."""
        return self._file_name(self.access_log)

    @access_file.setter
    def access_file(self, filename: str | None) -> None:
        self._set_file(self.access_log, filename)

    @property
    def wsgi(self) -> bool:
        """True when errors also go to each request's ``wsgi.errors``."""
        return self._handler(self.error_log, 'wsgi') is not None

    @wsgi.setter
    def wsgi(self, on: bool) -> None:
        if on != self.wsgi:
            self._set_handler(self.error_log, 'wsgi', WSGIErrorHandler() if on else None)

    def reopen_files(self) -> None:
        """Close and reopen the log files (after logrotate moved them)."""
        for logger in (self.error_log, self.access_log):
            handler = self._handler(logger, 'file')
            if handler is not None:
                handler.acquire()
                try:
                    handler.close()
                    handler.stream = handler._open()
                finally:
                    handler.release()


class GlobalLogManager(LogManager):
    """The site-wide logs, ``pyframe.log``.

    Inside a request, calling it or :meth:`access` uses the logs of the
    application serving the request (whose loggers propagate to these).
    """

    def __call__(self, *args, **kwargs) -> None:
        """Log to the current application's error log, or the site's."""
        from .context import serving

        log = getattr(serving.request.app, 'log', None) or self
        log.error(*args, **kwargs)

    def access(self) -> None:
        """Write the current request's access line in its application's log."""
        from .context import serving

        log = getattr(serving.request.app, 'log', None)
        if log is None or log is self:
            LogManager.access(self)
        else:
            log.access()

    def reopen_files(self) -> None:
        """Reopen the site's log files and those of every mounted app.

        Subscribed to the engine's ``graceful`` channel, so SIGUSR1 after a
        log rotation makes every log write to the new files.
        """
        LogManager.reopen_files(self)
        import pyframe

        for app in list(pyframe.tree.apps.values()):
            log = getattr(app, 'log', None)
            if isinstance(log, LogManager):
                log.reopen_files()


def log_request_error(message: str, severity: int = logging.ERROR) -> None:
    """Log ``message`` and the current traceback in the serving app's error log.

    The traceback goes into the message itself, so it reaches every
    handler and anyone reading the records, formatter or not.
    """
    import sys
    import traceback

    from .context import serving

    log = getattr(serving.request.app, 'log', None) or sys.modules['pyframe'].log
    log.error(f'{message}\n{traceback.format_exc()}', 'HTTP', severity=severity)
