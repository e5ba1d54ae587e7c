"""Errors of the `omnicx` glue layer."""

from __future__ import annotations


class OmnicxError(Exception):
    """Root of errors raised by the CLI and the local stack; the message is one line for users."""
