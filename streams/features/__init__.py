"""Real-time customer and channel features as pure, idempotent, serialisable state machines.

The stream workers keep one `CustomerState` per customer and one `ChannelResponseState` per
channel (in changelog-backed tables, as `to_dict()`), call `process` for every resolved event,
and forward `Update.first_responses` to the channel states. See docs/streams-features.md.
"""
