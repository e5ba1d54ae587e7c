"""The KRaft cluster id never starts with "-" (kafka-storage would read it as an option)."""

import uuid

from infra.kafka import broker
from infra.kafka.broker import new_cluster_id

# 0xF8 as the first byte gives "-" as the first URL-safe base64 character.
DASH_FIRST = uuid.UUID(bytes=b"\xf8" + b"\x01" * 15)
PLAIN = uuid.UUID(bytes=b"\x10" + b"\x02" * 15)


def test_an_id_starting_with_a_dash_is_drawn_again(monkeypatch):
    draws = iter([DASH_FIRST, DASH_FIRST, PLAIN])
    monkeypatch.setattr(broker.uuid, "uuid4", lambda: next(draws))
    cluster_id = new_cluster_id()
    assert cluster_id == "EAICAgICAgICAgICAgICAg"
    assert len(cluster_id) == 22


def test_a_stored_dash_id_is_replaced(tmp_path, monkeypatch):
    monkeypatch.setattr(broker.uuid, "uuid4", lambda: PLAIN)
    (tmp_path / "cluster.id").write_text("-AICAgICAgICAgICAgICAg\n")
    kafka = broker.LocalKafka.__new__(broker.LocalKafka)
    kafka.data_dir = tmp_path
    assert kafka._cluster_id() == "EAICAgICAgICAgICAgICAg"
    assert (tmp_path / "cluster.id").read_text().strip() == "EAICAgICAgICAgICAgICAg"
