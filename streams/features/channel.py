"""Per-channel reply-time features (`schemas.features.CHANNEL_REALTIME_FEATURES`).

The customer states report first responses as they happen (`process(...).first_responses`);
the wiring forwards them to a state keyed by channel, which answers "our current reply time is
N minutes":

- `first_response_s_p50_1h`: the median first-response seconds of the conversations first
  answered in the last hour, (now - 1 h, now] by answer time; None when none was answered;
- `answered_1h`: how many conversations were first answered in the last hour.
"""

from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from schemas.features import CHANNEL_REALTIME_FEATURES
from streams.features.state import HOUR_S, FirstResponse, StateError

CHANNEL_STATE_VERSION = 1
CHANNEL_WINDOW_S = HOUR_S


class ChannelResponseState:
    """The first responses of one channel answered within the last hour of its clock (the
    latest answer time reported), keyed by conversation."""

    __slots__ = ("channel", "clock", "responses")

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.clock: float | None = None
        self.responses: dict[str, tuple[float, float]] = {}  # conv -> (answered_at, seconds)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (versioned) from which `from_dict` rebuilds an equal state."""
        return {
            "v": CHANNEL_STATE_VERSION,
            "channel": self.channel,
            "clock": self.clock,
            "responses": {k: list(v) for k, v in self.responses.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChannelResponseState:
        """Rebuild a state written by `to_dict`.

        Raises:
            StateError: the dict is of another version or malformed.
        """
        if not isinstance(data, dict) or data.get("v") != CHANNEL_STATE_VERSION:
            found = data.get("v") if isinstance(data, dict) else type(data).__name__
            raise StateError(
                f"channel state version {found!r}; this code reads {CHANNEL_STATE_VERSION}"
            )
        try:
            state = cls(data["channel"])
            state.clock = data["clock"]
            state.responses = {k: (float(v[0]), float(v[1])) for k, v in data["responses"].items()}
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            raise StateError(f"malformed channel state: {exc!r}") from exc
        return state

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChannelResponseState):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"ChannelResponseState({self.channel!r}, responses={len(self.responses)})"


def apply_response(state: ChannelResponseState, response: FirstResponse) -> bool:
    """Record one conversation's first response (in place). Returns True if the state changed.

    Idempotent by conversation: reporting a conversation again with the same figures changes
    nothing; reporting it with new figures (a late event corrected them) replaces the old ones.
    Responses answered an hour or more before the state's clock are ignored.

    Raises:
        ValueError: the response belongs to another channel.
    """
    if response.channel != state.channel:
        raise ValueError(
            f"first response of channel {response.channel!r} given to {state.channel!r} state"
        )
    answered = response.answered_at.timestamp()
    entry = (answered, float(response.seconds))
    if state.clock is not None and answered <= state.clock - CHANNEL_WINDOW_S:
        return False
    if state.responses.get(response.conversation_id) == entry:
        return False
    state.responses[response.conversation_id] = entry
    if state.clock is None or answered > state.clock:
        state.clock = answered
        horizon = answered - CHANNEL_WINDOW_S
        state.responses = {k: v for k, v in state.responses.items() if v[0] > horizon}
    return True


def channel_features(
    state: ChannelResponseState, now: datetime | None = None
) -> dict[str, float | int | None]:
    """The channel's reply-time features at `now` (default: the state's clock).

    Returns exactly the keys of `CHANNEL_REALTIME_FEATURES`: `first_response_s_p50_1h` (float
    or None) and `answered_1h` (int).
    """
    at = state.clock if now is None else now.timestamp()
    out: dict[str, float | int | None] = dict.fromkeys(CHANNEL_REALTIME_FEATURES)
    if at is None:
        out["answered_1h"] = 0
        return out
    seconds = [s for answered, s in state.responses.values() if at - HOUR_S < answered <= at]
    out["first_response_s_p50_1h"] = float(statistics.median(seconds)) if seconds else None
    out["answered_1h"] = len(seconds)
    return out
