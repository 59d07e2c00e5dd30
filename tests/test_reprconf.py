"""pyframe.lib.reprconf: config values, config files, namespaces, Config."""

from __future__ import annotations

import collections
import datetime
import io
import logging
import os.path

import pytest

import pyframe.dispatch
from pyframe.lib import reprconf
from pyframe.lib.reprconf import Config, NamespaceSet, Parser, attributes, unrepr


# -- unrepr: accepted values ----------------------------------------------------


@pytest.mark.parametrize('text, expected', [
    ('"postgres"', 'postgres'),
    ("'a%sb'", 'a%sb'),
    ("b'raw'", b'raw'),
    ('8080', 8080),
    ('1.5', 1.5),
    ('-5', -5),
    ('+3', 3),
    ('True', True),
    ('False', False),
    ('None', None),
    ('[1, "two", 3.0]', [1, 'two', 3.0]),
    ('("POST", "PUT")', ('POST', 'PUT')),
    ('{"a": 1, "b": [2]}', {'a': 1, 'b': [2]}),
    ('{1, 2}', {1, 2}),
    ('set()', set()),
    ('60 * 60', 3600),
    ('1024 * 1024 * 100', 100 * 1024 * 1024),
    ('2 ** 10 - 1', 1023),
    ('7 // 2 + 7 % 2', 4),
    ('-(2 * 3)', -6),
    ('  42  ', 42),
    ('8080  # inline comment', 8080),
    ('', ''),
])
def test_unrepr_reads_python_literals(text, expected):
    value = unrepr(text)
    assert value == expected
    assert type(value) is type(expected)


def test_unrepr_resolves_dotted_names_of_importable_objects():
    assert unrepr('logging.DEBUG') == logging.DEBUG
    assert unrepr('os.path.join') is os.path.join
    assert unrepr('os.path') is os.path
    assert unrepr('pyframe.dispatch.Dispatcher') is pyframe.dispatch.Dispatcher
    assert unrepr('logging.INFO | 0') == logging.INFO


def test_unrepr_calls_names_with_literal_arguments():
    assert isinstance(unrepr('pyframe.dispatch.Dispatcher()'), pyframe.dispatch.Dispatcher)
    assert unrepr('datetime.date(2024, 1, 2)') == datetime.date(2024, 1, 2)
    thing = unrepr("types.SimpleNamespace(key='v', items=[1, 2], other=-1)")
    assert vars(thing) == {'key': 'v', 'items': [1, 2], 'other': -1}


def test_unrepr_calls_nest():
    value = unrepr(
        'types.SimpleNamespace(ordered=collections.OrderedDict(a=1), '
        'delay=datetime.timedelta(minutes=60 * 2), level=logging.DEBUG)'
    )
    assert value.ordered == collections.OrderedDict(a=1)
    assert value.delay == datetime.timedelta(hours=2)
    assert value.level == logging.DEBUG


# -- unrepr: refused values ------------------------------------------------------


@pytest.mark.parametrize('text, offending', [
    ('lambda: 1', 'lambda: 1'),
    ("__import__('os')", '__import__'),
    ('os.getcwd().upper', 'os.getcwd().upper'),
    ('[1, 2][0]', '[1, 2][0]'),
    ('[x for x in (1, 2)]', '[x for x in (1, 2)]'),
    ('1 if True else 2', '1 if True else 2'),
    ('os.__dict__', 'os.__dict__'),
    ('eval("1")', 'eval'),
    ('[1, *(2, 3)]', '*(2, 3)'),
    ('{**{}}', '{**{}}'),
    ('"a" * 3', '"a"'),
    ('f"{1}"', 'f"{1}"'),
    ('2 ** 100000', '2 ** 100000'),
    ('1 / 0', '1 / 0'),
    ('{[1]}', '{[1]}'),
    ('int("x")', 'int("x")'),
    ('server.socket_port = 80', 'server.socket_port = 80'),
])
def test_unrepr_refuses_anything_but_values_naming_the_text(text, offending):
    with pytest.raises(ValueError) as info:
        unrepr(text)
    assert repr(offending) in str(info.value) or offending in str(info.value)
    assert text in str(info.value)


def test_unrepr_refusal_calls_nothing(monkeypatch):
    calls = []
    monkeypatch.setattr(datetime, 'date', lambda *args: calls.append(args))
    with pytest.raises(ValueError, match='Subscript'):
        unrepr('datetime.date(1, 2, 3)[0]')
    assert calls == []


def test_unrepr_bare_word_suggests_quoting():
    with pytest.raises(ValueError, match='postgres.*quote it'):
        unrepr('postgres')


def test_unrepr_unknown_attribute_names_the_full_name():
    with pytest.raises(ValueError, match=r"pyframe\.dispatch\.NoSuchDispatcher"):
        unrepr('pyframe.dispatch.NoSuchDispatcher()')


