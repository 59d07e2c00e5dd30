"""Tests for pyframe.lib.httputil: paths, ranges, headers, query strings, dates."""

from __future__ import annotations

import calendar
import time

import pytest

from pyframe.lib import httputil
from pyframe.lib.httputil import (
    AcceptElement, CaseInsensitiveDict, HeaderElement, HeaderMap, Host,
    decode_TEXT, decode_TEXT_maybe, get_ranges, header_elements, http_date,
    parse_http_date, parse_query_string, protocol_from_http, response_codes,
    urljoin, urljoin_bytes, valid_status,
)


# --- urljoin ---------------------------------------------------------------

@pytest.mark.parametrize('atoms, expected', [
    ((), '/'),
    (('',), '/'),
    (('', ''), '/'),
    (('/app', '/page'), '/app/page'),
    (('/app/', '/page'), '/app/page'),
    (('/app', 'page'), '/app/page'),
    (('', '/page'), '/page'),
    (('/app', ''), '/app'),
    (('/app', '/'), '/app/'),
    (('/', '/'), '/'),
    (('/a', 'b', 'c/'), '/a/b/c/'),
    (('//evil.example', '/x'), '/evil.example/x'),
    (('/a//b', '/c'), '/a/b/c'),
])
def test_urljoin(atoms, expected):
    assert urljoin(*atoms) == expected


def test_urljoin_bytes():
    assert urljoin_bytes() == b'/'
    assert urljoin_bytes(b'', b'') == b'/'
    assert urljoin_bytes(b'/app/', b'/page') == b'/app/page'
    assert urljoin_bytes(b'/app', b'') == b'/app'


# --- protocol_from_http ----------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('HTTP/1.1', (1, 1)), ('HTTP/1.0', (1, 0)), ('HTTP/2.0', (2, 0)),
    ('HTTP/2', (2, 0)), (' HTTP/1.1 ', (1, 1)), ('HTTP/10.23', (10, 23)),
])
def test_protocol_from_http(text, expected):
    assert protocol_from_http(text) == expected


@pytest.mark.parametrize('text', ['', 'HTTP', 'HTTP/', 'HTTP/x.1', 'FTP/1.1', 'HTTP/1.', 'http/1.1',
                                  'HTTP/1.1.1', 'HTTP/-1.1', 'HTTP/١.١'])
def test_protocol_from_http_rejects_garbage(text):
    with pytest.raises(ValueError):
        protocol_from_http(text)


# --- get_ranges --------------------------------------------------------------

@pytest.mark.parametrize('header, expected', [
    ('bytes=3-6', [(3, 7)]),
    ('bytes=0-0', [(0, 1)]),
    ('bytes=0-', [(0, 100)]),
    ('bytes=90-', [(90, 100)]),
    ('bytes=-10', [(90, 100)]),
    ('bytes=-100', [(0, 100)]),
    ('bytes=-500', [(0, 100)]),          # suffix longer than the content
    ('bytes=50-500', [(50, 100)]),       # end clamped
    ('bytes=99-99', [(99, 100)]),
    ('bytes=0-9, 20-29,-5', [(0, 10), (20, 30), (95, 100)]),
    ('bytes=20-29,0-9', [(20, 30), (0, 10)]),   # client order kept
    ('Bytes = 1-2', [(1, 3)]),
    ('bytes=1-2,,', [(1, 3)]),                  # empty list elements ignored
    ('bytes=100-', []),                         # start at the end
    ('bytes=200-300', []),                      # start past the end
    ('bytes=-0', []),
    ('bytes=200-300,300-', []),
    ('bytes=200-300,5-6', [(5, 7)]),            # one satisfiable is enough
])
def test_get_ranges(header, expected):
    assert get_ranges(header, 100) == expected


@pytest.mark.parametrize('header', [
    None, '', 'bytes=', 'bytes= , ', 'bytes', 'items=0-5', 'bytes 0-5', 'bytes=a-b',
    'bytes=5-3', 'bytes=5', 'bytes=--5', 'bytes=1-2-3', 'bytes=0-5,x', 'bytes=-x',
    'bytes=+1-2', 'bytes=1-+2', 'bytes=٣-٤', 'bytes=0x1-2', 'bytes=1 - 2', 'garbage',
])
def test_get_ranges_ignores_invalid_headers(header):
    assert get_ranges(header, 100) is None


def test_get_ranges_ignores_header_for_empty_content():
    assert get_ranges('bytes=0-', 0) is None
    assert get_ranges('bytes=-5', 0) is None


