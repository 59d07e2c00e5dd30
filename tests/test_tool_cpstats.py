"""Statistics (pyframe.lib.cpstats), the profiler and the gc tools."""

from __future__ import annotations

import gc
import io
import json
import logging
import threading

import pytest

import pyframe
from pyframe.lib import cpstats, gctools, profiler
from pyframe.tools import Toolbox
from pyframe.tree import Application
from support import wsgi_get


@pytest.fixture
def app():
    box = Toolbox('statstools')
    box.cpstats = cpstats.StatsTool()

    class Root:
        stats = cpstats.StatsPage()

        @pyframe.expose
        def index(self, **params):
            return 'hello'

        @pyframe.expose
        def upload(self):
            return pyframe.request.body.read()

    cpstats.appstats['Enabled'] = True
    yield Application(Root(), '', {'/': {'statstools.cpstats.on': True}})
    cpstats.appstats['Enabled'] = True


def test_statistics_live_in_logging(app):
    assert logging.statistics[cpstats.NAMESPACE] is cpstats.appstats


def test_requests_advance_the_counters(app):
    before = dict(cpstats.appstats)
    wsgi_get(app, '/')
    wsgi_get(app, '/upload', method='POST', body=b'0123456789',
             headers={'Content-Type': 'application/octet-stream'})
    stats = cpstats.appstats
    assert stats['Total Requests'] == before['Total Requests'] + 2
    assert stats['Total Bytes Read'] == before['Total Bytes Read'] + 10
    assert stats['Total Bytes Written'] == before['Total Bytes Written'] + 15
    assert stats['Current Requests'] == before['Current Requests']
    record = stats['Requests'][threading.get_ident()]
    assert record['Request-Line'] == 'POST /upload HTTP/1.1'
    assert record['Bytes Read'] == 10 and record['Bytes Written'] == 10
    assert record['Response Status'] == '200 OK'
    assert record['Client'] == '127.0.0.1:5555'
    assert record['Processing Time'] >= 0


def test_slow_requests_are_kept(app):
    config = {'statstools.cpstats.slow_queries': 0, 'statstools.cpstats.slow_queries_count': 2}
    app.merge({'/': config})
    for _ in range(3):
        wsgi_get(app, '/')
    slow = cpstats.appstats['Slow Queries']
    assert len(slow) == 2 and slow[-1]['Request-Line'] == 'GET / HTTP/1.1'


def test_extrapolate_calls_functions_with_their_scope():
    scope = {'a': 2, 'double': lambda s: s['a'] * 2, 'records': [{'b': 1, 'f': lambda s: s['b']}],
             'nested': {'c': 3, 'g': lambda s: s['c'] + 1}}
    assert cpstats.extrapolate_statistics(scope) == {
        'a': 2, 'double': 4, 'records': [{'b': 1, 'f': 1}], 'nested': {'c': 3, 'g': 4}}
    assert callable(scope['double'])
    assert cpstats.extrapolate_statistics({'broken': lambda s: 1 / 0}) == {'broken': None}


def test_stats_page_html_and_json(app):
    wsgi_get(app, '/')
    status, headers, body = wsgi_get(app, '/stats/')
    assert status == '200 OK'
    text = body.decode()
    assert '<h1>pyframe Applications</h1>' in text and '<th>Total Requests</th>' in text
    assert 'action="pause"' in text
    status, headers, body = wsgi_get(app, '/stats/data')
    assert headers['Content-Type'].startswith('application/json')
    data = json.loads(body)
    assert data['pyframe Applications']['Total Requests'] == cpstats.appstats['Total Requests']
    assert isinstance(data['pyframe Applications']['Uptime'], float)


FORM = b'namespace=pyframe+Applications'
FORM_TYPE = {'Content-Type': 'application/x-www-form-urlencoded'}


def test_pause_and_resume_need_post(app):
    assert wsgi_get(app, '/stats/pause')[0].startswith('405')
    assert cpstats.appstats['Enabled'] is True
    status, headers, _ = wsgi_get(app, '/stats/pause', method='POST', body=FORM, headers=FORM_TYPE)
    assert status.startswith('303') and cpstats.appstats['Enabled'] is False
    total = cpstats.appstats['Total Requests']
    wsgi_get(app, '/')
    assert cpstats.appstats['Total Requests'] == total
    wsgi_get(app, '/stats/resume', method='POST', body=FORM, headers=FORM_TYPE)
    assert cpstats.appstats['Enabled'] is True


def test_byte_count_wrapper_counts_every_read():
    wrapper = cpstats.ByteCountWrapper(io.BytesIO(b'one\ntwo\nthree\n'))
    assert wrapper.read(2) == b'on'
    assert wrapper.readline() == b'e\n'
    assert wrapper.readlines() == [b'two\n', b'three\n']
    assert wrapper.bytes_read == 14


# -- profiler -------------------------------------------------------------------


def test_profiler_run_writes_and_reads_stats(tmp_path):
    prof = profiler.Profiler(str(tmp_path))

    def work(n, scale=1):
        return sum(range(n)) * scale

    assert prof.run(work, 100, scale=2) == 9900
    assert prof.run(work, 10) == 45
    assert prof.statfiles() == ['cp_0001.prof', 'cp_0002.prof']
    report = prof.stats('cp_0001.prof')
    assert 'work' in report and 'function calls' in report
    assert 'cp_0002.prof' in prof.menu()
    assert 'work' in prof.report('cp_0002.prof')
    with pytest.raises(pyframe.NotFound):
        prof.report('../etc/passwd')


def test_profiler_middleware_profiles_each_call(tmp_path):
    def inner(environ, start_response):
        start_response('200 OK', [('Content-Type', 'text/plain')])
        return [b'wrapped']

    app = profiler.make_app(inner, str(tmp_path))
    assert wsgi_get(app, '/')[:3:2] == ('200 OK', b'wrapped')
    assert wsgi_get(app, '/')[2] == b'wrapped'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['cp_0001.prof', 'cp_0002.prof']
    aggregated = tmp_path / 'agg'
    app = profiler.make_app(inner, str(aggregated), aggregate=True)
    wsgi_get(app, '/')
    wsgi_get(app, '/')
    assert [p.name for p in aggregated.iterdir()] == ['cp_0000.prof']


# -- gctools --------------------------------------------------------------------


def test_referrer_tree_finds_referrers():
    class Leaf:
        pass

    leaf = Leaf()
    holder = {'the leaf': leaf}
    tree = gctools.ReferrerTree(ignore=[globals()], maxdepth=1)
    found = tree.ascend(leaf)
    assert any(ref is holder for ref, _ in found)
    text = '\n'.join(tree.format(found))
    assert 'dict' in text and 'the leaf' in text


def test_gc_root_stats_page():
    class Root:
        gc = gctools.GCRoot()

    status, _, body = wsgi_get(Application(Root()), '/gc/stats')
    assert status == '200 OK'
    assert b'Garbage' in body and b'Request' in body
    gc.collect()
