"""pyframe: a minimalist, object-oriented WSGI web framework."""

__version__ = '0.1.0.dev0'
