"""Built-in tools over real HTTP (cheroot), part B: log_headers,
log_tracebacks, ignore_headers, flatten, redirect, err_redirect, autovary,
params, expires, etags, caching and cpstats (with its StatsPage).

Each tool is turned on as users do (config or ``pyframe.tools`` decorators)
and every assertion is about what a client receives, or what lands in the
application's error log file.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import html
import json
import logging
import threading

import pytest

import pyframe
from live import live, wait_until  # noqa: F401  (``live`` is a fixture)
from pyframe.lib import cpstats


def http_time(value: str) -> datetime.datetime:
    return email.utils.parsedate_to_datetime(value)


def seconds_between(later: str, earlier: str) -> float:
    return (http_time(later) - http_time(earlier)).total_seconds()


# -- log_tracebacks and log_headers -----------------------------------------------


class Failing:
    @pyframe.expose
    def index(self):
        return 'fine'

    @pyframe.expose
    def boom(self):
        raise ZeroDivisionError('boom-marker')

    @pyframe.expose
    def missing(self):
        raise pyframe.NotFound()


@pytest.fixture
def logged(live, tmp_path):
    """``logged(extra_config)`` -> (site, read_log): the Failing root served
    with its error log in a file."""
    sites = []
    path = tmp_path / 'error.log'

    def start(**extra):
        site = live(Failing(), config={'/': {'log.error_file': str(path), **extra}})
        sites.append(site)

        def read() -> str:
            for handler in site.app.log.error_log.handlers:
                handler.flush()
            return path.read_text('utf-8') if path.exists() else ''
        return site, read

    yield start
    for site in sites:
        site.app.log.error_file = None


def test_500_logs_traceback_and_request_headers_by_default(logged):
    site, read = logged()
    response = site.get('/boom', headers={'X-Probe': 'probe-value-42'})
    assert response.status_code == 500
    text = read()
    assert 'ZeroDivisionError: boom-marker' in text
    assert 'Traceback (most recent call last)' in text
    assert 'Error while' in text
    assert 'Request Headers:' in text
    assert 'X-Probe: probe-value-42' in text


def test_log_headers_off_keeps_only_the_traceback(logged):
    site, read = logged(**{'tools.log_headers.on': False})
    assert site.get('/boom', headers={'X-Probe': 'secret-cookie'}).status_code == 500
    text = read()
    assert 'ZeroDivisionError: boom-marker' in text
    assert 'Request Headers:' not in text and 'secret-cookie' not in text


def test_both_off_log_nothing_for_a_500(logged):
    site, read = logged(**{'tools.log_headers.on': False, 'tools.log_tracebacks.on': False})
    response = site.get('/boom', headers={'X-Probe': 'probe-value-42'})
    assert response.status_code == 500
    text = read()
    assert 'boom-marker' not in text and 'Request Headers:' not in text


def test_log_tracebacks_severity_below_the_log_level_is_dropped(logged):
    site, read = logged(**{'tools.log_tracebacks.severity': logging.DEBUG,
                           'tools.log_headers.on': False})
    assert site.get('/boom').status_code == 500
    assert 'boom-marker' not in read()


def test_successes_and_http_errors_log_no_traceback(logged):
    site, read = logged()
    assert site.get('/').text == 'fine'
    assert site.get('/missing').status_code == 404
    text = read()
    assert 'Traceback' not in text and 'Request Headers:' not in text


def test_log_headers_records_odd_header_bytes_from_a_raw_client(logged):
    site, read = logged()
    with site.raw() as conn:
        conn.request('GET', '/boom', headers=[('Host', 'x'), ('X-Odd', 'caf\xe9 "q" ;;')])
        response = conn.read_response()
    assert response.status == 500
    text = read()
    assert 'Request Headers:' in text
    assert 'X-Odd: caf\xe9 "q" ;;' in text



# -- ignore_headers ----------------------------------------------------------------


class Echo:
    @pyframe.expose
    def index(self, name='Range'):
        return repr(pyframe.request.headers.get(name))


def test_ignore_headers_drops_range_by_default(live):
    site = live(Echo(), config={'/': {'tools.ignore_headers.on': True}})
    assert site.get('/', headers={'Range': 'bytes=0-1'}).text == 'None'


def test_range_reaches_the_handler_without_the_tool(live):
    site = live(Echo())
    assert site.get('/', headers={'Range': 'bytes=0-1'}).text == "'bytes=0-1'"


def test_ignore_headers_named_list_any_case(live):
    site = live(Echo(), config={'/': {'tools.ignore_headers.on': True,
                                      'tools.ignore_headers.headers': ['x-secret', 'Range']}})
    assert site.get('/?name=X-Secret', headers={'X-Secret': 's3'}).text == 'None'
    assert site.get('/', headers={'Range': 'bytes=0-1'}).text == 'None'
    assert site.get('/?name=X-Other', headers={'X-Other': 'kept'}).text == "'kept'"


def test_ignore_headers_single_name_and_decorator(live):
    class Root:
        @pyframe.expose
        @pyframe.tools.ignore_headers(headers='X-Secret')
        def index(self):
            headers = pyframe.request.headers
            return f"{headers.get('X-Secret')!r} {headers.get('Range')!r}"

    site = live(Root())
    assert site.get('/', headers={'X-Secret': 's', 'Range': 'bytes=1-'}).text == "None 'bytes=1-'"


def test_ignore_headers_removes_malformed_and_repeated_range(live):
    site = live(Echo(), config={'/': {'tools.ignore_headers.on': True}})
    with site.raw() as conn:
        conn.request('GET', '/', headers=[('Host', 'x'), ('Range', 'bytes=zz-'),
                                          ('Range', 'garbage;;;')])
        response = conn.read_response()
    assert response.status == 200 and response.body == b'None'


# -- flatten -----------------------------------------------------------------------


def rows(names):
    for name in names:
        yield f'<li>{name}</li>'


class Nested:
    @pyframe.expose
    def index(self):
        def page():
            yield (text for text in ['<h1>Team</h1>', '<ul>'])
            yield rows(['Ann', 'B\xf6b'])
            yield [[b'</ul>'], ((x for x in ['!']),)]
        return page()

    @pyframe.expose
    def failing(self):
        def page():
            yield ['start']
            yield (1 / 0 for _ in range(1))
        return page()


def test_flatten_sends_the_leaves_of_nested_generators(live):
    site = live(Nested(), config={'/': {'tools.flatten.on': True}})
    response = site.get('/')
    assert response.status_code == 200
    assert response.content == '<h1>Team</h1><ul><li>Ann</li><li>B\xf6b</li></ul>!'.encode()
    assert response.headers['Content-Length'] == str(len(response.content))


def test_flatten_with_a_streamed_response(live):
    site = live(Nested(), config={'/': {'tools.flatten.on': True, 'response.stream': True}})
    with site.raw() as conn:
        conn.request('GET', '/')
        response = conn.read_response()
    assert response.status == 200 and response.chunked
    assert response.body == '<h1>Team</h1><ul><li>Ann</li><li>B\xf6b</li></ul>!'.encode()


def test_nested_body_without_flatten_is_not_sent_as_text(live):
    site = live(Nested())
    response = site.get('/')
    assert b'<li>Ann</li>' not in response.content


def test_flatten_error_inside_a_nested_generator_is_a_500(live):
    site = live(Nested(), config={'/': {'tools.flatten.on': True}})
    response = site.get('/failing')
    assert response.status_code == 500
    assert '500 Internal Server Error' in response.text


# -- redirect ----------------------------------------------------------------------


class Pages:
    @pyframe.expose
    def index(self):
        return 'home'

    @pyframe.expose
    def new_page(self, **params):
        prev = pyframe.request.prev
        return (f'new {pyframe.request.method} {sorted(params.items())} '
                f'prev={prev.path_info if prev else None}')

    @pyframe.expose
    def old_page(self, **params):
        return 'never called'

    @pyframe.expose
    def loop_a(self):
        return 'never a'

    @pyframe.expose
    def loop_b(self):
        return 'never b'

    class sub:
        @pyframe.expose
        def target(self):
            return 'sub target'

        @pyframe.expose
        def start(self):
            return 'never start'

    sub = sub()


def test_internal_redirect_serves_the_other_page_at_the_same_url(live):
    site = live(Pages(), config={'/old_page': {'tools.redirect.on': True,
                                               'tools.redirect.url': '/new_page'}})
    response = site.get('/old_page')
    assert response.status_code == 200
    assert 'Location' not in response.headers
    assert response.text == 'new GET [] prev=/old_page'


def test_internal_redirect_of_a_post_is_a_get(live):
    site = live(Pages(), config={'/old_page': {'tools.redirect.on': True,
                                               'tools.redirect.url': '/new_page?x=1'}})
    response = site.post('/old_page', data={'a': 'b'})
    assert response.status_code == 200
    assert response.text.startswith("new GET [('x', '1')]")


def test_external_redirect_sends_303_with_an_absolute_location(live):
    site = live(Pages(), config={'/old_page': {'tools.redirect.on': True,
                                               'tools.redirect.url': '/new_page',
                                               'tools.redirect.internal': False}})
    response = site.get('/old_page')
    assert response.status_code == 303
    assert response.headers['Location'] == site.url('/new_page')
    assert 'never called' not in response.text


def test_external_redirect_keeps_the_query_string_of_the_url(live):
    site = live(Pages(), config={'/old_page': {'tools.redirect.on': True,
                                               'tools.redirect.url': '/new_page?x=1&y=2',
                                               'tools.redirect.internal': False}})
    response = site.get('/old_page?ignored=1')
    assert response.status_code == 303
    assert response.headers['Location'] == site.url('/new_page?x=1&y=2')


def test_external_redirect_for_http_10_is_302(live):
    site = live(Pages(), config={'/old_page': {'tools.redirect.on': True,
                                               'tools.redirect.url': '/new_page',
                                               'tools.redirect.internal': False}})
    with site.raw() as conn:
        conn.request('GET', '/old_page', protocol='HTTP/1.0')
        response = conn.read_response()
    assert response.status == 302
    assert response.headers['Location'].endswith('/new_page')


def test_relative_redirect_url_is_relative_to_the_page(live):
    site = live(Pages(), config={'/sub/start': {'tools.redirect.on': True,
                                                'tools.redirect.url': 'target',
                                                'tools.redirect.internal': False}})
    response = site.get('/sub/start')
    assert response.status_code == 303
    assert response.headers['Location'] == site.url('/sub/target')
    assert site.get('/sub/target').text == 'sub target'


def test_internal_redirect_loop_is_refused_with_500(live):
    site = live(Pages(), config={
        '/loop_a': {'tools.redirect.on': True, 'tools.redirect.url': '/loop_b'},
        '/loop_b': {'tools.redirect.on': True, 'tools.redirect.url': '/loop_a'},
    })
    response = site.get('/loop_a')
    assert response.status_code == 500
    assert 'never' not in response.text


# -- err_redirect ------------------------------------------------------------------


class Fragile:
    @pyframe.expose
    def compute(self):
        return str(1 / 0)

    @pyframe.expose
    def forbidden(self):
        raise pyframe.HTTPError(403, 'no entry')

    @pyframe.expose
    def oops(self):
        return f'Sorry ({pyframe.request.prev.path_info if pyframe.request.prev else "-"})'


def test_err_redirect_serves_the_error_page_internally(live, tmp_path):
    log_path = tmp_path / 'err.log'
    site = live(Fragile(), config={'/': {'tools.err_redirect.on': True,
                                         'tools.err_redirect.url': '/oops',
                                         'log.error_file': str(log_path)}})
    try:
        response = site.get('/compute')
        assert response.status_code == 200
        assert response.text == 'Sorry (/compute)'
        assert 'ZeroDivisionError' not in response.text
        # The error is still logged by log_tracebacks.
        assert 'ZeroDivisionError' in log_path.read_text('utf-8')
    finally:
        site.app.log.error_file = None


def test_err_redirect_external_sends_the_client_there(live):
    site = live(Fragile(), config={'/': {'tools.err_redirect.on': True,
                                         'tools.err_redirect.url': '/oops',
                                         'tools.err_redirect.internal': False}})
    response = site.get('/compute')
    assert response.status_code == 303
    assert response.headers['Location'] == site.url('/oops')


def test_err_redirect_leaves_http_errors_and_successes_alone(live):
    site = live(Fragile(), config={'/': {'tools.err_redirect.on': True,
                                         'tools.err_redirect.url': '/oops'}})
    response = site.get('/forbidden')
    assert response.status_code == 403 and 'no entry' in response.text
    assert site.get('/nowhere').status_code == 404
    assert site.get('/oops').text == 'Sorry (-)'


def test_without_err_redirect_the_error_is_a_500(live):
    site = live(Fragile())
    assert site.get('/compute').status_code == 500


# -- autovary ----------------------------------------------------------------------


class Greeter:
    @pyframe.expose
    def hello(self):
        language = pyframe.request.headers.get('Accept-Language', 'en')
        if 'X-Debug' in pyframe.request.headers:
            language += '+debug'
        return 'Bonjour' if language.startswith('fr') else 'Hello'

    @pyframe.expose
    def preset(self):
        pyframe.response.headers['Vary'] = 'Cookie, Accept-Language'
        return pyframe.request.headers.get('Accept-Language', 'none')

    @pyframe.expose
    def upload(self, **params):
        return repr(sorted(params))

    @pyframe.expose
    def plain(self):
        return 'plain'


def vary_names(response) -> list[str]:
    return [name.strip() for name in response.headers.get('Vary', '').split(',') if name.strip()]


def test_autovary_lists_the_headers_looked_up(live):
    site = live(Greeter(), config={'/': {'tools.autovary.on': True}})
    response = site.get('/hello', headers={'Accept-Language': 'fr'})
    assert response.text == 'Bonjour'
    names = vary_names(response)
    assert 'Accept-Language' in names and 'X-Debug' in names
    # The encode tool reads Accept-Charset.
    assert 'Accept-Charset' in names
    assert len(names) == len(set(names))


def test_autovary_ignore_option(live):
    site = live(Greeter(), config={'/': {'tools.autovary.on': True,
                                         'tools.autovary.ignore': ['x-debug', 'Accept-Charset']}})
    assert vary_names(site.get('/hello')) == ['Accept-Language']


def test_autovary_keeps_the_handlers_vary_without_duplicates(live):
    site = live(Greeter(), config={'/': {'tools.autovary.on': True}})
    names = vary_names(site.get('/preset'))
    assert names[:2] == ['Cookie', 'Accept-Language']
    assert names.count('Accept-Language') == 1


def test_autovary_never_lists_the_body_headers(live):
    site = live(Greeter(), config={'/': {'tools.autovary.on': True}})
    response = site.post('/upload', data={'a': '1'})
    assert response.status_code == 200 and response.text == "['a']"
    names = vary_names(response)
    assert not {'Content-Type', 'Content-Length', 'Content-Disposition'} & set(names)


def test_no_vary_without_autovary(live):
    site = live(Greeter())
    assert 'Accept-Language' not in vary_names(site.get('/hello'))


# -- params ------------------------------------------------------------------------


class Money:
    def __init__(self, text: str):
        if not text.endswith('EUR'):
            raise KeyError(text)
        self.cents = int(float(text[:-3]) * 100)


class Typed:
    @pyframe.expose
    @pyframe.tools.params()
    def items(self, page: int = 1, ratio: float = 1.0, verbose: str = 'no'):
        return f'page {page + 1}, ratio {ratio * 2}, verbose {verbose}'

    @pyframe.expose
    @pyframe.tools.params()
    def total(self, n: int = 0):
        return repr(n)

    @pyframe.expose
    @pyframe.tools.params()
    def form(self, count: int, note: str = ''):
        return f'{count * 2} {note}'

    @pyframe.expose
    def price(self, amount: Money):
        return str(amount.cents)

    @pyframe.expose
    def raw(self, page: int = 1):
        return repr(page)


def test_params_converts_query_parameters(live):
    site = live(Typed())
    assert site.get('/items?page=2&ratio=0.5&verbose=true').text == \
        'page 3, ratio 1.0, verbose true'
    assert site.get('/items').text == 'page 2, ratio 2.0, verbose no'


def test_params_converts_repeated_parameters_item_by_item(live):
    site = live(Typed())
    assert site.get('/total?n=1&n=2&n=40').text == '[1, 2, 40]'


def test_params_converts_form_bodies(live):
    site = live(Typed())
    assert site.post('/form', data={'count': '21', 'note': 'x'}).text == '42 x'


def test_params_bad_value_is_400_naming_the_parameter(live):
    site = live(Typed())
    response = site.get('/items?page=two')
    assert response.status_code == 400
    assert "Invalid value for parameter 'page'" in html.unescape(response.text)
    response = site.get('/total?n=1&n=x')
    assert response.status_code == 400
    assert "Invalid value for parameter 'n'" in html.unescape(response.text)
    response = site.get('/items?ratio=')
    assert response.status_code == 400
    assert "Invalid value for parameter 'ratio'" in html.unescape(response.text)


def test_params_oversized_integer_is_400(live):
    site = live(Typed())
    response = site.get('/total?n=' + '9' * 5000)
    assert response.status_code == 400
    assert "Invalid value for parameter 'n'" in html.unescape(response.text)


def test_params_without_the_tool_leaves_strings(live):
    site = live(Typed())
    assert site.get('/raw?page=3').text == "'3'"


def test_params_exception_and_error_options(live):
    site = live(Typed(), config={'/price': {'tools.params.on': True,
                                            'tools.params.exception': KeyError,
                                            'tools.params.error': 422}})
    assert site.get('/price?amount=1.5EUR').text == '150'
    response = site.get('/price?amount=12USD')
    assert response.status_code == 422
    assert "Invalid value for parameter 'amount'" in html.unescape(response.text)


def test_params_exception_not_listed_is_a_500(live):
    site = live(Typed(), config={'/price': {'tools.params.on': True}})
    assert site.get('/price?amount=12USD').status_code == 500


def test_params_huge_body_is_413(live):
    site = live(Typed(), max_request_body_size=1024)
    response = site.post('/form', data={'count': '1', 'note': 'x' * 5000})
    assert response.status_code == 413


def test_params_malformed_form_body(live):
    site = live(Typed())
    with site.raw() as conn:
        body = b'count=%zz&note=%ff'
        conn.request('POST', '/form', headers={
            'Content-Type': 'application/x-www-form-urlencoded'}, body=body)
        response = conn.read_response()
    assert response.status in (400, 200)
    if response.status == 200:
        pytest.fail(f'a malformed count converted: {response.body!r}')


# -- expires -----------------------------------------------------------------------


class Fresh:
    @pyframe.expose
    def index(self):
        return 'fresh'

    @pyframe.expose
    def tagged(self):
        pyframe.response.headers['ETag'] = '"v1"'
        return 'tagged'

    @pyframe.expose
    def own_cache_control(self):
        pyframe.response.headers['Cache-Control'] = 'private'
        return 'own'

    @pyframe.expose
    @pyframe.tools.expires(secs=datetime.timedelta(hours=1))
    def hourly(self):
        return 'hourly'


def test_expires_secs_in_the_future(live):
    site = live(Fresh(), config={'/': {'tools.expires.on': True, 'tools.expires.secs': 60}})
    response = site.get('/')
    assert response.text == 'fresh'
    assert seconds_between(response.headers['Expires'], response.headers['Date']) == \
        pytest.approx(60, abs=1)
    assert 'Pragma' not in response.headers


def test_expires_timedelta_by_decorator(live):
    site = live(Fresh())
    response = site.get('/hourly')
    assert seconds_between(response.headers['Expires'], response.headers['Date']) == \
        pytest.approx(3600, abs=1)


def test_expires_zero_forbids_caching(live):
    site = live(Fresh(), config={'/': {'tools.expires.on': True}})
    response = site.get('/')
    assert seconds_between(response.headers['Date'], response.headers['Expires']) >= 364 * 86400
    assert response.headers['Pragma'] == 'no-cache'
    assert response.headers['Cache-Control'] == 'no-cache, must-revalidate'


def test_expires_zero_for_http_10_has_no_cache_control(live):
    site = live(Fresh(), config={'/': {'tools.expires.on': True}})
    with site.raw() as conn:
        conn.request('GET', '/', protocol='HTTP/1.0')
        response = conn.read_response()
    assert response.headers['Pragma'] == 'no-cache'
    assert 'Cache-Control' not in response.headers
    assert http_time(response.headers['Expires']).year < datetime.datetime.now().year


def test_expires_leaves_validated_responses_alone_unless_forced(live):
    site = live(Fresh(), config={'/': {'tools.expires.on': True, 'tools.expires.secs': 60}})
    assert 'Expires' not in site.get('/tagged').headers
    forced = live(Fresh(), config={'/': {'tools.expires.on': True, 'tools.expires.secs': 60,
                                         'tools.expires.force': True}})
    response = forced.get('/tagged')
    assert response.headers['ETag'] == '"v1"'
    assert seconds_between(response.headers['Expires'], response.headers['Date']) == \
        pytest.approx(60, abs=1)


def test_expires_zero_keeps_the_handlers_cache_control_unless_forced(live):
    site = live(Fresh(), config={'/': {'tools.expires.on': True}})
    assert site.get('/own_cache_control').headers['Cache-Control'] == 'private'
    forced = live(Fresh(), config={'/': {'tools.expires.on': True, 'tools.expires.force': True}})
    assert forced.get('/own_cache_control').headers['Cache-Control'] == \
        'no-cache, must-revalidate'


# -- etags -------------------------------------------------------------------------


class Tagged:
    @pyframe.expose
    def terms(self):
        return 'Terms of use, version 3.'

    @pyframe.expose
    def article(self, **params):
        pyframe.response.headers['ETag'] = '"article-17-rev-4"'
        return 'An article.'

    @pyframe.expose
    def weak(self):
        pyframe.response.headers['ETag'] = 'W/"w1"'
        return 'weak'

    @pyframe.expose
    def gone(self):
        pyframe.response.headers['ETag'] = '"article-17-rev-4"'
        raise pyframe.HTTPError(410)


TERMS_TAG = '"%s"' % hashlib.md5(b'Terms of use, version 3.').hexdigest()


@pytest.fixture
def tagged(live):
    return live(Tagged(), config={'/': {'tools.etags.on': True},
                                  '/terms': {'tools.etags.autotags': True}})


def test_autotags_set_the_md5_of_the_body(tagged):
    response = tagged.get('/terms')
    assert response.headers['ETag'] == TERMS_TAG
    assert tagged.head('/terms').headers['ETag'] == TERMS_TAG


def test_no_autotag_without_the_option(tagged, live):
    assert tagged.get('/article').headers['ETag'] == '"article-17-rev-4"'
    assert tagged.get('/weak').headers['ETag'] == 'W/"w1"'
    site = live(Tagged(), config={'/': {'tools.etags.on': True}})
    response = site.get('/terms')
    assert response.status_code == 200 and 'ETag' not in response.headers


def test_304_carries_the_etag(tagged):
    response = tagged.get('/article', headers={'If-None-Match': '"article-17-rev-4"'})
    assert response.status_code == 304
    assert response.headers.get('ETag') == '"article-17-rev-4"'


@pytest.mark.parametrize('header', [TERMS_TAG, f'"other", {TERMS_TAG}', '*', f'W/{TERMS_TAG}'])
def test_if_none_match_gives_304(tagged, header):
    response = tagged.get('/terms', headers={'If-None-Match': header})
    assert response.status_code == 304
    assert response.content == b''


def test_if_none_match_head_gives_304(tagged):
    assert tagged.head('/article', headers={'If-None-Match': '"article-17-rev-4"'}).status_code == 304


def test_if_none_match_other_tag_gives_200(tagged):
    response = tagged.get('/terms', headers={'If-None-Match': '"stale"'})
    assert response.status_code == 200 and response.text == 'Terms of use, version 3.'


def test_if_none_match_on_post_is_412(tagged):
    response = tagged.post('/article', headers={'If-None-Match': '"article-17-rev-4"'})
    assert response.status_code == 412


@pytest.mark.parametrize('header', ['"nope"', 'article-17-rev-4', 'W/"article-17-rev-4"', ''])
def test_if_match_failing_gives_412(tagged, header):
    response = tagged.get('/article', headers={'If-Match': header})
    assert response.status_code == 412


@pytest.mark.parametrize('header', ['"article-17-rev-4"', '*', '"a", "article-17-rev-4"'])
def test_if_match_passing_gives_200(tagged, header):
    response = tagged.get('/article', headers={'If-Match': header})
    assert response.status_code == 200 and response.text == 'An article.'


def test_if_match_against_a_weak_tag_fails(tagged):
    assert tagged.get('/weak', headers={'If-Match': 'W/"w1"'}).status_code == 412
    assert tagged.get('/weak', headers={'If-None-Match': '"w1"'}).status_code == 304


@pytest.mark.parametrize('header', [
    'article-17-rev-4',            # unquoted
    '"article-17-rev-4',           # unbalanced quote
    ',,,',                         # only separators
    'W/',                          # marker without tag
    '"a,b" garbage "zzz"',         # junk between tags
    '\x7f\x01',                    # control bytes
])
def test_malformed_if_none_match_is_not_a_match(tagged, header):
    with tagged.raw() as conn:
        conn.request('GET', '/article', headers={'If-None-Match': header})
        response = conn.read_response()
    assert response.status == 200
    assert response.body == b'An article.'


def test_etags_leave_error_pages_alone(tagged):
    response = tagged.get('/gone', headers={'If-None-Match': '"article-17-rev-4"'})
    assert response.status_code == 410


def test_without_the_tool_conditions_are_ignored(live):
    site = live(Tagged())
    assert site.get('/article', headers={'If-None-Match': '"article-17-rev-4"'}).status_code == 200
    assert site.get('/article', headers={'If-Match': '"nope"'}).status_code == 200


def test_etags_by_decorator(live):
    class Root:
        @pyframe.expose
        @pyframe.tools.etags(autotags=True)
        def index(self):
            return 'decorated'

    site = live(Root())
    tag = site.get('/').headers['ETag']
    assert tag == '"%s"' % hashlib.md5(b'decorated').hexdigest()
    assert site.get('/', headers={'If-None-Match': tag}).status_code == 304


# -- caching -----------------------------------------------------------------------


_CACHE_ATTRIBUTES = ('delay', 'maxobj_size', 'maxsize', 'maxobjects', 'antistampede_timeout',
                     'expire_freq', 'debug')


@pytest.fixture
def clean_cache():
    yield
    cache = pyframe.tools.caching.cache
    if cache is not None:
        cache.clear()
        for name in _CACHE_ATTRIBUTES:
            vars(cache).pop(name, None)


class Counted:
    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def _count(self) -> int:
        with self.lock:
            self.calls += 1
            return self.calls

    @pyframe.expose
    def index(self, **params):
        return f'call {self._count()}'

    @pyframe.expose
    def dated(self):
        pyframe.response.headers['Last-Modified'] = 'Mon, 01 Jan 2024 00:00:00 GMT'
        return f'dated {self._count()}'

    @pyframe.expose
    def varying(self):
        pyframe.response.headers['Vary'] = 'Accept-Language'
        language = pyframe.request.headers.get('Accept-Language', 'en')
        return f'{language} {self._count()}'

    @pyframe.expose
    def cookie(self):
        pyframe.response.cookie['s'] = 'x'
        return f'cookie {self._count()}'

    @pyframe.expose
    def nostore(self):
        pyframe.response.headers['Cache-Control'] = 'no-store'
        return f'nostore {self._count()}'

    @pyframe.expose
    def star(self):
        pyframe.response.headers['Vary'] = '*'
        return f'star {self._count()}'

    @pyframe.expose
    def big(self):
        return 'x' * 2000 + str(self._count())

    @pyframe.expose
    def missing(self):
        self._count()
        raise pyframe.NotFound()


@pytest.fixture
def cached(live, clean_cache):
    def start(**extra):
        root = Counted()
        site = live(root, config={'/': {'tools.caching.on': True, **extra}})
        return site, root
    return start


def test_second_get_is_served_from_the_cache_with_age(cached):
    site, root = cached()
    first = site.get('/')
    assert first.text == 'call 1' and 'Age' not in first.headers
    second = site.get('/')
    assert second.status_code == 200 and second.text == 'call 1'
    assert int(second.headers['Age']) >= 0
    assert root.calls == 1


@pytest.mark.parametrize('method', ['POST', 'PUT', 'DELETE'])
def test_modifying_methods_drop_the_cached_copy(cached, method):
    site, root = cached()
    assert site.get('/').text == 'call 1'
    assert site.get('/').text == 'call 1'
    assert site.request(method, '/').text == 'call 2'
    response = site.get('/')
    assert response.text == 'call 3' and 'Age' not in response.headers


def test_invalid_methods_option(cached):
    site, root = cached(**{'tools.caching.invalid_methods': ('PATCH',)})
    assert site.get('/').text == 'call 1'
    site.post('/')
    assert site.get('/').text == 'call 1'    # POST no longer drops the copy
    site.request('PATCH', '/')
    assert site.get('/').text == f'call {root.calls}'
    assert 'Age' not in site.get('/?other').headers


def test_a_post_is_never_answered_from_the_cache(cached):
    site, root = cached(**{'tools.caching.invalid_methods': ('PATCH',)})
    assert site.get('/').text == 'call 1'
    response = site.post('/')
    assert 'Age' not in response.headers
    assert response.text == 'call 2'


def test_head_is_not_stored_as_an_empty_page(cached):
    site, root = cached()
    head = site.head('/')
    assert head.status_code == 200 and head.content == b''
    response = site.get('/')
    assert response.text.startswith('call ') and response.content
    assert site.get('/').text == response.text
    cached_head = site.head('/')
    assert cached_head.status_code == 200 and cached_head.content == b''
    assert cached_head.headers['Content-Length'] == str(len(response.content))


def test_query_strings_are_cached_apart(cached):
    site, root = cached()
    assert site.get('/?a=1').text == 'call 1'
    assert site.get('/?a=2').text == 'call 2'
    assert site.get('/?a=1').text == 'call 1'


def test_variants_follow_the_vary_header(cached):
    site, root = cached()
    assert site.get('/varying', headers={'Accept-Language': 'fr'}).text == 'fr 1'
    assert site.get('/varying', headers={'Accept-Language': 'de'}).text == 'de 2'
    fr = site.get('/varying', headers={'Accept-Language': 'fr'})
    assert fr.text == 'fr 1' and 'Age' in fr.headers
    assert site.get('/varying', headers={'Accept-Language': 'de'}).text == 'de 2'
    assert root.calls == 2


def test_if_modified_since_gets_304_from_the_cached_copy(cached):
    site, root = cached()
    assert site.get('/dated').text == 'dated 1'
    response = site.get('/dated', headers={'If-Modified-Since': 'Tue, 02 Jan 2024 00:00:00 GMT'})
    assert response.status_code == 304 and response.content == b''
    older = site.get('/dated', headers={'If-Modified-Since': 'Sun, 31 Dec 2023 00:00:00 GMT'})
    assert older.status_code == 200 and older.text == 'dated 1'
    assert root.calls == 1


def test_if_unmodified_since_too_old_gets_412_from_the_cached_copy(cached):
    site, root = cached()
    site.get('/dated')
    response = site.get('/dated', headers={'If-Unmodified-Since': 'Sun, 31 Dec 2023 00:00:00 GMT'})
    assert response.status_code == 412


@pytest.mark.parametrize('value', ['yesterday', '', 'Mon, 99 Foo 2024 99:99:99 GMT'])
def test_malformed_if_modified_since_is_ignored(cached, value):
    site, root = cached()
    site.get('/dated')
    with site.raw() as conn:
        conn.request('GET', '/dated', headers={'If-Modified-Since': value})
        response = conn.read_response()
    assert response.status == 200 and response.body == b'dated 1'


def test_client_no_cache_gets_a_fresh_copy_which_refreshes_the_cache(cached):
    site, root = cached()
    site.get('/')
    assert site.get('/', headers={'Cache-Control': 'no-cache'}).text == 'call 2'
    assert site.get('/', headers={'Pragma': 'no-cache'}).text == 'call 3'
    assert site.get('/').text == 'call 3'


def test_malformed_max_age_is_ignored(cached):
    site, root = cached()
    site.get('/')
    assert site.get('/', headers={'Cache-Control': 'max-age=soon'}).text == 'call 1'
    assert site.get('/', headers={'Cache-Control': 'max-age="", ,;'}).text == 'call 1'


def test_cookies_and_errors_are_not_cached(cached):
    site, root = cached()
    assert site.get('/cookie').text == 'cookie 1'
    assert site.get('/cookie').text == 'cookie 2'
    assert site.get('/missing').status_code == 404
    assert site.get('/missing').status_code == 404
    assert root.calls == 4


def test_no_store_responses_are_not_cached(cached):
    site, root = cached()
    assert site.get('/nostore').text == 'nostore 1'
    assert site.get('/nostore').text == 'nostore 2'


def test_vary_star_is_never_served_from_the_cache(cached):
    site, root = cached()
    assert site.get('/star').text == 'star 1'
    response = site.get('/star')
    assert 'Age' not in response.headers
    assert response.text == 'star 2'


def test_maxobj_size_option(cached):
    site, root = cached(**{'tools.caching.maxobj_size': 1000})
    assert site.get('/big').text.endswith('1')
    assert site.get('/big').text.endswith('2')
    assert site.get('/').text == 'call 3'
    assert site.get('/').text == 'call 3'


def test_delay_zero_never_serves_a_cached_copy(cached):
    site, root = cached(**{'tools.caching.delay': 0})
    assert site.get('/').text == 'call 1'
    assert site.get('/').text == 'call 2'


def test_without_caching_every_get_calls_the_handler(live):
    root = Counted()
    site = live(root)
    site.get('/')
    assert site.get('/').text == 'call 2'


# -- cpstats -----------------------------------------------------------------------


class Stats:
    stats = cpstats.StatsPage()

    @pyframe.expose
    def index(self):
        return 'hello'

    @pyframe.expose
    def upload(self):
        return pyframe.request.body.read()


@pytest.fixture
def stats_site(live):
    cpstats.appstats['Enabled'] = True
    site = live(Stats(), config={'/': {'tools.cpstats.on': True},
                                 '/stats': {'tools.cpstats.on': False}})
    yield site
    cpstats.appstats['Enabled'] = True


def records_for(request_line: str) -> list[dict]:
    return [record for record in list(cpstats.appstats['Requests'].values())
            if record['Request-Line'] == request_line]


def test_cpstats_counts_requests_and_bytes(stats_site):
    before = dict(cpstats.appstats)
    assert stats_site.get('/').text == 'hello'
    response = stats_site.post('/upload', data=b'0123456789',
                               headers={'Content-Type': 'application/octet-stream'})
    assert response.content == b'0123456789'
    stats = cpstats.appstats
    # The records are closed at on_end_request, after the response is sent.
    wait_until(lambda: stats['Current Requests'] == before['Current Requests']
               and stats['Total Bytes Read'] >= before['Total Bytes Read'] + 10)
    assert stats['Total Requests'] == before['Total Requests'] + 2
    assert stats['Total Bytes Read'] == before['Total Bytes Read'] + 10
    assert stats['Total Bytes Written'] == before['Total Bytes Written'] + 15
    assert stats['Current Requests'] == before['Current Requests']
    (record,) = records_for('POST /upload HTTP/1.1')[-1:]
    assert record['Response Status'].startswith('200')
    assert record['Client'].startswith('127.0.0.1:')
    assert record['Bytes Read'] == 10 and record['Bytes Written'] == 10


def test_stats_page_html(stats_site):
    stats_site.get('/')
    response = stats_site.get('/stats/')
    assert response.status_code == 200
    assert response.headers['Content-Type'].startswith('text/html')
    text = response.text
    assert '<h1>pyframe Applications</h1>' in text
    assert '<th>Total Requests</th>' in text
    assert 'action="pause"' in text
    assert 'GET / HTTP/1.1' in text


def test_stats_page_json_data(stats_site):
    stats_site.get('/')
    response = stats_site.get('/stats/data')
    assert response.status_code == 200
    assert response.headers['Content-Type'].startswith('application/json')
    data = response.json()
    app_stats = data['pyframe Applications']
    assert app_stats['Total Requests'] == cpstats.appstats['Total Requests']
    assert isinstance(app_stats['Uptime'], float)
    assert app_stats['Enabled'] is True
    # The stats pages themselves are not counted (cpstats off for /stats).
    assert stats_site.get('/stats/data').json()['pyframe Applications']['Total Requests'] == \
        app_stats['Total Requests']


def test_pause_and_resume(stats_site):
    response = stats_site.post('/stats/pause', data={'namespace': cpstats.NAMESPACE})
    assert response.status_code == 303
    assert response.headers['Location'] == stats_site.url('/stats/')
    assert cpstats.appstats['Enabled'] is False
    total = cpstats.appstats['Total Requests']
    stats_site.get('/')
    assert cpstats.appstats['Total Requests'] == total
    assert 'action="resume"' in stats_site.get('/stats/').text
    assert stats_site.get('/stats/data').json()['pyframe Applications']['Enabled'] is False

    response = stats_site.post('/stats/resume')
    assert response.status_code == 303
    assert cpstats.appstats['Enabled'] is True
    stats_site.get('/')
    assert cpstats.appstats['Total Requests'] == total + 1


@pytest.mark.parametrize('page', ['pause', 'resume'])
def test_pause_and_resume_need_post(stats_site, page):
    response = stats_site.get(f'/stats/{page}')
    assert response.status_code == 405
    assert response.headers['Allow'] == 'POST'
    assert cpstats.appstats['Enabled'] is True


def test_pause_of_an_unknown_namespace_changes_nothing(stats_site):
    response = stats_site.post('/stats/pause', data={'namespace': 'no such thing'})
    assert response.status_code == 303
    assert cpstats.appstats['Enabled'] is True
    assert 'no such thing' not in json.dumps(stats_site.get('/stats/data').json())


def test_slow_queries_option(live):
    cpstats.appstats['Enabled'] = True
    site = live(Stats(), config={'/': {'tools.cpstats.on': True,
                                       'tools.cpstats.slow_queries': 0,
                                       'tools.cpstats.slow_queries_count': 3}})
    for _ in range(5):
        site.get('/')
    slow = cpstats.appstats['Slow Queries']
    assert len(slow) <= 3
    assert slow[-1]['Request-Line'] == 'GET / HTTP/1.1'


def test_cpstats_counts_a_huge_body_refused_with_413(live):
    cpstats.appstats['Enabled'] = True
    site = live(Stats(), config={'/': {'tools.cpstats.on': True},
                                 '/upload': {'request.body.maxbytes': 100}})
    # Requests of earlier tests are counted as they finish: let them.
    wait_until(lambda: cpstats.appstats['Current Requests'] == 0)
    before = cpstats.appstats['Total Requests']
    current = 0
    response = site.post('/upload', data=b'x' * 1000,
                         headers={'Content-Type': 'application/octet-stream'})
    assert response.status_code == 413
    assert cpstats.appstats['Total Requests'] == before + 1
    wait_until(lambda: cpstats.appstats['Current Requests'] == current)
    assert records_for('POST /upload HTTP/1.1')[-1]['Response Status'].startswith('413')


def test_stats_page_escapes_recorded_request_lines(stats_site):
    assert stats_site.get('/%3Cscript%3Ealert(1)%3C/script%3E').status_code == 404
    text = stats_site.get('/stats/').text
    assert '<script>' not in text
    assert '&lt;script&gt;' in text or '%3Cscript%3E' in text
