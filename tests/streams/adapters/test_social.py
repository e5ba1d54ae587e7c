"""Social adapter: twcs CSV (including the real 93-tweet sample) and Twitter API v2 JSON."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import make_event_id
from streams.adapters import social
from tests.conftest import SAMPLE_TWEETS
from tests.streams.adapters.conftest import FIXTURES, RECEIVED_AT, adapt_file, business_config

pytestmark = pytest.mark.unit


def test_twcs_thread_with_several_replies() -> None:
    outcomes = adapt_file("social", FIXTURES / "social" / "tweets.csv")
    assert all(o.error is None for o in outcomes)
    by_id = {o.record_id: o.events[0] for o in outcomes}
    first, brand_reply = by_id["500001"], by_id["500002"]
    assert first.direction.value == "inbound" and first.kind == "message"
    assert first.tenant == "AcmeHelp" and first.agent_id is None
    assert first.identifiers[0].key == "social_handle:cust_ada"
    assert first.occurred_at == datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
    assert (
        first.text == "@AcmeHelp my parcel says delivered but nothing arrived 📦😡 tracking AC123"
    )
    # The brand's reply: outbound, agent and tenant are the brand, customer is Ada.
    assert brand_reply.direction.value == "outbound" and brand_reply.kind == "reply"
    assert (brand_reply.agent_id, brand_reply.tenant) == ("AcmeHelp", "AcmeHelp")
    assert brand_reply.identifiers[0].key == "social_handle:cust_ada"
    assert brand_reply.in_reply_to == make_event_id("twcs", "500001")
    assert brand_reply.text is not None and "order number & postcode" in brand_reply.text
    # Ben joins Ada's thread; the brand's answer to him is his, in the same conversation.
    assert by_id["500006"].identifiers[0].key == "social_handle:cust_ben"
    assert by_id["500006"].text == "@cust_ben Hi Ben, please DM us too <3"
    assert {by_id[i].conversation_id for i in ("500001", "500003", "500005", "500006")} == {
        "500001"
    }
    assert by_id["500003"].attributes["response_tweet_ids"] == ["500004", "500005"]
    # A brand follow-up whose parent is not in the file: the leading @mention is the customer
    # and the missing parent names the conversation.
    follow_up = by_id["500010"]
    assert follow_up.identifiers[0].key == "social_handle:cust_cleo"
    assert follow_up.conversation_id == "499990"


def test_the_real_twcs_sample() -> None:
    outcomes = adapt_file("social", SAMPLE_TWEETS, business_config(own_social_handles=[]))
    assert len(outcomes) == 93
    assert all(o.error is None for o in outcomes), [str(o.error) for o in outcomes if o.error]
    events = {o.record_id: o.events[0] for o in outcomes}
    directions = Counter(e.direction.value for e in events.values())
    # The file's own `inbound` column says 49 True, 44 False.
    with SAMPLE_TWEETS.open(newline="", encoding="utf-8") as fh:
        column = Counter(row["inbound"] for row in csv.DictReader(fh))
    assert column == {"True": 49, "False": 44}
    assert directions == {"inbound": 49, "outbound": 44}
    # Row 119238: ChaseSupport answers tweet 119239 by customer 105835.
    chase = events["119238"]
    assert (chase.tenant, chase.agent_id) == ("ChaseSupport", "ChaseSupport")
    assert chase.identifiers[0].key == "social_handle:105835"
    assert chase.conversation_id == "119239"
    # Row 119237 is addressed to @AppleSupport; its answer (119236) is not in the sample.
    assert events["119237"].tenant == "AppleSupport"
    assert events["119237"].occurred_at == datetime(2017, 10, 11, 6, 55, 44, tzinfo=UTC)
    # The VirginTrains thread: every tweet in one conversation rooted at 119247 (not in file).
    virgin = [e for e in events.values() if e.tenant == "VirginTrains"]
    assert len(virgin) == 7 and {e.conversation_id for e in virgin} == {"119247"}
    assert all(e.identifiers[0].key == "social_handle:105836" for e in virgin)


def test_twitter_v2_lines() -> None:
    outcomes = adapt_file("social", FIXTURES / "social" / "tweets_v2.jsonl")
    events = [e for o in outcomes for e in o.events]
    assert [o.record_id for o in outcomes] == [
        "1720000000000000001",
        "1720000000000000002",
        "1720000000000000003,1720000000000000004",
    ]
    assert [e.direction.value for e in events] == ["inbound", "outbound", "inbound", "outbound"]
    assert {e.identifiers[0].key for e in events} == {"social_handle:dee_okafor"}
    assert {e.tenant for e in events} == {"AcmeHelp"}
    assert {e.conversation_id for e in events} == {"1720000000000000001"}
    assert events[1].agent_id == "AcmeHelp"
    assert events[1].in_reply_to == make_event_id("twitter_api_v2", "1720000000000000001")
    assert events[0].source.system == "twitter_api_v2"
    assert events[0].occurred_at == datetime(2025, 11, 3, 12, 0, tzinfo=UTC)


def test_v2_without_own_handles_cannot_tell_the_brand() -> None:
    outcomes = adapt_file(
        "social",
        FIXTURES / "social" / "tweets_v2.jsonl",
        business_config(own_social_handles=[]),
    )
    assert outcomes[1].events[0].direction.value == "inbound"
    assert outcomes[1].events[0].identifiers[0].key == "social_handle:acmehelp"


@pytest.mark.parametrize(
    ("line", "error_class", "message"),
    [
        (2, "InvalidTimestamp", "created_at is not like"),
        (3, "InvalidField", "inbound must be True or False"),
        (4, "MissingIdentity", "no author_id"),
        (5, "MalformedPayload", "the row has 5 fields, the header 7"),
        (6, "InvalidTimestamp", "before 2000-01-01"),
        (7, "InvalidEncoding", "invalid UTF-8 at byte"),
        (8, "MissingIdentity", "no customer @mention"),
        (9, "InvalidField", "tweet_id must be a numeric tweet id"),
        (10, "InvalidTimestamp", "in the future"),
    ],
)
def test_malformed_twcs_rows(line: int, error_class: str, message: str) -> None:
    outcomes = {
        o.line: o
        for o in adapt_file("social", FIXTURES / "social" / "malformed" / "bad_tweets.csv")
    }
    assert len(outcomes) == 9
    outcome = outcomes[line]
    assert outcome.error is not None and outcome.error.error_class == error_class
    assert message in str(outcome.error)


def test_malformed_v2_lines() -> None:
    outcomes = adapt_file("social", FIXTURES / "social" / "malformed" / "bad_v2.jsonl")
    assert [(o.line, o.error.error_class if o.error else None) for o in outcomes] == [
        (1, "MissingIdentity"),
        (2, "InvalidTimestamp"),
        (3, "MalformedPayload"),
        (4, "InvalidField"),
        (5, "InvalidField"),
    ]
    assert "truncated JSON" in str(outcomes[2].error)
    assert "request expansions=author_id" in str(outcomes[0].error)


def test_twcs_row_as_json_object() -> None:
    doc = (
        b'{"tweet_id": 700001, "author_id": "cust_dan", "inbound": true, '
        b'"created_at": "Mon Nov 03 09:00:00 +0000 2025", "text": "@AcmeHelp hello", '
        b'"response_tweet_id": "", "in_response_to_tweet_id": null}'
    )
    adapted = social.adapt(doc, business_config(), received_at=RECEIVED_AT)
    assert adapted.record_id == "700001"
    assert adapted.events[0].tenant == "AcmeHelp"


@settings(max_examples=400, deadline=None)
@given(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)),
    st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59),
)
def test_twcs_time_parses_like_strptime(moment: datetime, offset_min: int) -> None:
    sign = "-" if offset_min < 0 else "+"
    text = moment.strftime("%a %b %d %H:%M:%S ") + (
        f"{sign}{abs(offset_min) // 60:02d}{abs(offset_min) % 60:02d} {moment.year:04d}"
    )
    expected = datetime.strptime(text, social.TWCS_TIME_FORMAT)
    got = social.parse_twcs_time(text)
    assert got == expected and got.isoformat() == expected.isoformat()
    assert got.utcoffset() == expected.utcoffset()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="MonTueOctDec 0123456789:+-Zx", max_size=40))
def test_twcs_time_refuses_what_strptime_refuses(text: str) -> None:
    try:
        expected: datetime | None = datetime.strptime(text, social.TWCS_TIME_FORMAT)
    except ValueError:
        expected = None
    if expected is None:
        with pytest.raises(ValueError):
            social.parse_twcs_time(text)
    else:
        assert social.parse_twcs_time(text).isoformat() == expected.isoformat()


def test_twcs_time_edge_cases_match_strptime() -> None:
    for text in [
        "Wed Oct 11 06:55:44 +0000 2017",
        "wed OCT 11 06:55:44 -0530 2017",
        "Wed Feb 30 06:55:44 +0000 2017",  # no such day
        "Wed Oct 11 24:00:00 +0000 2017",
        "Wed Oct 11 06:55:60 +0000 2017",
        "Wed Oct 11 06:55:44 +2400 2017",
        "Wed Oct 1 06:55:44 +0000 2017",  # one-digit day: strptime's path
        "Wed Oct 11 06:55:44 Z 2017",
    ]:
        try:
            expected = datetime.strptime(text, social.TWCS_TIME_FORMAT).isoformat()
        except ValueError:
            expected = "ValueError"
        try:
            got = social.parse_twcs_time(text).isoformat()
        except ValueError:
            got = "ValueError"
        assert got == expected, text
