"""HTTPError, HTTPRedirect and NotFound as a client sees them."""

from __future__ import annotations

import html

import pytest

import pyframe
from pyframe import errors
from pyframe.tree import Application
from support import wsgi_get


class Root:
    @pyframe.expose
    def gone(self):
        raise pyframe.HTTPError(410)

    @pyframe.expose
    def teapot(self):
        raise pyframe.HTTPError('418 Short and Stout', 'I am a teapot')

    @pyframe.expose
    def missing_file(self):
        with pyframe.HTTPError.handle(FileNotFoundError, 404):
            open('/no/such/file/anywhere')

    @pyframe.expose
    def bad_status(self):
        raise pyframe.HTTPError(302)

    @pyframe.expose
    def to(self, target, status=None):
        raise errors.HTTPRedirect(target, status and int(status))

    @pyframe.expose
    def many(self):
        raise errors.HTTPRedirect(['/a', '/b'], 300)

    @pyframe.expose
    def injected(self):
        raise errors.HTTPRedirect('/x\r\nSet-Cookie: evil=1')

    @pyframe.expose
    def unicode(self):
        raise errors.HTTPRedirect('/caf\u00e9 menu')


@pytest.fixture
def app():
    return Application(Root(), '/app')


def get(app, path, query=''):
    return wsgi_get(app, path, query, script_name='/app')


def test_http_error_uses_the_standard_reason_and_description(app):
    status, headers, body = get(app, '/gone')
    assert status == '410 Gone'
    assert headers['Content-Type'] == 'text/html;charset=utf-8'
    page = html.unescape(body.decode())
    assert '<title>410 Gone</title>' in page
    assert 'Powered by pyframe' in page


def test_http_error_with_custom_reason_and_message(app):
    status, _, body = get(app, '/teapot')
    assert status == '418 Short and Stout'
    assert b'I am a teapot' in body


def test_http_error_handle_translates_exceptions(app):
    status, _, body = get(app, '/missing_file')
    assert status == '404 Not Found'
    assert b'No such file or directory' in body


def test_http_error_refuses_non_error_status(app):
    status, _, body = get(app, '/bad_status')
    assert status == '500 Internal Server Error'
    assert b'is not an error' in body


def test_redirect_relative_urls_resolve_against_request(app):
    status, headers, body = get(app, '/to', 'target=other')
    assert status == '303 See Other'
    assert headers['Location'] == 'http://127.0.0.1/app/other'
    assert b'<a href="http://127.0.0.1/app/other">' in body
    status, headers, _ = get(app, '/to', 'target=/root-relative&status=301')
    assert (status, headers['Location']) == ('301 Moved Permanently', 'http://127.0.0.1/root-relative')
    _, headers, _ = get(app, '/to', 'target=https://example.org/x')
    assert headers['Location'] == 'https://example.org/x'


@pytest.mark.parametrize('code', [300, 301, 302, 303, 307, 308])
def test_redirect_statuses_have_location_and_link(app, code):
    status, headers, body = get(app, '/to', f'target=/t&status={code}')
    assert status.startswith(str(code))
    assert headers['Location'] == 'http://127.0.0.1/t'
    assert b'http://127.0.0.1/t' in body


def test_not_modified_redirect_has_no_body_or_length(app):
    status, headers, body = get(app, '/to', 'target=/t&status=304')
    assert status == '304 Not Modified'
    assert body == b''
    assert 'Content-Length' not in headers and 'Location' not in headers


def test_redirect_rejects_invalid_status(app):
    status, _, body = get(app, '/to', 'target=/t&status=306')
    assert status == '500 Internal Server Error'
    assert b'is not a redirection' in body


def test_redirect_multiple_choices_lists_every_url(app):
    status, headers, body = get(app, '/many')
    assert status == '300 Multiple Choices'
    assert headers['Location'] == 'http://127.0.0.1/a'
    assert b'http://127.0.0.1/b' in body


def test_redirect_refuses_header_injection(app):
    status, headers, body = get(app, '/injected')
    assert status == '500 Internal Server Error'
    assert 'Location' not in headers
    assert 'Set-Cookie' not in headers
    assert b'line break' in body


def test_redirect_percent_encodes_non_ascii(app):
    _, headers, _ = get(app, '/unicode')
    assert headers['Location'] == 'http://127.0.0.1/caf%C3%A9%20menu'
    headers['Location'].encode('ascii')


def test_error_page_callable_and_template(tmp_path):
    template = tmp_path / 'error.html'
    template.write_text('<p>%(status)s / %(message)s / %(version)s</p>')
    request = pyframe.serving.request
    calls = []

    def page(**fields):
        calls.append(fields)
        return 'custom page'

    request_error_page = {404: page, 'default': str(template)}
    original = getattr(type(request), 'error_page', None)
    type(request).error_page = request_error_page
    try:
        assert errors.get_error_page(404, message='nope') == b'custom page'
        assert calls[0]['status'] == '404 Not Found' and calls[0]['message'] == 'nope'
        body = errors.get_error_page(500, message='<b>boom</b>').decode()
        assert body.startswith('<p>500 Internal Server Error / &lt;b&gt;boom&lt;/b&gt; / ')
        assert pyframe.__version__ in body
        # A broken template falls back on the built-in page and says why.
        template.write_text('%(nope)s')
        body = errors.get_error_page(500).decode()
        assert 'error page template is invalid' in body
    finally:
        if original is None:
            del type(request).error_page
        else:
            type(request).error_page = original


def test_a_callable_error_page_may_choose_its_own_content_type():
    def json_page(status, message, traceback, version):
        pyframe.serving.response.headers['Content-Type'] = 'application/json'
        return '{"status": "%s", "message": "%s"}' % (status, message)

    class Root:
        @pyframe.expose
        def index(self):
            raise pyframe.HTTPError(409, 'taken')

    app = Application(Root(), '', {'/': {'error_page.default': json_page}})
    status, headers, body = wsgi_get(app, '/')
    assert status.startswith('409')
    assert headers['Content-Type'].startswith('application/json')
    assert body == b'{"status": "409 Conflict", "message": "taken"}'
