"""JSON request and response bodies: the json_in and json_out tools.

``@pyframe.tools.json_in()`` parses a JSON request entity into
``pyframe.request.json``; ``@pyframe.tools.json_out()`` serializes what the
handler returns (a dict, a list ...) as the JSON response body.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from ..context import serving
from ..dispatch import LateParamPageHandler, _invoke
from ..errors import HTTPError

__all__ = ['json_processor', 'json_in', 'json_handler', 'json_out']


def _refuse_constant(name: str):
    # NaN and Infinity are Python extensions, not JSON (RFC 8259): answering
    # them back through json_out would send invalid documents.
    raise ValueError(f'{name} is not valid JSON')


def json_processor(entity) -> None:
    """Parse the JSON request entity into ``request.json`` (400 if invalid).

    The bytes are decoded with the entity's charsets (the one its
    Content-Type names first, then ``attempt_charsets``).
    """
    text = entity.decode_text(entity.fp.read())
    try:
        serving.request.json = json.loads(text, parse_constant=_refuse_constant)
    except ValueError:
        raise HTTPError(400, 'Invalid JSON document') from None


def _media_types(content_type: str | Iterable[str]) -> list[str]:
    """Bare, lower-case media types ('application/json;charset=x' -> 'application/json')."""
    if isinstance(content_type, str):
        content_type = [content_type]
    return [ct.split(';', 1)[0].strip().lower() for ct in content_type]


class _OnlyProcessors(dict):
    """Body processors refusing, with 415, every media type they do not hold.

    The request body looks processors up with ``get``; answering every
    miss with a refusing processor is how other types are turned away.
    """

    def get(self, key: Any, default: Any = None) -> Any:
        if key in self:
            return dict.__getitem__(self, key)
        return self._refuse

    def _refuse(self, entity) -> None:
        raise HTTPError(415, f'Expected an entity of content type {", ".join(self)}')


def json_in(content_type: str | Iterable[str] = ('application/json', 'text/javascript'),
            force: bool = True, debug: bool = False,
            processor: Callable = json_processor) -> None:
    """The ``json_in`` tool: parse JSON request entities into ``request.json``.

    Entities of the ``content_type`` media types (one or a list) go to
    ``processor``. With ``force`` any other type is refused with 415;
    without it they are processed as usual. A body needs a Content-Length
    (or chunked transfer coding), else 411; invalid JSON gives 400.
    """
    body = serving.request.body
    if body is None:
        return
    types = _media_types(content_type)
    if force:
        body.processors = _OnlyProcessors.fromkeys(types, processor)
    else:
        for media in types:
            body.processors[media] = processor
    if debug and serving.request.app is not None:
        serving.request.app.log.error(
            f'JSON processor for {types!r} (force={force})', 'TOOLS.JSON_IN')


_make_encoder = getattr(json.encoder, 'c_make_encoder', None)
# json.dumps' own settings, in the C encoder it would make per call; made
# once, without the circular-reference bookkeeping (see _dumps).
_encode = _make_encoder and _make_encoder(
    None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None,
    ': ', ', ', False, False, True)


def _dumps(value: Any) -> str:
    """``json.dumps(value)``, minus the Python layers it goes through.

    A circular structure makes the shared encoder recurse until Python
    stops it; json.dumps then runs to raise what it would have raised
    ("Circular reference detected"). Without the C accelerator, json.dumps.
    """
    if _encode is None or isinstance(value, str):
        return json.dumps(value)
    try:
        return ''.join(_encode(value, 0))
    except RecursionError:
        return json.dumps(value)


def json_handler(*args: Any, **kwargs: Any) -> bytes:
    """Call the page handler json_out wrapped and return its result as JSON."""
    request = serving.request
    inner = request._json_inner_handler
    if type(inner) is LateParamPageHandler and not (args or kwargs or inner._kwargs):
        # What calling it does, minus two calls and a lookup of the request.
        value = _invoke(inner.callable, inner.args, request.params)
    else:
        value = inner(*args, **kwargs)
    return _dumps(value).encode('utf-8')


def json_out(content_type: str | None = 'application/json', debug: bool = False,
             handler: Callable = json_handler) -> None:
    """The ``json_out`` tool: send what the page handler returns as JSON.

    ``handler`` replaces the page handler; it finds the original one at
    ``request._json_inner_handler`` and returns the body (see
    :func:`json_handler`, the default). The Content-Type is set to
    ``content_type`` unless it is None.
    """
    current = serving.__dict__  # one lookup of the thread's storage for two
    request = current['request']
    if request.handler is None:
        return  # another tool answered the request already
    request._json_inner_handler = request.handler
    request.handler = handler
    if content_type is not None:
        current['response'].headers['Content-Type'] = content_type
    if debug and request.app is not None:
        request.app.log.error(f'Serializing the handler output as {content_type}',
                              'TOOLS.JSON_OUT')


# It changes neither the request's path nor its hooks (see plan.state_for).
json_out.leaves_route = True