def test_get_ranges_ignores_amplifying_requests():
    assert get_ranges('bytes=0-,0-', 100) is None
    assert get_ranges(','.join(['bytes=0-0'] + [f'{i}-{i}' for i in range(1, 101)]), 1000) is None
    many = 'bytes=' + ','.join(f'{i}-{i}' for i in range(100))
    assert len(get_ranges(many, 1000)) == 100


# --- HeaderElement / AcceptElement ------------------------------------------

def test_header_element_parse_and_str():
    value, params = HeaderElement.parse(' text/html ; charset=UTF-8 ;Level = 1;flag ')
    assert value == 'text/html'
    assert params == {'charset': 'UTF-8', 'level': '1', 'flag': ''}
    element = HeaderElement.from_str('text/html;charset=utf-8')
    assert type(element) is HeaderElement
    assert str(element) == 'text/html;charset=utf-8'
    assert str(HeaderElement('gzip')) == 'gzip'


def test_header_element_quoted_params():
    value, params = HeaderElement.parse('form-data; name="a;b"; filename="x \\"y\\".txt"')
    assert value == 'form-data'
    assert params == {'name': 'a;b', 'filename': 'x "y".txt'}
    element = HeaderElement('form-data', {'name': 'a b', 'q': 'x"y', 'e': ''})
    assert str(element) == 'form-data;name="a b";q="x\\"y";e=""'
    assert HeaderElement.from_str(str(element)).params == element.params


def test_header_element_equality_and_order_by_value():
    assert HeaderElement('a', {'x': '1'}) == HeaderElement('a')
    assert HeaderElement('a') != HeaderElement('b')
    assert HeaderElement('gzip') == 'gzip'
    assert HeaderElement('a') < HeaderElement('b')
    assert sorted([HeaderElement('b'), HeaderElement('a')]) == ['a', 'b']
    assert len({HeaderElement('a'), HeaderElement('a', {'k': 'v'})}) == 1


def test_accept_element_qvalue():
    assert AcceptElement('a').qvalue == 1.0
    assert AcceptElement.from_str('a;q=0.5').qvalue == 0.5
    assert AcceptElement.from_str('a; Q=0.25').qvalue == 0.25
    assert AcceptElement.from_str('a;q=0').qvalue == 0.0
    assert AcceptElement.from_str('a;q=1.000').qvalue == 1.0


@pytest.mark.parametrize('q', ['abc', '', '2', '-0.5', 'nan', 'inf', '1e9'])
def test_accept_element_invalid_qvalue_counts_as_zero(q):
    assert AcceptElement('a', {'q': q}).qvalue == 0.0


def test_accept_elements_sort_most_preferred_first():
    low = AcceptElement.from_str('a;q=0.1')
    high = AcceptElement.from_str('b;q=0.9')
    assert high < low
    assert not low < high
    assert sorted([low, high]) == [high, low]


# --- header_elements ----------------------------------------------------------

def values(elements):
    return [element.value for element in elements]


def test_header_elements_accept_ordering():
    header = 'text/*;q=0.3, text/html;q=0.7, text/html;level=1, text/html;level=2;q=0.4, */*;q=0.5'
    elements = header_elements('Accept', header)
    assert all(type(e) is AcceptElement for e in elements)
    assert [str(e) for e in elements] == [
        'text/html;level=1', 'text/html;q=0.7', '*/*;q=0.5',
        'text/html;level=2;q=0.4', 'text/*;q=0.3']


def test_header_elements_specificity_breaks_ties_then_original_order():
    assert values(header_elements('Accept', '*/*, text/*, text/html')) == ['text/html', 'text/*', '*/*']
    assert values(header_elements('Accept', 'image/png, text/html')) == ['image/png', 'text/html']
    assert values(header_elements('Accept', 'text/html, text/html;level=1')) == ['text/html', 'text/html']
    assert header_elements('Accept', 'text/html, text/html;level=1')[0].params == {'level': '1'}
    assert values(header_elements('Accept-Encoding', '*, gzip')) == ['gzip', '*']


def test_header_elements_quality_zero_and_invalid_q_sort_last():
    elements = header_elements('Accept-Encoding', 'identity;q=0, gzip;q=bogus, br;q=0.1, deflate')
    assert values(elements) == ['deflate', 'br', 'identity', 'gzip']
    assert [e.qvalue for e in elements] == [1.0, 0.1, 0.0, 0.0]


@pytest.mark.parametrize('name', ['Accept', 'accept-language', 'Accept-Charset', 'TE', 'te'])
def test_header_elements_accept_like_names(name):
    assert type(header_elements(name, 'x')[0]) is AcceptElement


