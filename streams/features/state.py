"""Per-customer state for the real-time features and the outreach rules.

One `CustomerState` per customer holds what the features and rules need over their windows, in
event time. It is plain data (serialisable with `to_dict` / `from_dict`, versioned) and is
changed only by `apply` (one event), `merge` (identity resolution joined two customers) and the
rule engine's signal bookkeeping.

What is kept (all times are event times, in epoch seconds):

- `inbound`: a compact record of every inbound event of the last `WINDOW_S` (7 days, the
  longest feature window) before the state's clock, plus older inbound events that are still
  unanswered, or whose answer is still inside the window, for up to `OPEN_S` (30 days; an
  inbound message unanswered for 30 days counts as abandoned);
- per conversation, the distinct outbound times inside the window and the latest outbound time
  that has left it (`Conversation.before`), which is enough to know exactly whether any kept
  inbound message was answered;
- lifetime maxima that windows would lose: the latest inbound event (`last_contact_at`), the
  latest scored inbound text (`sentiment_last`), the latest first response that left the window;
- the signal bookkeeping of the rules: the signals raised in the last 7 days (for cooldowns
  and de-duplication) and how far the clock-driven rules have been evaluated.

The clock is the latest event time seen (internal events such as app telemetry advance it too).

Idempotency and order: for events at most 7 days late (relative to the latest event seen when
they arrive), the state after a set of events is a function of that set only, whatever the
order and however often each event is applied (property-tested in
tests/streams/features/test_properties.py). Inbound events are recognised by event_id;
outbound events are kept as a set of times per conversation and the clock is a maximum, so
applying one again changes nothing without storing its id.

Pruning and very late events: an event older than `OPEN_S` before the clock can only update the
lifetime maxima. An event between `WINDOW_S` and `OPEN_S` old is kept only if it is an inbound
message that was not answered before the window (it keeps its conversation open) or, for an
outbound event, it records the answer of such a message. Pruning is monotone (what a larger set
of events or a later clock prunes stays pruned), which is why the result does not depend on
order of the features. What needs the 7-day bound is the first-response bookkeeping
(`last_fr`, `Conversation.settled`): an exchange that arrives after it left the window cannot be
timed, so `first_response_s_last` may differ; every other feature still matches a clean
recomputation. Signals depend on the processing order through cooldowns (see
`streams.rules.engine`).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from schemas.events import Channel, Direction, InteractionEvent
from streams.features.sentiment import compound, has_text

STATE_VERSION = 1
HOUR_S = 3600.0
DAY_S = 86400.0
WINDOW_S = 7 * DAY_S
OPEN_S = 30 * DAY_S

PHONE = Channel.PHONE.value


class StateError(ValueError):
    """A serialised state that cannot be read (unknown version, malformed)."""


class Inbound(NamedTuple):
    """One inbound event, as much of it as the features and rules need."""

    t: float
    event_id: str
    conversation: str
    channel: str
    kind: str
    compound: float | None  # VADER compound of its text; None without text
    private: bool  # attributes said public=false (a direct message, not a public post)


@dataclass(slots=True)
class Conversation:
    """The business's side of one conversation."""

    outs: list[float] = field(default_factory=list)  # distinct outbound times in the window
    before: float | None = None  # latest outbound time that has left the window
    settled: bool = False  # its first exchange has left the window (see first_response)


class FirstResponse(NamedTuple):
    """A conversation's first response: from its first inbound to its first outbound at or
    after it, as far as the state holds the conversation."""

    customer_id: str | None
    channel: str
    conversation_id: str
    seconds: float
    answered_at: datetime
    first_inbound_at: datetime


class SignalRecord(NamedTuple):
    """A signal the rule engine raised (kept 7 days, for cooldowns and de-duplication)."""

    at: float  # raised_at
    signal_id: str
    evidence: tuple[str, ...]


