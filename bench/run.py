"""Benchmark pyframe beside a bare WSGI app, Falcon, Bottle, Flask and CherryPy 18.

Run ``python3 bench/run.py`` from anywhere. The first run creates
``bench/.venv`` with pyframe (editable, from this checkout) and the peers,
then the command re-runs itself inside it. Scenarios:

  a  in-process hello world              (µs per request)
  b  in-process typical handler: query params, json_out, RAM session
     with the cookie sent back           (µs per request; pyframe vs CherryPy)
  c  in-process static 100 KB file       (µs per request)
  d  in-process multipart upload of 1 MB (µs per request)
  e  loopback hello world with wrk at 10 and 100 connections
                                         (requests/s and p99 latency)
  f  server peak memory after 10 000 requests of the typical handler,
     plus pyframe's memory growth over 100 000 in-process requests

Figures are medians of several runs; tables go to stdout, progress to
stderr, and everything to ``bench/results/latest.json``. See README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
VENV = HERE / '.venv'
RESULTS = HERE / 'results' / 'latest.json'
PEERS = ('falcon', 'bottle', 'flask', 'cherrypy>=18,<19')
FRAMEWORKS = ('pyframe', 'bare', 'falcon', 'bottle', 'flask', 'cherrypy')
DISTRIBUTIONS = ('pyframe', 'cheroot', 'falcon', 'bottle', 'flask', 'cherrypy')
IN_PROCESS = 'abcd'
TITLES = {
    'a': 'in-process hello world',
    'b': 'in-process typical handler (params, json_out, RAM session + cookie)',
    'c': 'in-process static 100 KB file',
    'd': 'in-process multipart upload of 1 MB',
    'e': 'loopback hello world with wrk (cheroot, 10 threads)',
    'f': 'server memory after the typical handler over loopback',
}
#: Each (e) row: label, framework, served through pyframe.server or not.
SERVERS = (
    ('pyframe', 'pyframe', False),
    ('pyframe (pyframe.server)', 'pyframe', True),
    ('bare', 'bare', False),
    ('falcon', 'falcon', False),
    ('bottle', 'bottle', False),
    ('flask', 'flask', False),
    ('cherrypy', 'cherrypy', False),
)
CONNECTIONS = (10, 100)
GROWTH_NAMES = {'a': 'hello world', 'b': 'typical handler, one session'}
TYPICAL_PATH = '/typical?name=x&count=3'


def progress(message: str) -> None:
    """Tell the person waiting what runs now (stderr keeps stdout clean)."""
    print(f'[bench] {message}', file=sys.stderr, flush=True)


# --- the bench virtual environment -------------------------------------------

def _install_stamp() -> str:
    """What the venv was installed from: a change means reinstall."""
    pyproject = hashlib.sha256((REPO / 'pyproject.toml').read_bytes()).hexdigest()
    return '\n'.join([str(REPO), pyproject, *PEERS])


def in_bench_venv() -> bool:
    """True when this interpreter is bench/.venv's."""
    return Path(sys.prefix).resolve() == VENV.resolve()


def enter_bench_venv(argv: list[str]) -> None:
    """Create and fill bench/.venv if needed, then re-run this command in it."""
    python = VENV / 'bin' / 'python'
    if not python.exists():
        progress(f'creating {VENV}')
        subprocess.run([sys.executable, '-m', 'venv', str(VENV)], check=True)
    stamp = VENV / '.bench-installed'
    if not stamp.exists() or stamp.read_text() != _install_stamp():
        progress('installing pyframe (editable) and ' + ', '.join(PEERS))
        subprocess.run([str(python), '-m', 'pip', 'install', '-q', '--upgrade', 'pip'],
                       check=True)
        subprocess.run([str(python), '-m', 'pip', 'install', '-q', '-e', str(REPO), *PEERS],
                       check=True)
        stamp.write_text(_install_stamp())
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *argv])


# --- running the scenarios ---------------------------------------------------

