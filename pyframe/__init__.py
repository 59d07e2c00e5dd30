"""pyframe: a minimalist, object-oriented WSGI web framework.

Write an application as a tree of objects whose exposed methods answer
URLs, then serve it::

    import pyframe

    class HelloWorld:
        @pyframe.expose
        def index(self):
            return 'Hello world!'

    pyframe.quickstart(HelloWorld())

The public API follows CherryPy's, so ``import pyframe as cherrypy`` runs
applications written for it.
"""

from __future__ import annotations

__version__ = '0.1.0.dev0'

from . import process
from .config import Config
from . import dispatch
from .checker import Checker
from .decorators import expose, popargs
from .errors import (HTTPError, HTTPRedirect, InternalRedirect, NotFound,
                     PyframeException, TimeoutError)
from .log import GlobalLogManager, LogManager
from .lib import reprconf
from .process import plugins, wspbus
from .server import Server
from .timeouts import TimeoutMonitor
from .tools import ErrorTool, HandlerTool, HandlerWrapperTool, Tool, Toolbox, default_toolbox
from .tree import Application, Tree
from .urls import url

# Last: the proxies share names with modules (pyframe/request.py ...), and a
# module imported for the first time would replace the package attribute.
from .context import request, response, serving, thread_data  # noqa: E402
from .lib.sessions import session  # noqa: E402  (a proxy reading serving.session)

__all__ = [
    'Application', 'Checker', 'ErrorTool', 'HandlerTool', 'HandlerWrapperTool', 'Tool', 'Toolbox', 'Config', 'HTTPError', 'HTTPRedirect', 'InternalRedirect',
    'NotFound', 'PyframeException', 'Server', 'TimeoutError',
    'Tree', 'checker', 'config', 'dispatch', 'engine', 'expose', 'log', 'popargs', 'quickstart', 'request',
    'response', 'server', 'serving', 'session', 'thread_data', 'tools', 'tree', 'url', '__version__',
]

#: The process bus, with the standard plugins attached by name.
engine = wspbus.Bus()
engine.autoreload = plugins.Autoreloader(engine)
engine.autoreload.subscribe()
engine.thread_manager = plugins.ThreadManager(engine)
engine.thread_manager.subscribe()
engine.timeout_monitor = TimeoutMonitor(engine)
engine.timeout_monitor.subscribe()
# Signal handling is installed by quickstart() (or by hand), never merely
# by importing pyframe: an embedding server may own the signals.
engine.signal_handler = plugins.SignalHandler(engine)
engine.signals = engine.signal_handler

#: The site-wide error and access logs.
log = GlobalLogManager()
log.screen = True
engine.subscribe('graceful', log.reopen_files)


def _log_engine_message(msg: str, level: int = 20) -> None:
    log.error(msg, 'ENGINE', severity=level)


engine.subscribe('log', _log_engine_message)

#: The default toolbox: ``pyframe.tools.<name>`` and config ``tools.<name>.*``.
tools = default_toolbox

#: The registry of mounted applications (a WSGI application itself).
tree = Tree()

#: The default HTTP server, following the engine.
server = Server(engine)
server.subscribe()

#: The global (site-wide) config; also a decorator setting ``_cp_config``.
config = Config()

#: Warns about config mistakes when the engine starts (``checker.on: False``
#: silences it).
checker = Checker()
engine.subscribe('start', checker)


def quickstart(root=None, script_name: str = '', config: dict | None = None) -> None:
    """Mount ``root`` at ``script_name``, serve it, and block until exit.

    ``config`` (a dict, filename or open file) is the application's
    config; its ``[global]`` section, if any, also updates the global
    config. Installs the signal handlers, starts the engine (and so the
    HTTP server on ``server.socket_host``:``server.socket_port``) and
    waits in the main thread until the engine exits.
    """
    if config:
        config = reprconf.as_dict(config)
        if 'global' in config:
            globals()['config'].update({'global': config['global']})
    if root is not None:
        tree.mount(root, script_name, config)
    engine.signal_handler.subscribe()
    try:
        engine.start()
    except BaseException:
        engine.exit()
        raise
    engine.block()
