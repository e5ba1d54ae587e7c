"""The feature store: a Feast repo (`feature_store/repo/`) and the thin client the rest of
omnicx uses (`feature_store.client.FeatureStoreClient`).

Importing this package is cheap: Feast is imported only when the client is (so the settings and
the CLI stay fast).
"""

import os
from typing import Any

import prometheus_client.values  # noqa: F401  (see below: must precede Feast)

from feature_store.config import FeatureStoreConfig
from feature_store.errors import (
    FeastCommandError,
    FeatureStoreError,
    FeatureStoreInputError,
    FeatureStoreNotApplied,
    FeatureStoreUnavailable,
)

# Importing Feast sets PROMETHEUS_MULTIPROCESS_DIR (for its gunicorn workers), which switches
# prometheus_client to shared-file values: every registry in the process would then share its
# counters (the Customer API's /metrics counted the requests of other apps). prometheus_client
# picks its value storage when first imported, so it is imported above, before Feast can be, and
# values.py removes the variables again after importing Feast (`restore_prometheus_env`).
PROMETHEUS_ENV = ("PROMETHEUS_MULTIPROCESS_DIR", "PROMETHEUS_MULTIPROC_DIR")
_PROMETHEUS_ENV_BEFORE = {name: os.environ.get(name) for name in PROMETHEUS_ENV}

__all__ = [
    "FeastCommandError",
    "FeatureStoreClient",
    "FeatureStoreConfig",
    "FeatureStoreError",
    "FeatureStoreInputError",
    "FeatureStoreNotApplied",
    "FeatureStoreUnavailable",
    "PushResult",
]


def restore_prometheus_env() -> None:
    """Undo Feast's PROMETHEUS_* variables (kept if they were set before omnicx imported)."""
    for name, value in _PROMETHEUS_ENV_BEFORE.items():
        if value is None:
            os.environ.pop(name, None)


def __getattr__(name: str) -> Any:
    if name in ("FeatureStoreClient", "PushResult"):
        from feature_store import client

        return getattr(client, name)
    raise AttributeError(name)
