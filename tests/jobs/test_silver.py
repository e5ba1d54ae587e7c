"""Silver: identity graph (connected components, anchor rule) and customer timeline (dedup,
conversations, MERGE upsert), checked against hand-worked expectations."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from jobs.silver.identity import build_identity_graph, refresh_identity_graph
from jobs.silver.timeline import refresh_timeline
from schemas.identity import customer_id_for
from tests.lakehouse_helpers import at, bronze_frame, event, local_config, write_bronze

ANN = customer_id_for("email:ann@example.com")
BOBBY = customer_id_for("social_handle:bobby")

GRAPH_EVENTS = [
    event("a1", at(0), ids=[("email", "Ann@Example.com")]),
    event("a2", at(5), ids=[("phone", "+44 20 7946 0001"), ("email", "ann@example.com")]),
    # Linked to ann only through the phone: two rounds of propagation.
    event("a3", at(10), ids=[("social_handle", "@Annie"), ("phone", "+442079460001")]),
    event("b1", at(3), ids=[("email", "bob@example.com")]),
    event("b2", at(1), ids=[("social_handle", "bobby")]),
    event("b3", at(20), ids=[("email", "bob@example.com"), ("social_handle", "bobby")]),
    # Two identifiers first seen together: the tie goes to the smaller key.
    event("c1", at(2), ids=[("crm_id", "C9"), ("app_user_id", "u9")]),
]


@pytest.mark.integration
def test_identity_graph_components_and_anchor_rule(spark) -> None:  # type: ignore[no-untyped-def]
    rows = build_identity_graph(bronze_frame(spark, GRAPH_EVENTS)).collect()
    got = {r.identifier_key: (r.customer_id, r.anchor_key) for r in rows}
    assert got == {
        "email:ann@example.com": (ANN, "email:ann@example.com"),
        "phone:+442079460001": (ANN, "email:ann@example.com"),
        "social_handle:annie": (ANN, "email:ann@example.com"),
        "email:bob@example.com": (BOBBY, "social_handle:bobby"),  # bobby was seen first
        "social_handle:bobby": (BOBBY, "social_handle:bobby"),
        "app_user_id:u9": (customer_id_for("app_user_id:u9"), "app_user_id:u9"),
        "crm_id:C9": (customer_id_for("app_user_id:u9"), "app_user_id:u9"),
    }
    phone = next(r for r in rows if r.identifier_key == "phone:+442079460001")
    assert (phone.first_seen_at, phone.last_seen_at, phone.event_count) == (
        datetime(2024, 3, 4, 9, 5),
        datetime(2024, 3, 4, 9, 10),
        2,
    )
    # The result depends on the set of events, not their order.
    reordered = build_identity_graph(bronze_frame(spark, GRAPH_EVENTS[::-1])).collect()
    assert {r.identifier_key: r.customer_id for r in reordered} == {k: v[0] for k, v in got.items()}


def _timeline(spark, config):  # type: ignore[no-untyped-def]
    path = str(config.table_path("silver/customer_timeline"))
    return {r.source_record_id: r for r in spark.read.format("delta").load(path).collect()}


def _refresh(spark, config) -> dict[str, int]:  # type: ignore[no-untyped-def]
    refresh_identity_graph(spark, config)
    return refresh_timeline(spark, config)


@pytest.mark.integration
def test_timeline_dedups_groups_conversations_and_merges(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = local_config(tmp_path / "lake")
    love, awful = "I love this, great service!", "This is terrible and broken."
    a1 = event("a1", at(0), conversation="t1", text=love)
    events = [
        a1,
        event("a2", at(30), conversation="t1", direction="outbound", text="Happy to help"),
        event("a3", at(40), conversation="t1", text=awful),
        event("b1", at(3), channel="chat", ids=[("email", "bob@example.com")]),
        event("b2", at(1), channel="social", conversation="s1", ids=[("social_handle", "bobby")]),
        event(
            "b3",
            at(20),
            channel="social",
            conversation="s1",
            ids=[("social_handle", "bobby"), ("email", "bob@example.com")],
        ),
    ]
    write_bronze(spark, config, events)
    write_bronze(spark, config, [a1])  # the same event delivered twice

    assert _refresh(spark, config) == {"inserted": 6, "updated": 0, "deleted": 0, "rows": 6}
    rows = _timeline(spark, config)
    assert {
        k: (r.customer_id, r.conversation_key, r.conversation_seq) for k, r in rows.items()
    } == {
        "a1": (ANN, "email:t1", 1),
        "a2": (ANN, "email:t1", 2),
        "a3": (ANN, "email:t1", 3),
        "b1": (BOBBY, f"chat:{rows['b1'].event_id}", 1),
        "b2": (BOBBY, "social:s1", 1),
        "b3": (BOBBY, "social:s1", 2),
    }
    vader = SentimentIntensityAnalyzer()
    assert rows["a1"].sentiment == pytest.approx(vader.polarity_scores(love)["compound"])
    assert rows["a3"].sentiment == pytest.approx(vader.polarity_scores(awful)["compound"])
    assert rows["a1"].sentiment > 0 > rows["a3"].sentiment
    assert rows["a2"].sentiment is None  # outbound text is not scored
    assert rows["b1"].sentiment is None  # no text

    assert _refresh(spark, config) == {"inserted": 0, "updated": 0, "deleted": 0, "rows": 6}

    # bob's identifiers meet ann's: his 3 events move to ann (her anchor is older); a late
    # event opens t1 earlier, so t1's 3 events move down one place.
    write_bronze(
        spark,
        config,
        [
            event(
                "m1",
                at(50),
                channel="chat",
                ids=[("email", "bob@example.com"), ("email", "ann@example.com")],
            ),
            event("a0", at(-5), conversation="t1", text="hello?"),
        ],
    )
    assert _refresh(spark, config) == {"inserted": 2, "updated": 6, "deleted": 0, "rows": 8}
    rows = _timeline(spark, config)
    assert {r.customer_id for r in rows.values()} == {ANN}
    assert [rows[k].conversation_seq for k in ("a0", "a1", "a2", "a3")] == [1, 2, 3, 4]
    assert rows["a1"].sentiment == pytest.approx(vader.polarity_scores(love)["compound"])
