"""The feature store: a Feast repo (`feature_store/repo/`) and the thin client the rest of
omnicx uses (`feature_store.client.FeatureStoreClient`).

Importing this package is cheap: Feast is imported only when the client is (so the settings and
the CLI stay fast).
"""

from typing import Any

from feature_store.config import FeatureStoreConfig
from feature_store.errors import (
    FeastCommandError,
    FeatureStoreError,
    FeatureStoreInputError,
    FeatureStoreNotApplied,
    FeatureStoreUnavailable,
)

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


def __getattr__(name: str) -> Any:
    if name in ("FeatureStoreClient", "PushResult"):
        from feature_store import client

        return getattr(client, name)
    raise AttributeError(name)
