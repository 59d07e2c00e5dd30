"""pyframe.checker: warnings about config mistakes when the engine starts."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings

import pytest

import pyframe
from pyframe.checker import Checker, PyframeCheckerWarning
from pyframe.dispatch import Dispatcher, MethodDispatcher
from pyframe.lib import reprconf
from pyframe.tree import Tree
from support import REPO


class Root:
    @pyframe.expose
    def index(self):
        return 'hi'


def mounted(config=None, script_name: str = '') -> Tree:
    """A private Tree with one Root mounted at ``script_name``."""
    tree = Tree()
    app = tree.mount(Root(), script_name)
    # Set directly, not merged: merge() refuses relative static paths
    # outright, and the checker must still catch them in a config that
    # was edited in place.
    app.config.update(config or {})
    return tree


def findings(checker: Checker) -> list[str]:
    """Run ``checker``; return its messages, failing on any other warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        checker()
    others = [w for w in caught if not issubclass(w.category, PyframeCheckerWarning)]
    assert others == []
    return [str(w.message) for w in caught]


def check(config=None, global_config=None, script_name: str = '') -> list[str]:
    """The findings for one app mounted with ``config`` and the given global config."""
    return findings(Checker(mounted(config, script_name), global_config or {}))


@pytest.fixture
def site_dir(tmp_path):
    (tmp_path / 'public').mkdir()
    (tmp_path / 'style.css').write_text('body {}')
    return tmp_path


# -- a correct site is left alone -------------------------------------------------


def test_a_correct_site_gets_no_warning(site_dir):
    app_config = {
        '/': {
            'tools.sessions.on': True,
            'tools.staticdir.root': str(site_dir),
            'request.dispatch': MethodDispatcher(),
            'response.timeout': 60,
            'hooks.before_handler': print,
            'error_page.404': str(site_dir / 'style.css'),
            'wsgi.pipeline': [],
        },
        '/static': {'tools.staticdir.on': True, 'tools.staticdir.dir': 'public'},
        '/static/css': {'tools.staticdir.dir': str(site_dir / 'public')},
        '/style.css': {'tools.staticfile.on': True,
                       'tools.staticfile.filename': str(site_dir / 'style.css')},
        '/logo.png': {'tools.staticfile.root': str(site_dir),
                      'tools.staticfile.filename': 'logo.png'},
        # The application's own sections may hold anything.
        'Databases': {'driver': 'postgres', 'db.host': 'localhost', 'pool': 5},
    }
    global_config = {
        'environment': 'production',
        'server.socket_file': '/tmp/site.sock',
        'server.socket_host': '127.0.0.1',
        'server.socket_port': 8080,
        'engine.autoreload.on': False,
        'log.screen': False,
        'checker.on': True,
        'tree.blog': None,
        # Per-request entries in the global config apply to every app.
        'request.dispatch': Dispatcher(),
        'tools.gzip.on': True,
        'response.headers.server': 'x',
        'error_page.default': print,
        'hooks.on_end_request': print,
        'site_title': 'Plain keys are the site\'s own settings',
    }
    tree = mounted(app_config)
    tree.graft(lambda environ, start_response: [], '/wsgi')
    assert findings(Checker(tree, global_config)) == []


def test_quickstart_style_global_section_already_applied_is_fine():
    config = {'global': {'server.socket_port': 9000}, '/': {'tools.gzip.on': True}}
    assert check(config, {'server.socket_port': 9000}) == []


# -- switches -----------------------------------------------------------------------


def test_empty_app_config_gives_the_spec_message():
    assert check() == ["The Application mounted at '' has an empty config."]
    assert check({}, script_name='/blog') == [
        "The Application mounted at '/blog' has an empty config."]


def test_on_false_silences_every_check():
    checker = Checker(mounted({'/': {'tool.gzip.on': True}}), {'nope.x': 1})
    assert len(findings(checker)) == 2
    checker.on = False
    assert findings(checker) == []


def test_a_check_set_to_false_is_skipped_alone():
    checker = Checker(mounted(), {'nope.x': 1})
    checker.check_skipped_app_config = False
    messages = findings(checker)
    assert messages and all('empty config' not in m for m in messages)
    assert any("'nope.x'" in m for m in messages)


