"""Sphinx configuration for the pyframe documentation."""

import os
import sys

sys.path.insert(0, os.path.abspath('..'))

import pyframe  # noqa: E402

project = 'pyframe'
author = 'The pyframe developers'
copyright = '2026, The pyframe developers'
version = release = pyframe.__version__

extensions = ['sphinx.ext.autodoc', 'sphinx.ext.viewcode']
autodoc_member_order = 'bysource'
exclude_patterns = ['_build']
html_theme = 'alabaster'