class CustomerState:
    """Everything the features and rules remember about one customer (see the module doc)."""

    __slots__ = (
        "customer_id",
        "clock",
        "wall",
        "evaluated_to",
        "inbound",
        "ids",
        "conversations",
        "last_in",
        "last_text",
        "last_fr",
        "signals",
        "_next_prune",
        "_rows",
    )

    def __init__(self, customer_id: str | None = None) -> None:
        self.customer_id = customer_id
        self.clock: float | None = None  # latest event time seen
        self.wall: float | None = None  # latest wall-clock time given to the rules (tick)
        self.evaluated_to: float | None = None  # clock-driven rules are evaluated up to here
        self.inbound: list[Inbound] = []  # sorted by (t, event_id)
        self.ids: set[str] = set()  # event ids in `inbound`
        self.conversations: dict[str, Conversation] = {}
        self.last_in: tuple[float, str, str] | None = None  # (t, event_id, channel)
        self.last_text: tuple[float, str, float] | None = None  # (t, event_id, compound)
        self.last_fr: tuple[float, str, float] | None = None  # (answered_at, conversation, s)
        self.signals: dict[str, list[SignalRecord]] = {}  # rule -> records sorted by (at, id)
        self._next_prune = math.inf
        # `inbound` as `to_dict` writes it (one list per record), kept in step with it by
        # `_insert` and dropped (None) when `inbound` is replaced: a state is written after
        # every batch, and rebuilding every record's list was a tenth of a live worker's time.
        self._rows: list[list[Any]] | None = []

    # -- reading -------------------------------------------------------------------------

    @property
    def clock_at(self) -> datetime | None:
        """The state's clock as a datetime (UTC), None before the first event."""
        return None if self.clock is None else _dt(self.clock)

    def inbound_between(self, lo: float, hi: float) -> list[Inbound]:
        """Inbound records with lo < t <= hi, in (t, event_id) order."""
        i = bisect.bisect_right(self.inbound, lo, key=_t)
        j = bisect.bisect_right(self.inbound, hi, key=_t)
        return self.inbound[i:j]

    def record(self, event_id: str, t: float) -> Inbound | None:
        """The kept inbound record of event `event_id` at time `t`, or None."""
        i = bisect.bisect_left(self.inbound, (t, event_id), key=_t_id)
        if i < len(self.inbound) and self.inbound[i].event_id == event_id:
            return self.inbound[i]
        return None

    def add_signal(self, rule: str, record: SignalRecord) -> None:
        """Remember a signal the rule engine raised (kept for 7 days after `record.at`)."""
        recs = self.signals.setdefault(rule, [])
        bisect.insort(recs, record, key=_at_id)
        self._next_prune = min(self._next_prune, record.at + WINDOW_S)

    def last_out(self, conversation: str) -> float | None:
        """The latest outbound time of a conversation (None if none is known)."""
        conv = self.conversations.get(conversation)
        if conv is None:
            return None
        if conv.outs:
            return conv.outs[-1]
        return conv.before

    def first_inbounds(self) -> dict[str, Inbound]:
        """Each conversation's earliest kept inbound record."""
        first: dict[str, Inbound] = {}
        for rec in self.inbound:
            if rec.conversation not in first:
                first[rec.conversation] = rec
        return first

    def first_response(self, conversation: str) -> FirstResponse | None:
        """The first response of `conversation` as the state holds it, or None (no inbound,
        no answer yet, or its first exchange has left the window)."""
        conv = self.conversations.get(conversation)
        if conv is None or conv.settled:
            return None  # (what `_first_response` finds, without the scan)
        first = None
        for rec in self.inbound:
            if rec.conversation == conversation:
                first = rec
                break
        if first is None:
            return None
        return self._first_response(first)

    def _first_response(self, first: Inbound) -> FirstResponse | None:
        conv = self.conversations.get(first.conversation)
        if conv is None or conv.settled:
            return None
        i = bisect.bisect_left(conv.outs, first.t)
        if i == len(conv.outs):
            return None
        answered = conv.outs[i]
        return FirstResponse(
            self.customer_id,
            first.channel,
            first.conversation,
            answered - first.t,
            _dt(answered),
            _dt(first.t),
        )

    # -- serialisation -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (versioned) from which `from_dict` rebuilds an equal state."""
        return {
            "v": STATE_VERSION,
            "customer_id": self.customer_id,
            "clock": self.clock,
            "wall": self.wall,
            "evaluated_to": self.evaluated_to,
            "inbound": self._inbound_rows()[:],
            "conversations": {
                # Copies: a state kept decoded after it was written (streams.workers.states)
                # changes on, and must not change the record it was written as.
                k: [c.outs[:], c.before, c.settled]
                for k, c in self.conversations.items()
            },
            "last_in": self.last_in,
            "last_text": self.last_text,
            "last_fr": self.last_fr,
            "signals": {
                rule: [[r.at, r.signal_id, list(r.evidence)] for r in recs]
                for rule, recs in self.signals.items()
            },
        }

    def _inbound_rows(self) -> list[list[Any]]:
        if self._rows is None:
            self._rows = [list(r) for r in self.inbound]
        return self._rows

    def _insert(self, rec: Inbound) -> None:
        """Keep an inbound record (not held yet) in (t, event_id) order."""
        i = bisect.bisect_right(self.inbound, rec)
        self.inbound.insert(i, rec)
        self.ids.add(rec.event_id)
        if self._rows is not None:
            self._rows.insert(i, list(rec))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CustomerState:
        """Rebuild a state written by `to_dict`.

        Raises:
            StateError: the dict is of another version or malformed.
        """
        if not isinstance(data, dict) or data.get("v") != STATE_VERSION:
            found = data.get("v") if isinstance(data, dict) else type(data).__name__
            raise StateError(f"customer state version {found!r}; this code reads {STATE_VERSION}")
        try:
            state = cls(data["customer_id"])
            state.clock = data["clock"]
            state.wall = data["wall"]
            state.evaluated_to = data["evaluated_to"]
            state.inbound = [
                Inbound(float(r[0]), r[1], r[2], r[3], r[4], r[5], bool(r[6]))
                for r in data["inbound"]
            ]
            state._rows = None
            state.ids = {r.event_id for r in state.inbound}
            state.conversations = {
                k: Conversation(list(v[0]), v[1], bool(v[2]))
                for k, v in data["conversations"].items()
            }
            state.last_in = _tuple(data["last_in"])
            state.last_text = _tuple(data["last_text"])
            state.last_fr = _tuple(data["last_fr"])
            state.signals = {
                rule: [SignalRecord(float(r[0]), r[1], tuple(r[2])) for r in recs]
                for rule, recs in data["signals"].items()
            }
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise StateError(f"malformed customer state: {exc!r}") from exc
        state._next_prune = state._compute_next_prune()
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CustomerState):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return (
            f"CustomerState(customer_id={self.customer_id!r}, clock={self.clock_at}, "
            f"inbound={len(self.inbound)}, conversations={len(self.conversations)})"
        )

    # -- pruning -------------------------------------------------------------------------

    def _compute_next_prune(self) -> float:
        """The clock at which some kept item changes status (leaves the window or ages out)."""
        if self.clock is None:
            return math.inf
        cutoff = self.clock - WINDOW_S
        nxt = math.inf
        for rec in self.inbound:
            nxt = min(nxt, rec.t + (WINDOW_S if rec.t > cutoff else OPEN_S))
            if rec.t > cutoff:
                break  # the rest are later still
        for conv in self.conversations.values():
            if conv.outs:
                nxt = min(nxt, conv.outs[0] + WINDOW_S)
            if conv.before is not None:
                nxt = min(nxt, conv.before + OPEN_S)
        for recs in self.signals.values():
            if recs:
                nxt = min(nxt, recs[0].at + WINDOW_S)
        return nxt

    def _prune(self) -> None:
        """Bring the state to what it must hold at its clock (see the module doc)."""
        assert self.clock is not None
        cutoff = self.clock - WINDOW_S
        open_cutoff = self.clock - OPEN_S
        firsts: dict[str, Inbound] | None = None
        for key, conv in self.conversations.items():
            if conv.outs and conv.outs[0] <= cutoff:
                k = bisect.bisect_right(conv.outs, cutoff)
                if not conv.settled:
                    if firsts is None:
                        firsts = self.first_inbounds()
                    first = firsts.get(key)
                    fr = self._first_response(first) if first is not None else None
                    if fr is not None and fr.answered_at.timestamp() <= cutoff:
                        # The first exchange leaves the window: remember its figure, and stop
                        # deriving one from the later messages that remain.
                        self._remember_fr((fr.answered_at.timestamp(), key, fr.seconds))
                        conv.settled = True
                gone = conv.outs[k - 1]
                conv.before = gone if conv.before is None else max(conv.before, gone)
                del conv.outs[:k]
        kept: list[Inbound] = []
        dropped = False
        for i, rec in enumerate(self.inbound):
            if rec.t > cutoff:
                kept.extend(self.inbound[i:])
                break
            held = self.conversations.get(rec.conversation)
            answered_before = held is not None and held.before is not None and held.before >= rec.t
            if rec.t <= open_cutoff or answered_before:
                dropped = True
                self.ids.discard(rec.event_id)
            else:
                kept.append(rec)
        if dropped:
            self.inbound = kept
            self._rows = None
        for key in [
            k
            for k, c in self.conversations.items()
            if not c.outs and (c.before is None or c.before <= open_cutoff)
        ]:
            del self.conversations[key]
        signal_cutoff = self.clock - WINDOW_S
        self.signals = {
            rule: kept_recs
            for rule, recs in self.signals.items()
            if (kept_recs := [r for r in recs if r.at > signal_cutoff])
        }
        self._next_prune = self._compute_next_prune()

    def _remember_fr(self, fr: tuple[float, str, float]) -> None:
        if self.last_fr is None or fr[:2] > self.last_fr[:2]:
            self.last_fr = fr

    def _advance(self, t: float) -> bool:
        """Move the clock to `t` if later; True if it moved."""
        if self.clock is not None and t <= self.clock:
            return False
        self.clock = t
        if t >= self._next_prune:
            self._prune()
        return True


