"""pyframe's module-level objects: the engine and its named plugins."""

from __future__ import annotations

import importlib

import pyframe
from pyframe.process import plugins, servers, wspbus


def test_engine_is_a_bus_with_plugins_reachable_by_name():
    engine = pyframe.engine
    assert isinstance(engine, wspbus.Bus)
    assert isinstance(engine.autoreload, plugins.Autoreloader)
    assert isinstance(engine.thread_manager, plugins.ThreadManager)
    assert isinstance(engine.signal_handler, plugins.SignalHandler)
    assert engine.signals is engine.signal_handler
    assert isinstance(engine.timeout_monitor, pyframe.TimeoutMonitor)
    assert engine.timeout_monitor.frequency == 60


def test_default_plugins_listen_but_signals_wait_for_quickstart():
    starts = pyframe.engine.listeners['start']
    assert pyframe.engine.autoreload.start in starts
    assert pyframe.engine.timeout_monitor.start in starts
    assert pyframe.server.start in starts
    assert pyframe.engine.thread_manager.acquire_thread in pyframe.engine.listeners['acquire_thread']
    # Importing pyframe must not steal the process's signals.
    assert 'SIGTERM' not in pyframe.engine.listeners or not pyframe.engine.listeners['SIGTERM']


def test_default_server_follows_the_engine():
    assert isinstance(pyframe.server, pyframe.Server)
    assert isinstance(pyframe.server, servers.ServerAdapter)
    assert pyframe.server.bus is pyframe.engine
    assert pyframe.server.bind_addr == ('127.0.0.1', 8080)


def test_engine_messages_reach_the_error_log(caplog):
    with caplog.at_level('INFO', logger='pyframe.error'):
        pyframe.engine.log('engine says hi')
    assert any(r.getMessage().endswith('ENGINE engine says hi') for r in caplog.records)


def test_public_objects_are_not_shadowed_by_their_modules():
    # Modules share names with the objects the package exports; importing
    # them again (as user code may) must leave the objects in place.
    for name in ('log', 'tree', 'server', 'request'):
        importlib.import_module(f'pyframe.{name}')
    assert isinstance(pyframe.log, pyframe.LogManager)
    assert isinstance(pyframe.tree, pyframe.Tree)
    assert isinstance(pyframe.server, pyframe.Server)
    assert type(pyframe.request).__name__ == 'ThreadLocalProxy'
    from pyframe.server import Server
    from pyframe.tree import Tree
    assert Server is pyframe.Server and Tree is pyframe.Tree


def test_cherrypy_style_names_exist():
    for name in ('expose', 'config', 'quickstart', 'engine', 'server', 'tree',
                 'log', 'request', 'response', 'serving', 'thread_data',
                 'HTTPError', 'NotFound', 'Application', '__version__'):
        assert hasattr(pyframe, name), name


def test_global_config_is_a_config_and_a_decorator():
    assert isinstance(pyframe.config, pyframe.Config)
    assert importlib.import_module('pyframe.config').Config is pyframe.Config

    @pyframe.config(**{'tools.gzip.on': True})
    def handler():
        return 'x'

    assert handler._cp_config == {'tools.gzip.on': True}
    assert pyframe.config['tools.encode.on'] is True
