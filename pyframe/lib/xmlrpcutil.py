"""XML-RPC over pyframe: the ``xmlrpc`` tool and :class:`XMLRPCController`.

An XML-RPC call is a POST whose body names a method (``math.add``) and
carries its arguments; the answer is always ``200 OK`` with a
``methodResponse`` body, which holds either the return value or a
*Fault* (errors included: clients expect a Fault, not an HTTP error page).

Two pieces cooperate:

* the ``xmlrpc`` tool (:class:`XMLRPCTool`) turns whatever the page handler
  returns into a ``methodResponse`` (:func:`respond`) and makes unexpected
  errors answer as Faults (:func:`on_error`);
* :class:`XMLRPCController`, a base class for the object serving calls,
  turns the tool on and finds the method the body names.

Finding the method works with either dispatcher. With
:func:`pyframe.dispatch.XMLRPCDispatcher` set as ``request.dispatch`` in
the application's config, the dispatcher reads the body itself and walks
to the method (``sub.method`` -> ``<endpoint>/sub/method``); without it,
the request reaches the controller's ``default``, which reads the body
and walks to the method itself::

    class Api(XMLRPCController):
        @pyframe.expose
        def add(self, a, b):
            return a + b

    pyframe.tree.mount(Api(), '/xmlrpc', {
        '/': {'request.dispatch': pyframe.dispatch.XMLRPCDispatcher()}})
"""

from __future__ import annotations

import sys
import xmlrpc.client
from typing import Any

from ..context import serving
from ..decorators import expose
from ..dispatch import PageHandler, XMLRPCDispatcher
from ..errors import HTTPError
from ..tools import HandlerWrapperTool

__all__ = ['process_body', 'patched_path', 'respond', 'on_error',
           'XMLRPCController', 'XMLRPCTool']

#: The only HTTP method an XML-RPC call may use (the spec says POST).
_CALL_METHOD = 'POST'


def process_body() -> tuple[tuple, str]:
    """Read the request entity as an XML-RPC call: ``(params, method name)``.

    Raises a 400 HTTPError when what is left of the body is no XML-RPC
    call (which includes a body :func:`~pyframe.dispatch.XMLRPCDispatcher`
    has already read).
    """
    body = serving.request.body
    data = body.read() if body is not None else b''
    try:
        return xmlrpc.client.loads(data)
    except Exception:
        # Expat, marshalling and type errors alike mean "not a call".
        raise HTTPError(400, 'The request body is not an XML-RPC call.') from None


def patched_path(path: str) -> str:
    """Return ``path`` ending with a slash, without a leading ``/RPC2``.

    ``/RPC2`` is the customary XML-RPC endpoint; it names no object, so a
    call posted to ``/RPC2/x`` is served by the object at ``/x/``.
    """
    if not path.endswith('/'):
        path += '/'
    if path.startswith('/RPC2/'):
        path = path[len('/RPC2'):]
    return path


def _set_response(text: str, encoding: str = 'utf-8') -> None:
    """Make ``text`` (a whole XML document) the ``200 OK`` response."""
    response = serving.response
    # Characters the encoding lacks still travel, as XML character references.
    data = text.encode(encoding, 'xmlcharrefreplace')
    response.status = 200
    response.body = data
    response.headers['Content-Type'] = 'text/xml'
    response.headers['Content-Length'] = str(len(data))


def respond(body: Any, encoding: str = 'utf-8', allow_none: bool = False) -> None:
    """Make ``body`` the XML-RPC ``methodResponse`` of the current request.

    ``body`` is the method's return value, or an
    :class:`xmlrpc.client.Fault` to report a failure. ``allow_none`` lets
    None be sent (an extension to XML-RPC that not all clients accept);
    otherwise None raises TypeError. ``encoding`` is the response charset.
    """
    if not isinstance(body, xmlrpc.client.Fault):
        # A methodResponse holds exactly one value.
        body = (body,)
    text = xmlrpc.client.dumps(body, methodresponse=True, encoding=encoding,
                               allow_none=bool(allow_none))
    _set_response(text, encoding)


