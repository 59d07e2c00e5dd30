"""Response.set_plain_cookie writes what the stdlib's Morsel would."""

from __future__ import annotations

import http.cookies
import itertools
import random

import pytest

from pyframe.request import Response

ATTRIBUTE_CHOICES = {
    'path': ['/', '/app', '/a b'],
    'domain': ['example.test', '.example.test'],
    'expires': ['Sat, 05 Dec 2026 15:28:03 GMT'],
    'max-age': [0, 3600, 86400],
    'secure': [True, False],
    'httponly': [True, False],
    'samesite': ['Lax', 'Strict', 'None'],
}


def stdlib_lines(name, value, attributes):
    jar = http.cookies.SimpleCookie()
    jar[name] = value
    for key, setting in attributes.items():
        jar[name][key] = setting
    return [morsel.OutputString() for morsel in jar.values()]


def sent_lines(response):
    response.finalize()
    return [value.decode('latin-1') for name, value in response.header_list
            if name == b'Set-Cookie']


def attribute_sets():
    rng = random.Random(7)
    keys = list(ATTRIBUTE_CHOICES)
    for size in range(len(keys) + 1):
        for chosen in itertools.combinations(keys, size):
            yield {key: rng.choice(ATTRIBUTE_CHOICES[key]) for key in chosen}


@pytest.mark.parametrize('name,value', [
    ('session_id', '0123456789abcdef'), ('a', 'b'), ('x', 'with space'), ('q', 'semi;colon'),
    ('e', ''), ('u', 'ünï'), ('t', 'a"quote'),
])
def test_lines_are_the_stdlib_ones(name, value):
    for attributes in attribute_sets():
        response = Response()
        response.set_plain_cookie(name, value, dict(attributes))
        assert sent_lines(response) == stdlib_lines(name, value, attributes), attributes


def test_reading_the_jar_shows_the_cookie_and_keeps_it():
    response = Response()
    response.set_plain_cookie('sid', 'abc', {'path': '/', 'max-age': 60})
    morsel = response.cookie['sid']
    assert morsel.value == 'abc' and morsel['path'] == '/' and morsel['max-age'] == 60
    response.cookie['other'] = '1'
    assert sent_lines(response) == ['sid=abc; Max-Age=60; Path=/', 'other=1']


def test_a_reserved_name_fails_as_with_the_jar():
    with pytest.raises(http.cookies.CookieError):
        Response().set_plain_cookie('path', 'x', {})


def test_replacing_the_jar_drops_the_cookie():
    response = Response()
    response.set_plain_cookie('sid', 'abc', {})
    response.cookie = http.cookies.SimpleCookie()
    assert sent_lines(response) == []


def test_a_line_break_is_refused():
    response = Response()
    response.set_plain_cookie('sid', 'abc', {'path': '/x\r\nX-Evil: 1'})
    with pytest.raises(ValueError, match='line break'):
        response.finalize()
