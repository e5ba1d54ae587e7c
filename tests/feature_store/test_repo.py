"""The Feast repo: `feast apply` on a fresh directory registers exactly the agreed objects."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from feature_store.config import (
    REPO_PATH,
    feast_argv,
    feast_environment,
    write_feature_store_yaml,
)
from omnicx.settings import Settings
from schemas.features import (
    CHANNEL_REALTIME_FEATURES,
    CHANNEL_REALTIME_PUSH_SOURCE,
    CHANNEL_REALTIME_VIEW,
    CUSTOMER_DAILY_FEATURES,
    CUSTOMER_DAILY_VIEW,
    CUSTOMER_REALTIME_FEATURES,
    CUSTOMER_REALTIME_PUSH_SOURCE,
    CUSTOMER_REALTIME_VIEW,
)
from tests.feature_store.conftest import make_config

pytestmark = pytest.mark.integration


def test_yaml_from_settings_keeps_state_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMNICX_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OMNICX_ONLINE_STORE", "redis")
    monkeypatch.setenv("OMNICX_REDIS__PORT", "22379")
    s = Settings()
    fs = s.feature_store
    assert fs.data_dir == tmp_path / "home" / "feature_store"
    assert fs.lake_dir == tmp_path / "home" / "lake"
    doc = yaml.safe_load(write_feature_store_yaml(fs).read_text())
    assert doc["project"] == "omnicx" and doc["provider"] == "local"
    assert doc["registry"]["path"] == str(tmp_path / "home" / "feature_store" / "registry.db")
    assert doc["online_store"] == {"type": "redis", "connection_string": "127.0.0.1:22379"}
    assert doc["offline_store"]["type"] == "spark"
    # Nothing of the state lands in the source tree.
    assert not (REPO_PATH / "data").exists() and not (REPO_PATH / "registry.db").exists()


def test_feast_apply_on_fresh_dir(tmp_path: Path) -> None:
    config = make_config(tmp_path)
    write_feature_store_yaml(config)
    env = feast_environment(config)

    def feast(*args: str) -> str:
        proc = subprocess.run(
            feast_argv(config, *args), env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    out = feast("apply", "--skip-source-validation")
    assert "personalisation_v1" in out and "outreach_v1" in out
    assert (tmp_path / "fs" / "registry.db").exists() and (tmp_path / "fs" / "online.db").exists()

    from feast import FeatureStore

    store = FeatureStore(repo_path=str(REPO_PATH), fs_yaml_file=config.yaml_path)
    assert {e.name for e in store.list_entities()} == {"customer", "channel"}
    assert {(e.name, e.join_key) for e in store.list_entities()} == {
        ("customer", "customer_id"),
        ("channel", "channel"),
    }
    views = {v.name: v for v in store.list_feature_views()}
    assert set(views) == {CUSTOMER_REALTIME_VIEW, CHANNEL_REALTIME_VIEW, CUSTOMER_DAILY_VIEW}
    for name, spec in [
        (CUSTOMER_REALTIME_VIEW, CUSTOMER_REALTIME_FEATURES),
        (CHANNEL_REALTIME_VIEW, CHANNEL_REALTIME_FEATURES),
        (CUSTOMER_DAILY_VIEW, CUSTOMER_DAILY_FEATURES),
    ]:
        assert [f.name for f in views[name].features] == list(spec)
    pushes = {s.name: s for s in store.list_data_sources() if type(s).__name__ == "PushSource"}
    assert set(pushes) == {CUSTOMER_REALTIME_PUSH_SOURCE, CHANNEL_REALTIME_PUSH_SOURCE}
    for push in pushes.values():
        # Each push source keeps pushed rows offline, under the data dir, not in the source tree.
        assert push.batch_source.path.startswith(str(tmp_path / "fs" / "push_log"))
    daily = views[CUSTOMER_DAILY_VIEW].batch_source
    assert daily.path == str(tmp_path / "lake" / "gold" / "customer_features_daily")

    services = {s.name: s for s in store.list_feature_services()}
    assert set(services) == {"personalisation_v1", "outreach_v1"}
    outreach = {
        p.name: [f.name for f in p.features]
        for p in services["outreach_v1"].feature_view_projections
    }
    assert outreach == {
        CUSTOMER_REALTIME_VIEW: list(CUSTOMER_REALTIME_FEATURES),
        CUSTOMER_DAILY_VIEW: list(CUSTOMER_DAILY_FEATURES),
    }


def test_feastignore_keeps_package_init_out() -> None:
    ignore = (REPO_PATH / ".feastignore").read_text().split()
    assert "__init__.py" in ignore
