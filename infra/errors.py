"""Errors raised by the local infrastructure.

`InfraError` is the root. Its message is a single line that says what went wrong and what to
do, so a command line can print it as-is; `detail` carries supporting text (a log tail).
"""

from __future__ import annotations


class InfraError(Exception):
    """Root of every error raised by `infra`."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class ConfigurationError(InfraError):
    """The machine or the settings cannot work as they are (missing java, port taken)."""


class ResolutionError(InfraError):
    """Maven could not resolve the jars a service needs."""


class ServiceStartError(InfraError):
    """A service was launched but did not come up; `detail` holds the tail of its log."""


class ServiceUnavailableError(InfraError):
    """A service that should be running does not answer. Worth retrying."""