def test_header_elements_other_headers_keep_order():
    elements = header_elements('Via', '1.1 b, 1.0 a')
    assert [type(e) for e in elements] == [HeaderElement, HeaderElement]
    assert values(elements) == ['1.1 b', '1.0 a']


@pytest.mark.parametrize('value', [None, '', ' , ,'])
def test_header_elements_empty(value):
    assert header_elements('Accept', value) == []


def test_header_elements_quoted_commas():
    elements = header_elements('Content-Disposition', 'attachment; filename="a,b.txt", inline')
    assert values(elements) == ['attachment', 'inline']
    assert elements[0].params == {'filename': 'a,b.txt'}


def test_header_elements_returns_fresh_objects():
    first = header_elements('Accept', 'text/html;q=0.5')
    first[0].params['q'] = '1'
    first[0].value = 'changed'
    assert str(header_elements('Accept', 'text/html;q=0.5')[0]) == 'text/html;q=0.5'


def test_header_elements_long_value_not_cached():
    header = ', '.join(f'type/sub{i};q=0.{i % 10}' for i in range(200))
    assert len(header) > httputil._CACHEABLE_LENGTH
    elements = header_elements('Accept', header)
    assert len(elements) == 200
    assert elements[0].qvalue == 0.9


# --- RFC 2047 ----------------------------------------------------------------

@pytest.mark.parametrize('encoded, decoded', [
    ('=?utf-8?q?f=C3=BCr?=', 'für'),
    ('=?UTF-8?Q?a_b?=', 'a b'),
    ('=?utf-8?b?ZsO8cg==?=', 'für'),
    ('=?utf-8?b?ZsO8cg?=', 'für'),                   # missing padding
    ('=?iso-8859-1?q?caf=E9?=', 'café'),
    ('=?utf-8*en?q?hi?=', 'hi'),                     # RFC 2231 language tag
    ('x =?utf-8?q?f=C3=BCr?= y', 'x für y'),
    ('=?utf-8?q?a?= =?utf-8?q?b?=', 'ab'),           # space between words dropped
    ('=?utf-8?q?a?=\t \t=?utf-8?q?b?=', 'ab'),
    ('plain text', 'plain text'),
    ('', ''),
    ('=?bogus-charset?q?x?=', '=?bogus-charset?q?x?='),  # left as written
    ('=?utf-8?q?=FF?= =?utf-8?q?b?=', '=?utf-8?q?=FF?= b'),
    ('=?utf-8?b?!!!?=', '=?utf-8?b?!!!?='),
    ('=?utf-8?x?abc?=', '=?utf-8?x?abc?='),
])
def test_decode_TEXT(encoded, decoded):
    assert decode_TEXT(encoded) == decoded


def test_decode_TEXT_maybe():
    assert decode_TEXT_maybe('=?utf-8?q?f=C3=BCr?=') == 'für'
    plain = 'no encoding here'
    assert decode_TEXT_maybe(plain) is plain


@pytest.mark.parametrize('text', ['für €', '日本語 text', 'emoji 🎉', 'a' * 200 + '€'])
def test_rfc2047_round_trip(text):
    encoded = HeaderMap.encode(text)
    assert encoded.startswith(b'=?utf-8?b?') and encoded.isascii()
    assert decode_TEXT(encoded.decode('ascii')) == text


# --- valid_status --------------------------------------------------------------

def test_valid_status():
    assert valid_status(None) == (200, 'OK', response_codes[200][1])
    assert valid_status(404)[:2] == (404, 'Not Found')
    assert valid_status('404')[:2] == (404, 'Not Found')
    assert valid_status('404 Gone Fishing')[:2] == (404, 'Gone Fishing')
    assert valid_status(599)[:2] == (599, '')


@pytest.mark.parametrize('status, reason', [
    ('abc', 'non-numeric'), ('', 'non-numeric'), (99, 'out of range'), (600, 'out of range'),
])
def test_valid_status_rejects(status, reason):
    with pytest.raises(ValueError, match=r'Illegal response status from server \(.*' + reason):
        valid_status(status)


def test_response_codes_and_host():
    assert response_codes[200][0] == 'OK'
    assert response_codes[404][0] == 'Not Found'
    host = Host('10.0.0.1', 80)
    assert (host.ip, host.port, host.name) == ('10.0.0.1', 80, '10.0.0.1')
    assert Host('10.0.0.1', 80, 'example.org').name == 'example.org'
    assert repr(host) == "Host('10.0.0.1', 80, '10.0.0.1')"


# --- parse_query_string --------------------------------------------------------