def run_in_process(scenarios: str, runs: int, budget: float) -> dict[str, dict[str, Any]]:
    """Scenarios a-d: per framework and scenario, the list of ns/request of each run.

    Runs are interleaved (run 1 of every framework, then run 2 ...) so a
    burst of load from elsewhere on the machine hits all of them alike.
    A framework that fails gets ``{'error': ...}`` instead of a list.
    """
    results: dict[str, dict[str, Any]] = {name: {} for name in FRAMEWORKS}
    for run in range(1, runs + 1):
        for name in FRAMEWORKS:
            progress(f'in-process {scenarios} run {run}/{runs}: {name}')
            done = subprocess.run(
                [sys.executable, str(HERE / 'inprocess.py'), name,
                 '--scenarios', scenarios, '--budget', str(budget)],
                capture_output=True, text=True, cwd=HERE, timeout=600)
            try:
                figures = json.loads(done.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                error = (done.stderr.strip().splitlines() or ['no output'])[-1]
                figures = {s: {'error': error} for s in scenarios}
            for scenario, figure in figures.items():
                if isinstance(figure, dict):
                    results[name][scenario] = figure
                else:
                    results[name].setdefault(scenario, []).append(figure)
    return results


def run_loopback(runs: int, duration: int, warmup: int) -> dict[str, Any]:
    """Scenario e: per server row and connection count, wrk's figures per run."""
    import loadgen

    wrk = loadgen.find_wrk()
    if wrk is None:
        return {'error': 'wrk not installed'}
    results: dict[str, Any] = {label: {str(c): [] for c in CONNECTIONS}
                               for label, _, _ in SERVERS}
    servers: dict[str, loadgen.ServerProcess] = {}
    try:
        # Every server runs from the start; idle ones cost next to nothing,
        # and interleaving the runs spreads outside noise evenly.
        for label, framework, adapter in SERVERS:
            try:
                servers[label] = loadgen.ServerProcess(framework, adapter)
            except RuntimeError as exc:
                results[label] = {'error': str(exc).splitlines()[-1]}
        for label, server in servers.items():
            progress(f'loopback warm-up: {label}')
            loadgen.run_wrk(wrk, server.base + '/', CONNECTIONS[0], warmup)
        for run in range(1, runs + 1):
            for label, server in servers.items():
                for connections in CONNECTIONS:
                    progress(f'loopback run {run}/{runs}: {label}, {connections} connections')
                    outcome = loadgen.run_wrk(wrk, server.base + '/', connections, duration)
                    results[label][str(connections)].append(outcome.__dict__)
    finally:
        for server in servers.values():
            server.stop()
    return results


def run_memory(runs: int, requests: int, leak_requests: int) -> dict[str, Any]:
    """Scenario f: start and peak RSS of each server around ``requests`` requests.

    Also runs ``leak.py`` for pyframe's in-process growth over
    ``leak_requests`` calls of hello world and of the typical handler.
    """
    import loadgen

    servers: dict[str, Any] = {}
    for label, framework, adapter in SERVERS:
        figures: list[dict[str, int]] = []
        for run in range(1, runs + 1):
            progress(f'memory run {run}/{runs}: {label}, {requests} requests')
            try:
                with loadgen.ServerProcess(framework, adapter) as server:
                    start = server.memory_kib()['VmRSS']
                    loadgen.send_requests(server.port, TYPICAL_PATH, requests)
                    figures.append({'start_kib': start, 'peak_kib': server.memory_kib()['VmHWM']})
            except RuntimeError as exc:
                servers[label] = {'error': str(exc).splitlines()[-1]}
                break
        else:
            servers[label] = figures
    growth = {}
    for scenario in ('a', 'b'):
        progress(f'pyframe memory growth over {leak_requests} in-process requests ({scenario})')
        done = subprocess.run(
            [sys.executable, str(HERE / 'leak.py'), scenario, '--requests', str(leak_requests)],
            capture_output=True, text=True, cwd=HERE, timeout=1200)
        try:
            growth[scenario] = json.loads(done.stdout)
        except ValueError:
            growth[scenario] = {'error': (done.stderr.strip().splitlines() or ['no output'])[-1]}
    return {'servers': servers, 'growth': growth, 'requests': requests}


# --- reporting ---------------------------------------------------------------

def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, digits: int = 1) -> str:
    return 'n/a' if value is None else f'{value:,.{digits}f}'


def _ratio(value: float | None, base: float | None) -> str:
    if value is None or not base:
        return 'n/a'
    return f'{value / base:.2f}'


