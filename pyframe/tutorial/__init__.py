"""Small runnable applications, one idea each: ``python -m pyframe.tutorial.<name>``."""
