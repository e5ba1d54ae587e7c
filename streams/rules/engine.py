"""The rule engine: runs the rules over a customer's state, applies cooldowns and raises
`OutreachSignal`s with deterministic ids.

Signal ids: `uuid5(namespace, [rule, customer_id, trigger event_id])`. The same events
processed in the same order give the same signals with the same ids, so an at-least-once
replay re-publishes a signal under the id it had (consumers de-duplicate by `signal_id`).

Cooldown: no two signals of one rule for one customer closer than the rule's `cooldown_s` in
event time (either side, so a late event cannot slip a signal in just before an earlier one).
"""

from __future__ import annotations

import bisect
import json
import uuid
from datetime import UTC, datetime
from typing import Any

from schemas.events import Direction, InteractionEvent
from schemas.signals import OutreachSignal
from streams.features.customer import Update, process
from streams.features.state import CustomerState, SignalRecord
from streams.rules.builtin import CLOCK_RULES, EVENT_RULES, Trigger
from streams.rules.config import RuleConfig, RulesConfig

SIGNAL_ID_NAMESPACE = uuid.UUID("0b5e1c52-57f4-5c43-8a8e-6a3f7b9d2e41")
DEFAULT_RULES = RulesConfig()


def signal_id(rule: str, customer_id: str, trigger_id: str) -> str:
    """The stable id of the signal `rule` raised for `customer_id` on event `trigger_id`."""
    name = json.dumps([rule, customer_id, trigger_id], separators=(",", ":"))
    return str(uuid.uuid5(SIGNAL_ID_NAMESPACE, name))


def evaluate(
    state: CustomerState,
    event: InteractionEvent,
    config: RulesConfig = DEFAULT_RULES,
    now: datetime | None = None,
    replay: bool = False,
) -> list[OutreachSignal]:
    """The signals `event` raises, once it has been applied to `state` (see `step`).

    Runs the event rules on the event and the clock rules up to the state's time, records the
    signals in `state` (for cooldowns) and returns them in event-time order.

    Args:
        state: the customer's state, with `event` applied; its signal bookkeeping is updated.
        event: the event just processed.
        config: the rules' configuration.
        now: the wall-clock time, when live (the clock rules then also run up to it, less
            their grace); None in pure event time.
        replay: the event was a duplicate (`Update.changed` False): signals it raised before
            are raised again, with their ids, in case the first publication was lost.

    Raises:
        ValueError: the state has no customer_id (events must be resolved first).
    """
    customer_id = _customer(state)
    found: list[tuple[str, Trigger]] = []
    if event.direction is Direction.INBOUND:
        rec = state.record(event.event_id, event.occurred_at.timestamp())
        if rec is not None:
            for name, rule in EVENT_RULES.items():
                cfg = _config(config, name)
                if cfg.enabled:
                    found.extend((name, trig) for trig in rule(state, rec, cfg))
    if now is not None:
        state.wall = max(state.wall or now.timestamp(), now.timestamp())
    found.extend(_run_clock_rules(state, config))
    return _raise(state, customer_id, found, config, replay)


def tick(
    state: CustomerState, now: datetime, config: RulesConfig = DEFAULT_RULES
) -> list[OutreachSignal]:
    """Advance the customer's wall clock to `now` and run the clock rules (a post that has gone
    unanswered while the customer sent nothing more). Call it periodically for customers with
    pending posts; calling it again for the same `now` raises nothing.

    Raises:
        ValueError: the state has no customer_id.
    """
    customer_id = _customer(state)
    state.wall = max(state.wall or now.timestamp(), now.timestamp())
    return _raise(state, customer_id, _run_clock_rules(state, config), config, False)


