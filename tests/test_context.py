"""pyframe.request, .response, .session and other proxies: what they forward."""

from __future__ import annotations

import collections.abc

import pytest

import pyframe
from pyframe.context import ThreadLocalProxy, serving
from pyframe.lib import sessions
from pyframe.request import Request, Response


@pytest.fixture
def loaded():
    """A request and response made current for the test's thread."""
    request = Request(None, None)
    response = Response()
    serving.load(request, response)
    try:
        yield request, response
    finally:
        serving.clear()


def test_request_and_response_proxies_read_and_write_the_current_objects(loaded):
    request, response = loaded
    pyframe.response.status = 418
    pyframe.request.custom = 'mine'
    assert response.status == 418 and request.custom == 'mine'
    assert pyframe.response.headers is response.headers
    del pyframe.request.custom
    assert not hasattr(request, 'custom')


def test_a_missing_attribute_is_the_targets_error(loaded):
    with pytest.raises(AttributeError, match='no_such_thing'):
        pyframe.request.no_such_thing  # noqa: B018


def test_proxies_keep_their_own_class_and_methods():
    assert type(pyframe.request) is ThreadLocalProxy
    assert pyframe.request.__class__ is ThreadLocalProxy
    assert repr(pyframe.response).startswith('<pyframe.request.Response')


def test_a_proxy_of_another_name_follows_that_attribute(loaded):
    class Widget:
        size = 1

    proxy = ThreadLocalProxy('widget')
    serving.widget = Widget()
    assert proxy.size == 1
    proxy.size = 2
    assert serving.widget.size == 2
    assert bool(proxy) is True


def test_session_proxy_outside_a_session_is_falsy_and_not_a_mapping():
    assert not sessions.session
    # isinstance() asks for __class__: the proxy answers it itself.
    assert not isinstance(sessions.session, collections.abc.Mapping)
    with pytest.raises(AttributeError, match='tools.sessions'):
        sessions.session.get('x')
