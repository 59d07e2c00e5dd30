"""Does pyframe keep memory it should release? Count, don't time.

``python leak.py SCENARIO`` (``a`` hello world, ``b`` typical handler with
its session cookie sent back) calls pyframe's app in-process and prints
JSON with two measures of growth:

* ``gc_growth`` and ``block_growth``: ``len(gc.get_objects())`` and
  ``sys.getallocatedblocks()`` after all ``--requests`` calls minus their
  values before them. A leak of one object per request shows up as about
  ``--requests`` in the blocks (and in the objects, for containers the
  collector tracks).
* ``traced_growth``: the net bytes ``tracemalloc`` sees allocated and not
  freed over ``--window`` calls made after the warm-up, with the biggest
  differences in ``top`` (file:line, bytes, count). Tracing slows every
  allocation several times over, so it covers a shorter window than the
  object count.

The warm-up fills the caches that are meant to fill once (config and
dispatch caches, the one session), so neither measure should move after it.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from typing import Any, Callable

from apps import common, load
from inprocess import prepare

#: Most objects (and memory blocks) the heap may gain over all the
#: untraced calls: a leak of even one object per request adds about
#: ``--requests``.
GC_BOUND = 1000
#: Most net bytes the traced window may keep.
TRACED_BOUND = 64 * 1024

#: Traced calls made before the first snapshot.
TRACED_WARMUP = 200

# Allocations of the measuring machinery itself are not the app's.
_IGNORED = (tracemalloc.__file__, __file__, '<frozen importlib._bootstrap>')


def traced_growth(call: Callable[[], Any], window: int, top: int = 10) -> tuple[int, list]:
    """Return net traced bytes over ``window`` calls, and the top differences."""
    tracemalloc.start(5)
    try:
        # A few traced calls first: tracing itself has one-off allocations.
        for _ in range(TRACED_WARMUP):
            call()
        gc.collect()
        before = tracemalloc.take_snapshot()
        for _ in range(window):
            call()
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    filters = [tracemalloc.Filter(False, name) for name in _IGNORED]
    stats = after.filter_traces(filters).compare_to(before.filter_traces(filters), 'lineno')
    growth = sum(stat.size_diff for stat in stats)
    biggest = sorted(stats, key=lambda stat: -abs(stat.size_diff))[:top]
    return growth, [[str(stat.traceback[0]), stat.size_diff, stat.count_diff]
                    for stat in biggest]


def object_growth(call: Callable[[], Any], requests: int) -> tuple[int, int]:
    """Return ``(objects, blocks)`` gained over ``requests`` calls.

    ``objects`` counts what the garbage collector tracks; it misses
    objects the collector never tracks (a dict of only strings and
    numbers, a str), which ``blocks``, the interpreter's count of
    allocated memory blocks, includes.
    """
    gc.collect()
    objects, blocks = len(gc.get_objects()), sys.getallocatedblocks()
    for _ in range(requests):
        call()
    gc.collect()
    return len(gc.get_objects()) - objects, sys.getallocatedblocks() - blocks


def measure(scenario: str, requests: int, warmup: int, window: int) -> dict[str, Any]:
    """Run ``scenario`` on pyframe and return the growth figures."""
    module = load('pyframe')
    static_dir = common.make_static_dir()
    try:
        call = prepare(scenario, module.make_app(static_dir), module.SESSIONS)
        for _ in range(warmup):
            call()
        growth, top = traced_growth(call, window)
        objects, blocks = object_growth(call, requests)
        last = call()
    finally:
        module.shutdown()
        common.remove_static_dir(static_dir)
    return {
        'scenario': scenario,
        'requests': requests,
        'window': window,
        'gc_growth': objects,
        'block_growth': blocks,
        'traced_growth': growth,
        'top': top,
        'last_body': last.decode('utf-8', 'replace'),
    }


def main(argv: list[str] | None = None) -> int:
    """Command line entry: print the growth figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.partition('\n')[0])
    parser.add_argument('scenario', choices=('a', 'b'))
    parser.add_argument('--requests', type=int, default=100_000,
                        help='untraced calls between the two object counts')
    parser.add_argument('--warmup', type=int, default=5_000)
    parser.add_argument('--window', type=int, default=5_000,
                        help='calls traced by tracemalloc')
    args = parser.parse_args(argv)
    json.dump(measure(args.scenario, args.requests, args.warmup, args.window), sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