def step(
    state: CustomerState,
    event: InteractionEvent,
    config: RulesConfig = DEFAULT_RULES,
    now: datetime | None = None,
    with_features: bool = True,
) -> tuple[Update, list[OutreachSignal]]:
    """Process one event: update the features (`streams.features.customer.process`) and run
    the rules. This is what a stream worker calls per resolved event (with
    `with_features=False` it computes the features once per batch instead).

    A duplicate event (`update.changed` False) re-raises the signals it raised the first time
    (same ids) and nothing new.
    """
    update = process(state, event, now, with_features)
    return update, evaluate(state, event, config, now, replay=not update.changed)


def pending_deadline(state: CustomerState, config: RulesConfig = DEFAULT_RULES) -> datetime | None:
    """The earliest wall-clock time at which `tick` could raise something for this customer
    (an unanswered post's deadline plus grace), or None: lets a worker tick only the customers
    that need it."""
    cfg = config.unanswered_public_post
    if not cfg.enabled:
        return None
    lo = state.evaluated_to
    for rec in state.inbound:
        due = rec.t + cfg.window_s
        if rec.channel == "social" and not rec.private and (lo is None or due > lo):
            return datetime.fromtimestamp(due + cfg.grace_s, UTC)
    return None


def _run_clock_rules(state: CustomerState, config: RulesConfig) -> list[tuple[str, Trigger]]:
    found: list[tuple[str, Trigger]] = []
    if state.clock is None:
        return found
    lo = state.evaluated_to
    grace = config.unanswered_public_post.grace_s
    horizon = state.clock if state.wall is None else max(state.clock, state.wall - grace)
    if lo is not None and horizon <= lo:
        return found
    for name, rule in CLOCK_RULES.items():
        cfg = _config(config, name)
        if cfg.enabled:
            found.extend((name, trig) for trig in rule(state, lo, horizon, cfg))
    state.evaluated_to = horizon
    return found


def _raise(
    state: CustomerState,
    customer_id: str,
    found: list[tuple[str, Trigger]],
    config: RulesConfig,
    replay: bool,
) -> list[OutreachSignal]:
    out: list[OutreachSignal] = []
    for name, trig in sorted(found, key=lambda f: (f[1].at, f[0], f[1].trigger_id)):
        cfg = _config(config, name)
        recs = state.signals.get(name, [])
        cooling = _cooling_down(recs, trig.at, cfg.cooldown_s)
        if cooling and not replay:
            continue  # the common case, decided without hashing an id
        sid = signal_id(name, customer_id, trig.trigger_id)
        if any(r.signal_id == sid for r in recs):
            if replay:
                out.append(_signal(sid, customer_id, name, trig, cfg))
            continue
        if cooling:
            continue
        state.add_signal(name, SignalRecord(trig.at, sid, trig.evidence))
        out.append(_signal(sid, customer_id, name, trig, cfg))
    return out


def _cooling_down(recs: list[SignalRecord], at: float, cooldown_s: float) -> bool:
    if cooldown_s <= 0 or not recs:
        return False
    i = bisect.bisect_left(recs, at, key=_at)
    near = recs[max(0, i - 1) : i + 1]
    return any(abs(r.at - at) < cooldown_s for r in near)


def _at(rec: SignalRecord) -> float:
    return rec.at


def _signal(
    sid: str, customer_id: str, name: str, trig: Trigger, cfg: RuleConfig
) -> OutreachSignal:
    raised = datetime.fromtimestamp(trig.at, UTC)
    return OutreachSignal(
        signal_id=sid,
        customer_id=customer_id,
        type=name,
        severity=cfg.severity,
        reason=trig.reason,
        evidence=list(trig.evidence),
        recommended_action=cfg.recommended_action,
        raised_at=raised,
        expires_at=datetime.fromtimestamp(trig.at + cfg.expires_after_s, UTC),
    )


def _config(config: RulesConfig, name: str) -> Any:
    return getattr(config, name)


def _customer(state: CustomerState) -> str:
    if not state.customer_id:
        raise ValueError("rules need a resolved customer: the state has no customer_id")
    return state.customer_id
