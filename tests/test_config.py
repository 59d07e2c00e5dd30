"""pyframe.config: the global config and its namespaces (engine, server, log,
tree, checker), environments, and merging application config."""

from __future__ import annotations

import importlib
import os
import types

import pytest

import pyframe
from pyframe.checker import Checker
from pyframe.log import LogManager
from pyframe.process import plugins
from pyframe.server import Server
from pyframe.timeouts import TimeoutMonitor
from pyframe.tree import Application, Tree

# The module by its import path: the package attribute pyframe.config is
# the global Config object, not this module.
config_module = importlib.import_module('pyframe.config')
Config = config_module.Config


@pytest.fixture
def site(bus, monkeypatch):
    """Fresh engine, server, log and tree standing in for pyframe's own."""
    bus.autoreload = plugins.Autoreloader(bus)
    bus.autoreload.subscribe()
    bus.thread_manager = plugins.ThreadManager(bus)
    bus.thread_manager.subscribe()
    bus.timeout_monitor = TimeoutMonitor(bus)
    bus.timeout_monitor.subscribe()
    bus.signal_handler = plugins.SignalHandler(bus)
    objects = types.SimpleNamespace(
        engine=bus, server=Server(bus), log=LogManager('configtest'), tree=Tree(),
        checker=Checker(),
    )
    for name, value in vars(objects).items():
        monkeypatch.setattr(pyframe, name, value)
    yield objects
    objects.log.screen = False
    objects.log.error_file = None


def subscribed(plugin, engine) -> bool:
    return plugin.start in engine.listeners['start']


# -- the Config class ---------------------------------------------------------------


def test_defaults_and_builtin_namespaces():
    conf = Config()
    assert conf == {
        'tools.log_tracebacks.on': True,
        'tools.log_headers.on': True,
        'tools.trailing_slash.on': True,
        'tools.encode.on': True,
    }
    assert set(Config.namespaces) == {'engine', 'server', 'log', 'tree', 'checker'}
    assert Config.environments is config_module.environments


def test_environments_of_the_spec():
    common = {
        'engine.autoreload.on': False,
        'checker.on': False,
        'tools.log_headers.on': False,
    }
    quiet = {'request.show_tracebacks': False, 'request.show_mismatched_params': False}
    assert config_module.environments == {
        'staging': {**common, **quiet},
        'production': {**common, **quiet, 'log.screen': False},
        'embedded': {**common, **quiet, 'log.screen': False,
                     'engine.SIGHUP': None, 'engine.SIGTERM': None},
        'test_suite': {**common, 'request.show_tracebacks': True,
                       'request.show_mismatched_params': True, 'log.screen': False},
    }


def test_config_object_is_also_the_config_decorator():
    @Config()(**{'tools.gzip.on': True})
    def page():
        return 'hi'

    assert page._cp_config == {'tools.gzip.on': True}


def test_request_level_namespaces_are_only_stored(site):
    conf = Config()
    entries = {'request.show_tracebacks': False, 'response.timeout': 10,
               'tools.gzip.on': True, 'hooks.before_handler': print,
               'wsgi.pipeline': [], 'checker.on': False, 'custom': 1}
    conf.update(entries)
    assert entries.items() <= conf.items()


# -- server ----------------------------------------------------------------------------


def test_server_entries_set_server_attributes(site):
    Config().update({'server.socket_host': '0.0.0.0', 'server.socket_port': 9999,
                     'server.thread_pool': 3})
    assert site.server.bind_addr == ('0.0.0.0', 9999)
    assert site.server.thread_pool == 3


def test_unknown_server_key_names_it(site):
    with pytest.raises(ValueError, match='server.socket_prot'):
        Config().update({'server.socket_prot': 80})


def test_global_section_of_a_file_applies_and_app_sections_do_not(site, tmp_path):
    path = tmp_path / 'site.conf'
    path.write_text(
        '[global]\nserver.socket_port = 8123\nengine.timeout_monitor.frequency = 60 * 60\n'
        '[/]\nserver.socket_port = 1\n'
        '[Databases]\ndriver = "postgres"\n'
    )
    conf = Config()
    conf.update(str(path))
    assert site.server.socket_port == 8123
    assert site.engine.timeout_monitor.frequency == 3600
    assert 'Databases' not in conf and '/' not in conf
    # Editing the config file should restart the site, like a module.
    assert str(path) in site.engine.autoreload.files


# -- log --------------------------------------------------------------------------------


def test_log_entries_set_log_attributes(site, tmp_path):
    conf = Config()
    conf['log.screen'] = True
    assert site.log.screen is True
    conf['log.screen'] = False
    assert site.log.screen is False
    conf.update({'log.error_file': str(tmp_path / 'error.log')})
    assert site.log.error_file == str(tmp_path / 'error.log')


def test_unknown_log_key_names_it(site):
    with pytest.raises(ValueError, match='log.screan'):
        Config().update({'log.screan': False})


# -- engine -------------------------------------------------------------------------------


