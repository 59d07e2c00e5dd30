"""Response and request encodings: charsets for text bodies.

This first version only chooses the charset text bodies are encoded with;
Accept-Charset negotiation, decoding and compression build on it.
"""

from __future__ import annotations

from ..context import serving

__all__ = ['encode']


def encode(encoding: str | None = None, default_encoding: str = 'utf-8',
           text_only: bool = True, add_charset: bool = True, errors: str = 'strict',
           debug: bool = False) -> None:
    """Encode text response bodies with ``encoding`` (or ``default_encoding``).

    The charset is declared in the Content-Type of text responses; the
    response encodes the body when it is finalized.
    """
    serving.response.default_encoding = encoding or default_encoding