# -- attributes ------------------------------------------------------------------


def test_attributes_imports_the_longest_module_prefix():
    assert attributes('os.path.join') is os.path.join
    assert attributes('pyframe.dispatch.Dispatcher') is pyframe.dispatch.Dispatcher
    assert attributes('logging') is logging


def test_attributes_errors_name_the_full_dotted_name():
    with pytest.raises(ImportError, match='no_such_package_xyz.thing'):
        attributes('no_such_package_xyz.thing')
    with pytest.raises(AttributeError, match="os.path.no_such_function"):
        attributes('os.path.no_such_function')


def test_attributes_does_not_hide_a_broken_module(tmp_path, monkeypatch):
    (tmp_path / 'broken_cfg_mod.py').write_text('import no_such_dependency_xyz\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError, match='no_such_dependency_xyz'):
        attributes('broken_cfg_mod.value')


# -- files ----------------------------------------------------------------------

SITE_CONF = """\
[global]
server.socket_host: "0.0.0.0"
server.socket_port = 8080
log.error_file = "/var/log/%(name)s-%s.log"
# a comment
; another comment
engine.timeout_monitor.frequency: 60 * 60

[/]
request.dispatch: pyframe.dispatch.Dispatcher()
tools.trailing_slash.on = False
request.methods_with_bodies = ("POST",
    "PUT",
    "PROPPATCH")

[Databases]
driver: "postgres"
port: 5432
CamelKey: logging.DEBUG
"""


@pytest.fixture
def site_conf(tmp_path):
    path = tmp_path / 'site.conf'
    path.write_text(SITE_CONF)
    return path


def check_site_conf(conf):
    assert set(conf) == {'global', '/', 'Databases'}
    assert conf['global'] == {
        'server.socket_host': '0.0.0.0',
        'server.socket_port': 8080,
        'log.error_file': '/var/log/%(name)s-%s.log',
        'engine.timeout_monitor.frequency': 3600,
    }
    assert isinstance(conf['/']['request.dispatch'], pyframe.dispatch.Dispatcher)
    assert conf['/']['tools.trailing_slash.on'] is False
    assert conf['/']['request.methods_with_bodies'] == ('POST', 'PUT', 'PROPPATCH')
    assert conf['Databases'] == {'driver': 'postgres', 'port': 5432, 'CamelKey': logging.DEBUG}


def test_file_by_name_path_or_open_file(site_conf):
    check_site_conf(reprconf.as_dict(str(site_conf)))
    check_site_conf(reprconf.as_dict(site_conf))
    with open(site_conf) as fp:
        check_site_conf(reprconf.as_dict(fp))
    check_site_conf(reprconf.as_dict(io.StringIO(SITE_CONF)))
    check_site_conf(Parser.dict_from_file(site_conf))


def test_as_dict_returns_a_dict_as_it_is():
    conf = {'/': {'a.b': 1}}
    assert reprconf.as_dict(conf) is conf
    with pytest.raises(TypeError, match='int'):
        reprconf.as_dict(42)


def test_missing_file_raises_naming_it(tmp_path):
    missing = tmp_path / 'nope.conf'
    with pytest.raises(FileNotFoundError, match='nope.conf'):
        reprconf.as_dict(missing)
    with pytest.raises(FileNotFoundError, match='nope.conf'):
        Parser().read([str(missing)])


def test_bad_value_names_file_section_key_and_value(tmp_path):
    path = tmp_path / 'bad.conf'
    path.write_text('[Databases]\nport: 5432\ndriver: postgres\n')
    with pytest.raises(ValueError) as info:
        reprconf.as_dict(path)
    message = str(info.value)
    for part in (str(path), '[Databases]', 'driver', 'postgres'):
        assert part in message


def test_bad_value_names_the_file_that_set_it(tmp_path):
    good, bad = tmp_path / 'good.conf', tmp_path / 'bad.conf'
    good.write_text('[/]\na.b = 1\nc.d = 2\n')
    bad.write_text('[/]\nc.d = lambda: 0\n')
    parser = Parser()
    assert parser.read([good, bad]) == [good, bad]
    with pytest.raises(ValueError, match='bad.conf.*c.d') as info:
        parser.as_dict()
    assert 'good.conf' not in str(info.value)


def test_parser_keeps_key_case_and_percent_signs():
    parser = Parser()
    parser.read_string('[Section]\nMixedCase.Key = "100%"\n')
    assert parser.as_dict() == {'Section': {'MixedCase.Key': '100%'}}


def test_default_section_applies_to_every_section():
    parser = Parser()
    parser.read_string('[DEFAULT]\nshared = 1\n[a]\nown = 2\n[b]\nshared = 3\n')
    assert parser.as_dict() == {'a': {'shared': 1, 'own': 2}, 'b': {'shared': 3}}


# -- NamespaceSet ------------------------------------------------------------------


def test_namespaces_get_their_keys_without_the_prefix():
    seen = []
    namespaces = NamespaceSet(db=lambda k, v: seen.append(('db', k, v)),
                              cache=lambda k, v: seen.append(('cache', k, v)))
    namespaces({'db.connstring': 'x', 'cache.size.max': 10, 'db.pool': 3,
                'unknown.key': 1, 'environment': 'production', 'db': 'no dot'})
    assert seen == [('db', 'connstring', 'x'), ('db', 'pool', 3),
                    ('cache', 'size.max', 10)]


def test_context_manager_namespace_exits_once_after_all_its_keys():
    events = []

    class Collector:
        def __enter__(self):
            events.append('enter')
            return lambda k, v: events.append((k, v))

        def __exit__(self, *exc):
            events.append('exit')

    NamespaceSet(pool=Collector())({'pool.size': 5, 'other.x': 0, 'pool.timeout': 2})
    assert events == ['enter', ('size', 5), ('timeout', 2), 'exit']


def test_namespace_set_copy_and_repr():
    namespaces = NamespaceSet(db=print)
    copied = namespaces.copy()
    assert isinstance(copied, NamespaceSet) and copied == namespaces
    copied['other'] = print
    assert 'other' not in namespaces
    assert repr(namespaces).startswith('pyframe.lib.reprconf.NamespaceSet({')
    assert "'db'" in repr(namespaces)


# -- Config ------------------------------------------------------------------------


@pytest.fixture
def config_class():
    """A Config subclass with recording namespaces and two environments."""
    seen = []

    class RecordingConfig(Config):
        defaults = {'app.name': 'demo', 'db.pool': 1}
        environments = {
            'dev': {'db.pool': 1, 'app.debug': True},
            'live': {'db.pool': 10, 'app.debug': False},
        }

    RecordingConfig.namespaces['db'] = lambda k, v: seen.append((k, v))
    RecordingConfig.seen = seen
    return RecordingConfig


def test_config_starts_from_defaults_file_and_keywords(config_class, tmp_path):
    path = tmp_path / 'app.conf'
    path.write_text('[global]\napp.port = 80\n')
    conf = config_class(path, **{'db.pool': 4})
    assert conf == {'app.name': 'demo', 'db.pool': 4, 'app.port': 80}
    assert config_class.seen == [('pool', 1), ('pool', 4)]


def test_update_accepts_dict_file_and_flattens_global(config_class, tmp_path):
    conf = config_class()
    conf.update({'db.host': 'h'})
    conf.update({'global': {'db.port': 5432}, '/': {'tools.x.on': True}})
    path = tmp_path / 'c.conf'
    path.write_text('[global]\ndb.user = "me"\n[/]\nrequest.x = 1\n')
    conf.update(str(path))
    with open(path) as fp:
        conf.update(fp)
    assert conf['db.host'] == 'h' and conf['db.port'] == 5432 and conf['db.user'] == 'me'
    assert '/' not in conf and 'global' not in conf and 'request.x' not in conf
    assert ('port', 5432) in config_class.seen


def test_reset_returns_to_defaults(config_class):
    conf = config_class()
    conf.update({'db.pool': 9, 'x.y': 1})
    conf.reset()
    assert conf == {'app.name': 'demo', 'db.pool': 1}
    assert config_class.seen[-1] == ('pool', 1)


def test_setitem_runs_the_namespace_handler(config_class):
    conf = config_class()
    conf['db.timeout'] = 30
    assert conf['db.timeout'] == 30
    assert config_class.seen[-1] == ('timeout', 30)


def test_environment_brings_its_entries_explicit_ones_win(config_class):
    conf = config_class()
    conf.update({'environment': 'live'})
    assert conf['db.pool'] == 10 and conf['app.debug'] is False
    assert conf['environment'] == 'live'
    conf.update({'environment': 'dev', 'db.pool': 3})
    assert conf['db.pool'] == 3 and conf['app.debug'] is True
    assert config_class.seen[-2:] == [('pool', 10), ('pool', 3)]


def test_unknown_environment_names_it_and_the_known_ones(config_class):
    with pytest.raises(ValueError, match=r"'nowhere'.*dev, live"):
        config_class().update({'environment': 'nowhere'})


def test_each_subclass_has_its_own_namespaces(config_class):
    assert 'db' in config_class.namespaces
    assert 'db' not in Config.namespaces

    class Other(config_class):
        pass

    Other.namespaces['other'] = print
    assert 'other' not in config_class.namespaces
    assert 'db' in Other.namespaces
