"""The simulator's files, read back with the standard library only: every format is valid where
it should be, malformed exactly where the manifest says, and the journeys are really there."""

from __future__ import annotations

import csv
import email
import email.policy
import email.utils
import hashlib
import json
import mailbox
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from omnicx.simulate.config import SimulateConfig
from omnicx.simulate.run import MANIFEST, RunResult, simulate
from omnicx.simulate.serialize import TWCS_HEADER

pytestmark = pytest.mark.unit

START = date(2026, 11, 1)
NOW = datetime(2026, 11, 20, tzinfo=UTC)  # the period lies in the past: output is reproducible


def run(out: Path, **overrides: Any) -> RunResult:
    values: dict[str, Any] = {"customers": 600, "start": START, "out": out, "seed": 11}
    values.update(overrides)
    return simulate(SimulateConfig.model_validate(values), now=NOW)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    # Shares raised so that a few hundred people still live through every journey.
    journeys = {
        "app_chat_phone": 0.04,
        "unanswered_public_post": 0.04,
        "polite_email": 0.04,
        "fragmented_identity": 0.03,
        "repeat_contact": 0.02,
        "positive_feedback": 0.02,
    }
    return run(tmp_path_factory.mktemp("sim"), journeys=journeys)


@pytest.fixture(scope="module")
def manifest(result: RunResult) -> dict[str, Any]:
    return json.loads((result.out / MANIFEST).read_text())


