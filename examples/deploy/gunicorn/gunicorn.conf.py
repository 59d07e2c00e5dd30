"""gunicorn settings for ``examples/deploy/wsgi_app.py``.

Run from ``examples/deploy``::

    gunicorn -c gunicorn/gunicorn.conf.py

The hooks give every worker its own running pyframe engine: started once
the worker has loaded the application (also when ``--preload`` loaded it
in the master before the fork), exited when the worker ends.
"""

import signal
import sys

# A gunicorn config file is plain Python: these module-level names are
# gunicorn settings.
wsgi_app = 'wsgi_app:application'
bind = ['127.0.0.1:8080']
workers = 2
worker_class = 'sync'
# Seconds a worker gets to finish its requests after SIGTERM.
graceful_timeout = 10
# Recent gunicorn versions open a control socket in ~/.gunicorn by
# default; this site has no use for it (older versions ignore the name).
control_socket_disable = True


def post_worker_init(worker) -> None:
    """Start pyframe's engine in the worker that has just loaded the app."""
    # Imported here, not at the top: this file is read by the master, and
    # only --preload should make the master import the application.
    import wsgi_app

    wsgi_app.start_engine()


def _stop_engine() -> None:
    """Exit pyframe's engine in this worker, if it loaded the app."""
    # A worker that failed to import the app has no engine to stop.
    module = sys.modules.get('wsgi_app')
    if module is not None:
        module.stop_engine()


def worker_int(worker) -> None:
    """SIGINT or SIGQUIT (Ctrl-C, fast shutdown): exit the engine now.

    The worker leaves right after this hook. With Ctrl-C the master sends
    its own SIGQUIT at once, whose handler would end the worker in the
    middle of the engine's shutdown: the worker is leaving anyway, so it
    ignores further signals of that kind.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGQUIT, signal.SIG_IGN)
    _stop_engine()


def worker_exit(server, worker) -> None:
    """Stop and exit pyframe's engine as the worker process ends."""
    _stop_engine()