def on_error(*args: Any, **kwargs: Any) -> None:
    """Answer the exception being handled as an XML-RPC Fault.

    Installed as ``request.error_response`` by the ``xmlrpc`` tool. The
    Fault has code 1 and the exception's text; the status is ``200 OK``,
    as XML-RPC reports every failure of a call inside the response.
    Positional arguments are ignored; ``encoding`` may be given as keyword.
    """
    exc = sys.exc_info()[1]
    if exc is None:
        text = 'Unknown error'
    else:
        # A bare ``raise ValueError()`` has no text: its class still tells something.
        text = str(exc) or type(exc).__name__
    fault = xmlrpc.client.Fault(1, text)
    _set_response(xmlrpc.client.dumps(fault, methodresponse=True), kwargs.get('encoding', 'utf-8'))


def _xmlrpc_wrapper(inner: Any, encoding: str = 'utf-8', allow_none: bool = False) -> bytes:
    """Run the page handler ``inner`` and answer its value as XML-RPC.

    Stands in for the page handler while the ``xmlrpc`` tool is on.
    """
    request = serving.request
    if request.method != _CALL_METHOD:
        # Refused before the handler runs: a GET (a browser, say) gets a
        # plain HTTP answer telling how to call, not a Fault it can't read.
        serving.response.headers['Allow'] = _CALL_METHOD
        raise HTTPError(405, 'XML-RPC calls must be made with POST.')
    if isinstance(inner, PageHandler):
        # Called directly rather than through the PageHandler, which would
        # turn arguments that do not fit into a 404/400; for XML-RPC that
        # TypeError is a Fault like any other failed call.
        value = inner.callable(*inner.args, **inner.kwargs)
    else:
        value = inner()
    respond(value, encoding, allow_none)
    return serving.response.body


class XMLRPCTool(HandlerWrapperTool):
    """The ``xmlrpc`` tool: handler values become ``methodResponse`` bodies
    and unexpected errors become Faults.

    Config: ``tools.xmlrpc.encoding`` (default ``'utf-8'``) and
    ``tools.xmlrpc.allow_none`` (default False). HTTP errors raised on
    purpose (``raise pyframe.HTTPError(403)``) and redirects keep their
    HTTP meaning; anything other than POST is answered 405.
    """

    def __init__(self, name: str | None = None, priority: int = 50) -> None:
        super().__init__(_xmlrpc_wrapper, 'before_handler', name, priority)

    def _setup(self) -> None:
        """Wrap the handler (as any HandlerWrapperTool) and route the
        request's unexpected errors to :func:`on_error`."""
        args = self._merged_args()
        encoding = args.get('encoding', 'utf-8')

        def error_response() -> None:
            on_error(encoding=encoding)

        # Set per request: a tool that is off leaves the default error page.
        serving.request.error_response = error_response
        super()._setup()


class XMLRPCController:
    """Base class for the objects that serve XML-RPC calls.

    Subclasses expose methods as usual (``@pyframe.expose``); nested
    objects give dotted names (``self.math = Math()`` serves ``math.add``).
    The class turns the ``xmlrpc`` tool on (of the default toolbox, named
    ``tools``) and only lets POST bodies be read.

    ``request.dispatch`` in ``_cp_config`` names the dispatcher made for
    this controller, but the dispatcher of a request is chosen from the
    application's config, before any object is looked at: put it there to
    use it. Without it, :meth:`default` dispatches the call itself.
    """

    _cp_config = {
        'tools.xmlrpc.on': True,
        'request.dispatch': XMLRPCDispatcher(),
        'request.methods_with_bodies': (_CALL_METHOD,),
    }

    @expose
    def default(self, *vpath: Any, **params: Any) -> Any:
        """Call the exposed method the request body names, below this object.

        The URL's extra segments (``vpath``) come before the call's own
        arguments. Reached with :func:`~pyframe.dispatch.XMLRPCDispatcher`
        only when it found no exposed method for the call (it has read the
        body already): that is reported as unsupported too.
        """
        try:
            rpcparams, rpcmethod = process_body()
        except HTTPError:
            raise LookupError('The requested XML-RPC method is not supported.') from None
        target: Any = self
        for name in str(rpcmethod).split('.'):
            # As with URLs, ``exposed`` (checked below) is the only gate.
            target = getattr(target, name, None)
            if target is None:
                break
        if target is None or not callable(target) or not getattr(target, 'exposed', False):
            # Not an HTTP 404: XML-RPC clients expect a Fault for this.
            raise LookupError(f'XML-RPC method {rpcmethod!r} is not supported.')
        return target(*vpath, *rpcparams, **params)