def test_parse_query_string_basic_and_repeats():
    assert parse_query_string('') == {}
    assert parse_query_string('a=1&b=2') == {'a': '1', 'b': '2'}
    assert parse_query_string('a=1&b=2&a=3&a=4') == {'a': ['1', '3', '4'], 'b': '2'}


def test_parse_query_string_blank_values():
    assert parse_query_string('a=&b&c=1') == {'a': '', 'b': '', 'c': '1'}
    assert parse_query_string('a=&b&c=1', keep_blank_values=False) == {'c': '1'}
    assert parse_query_string('&&=x&a=1&') == {'a': '1'}


def test_parse_query_string_decoding():
    assert parse_query_string('q=a+b%2Bc&n%C3%A4me=f%C3%BCr') == {'q': 'a b+c', 'näme': 'für'}
    assert parse_query_string('a=1%3D2=3') == {'a': '1=2=3'}
    assert parse_query_string('x=%E9', encoding='latin-1') == {'x': 'é'}
    assert parse_query_string('x=%zz') == {'x': '%zz'}


def test_parse_query_string_invalid_utf8():
    with pytest.raises(UnicodeDecodeError):
        parse_query_string('x=%E9')
    with pytest.raises(UnicodeDecodeError):
        parse_query_string('%FF=1')


def test_parse_query_string_semicolon_is_data():
    assert parse_query_string('a=1;b=2') == {'a': '1;b=2'}


def test_parse_query_string_image_map():
    assert parse_query_string('10,20') == {'x': 10, 'y': 20}
    assert parse_query_string('10,20,30') == {'10,20,30': ''}


# --- CaseInsensitiveDict / HeaderMap -------------------------------------------

def test_case_insensitive_dict():
    d = CaseInsensitiveDict({'content-type': 'a'}, x_y=1)
    assert dict(d) == {'Content-Type': 'a', 'X_Y': 1}
    assert d['CONTENT-TYPE'] == 'a'
    assert 'content-TYPE' in d and 'other' not in d
    assert d.get('content-type') == 'a' and d.get('nope', 5) == 5
    d['content-length'] = 3
    d['Content-Length'] = 4
    assert d['CONTENT-LENGTH'] == 4 and len(d) == 3
    assert d.setdefault('etag', 'e') == 'e' and d.setdefault('ETAG', 'f') == 'e'
    assert d.pop('ETag') == 'e' and d.pop('etag', None) is None
    with pytest.raises(KeyError):
        d.pop('etag')
    del d['x_y']
    assert 'X_Y' not in d
    d.update([('accept', '*/*')], host='h')
    d.update({'vary': 'x'})
    d |= {'allow': 'GET'}
    assert set(d) == {'Content-Type', 'Content-Length', 'Accept', 'Host', 'Vary', 'Allow'}
    copy = d.copy()
    assert type(copy) is CaseInsensitiveDict and copy == d and copy['ALLOW'] == 'GET'
    keys = CaseInsensitiveDict.fromkeys(['a-b', 'C-D'], 0)
    assert type(keys) is CaseInsensitiveDict and dict(keys) == {'A-B': 0, 'C-D': 0}
    with pytest.raises(KeyError):
        d['missing']


def test_header_map_elements_and_values():
    headers = HeaderMap({'accept': 'text/plain;q=0.5, text/html', 'CONNECTION': 'keep-alive, Upgrade'})
    assert type(headers['Accept']) is str
    assert values(headers.elements('ACCEPT')) == ['text/html', 'text/plain']
    assert headers.values('accept') == ['text/html', 'text/plain']
    assert headers.values('connection') == ['keep-alive', 'Upgrade']
    assert headers.elements('missing') == [] and headers.values('missing') == []
    assert sorted(headers.values()) == sorted(dict(headers).values())


def test_header_map_output():
    headers = HeaderMap()
    headers['content-type'] = 'text/html'
    headers['content-length'] = 12
    headers['x-latin'] = 'café'
    headers['x-unicode'] = 'für €'
    headers['x-raw'] = b'\xff'
    output = dict(headers.output())
    assert output[b'Content-Type'] == b'text/html'
    assert output[b'Content-Length'] == b'12'
    assert output[b'X-Latin'] == 'café'.encode('latin-1')
    assert output[b'X-Raw'] == b'\xff'
    assert output[b'X-Unicode'].startswith(b'=?utf-8?b?')
    assert decode_TEXT(output[b'X-Unicode'].decode('ascii')) == 'für €'
    assert all(isinstance(k, bytes) and isinstance(v, bytes) for k, v in headers.output())


