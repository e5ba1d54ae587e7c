"""Channel adapters: pure functions from a channel's native payload to canonical
InteractionEvents, or an `AdapterError` that says why not.

One module per channel (`email`, `social`, `app`, `phone`, `chat`), each with `split` (file or
request body -> raw records), `build_context` (what one record needs to know about the rest of
its batch: reply chains, threads) and `adapt` (one raw record -> `Adapted`).
"""

from __future__ import annotations

from types import ModuleType

from schemas.topics import CHANNELS
from streams.adapters import app, chat, email, phone, social
from streams.adapters.base import Adapted, ChannelAdapter, RawRecord
from streams.adapters.config import AdapterConfig
from streams.adapters.errors import AdapterError, UnknownChannel

ADAPTERS: dict[str, ModuleType] = {
    "email": email,
    "social": social,
    "app": app,
    "phone": phone,
    "chat": chat,
}
assert set(ADAPTERS) == set(CHANNELS)


def get_adapter(channel: str) -> ChannelAdapter:
    """The adapter of `channel`, or UnknownChannel naming the ones that exist."""
    try:
        module = ADAPTERS[channel]
    except KeyError:
        raise UnknownChannel(
            f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}"
        ) from None
    return module  # type: ignore[return-value]


__all__ = [
    "ADAPTERS",
    "Adapted",
    "AdapterConfig",
    "AdapterError",
    "ChannelAdapter",
    "RawRecord",
    "UnknownChannel",
    "get_adapter",
]
