"""The Python SDK: produce a channel's native payloads (or ready canonical events) and consume
typed InteractionEvents. Public import path: `omnicx.sdk`."""

from streams.sdk.consumer import EventConsumer, RecordPosition
from streams.sdk.producer import EventProducer

__all__ = ["EventConsumer", "EventProducer", "RecordPosition"]
