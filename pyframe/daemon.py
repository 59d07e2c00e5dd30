"""The ``pyframed`` command: serve the applications of some modules.

``python -m pyframe`` runs the same command. It imports the modules named
with ``-i`` (which mount their applications on ``pyframe.tree``), applies
the config files named with ``-c`` to the site and to every mounted
application, optionally detaches into a daemon (``-d``) with a PID file
(``-p``), and serves over HTTP, or over FastCGI (``-f``), SCGI (``-s``) or
CGI (``-x``) with flup, until a signal ends it::

    pyframed -c site.conf -i myapp -e production -d -p /run/myapp.pid

Mistakes on the command line, in a config file or in an imported module
end the command with status 2 and a one-line message on stderr; a server
that cannot start ends it with status 70.
"""

from __future__ import annotations

import argparse
import configparser
import importlib
import os
import sys
from typing import Sequence

__all__ = ['main', 'build_parser', 'EX_USAGE', 'EX_SOFTWARE']

#: Exit status for bad options, config files, environments and imports
#: (argparse's own status for usage errors).
EX_USAGE = 2

#: Exit status when the engine fails to start (BSD ``EX_SOFTWARE``).
EX_SOFTWARE = 70


class _UsageError(Exception):
    """A mistake in what the user asked for; ends ``main`` with status 2."""


def _program_name() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ''
    if not name or name in ('__main__.py', '-c', '-m'):
        return 'python -m pyframe'
    return name


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of the command."""
    parser = argparse.ArgumentParser(
        prog=prog or _program_name(),
        description='Serve pyframe applications from the command line.',
    )
    parser.add_argument(
        '-c', '--config', action='append', dest='config', default=[],
        metavar='FILE', help='apply a config file (may be repeated)',
    )
    parser.add_argument(
        '-d', action='store_true', dest='daemonize',
        help='run the server as a daemon',
    )
    parser.add_argument(
        '-e', '--environment', dest='environment', metavar='NAME',
        help='apply the given config environment (e.g. production)',
    )
    servers = parser.add_mutually_exclusive_group()
    servers.add_argument(
        '-f', action='store_const', const='fastcgi', dest='gateway',
        help='serve FastCGI instead of HTTP (needs flup)',
    )
    servers.add_argument(
        '-s', action='store_const', const='scgi', dest='gateway',
        help='serve SCGI instead of HTTP (needs flup)',
    )
    servers.add_argument(
        '-x', action='store_const', const='cgi', dest='gateway',
        help='answer one CGI request instead of serving HTTP (needs flup)',
    )
    parser.add_argument(
        '-i', '--import', action='append', dest='imports', default=[],
        metavar='MODULE', help='import a module, usually one that mounts '
        'an application (may be repeated)',
    )
    parser.add_argument(
        '-p', '--pidfile', dest='pidfile', metavar='FILE',
        help='write the process id to FILE while running',
    )
    parser.add_argument(
        '-P', '--Path', action='append', dest='paths', default=[],
        metavar='DIR', help='add DIR to the front of the module search path '
        '(may be repeated)',
    )
    return parser


# -- the steps of main ------------------------------------------------------------


def _add_paths(paths: Sequence[str]) -> None:
    """Put the working directory and the ``-P`` directories first on sys.path.

    The first ``-P`` given ends up first. Paths are made absolute so that
    a later change of directory cannot change what they mean.
    """
    cwd = os.getcwd()
    if cwd not in sys.path and '' not in sys.path:
        sys.path.insert(0, cwd)
    for path in reversed(paths):
        sys.path.insert(0, os.path.abspath(path))


def _module_name(spec: str) -> str:
    """Accept ``pkg.mod`` and also a file name such as ``hello.py``.

    For a file name its directory joins sys.path and the module name is
    the file's stem.
    """
    if spec.endswith('.py') and (os.sep in spec or os.path.isfile(spec)):
        directory, filename = os.path.split(os.path.abspath(spec))
        if directory not in sys.path:
            sys.path.insert(0, directory)
        return filename[:-3]
    return spec


def _import_modules(specs: Sequence[str]) -> None:
    for spec in specs:
        name = _module_name(spec)
        try:
            importlib.import_module(name)
        except SystemExit as exc:
            raise _UsageError(
                f'cannot import module {name!r}: it raised SystemExit({exc.code!r})'
            ) from None
        except Exception as exc:
            raise _UsageError(
                f'cannot import module {name!r}: {type(exc).__name__}: {exc}'
            ) from None


def _apply_config_files(pyframe, files: Sequence[str]) -> None:
    """Apply each file to the site config and to every mounted application."""
    for filename in files:
        try:
            pyframe.config.update(filename)
            for app in list(pyframe.tree.apps.values()):
                if isinstance(app, pyframe.Application):
                    app.merge(filename)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise _UsageError(f'config file {filename!r}: {reason}') from None
        except (configparser.Error, ValueError, TypeError, AttributeError) as exc:
            text = ' '.join(str(exc).split())
            raise _UsageError(f'config file {filename!r}: {text}') from None


def _check_environment(pyframe, name: str | None) -> None:
    if name is not None and name not in pyframe.config.environments:
        known = ', '.join(sorted(pyframe.config.environments))
        raise _UsageError(f'unknown environment {name!r} (known: {known})')


def _use_gateway(pyframe, gateway: str) -> None:
    """Replace the HTTP server by a flup FastCGI, SCGI or CGI server."""
    from .process import servers

    # flup's servers cannot survive the autoreloader's re-exec.
    pyframe.config.update({'engine.autoreload.on': False})
    pyframe.server.unsubscribe()
    app = pyframe.tree
    if gateway == 'cgi':
        httpserver = servers.FlupCGIServer(application=app)
        bind_addr = None
    else:
        bind_addr = pyframe.server.bind_addr
        cls = servers.FlupFCGIServer if gateway == 'fastcgi' else servers.FlupSCGIServer
        httpserver = cls(application=app, bindAddress=bind_addr)
    adapter = servers.ServerAdapter(pyframe.engine, httpserver, bind_addr=bind_addr)
    adapter.subscribe()
    #: Kept on the engine so that it can be found (and unsubscribed) later.
    pyframe.engine.gateway_server = adapter


def _describe(exc: BaseException) -> str:
    """'Type: message' of the failure, unwrapping the bus's ChannelFailures."""
    get_instances = getattr(exc, 'get_instances', None)
    if get_instances is not None and get_instances():
        return '; '.join(_describe(inner) for inner in get_instances())
    return f'{type(exc).__name__}: {exc}'


