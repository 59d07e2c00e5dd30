"""The documentation builds without warnings and its Python examples parse."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest

from support import IN_CI, REPO

DOCS = REPO / 'docs'


def python_blocks():
    """Yield (file name, block number, code) for every Python code block."""
    pattern = re.compile(r'^\.\. code-block:: python\n\n((?:(?:    .*)?\n)+)', re.M)
    for page in sorted(DOCS.rglob('*.rst')):
        for number, match in enumerate(pattern.finditer(page.read_text()), 1):
            yield pytest.param(textwrap.dedent(match.group(1)), id=f'{page.relative_to(DOCS)}-{number}')


@pytest.mark.parametrize('code', list(python_blocks()))
def test_python_examples_compile(code):
    compile(code, '<docs example>', 'exec')


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    try:
        import sphinx  # noqa: F401
    except ImportError:
        if IN_CI:
            pytest.fail('sphinx is missing; the test extra must install it')
        pytest.skip('sphinx is not installed (pip install -e .[docs])')
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '--keep-going', '-q', '-b', 'html',
         str(DOCS), str(tmp_path / 'html')],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / 'html' / 'engine.html').exists()
