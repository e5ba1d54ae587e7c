"""Errors of the feature store package.

`FeatureStoreError` is the root; its message is one line that says what to do.
`FeatureStoreUnavailable` is worth retrying (the online store does not answer);
`FeatureStoreInputError` never succeeds as is (a row without its key, an unknown service).
"""

from __future__ import annotations


class FeatureStoreError(Exception):
    """Root of errors raised by `feature_store`."""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class FeatureStoreInputError(FeatureStoreError):
    """A request that can never succeed as given: bad rows, unknown service or view."""


class FeatureStoreNotApplied(FeatureStoreError):
    """The registry does not hold the repo's objects yet: run `omnicx features apply`."""


class FeatureStoreUnavailable(FeatureStoreError):
    """The online store (Redis) does not answer. Worth retrying."""


class FeastCommandError(FeatureStoreError):
    """A `feast` command exited with an error; `detail` holds its output."""