def test_checks_run_in_definition_order_including_subclass_checks():
    class Custom(Checker):
        def check_my_rule(self):
            self.warn('my rule')

    checker = Custom(mounted(), {})
    assert checker.checks()[0] == 'check_skipped_app_config'
    assert checker.checks()[-1] == 'check_my_rule'
    assert findings(checker) == ["The Application mounted at '' has an empty config.",
                                 'my rule']


def test_defaults_to_pyframe_tree_and_config_looked_up_at_run_time(monkeypatch):
    checker = Checker()
    monkeypatch.setattr(pyframe, 'tree', mounted(script_name='/late'))
    monkeypatch.setattr(pyframe, 'config', {'nope.x': 1})
    messages = findings(checker)
    assert "The Application mounted at '/late' has an empty config." in messages
    assert any("'nope.x'" in m for m in messages)


def test_runs_on_engine_start_before_the_http_server(bus):
    order = []
    checker = Checker(mounted(), {})
    bus.subscribe('start', checker)
    bus.subscribe('start', lambda: order.append('server'), priority=75)
    bus.subscribe('start', lambda: order.append('daemonizer'), priority=65)
    with pytest.warns(PyframeCheckerWarning, match='empty config') as record:
        bus.subscribe('start', lambda: order.append(len(record)), priority=60)
        bus.start()
    # The warning was already out when the later listeners ran.
    assert order == [1, 'daemonizer', 'server']


# -- the console block --------------------------------------------------------------