def test_plugin_on_subscribes_and_unsubscribes(site):
    conf = Config()
    conf['engine.autoreload.on'] = False
    assert not subscribed(site.engine.autoreload, site.engine)
    assert subscribed(site.engine.timeout_monitor, site.engine)
    conf['engine.autoreload.on'] = True
    assert subscribed(site.engine.autoreload, site.engine)


def test_plugin_attributes_are_set(site):
    Config().update({'engine.autoreload.frequency': 5,
                     'engine.autoreload.match': r'^myapp',
                     'engine.timeout_monitor.frequency': 2})
    assert site.engine.autoreload.frequency == 5
    assert site.engine.autoreload.match == '^myapp'
    assert site.engine.timeout_monitor.frequency == 2


def test_engine_attributes_are_set(site):
    Config().update({'engine.execv': True})
    assert site.engine.execv is True


@pytest.mark.parametrize('key', [
    'engine.autoreloader.on', 'engine.autoreload.frequence', 'engine.no_such_attr',
    'engine.execv.on',
])
def test_unknown_engine_keys_name_the_key(site, key):
    with pytest.raises(ValueError, match=key.replace('.', r'\.')):
        Config().update({key: 1})


def test_signal_entries_replace_the_channel_listeners(site):
    engine, handlers = site.engine, site.engine.signal_handler.handlers
    engine.subscribe('SIGHUP', engine.signal_handler.handle_SIGHUP)

    def on_term():
        pass

    def also_on_term():
        pass

    Config().update({'engine.SIGHUP': None, 'engine.SIGTERM': on_term})
    assert not engine.listeners['SIGHUP']
    assert 'SIGHUP' not in handlers  # a later subscribe leaves SIGHUP to the OS
    assert engine.listeners['SIGTERM'] == {on_term}
    assert handlers['SIGTERM'] is on_term  # ... and installs on_term, not bus.exit

    Config().update({'engine.SIGTERM': [on_term, also_on_term]})
    assert engine.listeners['SIGTERM'] == {on_term, also_on_term}
    assert 'SIGTERM' in handlers


def test_embedded_environment_leaves_signals_alone(site):
    Config().update({'environment': 'embedded'})
    assert 'SIGHUP' not in site.engine.signal_handler.handlers
    assert 'SIGTERM' not in site.engine.signal_handler.handlers
    assert site.engine.signal_handler.handlers == {'SIGUSR1': site.engine.graceful}
    assert not subscribed(site.engine.autoreload, site.engine)


# -- tree ----------------------------------------------------------------------------------


class Root:
    pass


def test_tree_entries_mount_roots(site):
    blog, home = Root(), Root()
    Config().update({'tree.blog': blog, 'tree./': home})
    assert site.tree.apps['/blog'].root is blog
    assert site.tree.apps[''].root is home


def test_tree_entry_mounts_an_application_at_its_own_script_name(site):
    app = Application(Root(), '/forum')
    Config().update({'tree.the_forum': app})
    assert site.tree.apps['/forum'] is app


# -- environments -------------------------------------------------------------------------


def test_production_environment_through_the_real_objects():
    engine, log = pyframe.engine, pyframe.log
    was_reloading, was_screen = subscribed(engine.autoreload, engine), log.screen
    try:
        conf = Config()
        conf.update({'environment': 'production', 'server.socket_port': 8080})
        assert log.screen is False
        assert not subscribed(engine.autoreload, engine)
        assert conf['request.show_tracebacks'] is False
        assert conf['environment'] == 'production'
    finally:
        if was_reloading:
            engine.autoreload.subscribe()
        log.screen = was_screen


def test_explicit_entries_win_over_the_environment(site):
    conf = Config()
    conf.update({'environment': 'test_suite', 'log.screen': True})
    assert site.log.screen is True
    assert conf['request.show_tracebacks'] is True


def test_unknown_environment_names_it_and_the_known_ones(site):
    with pytest.raises(ValueError, match=r"'prod'.*embedded, production, staging, test_suite"):
        Config().update({'environment': 'prod'})


def test_reset_forgets_entries():
    conf = Config({'request.x': 1})
    conf.reset()
    assert 'request.x' not in conf and conf['tools.encode.on'] is True


# -- merge -----------------------------------------------------------------------------------


def test_merge_updates_sections_in_place(site, tmp_path):
    base = {'/': {'tools.gzip.on': True, 'request.x': 1}}
    config_module.merge(base, {'/': {'request.x': 2}, '/static': {'tools.staticdir.on': True}})
    assert base == {'/': {'tools.gzip.on': True, 'request.x': 2},
                    '/static': {'tools.staticdir.on': True}}
    path = tmp_path / 'app.conf'
    path.write_text('[/]\nrequest.x = 3\n[Databases]\nport = 5432\n')
    config_module.merge(base, path)
    assert base['/']['request.x'] == 3 and base['Databases'] == {'port': 5432}
    assert os.fspath(path) in site.engine.autoreload.files


def test_merge_refuses_a_flat_config_with_a_hint():
    with pytest.raises(ValueError, match="'tools.gzip.on'.*section"):
        config_module.merge({}, {'tools.gzip.on': True})
