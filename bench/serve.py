"""Serve one framework's benchmark app over loopback until killed.

``python serve.py FRAMEWORK`` serves the app with cheroot's ``WSGIServer``
(the same settings for every framework); ``--adapter`` (pyframe only)
serves it through ``pyframe.server`` instead. It binds 127.0.0.1 on a free
port and prints ``READY <port>`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from apps import common, load

#: cheroot settings shared by every server in the benchmark.
THREADS = 10
# The listen backlog. cheroot's default of 5 overflows when wrk opens 100
# connections at once; the dropped SYNs are retried after a second, and
# p99 then measures the kernel's retry timer instead of the framework.
QUEUE_SIZE = 128


def main(argv: list[str] | None = None) -> int:
    """Command line entry: serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=__doc__.partition('\n')[0])
    parser.add_argument('framework')
    parser.add_argument('--adapter', action='store_true',
                        help="serve through pyframe's own server plugin")
    args = parser.parse_args(argv)
    module = load(args.framework)
    static_dir = common.make_static_dir()
    stop = threading.Event()
    # Turn SIGTERM into a clean stop so the temp dir is removed.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server = None
    try:
        if args.adapter:
            if args.framework != 'pyframe':
                parser.error('--adapter is for pyframe only')
            port = module.serve_with_adapter(static_dir, THREADS, QUEUE_SIZE)
        else:
            import cheroot.wsgi

            server = cheroot.wsgi.Server(
                ('127.0.0.1', 0), module.make_app(static_dir),
                numthreads=THREADS, request_queue_size=QUEUE_SIZE,
            )
            server.prepare()
            port = server.bind_addr[1]
            threading.Thread(target=server.serve, daemon=True).start()
        print(f'READY {port}', flush=True)
        stop.wait()
    finally:
        if server is not None:
            server.stop()
        if hasattr(module, 'shutdown'):
            module.shutdown()
        common.remove_static_dir(static_dir)
    return 0


if __name__ == '__main__':
    sys.exit(main())
