"""Reusable helpers behind pyframe's tools: HTTP utilities, config parsing,
static files, sessions, encodings and more."""


def __getattr__(name):
    # The static module imports the request machinery; load it on first use.
    if name in ('file_generator', 'file_generator_limited'):
        from . import static

        return getattr(static, name)
    raise AttributeError(name)
