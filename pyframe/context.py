"""Per-thread access to the request being served.

``pyframe.request`` and ``pyframe.response`` are proxies: every attribute
access is forwarded to the object of the request the current thread is
serving, so handlers can use them as if they were globals.
"""

from __future__ import annotations

import threading

__all__ = ['Serving', 'ThreadLocalProxy', 'serving', 'request', 'response', 'thread_data']


class Serving(threading.local):
    """The request and response of the current thread.

    Outside of any request the class-level defaults stand in (a Request
    and a Response that :mod:`pyframe.request` installs), so that code
    touching ``pyframe.request`` at import or start-up time still works.
    """

    request = None
    response = None

    def load(self, request: 'pyframe.request.Request', response: 'pyframe.request.Response') -> None:
        """Make ``request`` and ``response`` current for this thread."""
        self.request = request
        self.response = response

    def clear(self) -> None:
        """Forget this thread's request and response."""
        self.__dict__.clear()


#: The one Serving object of the process.
serving = Serving()


class ThreadLocalProxy:
    """Forward attribute access to ``serving.<name>`` of the calling thread."""

    __slots__ = ('__attrname__',)

    #: The message of the AttributeError raised when the thread has no
    #: target (None: the one ``serving`` raises).
    missing: str | None = None

    def __init__(self, attrname: str) -> None:
        object.__setattr__(self, '__attrname__', attrname)

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        _own_names.update(dir(cls))

    # __getattribute__ rather than __getattr__: the latter only runs after
    # the proxy's own lookup failed, and raising that AttributeError costs
    # several times the forwarding itself (handlers read pyframe.request
    # and pyframe.response all the time). What a __getattr__ proxy would
    # find on itself (__class__, its methods...) it still finds there.
    def __getattribute__(self, name):
        if name in _own_names:
            try:
                return object.__getattribute__(self, name)
            except AttributeError:
                pass
        # pyframe.request and pyframe.response name their target directly.
        if self is response:
            return getattr(serving.response, name)
        if self is request:
            return getattr(serving.request, name)
        return getattr(target_of(self), name)

    def __setattr__(self, name, value):
        if self is response:
            setattr(serving.response, name, value)
        else:
            setattr(target_of(self), name, value)

    def __delattr__(self, name):
        delattr(target_of(self), name)

    def __repr__(self) -> str:
        return repr(getattr(serving, _attrname(self)))

    def __bool__(self) -> bool:
        return bool(getattr(serving, _attrname(self)))


def target_of(proxy: ThreadLocalProxy):
    """The object ``proxy`` stands for in the calling thread."""
    try:
        return getattr(serving, _attrname(proxy))
    except AttributeError:
        message = type(proxy).missing
        if message is None:
            raise
        raise AttributeError(message) from None


#: A proxy's own ``__attrname__`` (the slot's getter, which the
#: forwarding __getattribute__ would not reach).
_attrname = ThreadLocalProxy.__dict__['__attrname__'].__get__
#: The names a proxy class has itself (those of every subclass too).
_own_names = set(dir(ThreadLocalProxy))

request = ThreadLocalProxy('request')
response = ThreadLocalProxy('response')

#: Free-form per-thread storage for applications.
thread_data = threading.local()