def _t(rec: Inbound) -> float:
    return rec.t


def _t_id(rec: Inbound) -> tuple[float, str]:
    return (rec.t, rec.event_id)


def _at_id(rec: SignalRecord) -> tuple[float, str]:
    return (rec.at, rec.signal_id)


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def _tuple(value: Any) -> Any:
    return None if value is None else tuple(value)


def conversation_key(event: InteractionEvent) -> str:
    """The conversation an event belongs to: its conversation_id; without one, the event it
    replies to (`in_reply_to`), else the event itself (then it is a conversation of its own).

    The fallbacks begin with `~` so they cannot collide with an adapter's conversation ids.
    """
    if event.conversation_id:
        return event.conversation_id
    return "~" + (event.in_reply_to or event.event_id)


def apply(state: CustomerState, event: InteractionEvent) -> bool:
    """Apply one event to `state` (in place). Returns True if the state changed.

    Idempotent: applying an event that was applied before returns False and changes nothing.
    Events may come in any order; a late event slots in where its event time says. The result
    after a set of events does not depend on their order (see the module doc for what happens
    to events older than the windows).
    """
    t = event.occurred_at.timestamp()
    if state.customer_id is None and event.customer_id:
        state.customer_id = event.customer_id
    direction = event.direction
    if direction is Direction.INBOUND:
        return _apply_inbound(state, event, t)
    if direction is Direction.OUTBOUND:
        return _apply_outbound(state, conversation_key(event), t)
    return state._advance(t)  # internal events only move time forward


