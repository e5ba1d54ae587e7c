"""Gold: CX KPIs and customer features on hand-worked data; per-brand first response on the
twcs sample against a direct pandas calculation."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from jobs.config import LakehouseConfig
from jobs.gold.features import compute_features
from jobs.gold.kpis import brand_league, compute_kpis
from jobs.silver.identity import build_identity_graph
from jobs.silver.timeline import build_timeline, dedup_events, timeline_rows, with_sentiment
from schemas.identity import customer_id_for
from tests.conftest import SAMPLE_TWEETS
from tests.lakehouse_helpers import at, bronze_frame, event, twcs_events

CONFIG = LakehouseConfig()
LOVE = "I love this, great service!"
ANN = [("email", "ann@example.com")]
BOB = [("email", "bob@example.com")]
CARL = [("email", "carl@example.com")]


def timeline_of(spark, events):  # type: ignore[no-untyped-def]
    bronze = bronze_frame(spark, events)
    graph = build_identity_graph(bronze)
    return timeline_rows(with_sentiment(build_timeline(dedup_events(bronze), graph), None)).cache()


EVENTS = [
    event("e1", at(0), conversation="t1", text=LOVE),
    event("e1r", at(30), conversation="t1", direction="outbound"),
    event("e2", at(60), conversation="t2"),
    event("e2r", at(200), conversation="t2", direction="outbound"),
    event("c1", at(90), channel="chat", conversation="c1"),
    event("p1", at(100), channel="phone", conversation="p1"),
    event("t3", at(10), conversation="t3", ids=BOB),
    event("t3r", at(20), conversation="t3", ids=BOB, direction="outbound"),
    event("t4", at(0, day=1), conversation="t4", ids=CARL),
    event("t4r", at(5, day=1), conversation="t4", ids=CARL, direction="outbound"),
    event(
        "buy",
        at(10, day=1),
        channel="app",
        direction="internal",
        kind="purchase",
        ids=CARL,
        attributes={"revenue": 19.5},
    ),
]


@pytest.mark.integration
def test_kpis_and_features_by_hand(spark) -> None:  # type: ignore[no-untyped-def]
    timeline = timeline_of(spark, EVENTS)
    rows = {(r.day.day, r.channel): r.asDict() for r in compute_kpis(timeline, CONFIG).collect()}
    assert set(rows) == {(4, "email"), (4, "chat"), (4, "phone"), (5, "email")}
    love = SentimentIntensityAnalyzer().polarity_scores(LOVE)["compound"]

    def pick(row, *names):  # type: ignore[no-untyped-def]
        return tuple(row[n] for n in names)

    email = rows[(4, "email")]
    assert pick(email, "tenant", "contacts", "customers", "contacts_per_customer") == (
        "acme",
        3,
        2,
        1.5,
    )
    # first responses 1800 s (ann t1), 8400 s (ann t2), 600 s (bob): p90 = 1800 + 0.8 * 6600
    assert pick(email, "conversations_opened", "answered", "answered_within_sla") == (3, 3, 2)
    assert email["first_response_p50_s"] == pytest.approx(1800)
    assert email["first_response_p90_s"] == pytest.approx(7080)
    assert email["sla_attainment"] == pytest.approx(2 / 3)
    # ann's 3rd contact within 24 h (c1 at 90 min) makes her a repeat customer; bob is not
    assert pick(email, "repeat_customers", "repeat_contact_rate") == (1, 0.5)
    # ann called that day, bob did not
    assert pick(email, "journeys", "contained_journeys", "digital_containment_rate") == (2, 1, 0.5)
    # p1 (100 min) came 40 min after e2 (60 min) on email and 10 min after c1 on chat
    assert email["fallback_to_phone"] == 1
    assert (email["inbound_messages"], email["avg_sentiment"]) == (3, pytest.approx(love))

    chat = rows[(4, "chat")]
    assert pick(chat, "contacts", "answered", "first_response_p50_s", "sla_attainment") == (
        1,
        0,
        None,
        0.0,
    )
    assert pick(chat, "repeat_contact_rate", "digital_containment_rate", "fallback_to_phone") == (
        1.0,
        0.0,
        1,
    )
    phone = rows[(4, "phone")]
    assert pick(phone, "contacts", "journeys", "digital_containment_rate", "fallback_to_phone") == (
        1,
        1,
        None,
        0,
    )
    carl = rows[(5, "email")]
    assert pick(carl, "contacts", "first_response_p50_s", "sla_attainment", "repeat_customers") == (
        1,
        300.0,
        1.0,
        0,
    )

    features = {
        (r.customer_id, r.event_timestamp.date()): r.asDict()
        for r in compute_features(timeline, CONFIG).collect()
    }
    ann = features[(customer_id_for("email:ann@example.com"), date(2024, 3, 4))]
    assert pick(ann, "contacts_30d", "contacts_90d", "answered_within_sla_ratio_90d") == (
        4,
        4,
        0.25,
    )
    assert pick(ann, "digital_containment_rate_90d", "preferred_channel", "lifetime_value") == (
        0.0,
        "email",
        0.0,
    )
    assert ann["avg_sentiment_90d"] == pytest.approx(love)
    assert str(ann["event_timestamp"]) == "2024-03-04 23:59:59.999999"
    carl_f = features[(customer_id_for("email:carl@example.com"), date(2024, 3, 5))]
    assert pick(carl_f, "contacts_30d", "answered_within_sla_ratio_90d", "purchases_90d") == (
        1,
        1.0,
        1,
    )
    assert pick(carl_f, "lifetime_value", "digital_containment_rate_90d", "avg_sentiment_90d") == (
        19.5,
        1.0,
        None,
    )


def _pandas_first_responses(events) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    df = pd.DataFrame(
        {
            "conv": e.conversation_id,
            "brand": e.tenant,
            "inbound": e.direction == "inbound",
            "at": pd.Timestamp(e.occurred_at),
        }
        for e in events
    )
    first_in = df[df.inbound].groupby("conv").agg(start=("at", "min"), brand=("brand", "first"))
    out = df[~df.inbound].merge(first_in, left_on="conv", right_index=True)
    first_out = out[out["at"] >= out["start"]].groupby("conv")["at"].min()
    first_in["s"] = (first_out.reindex(first_in.index) - first_in["start"]).dt.total_seconds()
    first_in["day"] = first_in["start"].dt.date
    return first_in


@pytest.mark.integration
def test_first_response_per_brand_matches_pandas_on_twcs_sample(spark) -> None:  # type: ignore[no-untyped-def]
    events = twcs_events(SAMPLE_TWEETS)
    timeline = timeline_of(spark, events)
    expected = _pandas_first_responses(events)

    league = {r.brand: r for r in brand_league(timeline).collect()}
    by_brand = expected.groupby("brand")["s"]
    answered = by_brand.count()
    assert answered.sum() > 10  # the sample has answered threads for several brands
    assert set(league) == set(answered.index)
    for brand, row in league.items():
        assert row.answered == answered[brand], brand
        if row.answered:
            assert row.first_response_p50_s == pytest.approx(by_brand.quantile(0.5)[brand])
            assert row.first_response_p90_s == pytest.approx(by_brand.quantile(0.9)[brand])

    kpis = compute_kpis(timeline, CONFIG).where("channel = 'social' AND answered > 0").collect()
    by_day = expected.groupby(["day", "brand"])["s"]
    assert len(kpis) == (by_day.count() > 0).sum()
    for r in kpis:
        assert r.answered == by_day.count()[(r.day, r.tenant)]
        assert r.first_response_p50_s == pytest.approx(by_day.quantile(0.5)[(r.day, r.tenant)])