def table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table: readable in a terminal, pastable into README.md."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells: list[str]) -> str:
        return '| ' + ' | '.join(str(c).ljust(w) for c, w in zip(cells, widths)) + ' |'

    return '\n'.join([line(header), '|' + '|'.join('-' * (w + 2) for w in widths) + '|',
                      *[line(row) for row in rows]])


def in_process_medians(raw: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """µs per request (median) per scenario and framework, or a note string."""
    medians: dict[str, dict[str, Any]] = {}
    for name, scenarios in raw.items():
        for scenario, figures in scenarios.items():
            if isinstance(figures, dict):
                note = figures.get('na') or 'error: ' + figures.get('error', '?')
                medians.setdefault(scenario, {})[name] = note
            else:
                medians.setdefault(scenario, {})[name] = _median(figures) / 1000
    return medians


def report_in_process(medians: dict[str, dict[str, Any]], runs: int) -> list[str]:
    """The tables of scenarios a-d."""
    out = []
    for scenario in IN_PROCESS:
        if scenario not in medians:
            continue
        figures = medians[scenario]
        base = figures.get('pyframe')
        base = base if isinstance(base, float) else None
        rows = []
        for name in FRAMEWORKS:
            value = figures.get(name)
            if isinstance(value, float):
                rows.append([name, _fmt(value), _ratio(value, base)])
            else:
                rows.append([name, value or 'n/a', 'n/a'])
        out.append(f'({scenario}) {TITLES[scenario]}: µs per request, median of {runs} runs; '
                   f'ratio = framework ÷ pyframe (below 1: faster than pyframe)')
        out.append(table(['framework', 'µs/request', 'ratio'], rows))
    return out


def loopback_medians(raw: dict[str, Any]) -> dict[str, Any]:
    """Median requests/s, p99 (ms) and total errors per server and connections."""
    medians: dict[str, Any] = {}
    for label, per_connections in raw.items():
        if 'error' in per_connections:
            medians[label] = per_connections
            continue
        medians[label] = {
            c: {'rps': _median([r['requests_per_second'] for r in runs]),
                'p99_ms': _median([r['p99_ms'] for r in runs]),
                'errors': sum(r['errors'] for r in runs)}
            for c, runs in per_connections.items()}
    return medians


def report_loopback(medians: dict[str, Any], runs: int, duration: int) -> list[str]:
    """The table of scenario e."""
    if 'error' in medians:
        return [f'(e) {TITLES["e"]}: {medians["error"]}']
    base = medians.get('pyframe', {})
    rows = []
    for label, _, _ in SERVERS:
        figures = medians.get(label, {})
        if 'error' in figures:
            rows.append([label, figures['error']] + [''] * (3 * len(CONNECTIONS) - 1))
            continue
        row = [label]
        for c in map(str, CONNECTIONS):
            here = figures.get(c, {})
            ref = base.get(c, {}) if 'error' not in base else {}
            errors = f" ({here['errors']} errors)" if here.get('errors') else ''
            row += [_fmt(here.get('rps'), 0) + errors, _fmt(here.get('p99_ms'), 2),
                    _ratio(here.get('rps'), ref.get('rps'))]
        rows.append(row)
    header = ['server']
    for c in CONNECTIONS:
        header += [f'req/s c{c}', f'p99 ms c{c}', f'ratio c{c}']
    return [f'(e) {TITLES["e"]}: wrk -t1 -cN -d{duration}s, median of {runs} runs; '
            f'ratio = requests/s ÷ pyframe\'s (below 1: slower than pyframe)',
            table(header, rows)]


def memory_medians(raw: dict[str, Any]) -> dict[str, Any]:
    """Median start and peak RSS in MiB per server row."""
    medians = {}
    for label, runs in raw['servers'].items():
        if isinstance(runs, dict):
            medians[label] = runs
        else:
            medians[label] = {'start_mib': _median([r['start_kib'] for r in runs]) / 1024,
                              'peak_mib': _median([r['peak_kib'] for r in runs]) / 1024}
    return medians


def report_memory(medians: dict[str, Any], raw: dict[str, Any], runs: int) -> list[str]:
    """The table of scenario f, and pyframe's in-process growth."""
    import leak

    base = medians.get('pyframe', {}).get('peak_mib')
    rows = []
    for label, framework, _ in SERVERS:
        figures = medians.get(label, {})
        if 'error' in figures:
            rows.append([label, figures['error'], '', '', ''])
            continue
        session = 'yes' if framework in ('pyframe', 'cherrypy') else 'no'
        rows.append([label, session, _fmt(figures.get('start_mib')),
                     _fmt(figures.get('peak_mib')), _ratio(figures.get('peak_mib'), base)])
    out = [f'(f) {TITLES["f"]}: {raw["requests"]} requests of {TYPICAL_PATH} over 4 '
           f'keep-alive connections, median of {runs} runs; RSS in MiB; '
           f'ratio = peak ÷ pyframe\'s',
           table(['server', 'session', 'RSS at start', 'peak RSS (VmHWM)', 'ratio'], rows)]
    rows = []
    for scenario, growth in raw['growth'].items():
        if 'error' in growth:
            rows.append([GROWTH_NAMES[scenario], growth['error'], '', ''])
        else:
            rows.append([GROWTH_NAMES[scenario],
                         f"{growth['gc_growth']} (bound {leak.GC_BOUND})",
                         f"{growth['block_growth']} (bound {leak.GC_BOUND})",
                         f"{growth['traced_growth']} over {growth['window']} requests "
                         f"(bound {leak.TRACED_BOUND})"])
    requests = next((g['requests'] for g in raw['growth'].values() if 'requests' in g), '?')
    out += [f'pyframe memory growth over {requests} in-process requests (after a warm-up)',
            table(['scenario', 'gc objects gained', 'memory blocks gained',
                   'traced bytes kept'], rows)]
    return out


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets: name, PASS/FAIL (or SKIP), and the numbers."""
    checks = []
    inproc = results.get('in_process', {}).get('medians', {})

    def number(scenario: str, name: str) -> float | None:
        value = inproc.get(scenario, {}).get(name)
        return value if isinstance(value, float) else None

    def check(name: str, passed: bool | None, detail: str) -> None:
        verdict = 'SKIP' if passed is None else ('PASS' if passed else 'FAIL')
        checks.append({'target': name, 'verdict': verdict, 'detail': detail})

    ours, bottle = number('a', 'pyframe'), number('a', 'bottle')
    if ours is not None and bottle is not None:
        check('hello world in-process <= Bottle', ours <= bottle,
              f'pyframe {ours:.1f} µs, Bottle {bottle:.1f} µs (ratio {ours / bottle:.2f})')
    else:
        check('hello world in-process <= Bottle', None, 'scenario a not measured')
    ours, cherrypy = number('b', 'pyframe'), number('b', 'cherrypy')
    if ours is not None and cherrypy is not None:
        check('typical handler <= 1/8 of CherryPy', ours <= cherrypy / 8,
              f'pyframe {ours:.1f} µs, CherryPy {cherrypy:.1f} µs '
              f'(ratio {ours / cherrypy:.3f}, target 0.125)')
    else:
        check('typical handler <= 1/8 of CherryPy', None, 'scenario b not measured')
    loop = results.get('loopback', {}).get('medians', {})
    for c in map(str, CONNECTIONS):
        name = f'loopback req/s >= 80% of bare WSGI at {c} connections'
        ours = loop.get('pyframe', {}).get(c, {}).get('rps')
        bare = loop.get('bare', {}).get(c, {}).get('rps')
        if ours and bare:
            check(name, ours >= 0.8 * bare,
                  f'pyframe {ours:,.0f} req/s, bare {bare:,.0f} req/s (ratio {ours / bare:.2f})')
        else:
            check(name, None, 'scenario e not measured')
    growth = results.get('memory', {}).get('raw', {}).get('growth', {})
    if growth and all('gc_growth' in g for g in growth.values()):
        import leak

        passed = all(g['gc_growth'] < leak.GC_BOUND and g['block_growth'] < leak.GC_BOUND
                     and g['traced_growth'] < leak.TRACED_BOUND for g in growth.values())
        count = max(g['requests'] for g in growth.values())
        check(f'no memory growth over {count:,} requests', passed, '; '.join(
            f"{s}: {g['gc_growth']} objects and {g['block_growth']} blocks over "
            f"{g['requests']}, "
            f"{g['traced_growth']} B traced over {g['window']}" for s, g in growth.items()))
    else:
        check('no memory growth over 100 000 requests', None,
              'scenario f not measured (tests/test_memory.py checks it too)')
    return checks


def machine() -> dict[str, Any]:
    """What the figures were measured on, read at run time."""
    model = ''
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                model = line.partition(':')[2].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in DISTRIBUTIONS:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = 'not installed'
    return {'cores': os.cpu_count(), 'cpu': model, 'python': platform.python_version(),
            'implementation': platform.python_implementation(), 'system': platform.platform(),
            'versions': versions, 'date': time.strftime('%Y-%m-%d %H:%M:%S %Z')}


# --- command line ------------------------------------------------------------

def parse_args(argv: list[str]) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(
        description=__doc__.partition('\n')[0],
        epilog='Scenarios: ' + '; '.join(f'{k} {v}' for k, v in TITLES.items()))
    parser.add_argument('--quick', action='store_true',
                        help='a short run to try the command: 1 run, short timings')
    parser.add_argument('--only', default='abcdef', metavar='a,b,...',
                        help='scenarios to run (default: all)')
    parser.add_argument('--runs', type=int, default=None,
                        help='runs per in-process figure (default 5, quick 1)')
    parser.add_argument('--load-runs', type=int, default=None,
                        help='runs per loopback and memory figure (default 3, quick 1)')
    parser.add_argument('--duration', type=int, default=None,
                        help='whole seconds of each wrk run (default 5, quick 1)')
    parser.add_argument('--no-venv', action='store_true',
                        help='use this interpreter as it is (missing peers are reported)')
    parser.add_argument('--output', type=Path, default=RESULTS,
                        help=f'where to write the JSON results (default {RESULTS})')
    args = parser.parse_args(argv)
    args.only = ''.join(sorted({c for c in args.only.lower() if c in TITLES}))
    if not args.only:
        parser.error('--only names no scenario among a-f')
    if args.runs is None:
        args.runs = 1 if args.quick else 5
    if args.load_runs is None:
        args.load_runs = 1 if args.quick else 3
    if args.duration is None:
        args.duration = 1 if args.quick else 5
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the chosen scenarios, print the tables and targets, save JSON."""
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if not args.no_venv and not in_bench_venv():
        enter_bench_venv(argv)
    sys.path.insert(0, str(HERE))
    results: dict[str, Any] = {'machine': machine(), 'settings': {
        'quick': args.quick, 'runs': args.runs, 'load_runs': args.load_runs,
        'wrk_duration_s': args.duration, 'scenarios': args.only}}
    report: list[str] = []
    selected = ''.join(s for s in args.only if s in IN_PROCESS)
    if selected:
        raw = run_in_process(selected, args.runs, 0.1 if args.quick else 0.5)
        medians = in_process_medians(raw)
        results['in_process'] = {'raw_ns': raw, 'medians': medians}
        report += report_in_process(medians, args.runs)
    if 'e' in args.only:
        raw = run_loopback(args.load_runs, args.duration, 1)
        medians = raw if 'error' in raw else loopback_medians(raw)
        results['loopback'] = {'raw': raw, 'medians': medians}
        report += report_loopback(medians, args.load_runs, args.duration)
    if 'f' in args.only:
        raw = run_memory(args.load_runs, 2_000 if args.quick else 10_000,
                         10_000 if args.quick else 100_000)
        medians = memory_medians(raw)
        results['memory'] = {'raw': raw, 'medians': medians}
        report += report_memory(medians, raw, args.load_runs)
    results['targets'] = targets(results)
    info = results['machine']
    print(f"Machine: {info['cores']} cores ({info['cpu']}), {info['implementation']} "
          f"{info['python']}, {info['system']}")
    print('Versions: ' + ', '.join(f'{k} {v}' for k, v in info['versions'].items()))
    print()
    # A title line and its table form one block.
    for title, body in zip(report[::2], report[1::2]):
        print(f'{title}\n\n{body}\n')
    print('Targets')
    for item in results['targets']:
        print(f"  {item['verdict']:4}  {item['target']}: {item['detail']}")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + '\n')
    progress(f'results written to {args.output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