def _apply_inbound(state: CustomerState, event: InteractionEvent, t: float) -> bool:
    eid = event.event_id
    if eid in state.ids:
        return False
    channel = event.channel.value
    text = event.text
    scored: float | None = None
    changed = False
    # Lifetime maxima first: they hold even for events too old for every window.
    key = (t, eid)
    if state.last_in is None or key > state.last_in[:2]:
        state.last_in = (t, eid, channel)
        changed = True
    if has_text(text):
        if state.last_text is None or key > state.last_text[:2]:
            scored = compound(text)  # type: ignore[arg-type]
            state.last_text = (t, eid, scored)
            changed = True
    changed = state._advance(t) or changed
    assert state.clock is not None
    cutoff = state.clock - WINDOW_S
    if t <= state.clock - OPEN_S:
        return changed
    conv_key = conversation_key(event)
    if t <= cutoff:
        conv = state.conversations.get(conv_key)
        if conv is not None and conv.before is not None and conv.before >= t:
            return changed  # answered by a reply that has itself left the window
    if scored is None and has_text(text):
        scored = compound(text)  # type: ignore[arg-type]
    private = event.attributes.get("public") is False
    state._insert(Inbound(t, eid, conv_key, channel, event.kind, scored, private))
    state._next_prune = min(state._next_prune, t + (WINDOW_S if t > cutoff else OPEN_S))
    return True