def _error(prog: str, message: str) -> None:
    print(f'{prog}: error: {message}', file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: the engine's when it ran, 2 for a usage
    mistake, 70 when the engine could not start.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a bad option (status 2)
        return exc.code if isinstance(exc.code, int) else EX_USAGE

    import pyframe

    prog = parser.prog
    try:
        _check_environment(pyframe, args.environment)
        _add_paths(args.paths)
        _import_modules(args.imports)
        _apply_config_files(pyframe, args.config)
        if args.environment is not None:
            pyframe.config.update({'environment': args.environment})
    except _UsageError as exc:
        _error(prog, str(exc))
        return EX_USAGE

    engine = pyframe.engine
    if args.daemonize:
        # The daemon has no terminal to print to.
        pyframe.config.update({'log.screen': False})
        pyframe.process.plugins.Daemonizer(engine).subscribe()
    if args.pidfile:
        pyframe.process.plugins.PIDFile(engine, args.pidfile).subscribe()
    if args.gateway:
        _use_gateway(pyframe, args.gateway)
    engine.signal_handler.subscribe()

    try:
        engine.start()
    except BaseException as exc:
        engine.exit()
        if isinstance(exc, KeyboardInterrupt):
            return 130
        _error(prog, f'could not start: {_describe(exc)}')
        return EX_SOFTWARE
    try:
        engine.block()
    except SystemExit as exc:
        code = exc.code
        if code is None:
            return 0
        return code if isinstance(code, int) else 1
    return engine.exit_status or 0