def test_header_map_encode_without_rfc_2047():
    class StrictHeaders(HeaderMap):
        use_rfc_2047 = False
    assert StrictHeaders.encode('café') == b'caf\xe9'
    with pytest.raises(ValueError, match='cannot be encoded'):
        StrictHeaders.encode('€')
    with pytest.raises(ValueError):
        StrictHeaders({'X-A': '€'}).output()


def test_header_map_encodings_are_tried_in_order():
    class Utf8First(HeaderMap):
        encodings = ['utf-8', 'ISO-8859-1']
    assert Utf8First.encode('é') == 'é'.encode('utf-8')
    assert HeaderMap.encode('é') == b'\xe9'


def test_header_map_class_attributes():
    assert HeaderMap.encodings == ['ISO-8859-1']
    assert HeaderMap.protocol == (1, 1)
    assert HeaderMap.use_rfc_2047 is True


@pytest.mark.parametrize('value', ['a\r\nSet-Cookie: x=1', 'a\nb', 'a\rb', 'a\0b',
                                   b'a\r\nb', b'a\nb', 'é\n'])
def test_header_values_with_cr_lf_are_refused(value):
    with pytest.raises(ValueError, match='X-Evil'):
        HeaderMap({'X-Evil': value}).output()


@pytest.mark.parametrize('name', ['X-Evil\r\nSet-Cookie', 'X\nY', 'Bad Name', 'Colon:', '', b'X\r\nY',
                                  'Nön-Ascii'])
def test_header_names_that_could_split_are_refused(name):
    with pytest.raises(ValueError, match='header name'):
        HeaderMap.encode_header_items([(name, 'v')])


def test_encode_header_items_keeps_names_as_given():
    assert HeaderMap.encode_header_items([('x-a', 'b'), (b'X-B', 1)]) == [(b'x-a', b'b'), (b'X-B', b'1')]


# --- dates ---------------------------------------------------------------------

RFC_EXAMPLE = 784111777.0  # Sun, 06 Nov 1994 08:49:37 GMT


def test_http_date_format():
    assert http_date(RFC_EXAMPLE) == 'Sun, 06 Nov 1994 08:49:37 GMT'
    assert http_date(RFC_EXAMPLE + 0.9) == 'Sun, 06 Nov 1994 08:49:37 GMT'
    assert http_date(0) == 'Thu, 01 Jan 1970 00:00:00 GMT'
    assert http_date(RFC_EXAMPLE + 86400) == 'Mon, 07 Nov 1994 08:49:37 GMT'


def test_http_date_defaults_to_now():
    before = int(time.time())
    parsed = parse_http_date(http_date())
    assert before <= parsed <= time.time() + 1


@pytest.mark.parametrize('text', [
    'Sun, 06 Nov 1994 08:49:37 GMT',
    'Sunday, 06-Nov-94 08:49:37 GMT',
    'Sun Nov  6 08:49:37 1994',
    '  Sun, 06 Nov 1994 08:49:37 GMT ',
    'sun, 06 nov 1994 08:49:37 GMT',
    'Mon, 06 Nov 1994 08:49:37 GMT',   # wrong weekday name is not held against it
])
def test_parse_http_date_formats(text):
    assert parse_http_date(text) == RFC_EXAMPLE


def test_parse_http_date_round_trip():
    for stamp in (0, RFC_EXAMPLE, 1700000000, 4102444800):
        assert parse_http_date(http_date(stamp)) == stamp


def test_parse_http_date_two_digit_years():
    this_year = time.gmtime().tm_year
    future = (this_year + 10) % 100
    past = (this_year + 60) % 100
    stamp = parse_http_date(f'Friday, 01-Jan-{future:02d} 00:00:00 GMT')
    assert time.gmtime(stamp).tm_year == this_year + 10
    stamp = parse_http_date(f'Friday, 01-Jan-{past:02d} 00:00:00 GMT')
    assert time.gmtime(stamp).tm_year == this_year + 60 - 100


def test_parse_http_date_leap_second():
    assert parse_http_date('Sat, 31 Dec 2016 23:59:60 GMT') == calendar.timegm((2016, 12, 31, 23, 59, 59))


@pytest.mark.parametrize('text', [
    None, '', 'garbage', 'Sun, 06 Nov 1994 08:49:37', 'Sun, 06 Nov 1994 08:49:37 UTC',
    'Sun, 06 Foo 1994 08:49:37 GMT', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 25:49:37 GMT',
    'Sun, 6 Nov 1994 08:49:37 GMT', '1994-11-06T08:49:37Z', 'Sunday, 06-Nov-1994 08:49:37 GMT',
    'Sun Nov 6 08:49:37 1994 GMT', 12345,
])
def test_parse_http_date_garbage(text):
    assert parse_http_date(text) is None