def _apply_outbound(state: CustomerState, conv_key: str, t: float) -> bool:
    moved = state._advance(t)
    assert state.clock is not None
    if t <= state.clock - OPEN_S:
        return moved
    conv = state.conversations.get(conv_key)
    if conv is None:
        conv = state.conversations[conv_key] = Conversation()
    if t <= state.clock - WINDOW_S:
        if conv.before is not None and t <= conv.before:
            return moved  # an older answer than one already accounted for: no effect
        # A late answer that is already out of the window: slot it in, then let pruning
        # account for it (it may close old open messages and settle the first exchange).
        bisect.insort(conv.outs, t)
        state._prune()
        return True
    i = bisect.bisect_left(conv.outs, t)
    if i < len(conv.outs) and conv.outs[i] == t:
        return moved
    conv.outs.insert(i, t)
    state._next_prune = min(state._next_prune, t + WINDOW_S)
    return True


def merge(survivor: CustomerState, other: CustomerState) -> CustomerState:
    """The state of the customer that identity resolution made of `survivor` and `other`.

    Returns a new state (the inputs are not changed) equal to the state that would hold every
    event of both, under the survivor's customer_id. Idempotent (merging the same state twice
    changes nothing) and order-independent (merging several states in any order gives the same
    state, up to the customer_id). The signals both raised are kept (one record per signal_id);
    the clock-driven rules resume from the earlier of the two evaluation points, so nothing
    either customer had pending is skipped.
    """
    merged = CustomerState.from_dict(survivor.to_dict())
    merged.customer_id = survivor.customer_id or other.customer_id
    merged.clock = _max_opt(survivor.clock, other.clock)
    merged.wall = _max_opt(survivor.wall, other.wall)
    merged.evaluated_to = _min_opt(survivor.evaluated_to, other.evaluated_to)
    for rec in other.inbound:
        if rec.event_id not in merged.ids:
            merged._insert(rec)
    for key, conv in other.conversations.items():
        mine = merged.conversations.get(key)
        if mine is None:
            merged.conversations[key] = Conversation(list(conv.outs), conv.before, conv.settled)
            continue
        mine.outs = sorted(set(mine.outs) | set(conv.outs))
        mine.before = _max_opt(mine.before, conv.before)
        mine.settled = mine.settled or conv.settled
    for attr in ("last_in", "last_text"):
        mine_v, theirs = getattr(merged, attr), getattr(other, attr)
        if theirs is not None and (mine_v is None or theirs[:2] > mine_v[:2]):
            setattr(merged, attr, theirs)
    if other.last_fr is not None:
        merged._remember_fr(other.last_fr)
    for rule, recs in other.signals.items():
        by_id = {r.signal_id: r for r in merged.signals.get(rule, [])}
        for srec in recs:
            by_id.setdefault(srec.signal_id, srec)
        merged.signals[rule] = sorted(by_id.values(), key=lambda r: (r.at, r.signal_id))
    if merged.clock is not None:
        merged._prune()
    return merged


def _max_opt(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)


def _min_opt(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return min(a, b)
