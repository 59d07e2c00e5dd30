"""A pyframe site meant to be served by another WSGI server (uWSGI, gunicorn).

The WSGI server imports this module and calls :data:`application`. That
server owns the listening sockets, the worker processes and the signals;
pyframe only answers requests. So, following the rules for embedding:

* pyframe's own HTTP server is unsubscribed from the engine;
* the ``embedded`` environment turns off the autoreloader, the config
  checker, screen logging and tracebacks in error pages, and empties the
  engine's SIGHUP/SIGTERM channels;
* pyframe's signal handlers are never installed (nothing here calls
  ``pyframe.engine.signal_handler.subscribe()``);
* the engine is started once in every worker process, after the fork, and
  exited when that worker ends, so that plugins and ``start``/``stop``/
  ``exit`` listeners run in the process that serves the requests.

Importing this module never starts the engine by itself (except inside a
uWSGI worker, see :func:`_follow_uwsgi`): a server that imports the app
before forking (gunicorn ``--preload``, uWSGI without ``--lazy-apps``)
would otherwise start threads and open resources in the master, and a
forked child gets neither the threads nor a private copy of the resources.
The host server's hooks call :func:`start_engine` and :func:`stop_engine`
instead; see ``gunicorn/gunicorn.conf.py``.

Routes: ``/`` says hello, ``/pid`` names the worker process, ``/greet``
takes a POSTed form field ``name``, ``/fail`` raises (500), ``/static/...``
serves files from ``$STATIC_DIR`` (default: ``static`` next to this file).
"""

from __future__ import annotations

import os
import sys

import pyframe
from pyframe.process import plugins

HERE = os.path.dirname(os.path.abspath(__file__))

#: Directory served below ``/static``.
STATIC_DIR = os.environ.get('STATIC_DIR', os.path.join(HERE, 'static'))

#: Seconds between two publications of the engine's ``main`` channel.
MAIN_INTERVAL = float(os.environ.get('PYFRAME_MAIN_INTERVAL', '1'))


class Root:
    """The site: a few pages that show what a worker does."""

    @pyframe.expose
    def index(self) -> str:
        """Greet the visitor."""
        return 'Hello from pyframe!'

    @pyframe.expose
    def pid(self) -> str:
        """Name the worker process that answered."""
        return str(os.getpid())

    @pyframe.expose
    @pyframe.tools.allow(methods=['POST'])
    def greet(self, name: str) -> str:
        """Greet ``name``, sent as a form field in a POST body."""
        return f'Hello, {name}!'

    @pyframe.expose
    def fail(self) -> str:
        """Fail on purpose: the visitor gets a 500 without a traceback."""
        raise RuntimeError('this page always fails')


pyframe.config.update({
    'environment': 'embedded',
    # Errors (with their tracebacks) go to the WSGI server's error stream,
    # wsgi.errors, so they land in the uWSGI or gunicorn log; the server
    # writes its own access log.
    'log.wsgi': True,
})
# The WSGI server listens; pyframe's HTTP server must not try to.
pyframe.server.unsubscribe()

#: The WSGI callable the server is pointed at (``wsgi_app:application``).
application = pyframe.tree.mount(Root(), '', {
    '/static': {
        'tools.staticdir.on': True,
        'tools.staticdir.dir': STATIC_DIR,
    },
})

# Nobody calls engine.block() in a worker, so nobody publishes the 'main'
# channel; this monitor does it from a thread for listeners that rely on
# it. Under uWSGI this needs --enable-threads.
main_publisher = plugins.Monitor(
    pyframe.engine, lambda: pyframe.engine.publish('main'),
    frequency=MAIN_INTERVAL, name='main publisher')
main_publisher.subscribe()

# The pid of the process in which this module started the engine; a
# forked child inherits the value but is a different process.
_engine_pid: int | None = None


def start_engine() -> None:
    """Start pyframe's engine in this process, unless already done here.

    Call it in each worker after the fork (gunicorn: ``post_worker_init``).
    """
    global _engine_pid
    if _engine_pid == os.getpid():
        return
    _engine_pid = os.getpid()
    pyframe.engine.start()


def stop_engine() -> None:
    """Stop and exit pyframe's engine if this process started it.

    Call it as the worker ends (gunicorn: ``worker_exit`` and
    ``worker_int``; uWSGI: ``uwsgi.atexit``). Publishes the ``stop`` and
    ``exit`` channels, which end the engine's threads.
    """
    global _engine_pid
    if _engine_pid != os.getpid():
        return
    _engine_pid = None
    pyframe.engine.exit()


def _follow_uwsgi() -> None:
    """Tie the engine to the life of uWSGI workers, when running in one.

    uWSGI gives the code it loads a built-in ``uwsgi`` module. With
    ``--lazy-apps`` this module is imported by each worker, so the engine
    starts right away; without it the master imports the module and the
    engine starts in each worker after the fork. ``uwsgi.atexit`` runs in
    each worker as it shuts down.
    """
    # uWSGI registers its built-in module before loading the app; looking
    # it up (rather than importing) cannot pick a same-named directory,
    # such as the uwsgi/ folder next to this file.
    uwsgi = sys.modules.get('uwsgi')
    if uwsgi is None or not hasattr(uwsgi, 'worker_id'):
        return  # not under uWSGI: the server's own hooks are in charge
    uwsgi.atexit = stop_engine
    if uwsgi.worker_id() > 0:
        start_engine()
    else:
        uwsgi.post_fork_hook = start_engine


_follow_uwsgi()
