"""Settings: OMNICX_ environment variables, comma lists, nested fields, derived paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from omnicx.settings import Settings

pytestmark = pytest.mark.unit


def test_defaults_work_on_one_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.home == tmp_path / ".omnicx"
    assert s.kafka.data_dir == tmp_path / ".omnicx" / "kafka"
    assert s.lake_dir == tmp_path / ".omnicx" / "lake"
    assert s.bootstrap == "127.0.0.1:19092" and s.manages_kafka
    assert s.online_store == "sqlite" and s.sla_minutes == 60


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNICX_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("OMNICX_KAFKA__PORT", "29092")
    monkeypatch.setenv("OMNICX_KAFKA__NODES", "3")
    monkeypatch.setenv("OMNICX_OWN_EMAIL_DOMAINS", "acme.com, support.acme.com ,")
    monkeypatch.setenv("OMNICX_OWN_SOCIAL_HANDLES", "AcmeSupport")
    monkeypatch.setenv("OMNICX_SLA_MINUTES", "30")
    monkeypatch.setenv("OMNICX_ONLINE_STORE", "redis")
    s = Settings()
    assert s.kafka.port == 29092 and s.kafka.nodes == 3
    assert s.bootstrap == "127.0.0.1:29092,127.0.0.1:29093,127.0.0.1:29094"
    assert s.kafka.replication_factor == 3 and s.kafka.min_insync_replicas == 2
    assert s.own_email_domains == ["acme.com", "support.acme.com"]
    assert s.own_social_handles == ["AcmeSupport"]
    assert s.sla_minutes == 30 and s.online_store == "redis"
    assert s.kafka.data_dir == tmp_path / "h" / "kafka"


def test_external_cluster_is_not_managed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNICX_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092")
    s = Settings()
    assert s.bootstrap == "kafka-1:9092,kafka-2:9092" and not s.manages_kafka


def test_bad_value_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("OMNICX_ONLINE_STORE", "memcached")
    with pytest.raises(ValidationError, match="online_store"):
        Settings()
