"""Pure-Python cost of the real-time features and outreach rules, one core, no Kafka.

Workload: 20,000 resolved events of 1,000 customers over three days (chat, email, social, app,
phone; inbound, agent replies, app telemetry; texts of support-message length), 5% arriving up
to an hour late and 2% delivered twice. Figures:

- `features_logic_events_per_s`: `streams.rules.engine.step` (features + rules) per event;
- `features_logic_serde_events_per_s`: the same plus the state's JSON round trip per event (what
  a changelog-backed table adds);
- `features_naive_recompute_events_per_s`: the peer a user would write without incremental
  state: recompute the customer's features and signals from their timeline on every event
  (`streams.rules.replay.replay` over the events so far), timed on every 10th event;
- `vader_only_events_per_s`: VADER on the same texts alone, the floor for text scoring;
- `channel_responses_per_s`: first responses into one busy channel's state (100,000 answered
  within an hour, in order), and `channel_p50_read_ms`, one read of its median at that size.
"""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta

from bench.common import ratio, report
from schemas.events import InteractionEvent
from streams.features.channel import ChannelResponseState, apply_response, channel_features
from streams.features.sentiment import compound
from streams.features.state import CustomerState, FirstResponse
from streams.rules.engine import step
from streams.rules.replay import replay

N_EVENTS = 20_000
N_CUSTOMERS = 1_000
SPAN = timedelta(days=3)
NAIVE_EVERY = 10

TEXTS = [
    "Hi, my order #48213 still hasn't arrived and tracking hasn't updated in four days.",
    "This is the third time I'm writing. Terrible service, nobody answers!",
    "Thanks a lot, that fixed it :)",
    "Can you tell me how to change the delivery address on my account?",
    "I was charged twice for the same subscription this month, please refund.",
    "The app keeps crashing when I open the payments screen. Really frustrating.",
    "Great, thank you for the quick help!",
    "Where is my parcel? I need it for tomorrow.",
    "Worst experience ever. I want to cancel everything.",
    "Is there a discount for annual plans?",
]
CHANNELS = ["chat", "email", "social", "app", "phone"]


def _events(seed: int = 42) -> list[InteractionEvent]:
    rng = random.Random(seed)
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    out: list[InteractionEvent] = []
    for i in range(N_EVENTS):
        cust = f"cust-{rng.randrange(N_CUSTOMERS)}"
        channel = rng.choice(CHANNELS)
        roll = rng.random()
        direction = "inbound" if roll < 0.55 else "outbound" if roll < 0.85 else "internal"
        when = t0 + SPAN * (i / N_EVENTS)
        if rng.random() < 0.05:
            when -= timedelta(seconds=rng.uniform(0, 3600))
        text = rng.choice(TEXTS) if direction == "inbound" and channel != "phone" else None
        out.append(
            InteractionEvent.model_validate(
                {
                    "event_id": f"evt-{i:08d}",
                    "occurred_at": when,
                    "ingested_at": when,
                    "channel": channel,
                    "direction": direction,
                    "kind": "message",
                    "conversation_id": f"{cust}-{channel}-{rng.randrange(3)}",
                    "identifiers": [{"type": "crm_id", "value": cust}],
                    "customer_id": cust,
                    "text": text,
                    "source": {"system": "bench", "record_id": str(i)},
                }
            )
        )
    for i in rng.sample(range(N_EVENTS), N_EVENTS // 50):  # redeliveries, a little later
        out.insert(min(len(out), i + rng.randrange(1, 500)), out[i])
    return out


def _run_step(events: list[InteractionEvent], serde: bool) -> tuple[float, int]:
    states: dict[str, CustomerState] = {}
    stored: dict[str, str] = {}
    signals = 0
    t0 = time.process_time()
    for e in events:
        cid = e.customer_id or ""
        if serde:
            raw = stored.get(cid)
            state = CustomerState(cid) if raw is None else CustomerState.from_dict(json.loads(raw))
        else:
            state = states.get(cid) or states.setdefault(cid, CustomerState(cid))
        _, raised = step(state, e)
        signals += len(raised)
        if serde:
            stored[cid] = json.dumps(state.to_dict())
    return time.process_time() - t0, signals


def _run_naive(events: list[InteractionEvent]) -> float:
    history: dict[str, list[InteractionEvent]] = {}
    spent, timed = 0.0, 0
    for i, e in enumerate(events):
        seen = history.setdefault(e.customer_id or "", [])
        seen.append(e)
        if i % NAIVE_EVERY == 0:
            t0 = time.process_time()
            replay(seen)
            spent += time.process_time() - t0
            timed += 1
    return timed / spent


def _run_channel(n: int = 100_000) -> tuple[float, float]:
    rng = random.Random(3)
    t0 = datetime(2026, 11, 20, tzinfo=UTC)
    responses = []
    for i in range(n):
        answered = t0 + timedelta(seconds=3600 * i / n)
        seconds = rng.expovariate(1 / 300)
        first = answered - timedelta(seconds=seconds)
        responses.append(FirstResponse("c", "chat", f"conv-{i}", seconds, answered, first))
    state = ChannelResponseState("chat")
    start = time.process_time()
    for fr in responses:
        apply_response(state, fr)
    rate = n / (time.process_time() - start)
    start = time.process_time()
    channel_features(state)
    return rate, (time.process_time() - start) * 1000


def main() -> None:
    events = _events()
    compound("warm up the lexicon")
    n = len(events)
    elapsed, signals = _run_step(events, serde=False)
    ours = n / elapsed
    report("features_logic_events_per_s", ours, "events/s")
    serde_elapsed, _ = _run_step(events, serde=True)
    report("features_logic_serde_events_per_s", n / serde_elapsed, "events/s")
    naive = _run_naive(events)
    report("features_naive_recompute_events_per_s", naive, "events/s")
    ratio("features_logic_vs_naive_recompute", ours, naive, "features_naive_recompute")
    texts = [e.text for e in events if e.text]
    t0 = time.process_time()
    for text in texts:
        compound(text)
    vader = n / (time.process_time() - t0)
    report("vader_only_events_per_s", vader, "events/s")
    ratio("features_logic_vs_vader_only", ours, vader, "vader_only")
    rate, read_ms = _run_channel()
    report("channel_responses_per_s", rate, "responses/s")
    report("channel_p50_read_ms", read_ms, "ms")
    print(f"({n} events incl. redeliveries, {signals} signals raised)", flush=True)


if __name__ == "__main__":
    main()
