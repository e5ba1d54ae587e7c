"""Unit tests of the simulator's building blocks: config, world, text pools, channel records."""

from __future__ import annotations

import email
import email.policy
import json
import random
from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from omnicx.simulate.channels import PersonSim
from omnicx.simulate.config import JourneyMix, Scale, SimulateConfig
from omnicx.simulate.texts import CALM_MIN, LABEL_SLOTS, NEG_MAX, fill
from omnicx.simulate.world import (
    Bijection,
    World,
    iso_ms,
    iso_s,
    mbox_date,
    rfc5322_date,
    twitter_date,
)

pytestmark = pytest.mark.unit

START = date(2026, 11, 1)


@pytest.fixture(scope="module")
def world() -> World:
    config = SimulateConfig(customers=500, start=START)
    return World(config, *config.window())


def test_window_is_clipped_to_now_and_refuses_the_future() -> None:
    config = SimulateConfig(days=2, start=date(2026, 11, 1))
    now = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)
    start, end = config.window(now)
    assert start == datetime(2026, 11, 1, tzinfo=UTC)
    assert end == now
    with pytest.raises(ValueError, match="future"):
        SimulateConfig(start=date(2026, 11, 3)).window(now)


def test_channels_parse_from_a_comma_list_in_canonical_order() -> None:
    config = SimulateConfig.model_validate({"channels": "chat, email"})
    assert [c.value for c in config.channels] == ["email", "chat"]
    with pytest.raises(ValidationError):
        SimulateConfig.model_validate({"channels": ""})


def test_journey_shares_may_not_exceed_everyone() -> None:
    with pytest.raises(ValidationError, match="more than 1"):
        JourneyMix(app_chat_phone=0.6, polite_email=0.5)


def test_scale_presets_yield_to_explicit_values() -> None:
    config = SimulateConfig.for_scale(Scale.DEMO, customers=10, days=None)
    assert config.customers == 10 and config.days == 1


def test_bijection_is_one_to_one() -> None:
    bij = Bijection(10_000, random.Random(3))
    assert len({bij(i) for i in range(10_000)}) == 10_000


def test_people_never_share_an_identifier(world: World) -> None:
    rng = random.Random(5)
    people = [world.person(i, rng) for i in range(500)]
    for attr in ("email_norm", "phone", "handle", "user_id", "web_anonymous_id", "device_id"):
        values = [getattr(p, attr) for p in people]
        assert len(set(values)) == len(values), attr
    for p in people:
        assert p.phone.startswith("+") and p.phone[1:].isdigit()
        # The display form typed into the app has the same digits as the E.164 form.
        assert "+" + "".join(c for c in p.phone_display if c.isdigit()) == p.phone


def test_timestamp_formats_by_hand() -> None:
    ms = int(datetime(2017, 10, 11, 6, 55, 44, 123000, tzinfo=UTC).timestamp() * 1000)
    assert iso_ms(ms) == "2017-10-11T06:55:44.123Z"
    assert iso_s(ms) == "2017-10-11T06:55:44Z"
    assert twitter_date(ms) == "Wed Oct 11 06:55:44 +0000 2017"
    assert rfc5322_date(ms, 120) == "Wed, 11 Oct 2017 08:55:44 +0200"
    assert rfc5322_date(ms, -300) == "Wed, 11 Oct 2017 01:55:44 -0500"
    assert mbox_date(ms) == "Wed Oct 11 06:55:44 2017"
    # The stdlib reads our RFC 5322 date back to the same instant.
    parsed = email.utils.parsedate_to_datetime(rfc5322_date(ms, -300))
    assert parsed.timestamp() == ms // 1000


def test_text_pool_labels_hold_for_run_time_slot_values(world: World) -> None:
    analyzer = SentimentIntensityAnalyzer()
    rng = random.Random(9)
    person = world.person(7, rng)
    sim = PersonSim(world, person, rng)
    for pool in world.texts.tweets.values():
        for entry in pool.neg[:5] + pool.calm[:5]:
            assert entry.compound == pytest.approx(
                analyzer.polarity_scores(entry.text.format(**LABEL_SLOTS))["compound"]
            )
            score = analyzer.polarity_scores(fill(entry.text, sim.slots()))["compound"]
            if entry.negative:
                assert score <= NEG_MAX
            else:
                assert score > CALM_MIN


def test_fill_refuses_unknown_slots() -> None:
    with pytest.raises(KeyError):
        fill("hello {nobody}", {"first": "Sam"})


def test_person_records_are_valid_native_shapes(world: World) -> None:
    rng = random.Random(11)
    person = world.person(42, rng)
    sim = PersonSim(world, person, rng)
    t = sim.browse_session(world.start_ms + 9 * 3_600_000, logged_in=True, identify=True)
    rec, t = sim.chat(
        t + 60_000,
        intent="app_error",
        mood="neg",
        attributes={"VisitorId": person.web_anonymous_id},
        wait_s=30,
    )
    call, _ = sim.phone_call(t, wait_median_s=60, patience_median_s=600, talk_median_s=300)
    identify = [r for r in sim.recs if r.fmt == "segment" and r.data["type"] == "identify"]
    assert len(identify) == 1
    assert identify[0].data["traits"]["email"] == person.email
    # Every Segment message is JSON-serialisable and carries the Spec's common fields.
    for r in sim.recs:
        if r.fmt == "segment":
            msg = json.loads(json.dumps(r.data))
            assert {"messageId", "timestamp", "type", "anonymousId"} <= msg.keys()
    items = rec.data["Transcript"]
    assert [i["ParticipantRole"] for i in items if i.get("ParticipantRole")][0] == "CUSTOMER"
    assert rec.events == sum(1 for i in items if i["Type"] == "MESSAGE")
    assert call.data["Channel"] == "VOICE"
    assert call.data["CustomerEndpoint"]["Address"] == person.phone
    assert call.events == 2
    # Times only move forward inside a chat transcript.
    times = [i["AbsoluteTime"] for i in items]
    assert times == sorted(times)