def test_console_shows_a_checker_block_and_leaves_other_warnings_alone():
    script = textwrap.dedent('''
        import warnings
        from pyframe.checker import Checker
        from pyframe.tree import Tree

        class Loud(Checker):
            def check_zz_other_warning(self):
                warnings.warn('not from the checker', UserWarning)

        tree = Tree()
        tree.mount(object(), '')
        before = warnings.formatwarning
        Loud(tree, {})()
        assert warnings.formatwarning is before
    ''')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONWARNINGS'}
    done = subprocess.run([sys.executable, '-c', script], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith(
        "pyframe Checker:\nThe Application mounted at '' has an empty config.\n")
    # An ordinary warning keeps its usual "file:line: Category: text" form.
    assert 'UserWarning: not from the checker' in done.stderr
    assert 'pyframe Checker:\nnot from' not in done.stderr


# -- sections -----------------------------------------------------------------------


@pytest.mark.parametrize('section', ['static', '[/static]', '[static]'])
def test_section_without_slash_holding_request_config(section):
    [message] = check({'/': {'tools.gzip.on': True},
                       section: {'tools.staticdir.on': True}}, script_name='/app')
    assert "'/app'" in message and repr(section) in message
    assert "'tools.staticdir.on'" in message and "did you mean '/static'" in message


def test_custom_sections_with_their_own_keys_are_fine():
    assert check({'/': {'tools.gzip.on': True},
                  'Databases': {'driver': 'pg', 'db.host': 'x'}}) == []


def test_global_section_in_app_config_not_in_effect():
    config = {'global': {'server.socket_port': 9000, 'log.screen': False},
              '/': {'tools.gzip.on': True}}
    [message] = check(config, {'log.screen': False})
    assert "'global'" in message.replace('"', "'")
    assert "['server.socket_port']" in message and 'pyframe.config.update' in message


@pytest.mark.parametrize('key', ['server.socket_port', 'engine.autoreload.on',
                                 'checker.on', 'tree.blog'])
def test_site_wide_namespace_in_app_section(key):
    [message] = check({'/': {'tools.gzip.on': True}, '/admin': {key: 1}}, script_name='/x')
    assert f"'{key}'" in message and "'/admin'" in message and "'/x'" in message
    assert 'global config' in message


# -- namespaces ---------------------------------------------------------------------


def test_unknown_namespace_in_app_section_names_the_key():
    [message] = check({'/': {'tool.gzip.on': True}})
    assert "'tool.gzip.on'" in message and "'tool'" in message and "'/'" in message


def test_key_without_namespace_in_path_section():
    [message] = check({'/': {'gzip': True}})
    assert "'gzip'" in message and 'namespaced' in message


def test_app_namespaces_and_toolboxes_are_known():
    tree = mounted({'/': {'tools.gzip.on': True}})
    app = tree.apps['']
    app.namespaces['db'] = lambda key, value: None
    app.toolboxes['mytools'] = object()
    app.config['/'].update({'db.pool': 3, 'mytools.trace.on': True})
    assert findings(Checker(tree, {})) == []
    # Those namespaces belong to that app; the global config may use them too.
    assert findings(Checker(tree, {'mytools.trace.on': True})) == []


def test_unknown_namespace_in_global_config():
    [message] = check({'/': {'tools.gzip.on': True}}, {'tool.gzip.on': True})
    assert message.startswith('The global config') and "'tool.gzip.on'" in message


def test_namespaces_registered_on_the_global_config_are_known():
    class SiteConfig(reprconf.Config):
        namespaces = reprconf.NamespaceSet(db=lambda key, value: None)

    tree = mounted({'/': {'tools.gzip.on': True}})
    assert findings(Checker(tree, SiteConfig({'db.url': 'x'}))) == []
    assert len(findings(Checker(tree, {'db.url': 'x'}))) == 1


def test_extra_config_namespaces_are_accepted():
    checker = Checker(mounted({'/': {'myapp.theme': 'dark'}}), {'myapp.name': 'x'})
    assert len(findings(checker)) == 2
    checker.extra_config_namespaces = ('myapp',)
    assert findings(checker) == []


# -- static paths -------------------------------------------------------------------


def test_relative_staticdir_without_root():
    [message] = check({'/static': {'tools.staticdir.on': True,
                                   'tools.staticdir.dir': 'public'}})
    assert "'tools.staticdir.dir'" in message and "'/static'" in message
    assert "'public'" in message and 'tools.staticdir.root' in message


def test_relative_root_is_reported_where_it_is_set():
    messages = check({'/': {'tools.staticdir.root': 'site'},
                      '/static': {'tools.staticdir.dir': 'public'}})
    assert any("'tools.staticdir.root' in section '/'" in m and 'not an absolute' in m
               for m in messages)
    assert any("'tools.staticdir.dir' in section '/static'" in m for m in messages)
    assert len(messages) == 2


def test_root_from_a_parent_section_or_the_global_config(site_dir):
    nested = {'/': {'tools.staticdir.root': str(site_dir)},
              '/a/b': {'tools.staticdir.dir': 'public'}}
    assert check(nested) == []
    assert check({'/a': {'tools.staticdir.dir': 'public'}},
                 {'tools.staticdir.root': str(site_dir)}) == []


def test_missing_static_directory(site_dir):
    [joined] = check({'/': {'tools.staticdir.root': str(site_dir)},
                      '/s': {'tools.staticdir.dir': 'nope'}})
    assert repr(str(site_dir / 'nope')) in joined and 'not an existing directory' in joined
    [absolute] = check({'/s': {'tools.staticdir.dir': str(site_dir / 'gone')}})
    assert repr(str(site_dir / 'gone')) in absolute


def test_relative_staticfile_without_root(site_dir):
    [message] = check({'/style.css': {'tools.staticfile.filename': 'style.css'}})
    assert "'tools.staticfile.filename'" in message and 'tools.staticfile.root' in message
    assert check({'/style.css': {'tools.staticfile.filename': 'style.css',
                                 'tools.staticfile.root': str(site_dir)}}) == []


# -- renamed keys -------------------------------------------------------------------


@pytest.mark.parametrize('old, new', [
    ('engine.autoreload_on', 'engine.autoreload.on'),
    ('engine.autoreload_frequency', 'engine.autoreload.frequency'),
    ('engine.autoreload_match', 'engine.autoreload.match'),
    ('engine.reload_files', 'engine.autoreload.files'),
    ('engine.deadlock_poll_freq', 'engine.timeout_monitor.frequency'),
    ('log_to_screen', 'log.screen'),
])
def test_renamed_global_keys_give_the_new_name(old, new):
    [message] = check({'/': {'tools.gzip.on': True}}, {old: True})
    assert f"'{old}'" in message and f"'{new}'" in message


def test_renamed_key_in_app_section_is_reported_once():
    [message] = check({'/': {'show_tracebacks': True}})
    assert "'show_tracebacks'" in message and "'request.show_tracebacks'" in message