def jsonl(path: Path) -> Iterator[tuple[dict[str, Any] | None, str]]:
    """(object or None when the line is not JSON, raw line) for every line of a file."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            try:
                yield json.loads(line), line
            except json.JSONDecodeError:
                yield None, line


def parse_iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def tweet_time(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%a %b %d %H:%M:%S %z %Y")
    except ValueError:
        return None


def mbox_messages(out: Path, manifest: dict[str, Any]) -> list[email.message.EmailMessage]:
    messages = []
    for file in manifest["channels"]["email"]["files"]:
        box = mailbox.mbox(out / file, create=False)
        for key in box.keys():
            raw = box.get_bytes(key)
            messages.append(email.message_from_bytes(raw, policy=email.policy.default))
    return messages


# --- formats ---------------------------------------------------------------------------------


def test_manifest_counts_add_up(manifest: dict[str, Any], result: RunResult) -> None:
    totals = manifest["totals"]
    assert totals["records"] == sum(c["records"] for c in manifest["channels"].values())
    assert totals["malformed"] == len(manifest["malformed_records"]) + sum(
        1 for m in manifest["malformed_records"] if m["file"] == "social/tweets.csv"
    ), "each malformed tweet is malformed in both social files"
    for name, channel in manifest["channels"].items():
        assert channel["malformed"] >= 3, name  # malformed_min
        files = [manifest["files"][f] for f in channel["files"]]
        assert channel["records"] == sum(f["records"] for f in files)
    assert sum(j["records"] for j in manifest["journeys"].values()) == (
        totals["records"] - manifest["files"]["social/tweets_v2.jsonl"]["records"]
    )
    assert set(manifest["business"]["own_social_handles"]) == {"NorthwindHelp", "ContosoSupport"}
    assert result.records == totals["records"]


def test_mbox_is_rfc5322_and_threads(result: RunResult, manifest: dict[str, Any]) -> None:
    messages = mbox_messages(result.out, manifest)
    stats = manifest["channels"]["email"]
    assert len(messages) == stats["records"] > 50
    own = set(manifest["business"]["own_email_addresses"])
    ids = {m["Message-ID"] for m in messages}
    without_from = 0
    for msg in messages:
        assert not msg.defects, msg.defects
        if msg["From"] is None:
            without_from += 1
            continue
        assert email.utils.parsedate_to_datetime(msg["Date"]).tzinfo is not None
        body = msg.get_body(preferencelist=("plain",))
        assert body is not None and body.get_content().strip()
        sender = msg["From"].addresses[0].addr_spec
        recipient = msg["To"].addresses[0].addr_spec
        assert (sender in own) != (recipient in own)  # exactly one side is the business
        if msg["In-Reply-To"]:
            assert msg["In-Reply-To"] in ids
            assert msg["In-Reply-To"] in msg["References"].split()
    assert without_from == stats["malformed"]
    # Some names are not ASCII (encoded words in the headers), and some mail is multipart.
    assert any(not str(m["From"] or "").isascii() for m in messages)
    assert any(m.is_multipart() for m in messages)


def test_twcs_csv_has_the_public_layout(result: RunResult, manifest: dict[str, Any]) -> None:
    path = result.out / "social" / "tweets.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == TWCS_HEADER
        rows = list(reader)
    stats = manifest["files"]["social/tweets.csv"]
    assert len(rows) == stats["records"]
    ids = {r["tweet_id"] for r in rows}
    handles = set(manifest["business"]["own_social_handles"])
    bad = 0
    for row in rows:
        if not row["author_id"] or tweet_time(row["created_at"]) is None:
            bad += 1
            continue
        assert row["inbound"] in ("True", "False")
        assert (row["inbound"] == "False") == (row["author_id"] in handles)
        for reply in filter(None, row["response_tweet_id"].split(",")):
            assert reply in ids
        if row["in_response_to_tweet_id"]:
            assert row["in_response_to_tweet_id"] in ids
        assert row["text"].startswith("@")
    assert bad == stats["malformed"] >= 3
    # Snowflake ids grow with time, and the file is in time order.
    numbers = [int(r["tweet_id"]) for r in rows]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_twitter_v2_json(result: RunResult, manifest: dict[str, Any]) -> None:
    stats = manifest["files"]["social/tweets_v2.jsonl"]
    lines = list(jsonl(result.out / "social" / "tweets_v2.jsonl"))
    assert len(lines) == stats["records"] == manifest["files"]["social/tweets.csv"]["records"]
    assert sum(1 for obj, _ in lines if obj is None) == stats["malformed"]
    for obj, _ in lines:
        if obj is None:
            continue
        data, users = obj["data"], obj["includes"]["users"]
        assert users[0]["id"] == data["author_id"]
        assert parse_iso(data["created_at"]) is not None
        if "referenced_tweets" in data:
            assert data["referenced_tweets"][0]["type"] == "replied_to"


def test_segment_spec_lines(result: RunResult, manifest: dict[str, Any]) -> None:
    bad = 0
    kinds: Counter[str] = Counter()
    for msg, _ in jsonl(result.out / "app" / "segment.jsonl"):
        if msg is None or parse_iso(msg.get("timestamp")) is None:
            bad += 1
            continue
        if not msg.get("anonymousId") and not msg.get("userId"):
            bad += 1
            continue
        kinds[msg["type"]] += 1
        assert msg["messageId"]
        if msg["type"] == "track":
            assert msg["event"]
        if msg["type"] == "identify":
            assert msg["userId"] and msg["traits"]["email"]
    assert set(kinds) == {"identify", "track", "page", "screen"}
    assert bad == manifest["channels"]["app"]["malformed"]


def test_contact_trace_records(result: RunResult, manifest: dict[str, Any]) -> None:
    bad, no_agent = 0, 0
    for ctr, _ in jsonl(result.out / "phone" / "ctr.jsonl"):
        if (
            ctr is None
            or not ctr.get("CustomerEndpoint")
            or parse_iso(ctr["InitiationTimestamp"]) is None
        ):
            bad += 1
            continue
        assert ctr["Channel"] == "VOICE" and ctr["InitiationMethod"] == "INBOUND"
        start = parse_iso(ctr["InitiationTimestamp"])
        end = parse_iso(ctr["DisconnectTimestamp"])
        assert start is not None and end is not None and start <= end
        assert ctr["Queue"]["Duration"] >= 0
        if ctr["Agent"] is None:
            no_agent += 1  # hung up in the queue
        else:
            assert ctr["Agent"]["AgentInteractionDuration"] > 0
    assert bad == manifest["channels"]["phone"]["malformed"]
    assert no_agent > 0


def test_chat_transcripts(result: RunResult, manifest: dict[str, Any]) -> None:
    bad, messages = 0, 0
    for chat, _ in jsonl(result.out / "chat" / "transcripts.jsonl"):
        if chat is None or not isinstance(chat.get("Transcript"), list):
            bad += 1
            continue
        roles = {i.get("ParticipantRole") for i in chat["Transcript"] if i["Type"] == "MESSAGE"}
        assert "CUSTOMER" in roles and roles <= {"CUSTOMER", "AGENT", "SYSTEM"}
        times = [i["AbsoluteTime"] for i in chat["Transcript"]]
        assert times == sorted(times)
        messages += sum(1 for i in chat["Transcript"] if i["Type"] == "MESSAGE")
    assert bad == manifest["channels"]["chat"]["malformed"]
    assert messages == manifest["channels"]["chat"]["expected_events"]


def test_files_are_in_time_order(result: RunResult) -> None:
    for name, key in (
        ("app/segment.jsonl", "timestamp"),
        ("phone/ctr.jsonl", "InitiationTimestamp"),
    ):
        stamps = [parse_iso(o[key]) for o, _ in jsonl(result.out / name) if o is not None]
        good = [s for s in stamps if s is not None]
        assert good == sorted(good), name


def test_eml_files(tmp_path: Path) -> None:
    res = run(tmp_path, customers=200, email_format="eml", channels="email")
    files = sorted((tmp_path / "email").rglob("*.eml"))
    stats = res.manifest["channels"]["email"]
    assert len(files) == stats["records"] > 0
    missing = 0
    for path in files:
        raw = path.read_bytes()
        assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["Message-ID"] and not msg.defects
        missing += msg["From"] is None
    assert missing == stats["malformed"]
    assert not (tmp_path / "app").exists()


# --- journeys --------------------------------------------------------------------------------


def _segment(out: Path) -> list[dict[str, Any]]:
    return [m for m, _ in jsonl(out / "app" / "segment.jsonl") if m is not None]


def test_fragmented_identity_is_linked_by_one_identify(
    result: RunResult, manifest: dict[str, Any]
) -> None:
    people = manifest["people"]["fragmented_identity"]
    assert len(people) >= 5
    segment = _segment(result.out)
    chats = [
        c
        for c, _ in jsonl(result.out / "chat" / "transcripts.jsonl")
        if c and isinstance(c["Transcript"], list)
    ]
    ctrs = [c for c, _ in jsonl(result.out / "phone" / "ctr.jsonl") if c and c["CustomerEndpoint"]]
    with (result.out / "social" / "tweets.csv").open(newline="") as fh:
        tweets = list(csv.DictReader(fh))
    messages = mbox_messages(result.out, manifest)
    for person in people:
        identifies = [
            m
            for m in segment
            if m["type"] == "identify" and m.get("traits", {}).get("twitter") == person["twitter"]
        ]
        assert identifies, person["pid"]
        identify = identifies[-1]
        traits = identify["traits"]
        assert traits["email"] == person["email"]
        assert "+" + "".join(c for c in traits["phone"] if c.isdigit()) == person["phone"]
        assert identify["userId"] == person["app_user_id"]
        linked_at = parse_iso(identify["timestamp"])
        # Before the login, each channel knew them by a different identifier only.
        mail = [
            m for m in messages if m["From"] and m["From"].addresses[0].addr_spec == person["email"]
        ]
        tweet = [t for t in tweets if t["author_id"] == person["twitter"]]
        call = [c for c in ctrs if c["CustomerEndpoint"]["Address"] == person["phone"]]
        chat = [c for c in chats if c["Attributes"].get("VisitorId") == identify["anonymousId"]]
        for found in (mail, tweet, call, chat):
            assert found, person["pid"]
        assert email.utils.parsedate_to_datetime(mail[0]["Date"]) < linked_at
        assert tweet_time(tweet[0]["created_at"]) < linked_at  # type: ignore[operator]
        assert parse_iso(call[0]["InitiationTimestamp"]) < linked_at  # type: ignore[operator]
        assert "CustomerEmail" not in chat[0]["Attributes"]
        assert "CustomerPhone" not in chat[0]["Attributes"]


def test_app_failure_then_chat_then_phone(result: RunResult, manifest: dict[str, Any]) -> None:
    segment = _segment(result.out)
    chats = [
        c
        for c, _ in jsonl(result.out / "chat" / "transcripts.jsonl")
        if c and isinstance(c["Transcript"], list)
    ]
    ctrs = [c for c, _ in jsonl(result.out / "phone" / "ctr.jsonl") if c and c["CustomerEndpoint"]]
    people = manifest["people"]["app_chat_phone"]
    assert len(people) >= 5
    for person in people:
        failures = [
            parse_iso(m["timestamp"])
            for m in segment
            if m.get("userId") == person["app_user_id"] and m.get("event") == "Payment Failed"
        ]
        chat_at = [
            parse_iso(c["Transcript"][0]["AbsoluteTime"])
            for c in chats
            if c["Attributes"].get("CustomerEmail") == person["email"]
        ]
        calls = [
            c
            for c in ctrs
            if c["CustomerEndpoint"]["Address"] == person["phone"]
            and c["Attributes"].get("callReason") == "payment_failed"
        ]
        if not calls:  # the day ended before they called: the manifest lists no call then
            assert "phone" not in person["records"]
            continue
        call_at = parse_iso(calls[0]["InitiationTimestamp"])
        assert failures and chat_at and call_at
        assert max(failures) < min(chat_at) < call_at  # type: ignore[operator]


def test_public_complaint_waits_hours_and_polite_email_minutes(
    result: RunResult, manifest: dict[str, Any]
) -> None:
    with (result.out / "social" / "tweets.csv").open(newline="") as fh:
        tweets = {t["tweet_id"]: t for t in csv.DictReader(fh)}
    waits = []
    for person in manifest["people"]["unanswered_public_post"]:
        own = [tweets[t] for t in person["records"].get("social", [])]
        first = min(
            (t for t in own if t["inbound"] == "True"), key=lambda t: tweet_time(t["created_at"])
        )
        brand = [t for t in own if t["inbound"] == "False"]
        if brand:
            delta = tweet_time(brand[0]["created_at"]) - tweet_time(first["created_at"])  # type: ignore[operator]
            waits.append(delta.total_seconds() / 3600)
    assert waits and min(waits) >= 4
    by_id = {m["Message-ID"]: m for m in mbox_messages(result.out, manifest)}
    minutes = []
    for person in manifest["people"]["polite_email"]:
        thread = [by_id[i] for i in person["records"]["email"]]
        asked = email.utils.parsedate_to_datetime(thread[0]["Date"])
        answered = email.utils.parsedate_to_datetime(thread[1]["Date"])
        assert thread[1]["In-Reply-To"] == thread[0]["Message-ID"]
        minutes.append((answered - asked).total_seconds() / 60)
    assert minutes and max(minutes) <= 15 and min(minutes) >= 3


def test_outage_floods_every_channel_and_nights_are_quiet(
    result: RunResult, manifest: dict[str, Any]
) -> None:
    (outage,) = manifest["outages"]
    start, end = parse_iso(outage["start"]), parse_iso(outage["end"])
    assert start is not None and end is not None
    window_h = (end - start).total_seconds() / 3600
    times: dict[str, list[datetime]] = {
        "app": [
            t
            for m in _segment(result.out)
            if m.get("event") == "Application Error" and (t := parse_iso(m["timestamp"]))
        ],
        "phone": [
            t
            for c, _ in jsonl(result.out / "phone" / "ctr.jsonl")
            if c and (t := parse_iso(c["InitiationTimestamp"]))
        ],
        "chat": [
            t
            for c, _ in jsonl(result.out / "chat" / "transcripts.jsonl")
            if c
            and isinstance(c["Transcript"], list)
            and (t := parse_iso(c["Transcript"][0]["AbsoluteTime"]))
        ],
    }
    with (result.out / "social" / "tweets.csv").open(newline="") as fh:
        times["social"] = [
            t
            for row in csv.DictReader(fh)
            if row["inbound"] == "True" and (t := tweet_time(row["created_at"]))
        ]
    for channel, stamps in times.items():
        inside = sum(1 for t in stamps if start <= t <= end + (end - start))
        rate_in = inside / (2 * window_h)
        rate_all = len(stamps) / 24
        assert rate_in > 3 * rate_all, channel  # a burst, several times the day's mean rate
    views = [
        t
        for m in _segment(result.out)
        if m["type"] in ("page", "screen") and (t := parse_iso(m["timestamp"]))
    ]
    night = sum(1 for t in views if 2 <= t.hour < 5)
    midday = sum(1 for t in views if 11 <= t.hour < 14)
    assert night * 5 < midday


# --- reproducibility -------------------------------------------------------------------------


def digest(out: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(out)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_even_when_spilling(tmp_path: Path) -> None:
    a = run(tmp_path / "a", customers=700)
    # A tiny spill threshold forces several sorted runs per file and the merge path.
    run(tmp_path / "b", customers=700, spill_records=1_000)
    assert a.records > 3_000  # so that b spilled at least three times
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    run(tmp_path / "c", customers=700, seed=12)
    assert digest(tmp_path / "c") != digest(tmp_path / "a")


# Pinned: the output of this small run must not change by accident. When a change to the
# simulator is meant to change its output, update the value (and say so in the commit). Names
# come from Faker and text labels from VADER: upgrading either may change it too.
PINNED_DIGEST = "8ae5f42f0376c1ca17a5de24d3b4f80dd8b44e8f161d379b6e364dccb9487463"


def test_small_seeded_run_is_stable(tmp_path: Path) -> None:
    run(tmp_path, customers=40, seed=3)
    assert digest(tmp_path) == PINNED_DIGEST


@pytest.mark.timeout(60)
def test_a_day_of_two_thousand_customers_runs_in_well_under_a_minute(tmp_path: Path) -> None:
    res = run(tmp_path, customers=2_000)
    print(f"2,000 customers x 1 day: {res.records} records in {res.seconds:.1f} s")
    assert res.manifest["customers"] == 2_000 and res.records > 8_000


def test_refuses_a_directory_that_is_not_its_own(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(ValueError, match="refusing"):
        run(tmp_path, customers=5)
    assert (tmp_path / "precious.txt").read_text() == "keep me"
