"""Count the CPU instructions one request costs, with valgrind's callgrind.

Timings on a shared machine move by ten percent from one minute to the
next; instruction counts do not: the same interpreter, code and input give
the same count, whatever else runs. That makes them the measure to compare
two versions of the request path while working on it (the timings of
``run.py`` stay the figures that count).

    python3 bench/instructions.py                  # pyframe, scenarios a and b
    python3 bench/instructions.py --frameworks pyframe,bottle --scenarios a

Each framework and scenario runs twice under callgrind, making ``--few``
and then ``--many`` requests after the same warm-up; the difference of the
two totals divided by the difference of the counts is what one request
costs, without the start-up both runs share. Uses ``bench/.venv`` when
``run.py`` made it (for the peers), else this interpreter. Needs valgrind
(Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_COLLECTED = re.compile(r'Collected : (\d+)')


def _worker(framework: str, scenario: str, count: int) -> None:
    """Make ``count`` checked requests of ``scenario`` after a warm-up, then exit."""
    sys.path.insert(0, str(HERE))
    from apps import common, load
    from inprocess import prepare

    module = load(framework)
    app = module.make_app(common.make_static_dir())
    caller = prepare(scenario, app, module.SESSIONS)
    for _ in range(200 + count):
        caller()
    # No engine shutdown or clean-up: both runs end the same way.
    os._exit(0)


def instructions(python: str, framework: str, scenario: str, count: int) -> int:
    """Total instructions callgrind counts for a worker making ``count`` requests."""
    run = subprocess.run(
        ['valgrind', '--tool=callgrind', '--callgrind-out-file=/dev/null', python,
         str(Path(__file__)), '--worker', framework, scenario, str(count)],
        capture_output=True, text=True, check=False)
    found = _COLLECTED.search(run.stderr)
    if run.returncode != 0 or found is None:
        raise RuntimeError(f'{framework} {scenario}: callgrind failed:\n{run.stderr[-2000:]}')
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    """Command line entry: print instructions per request, one line per case."""
    parser = argparse.ArgumentParser(description=__doc__.partition('\n')[0])
    parser.add_argument('--frameworks', default='pyframe', help='names, comma separated')
    parser.add_argument('--scenarios', default='ab', help='letters among a, b, c, d')
    parser.add_argument('--few', type=int, default=1000)
    parser.add_argument('--many', type=int, default=4000)
    parser.add_argument('--worker', nargs=3, metavar=('FRAMEWORK', 'SCENARIO', 'COUNT'),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        framework, scenario, count = args.worker
        _worker(framework, scenario, int(count))
    if shutil.which('valgrind') is None:
        print('valgrind is not installed (Debian package valgrind)', file=sys.stderr)
        return 1
    venv_python = HERE / '.venv' / 'bin' / 'python'
    python = str(venv_python) if venv_python.exists() else sys.executable
    for framework in args.frameworks.split(','):
        for scenario in args.scenarios.replace(',', ''):
            few = instructions(python, framework, scenario, args.few)
            many = instructions(python, framework, scenario, args.many)
            per_request = (many - few) / (args.many - args.few)
            print(f'{framework:10} {scenario}  {per_request:12,.0f} instructions/request')
    return 0


if __name__ == '__main__':
    sys.exit(main())
