"""Why an adapter refuses a payload. Every refusal is terminal (retrying the same bytes gives the
same answer), so the gateway sends it to cx.dlq.v1 with the class name as `dlq_error_class`."""

from __future__ import annotations


class AdapterError(Exception):
    """A payload that cannot become canonical events; `str(exc)` is the human reason.

    `record_id` is the source record's id when the adapter got far enough to read it; the
    gateway uses it as the DLQ key.
    """

    def __init__(self, message: str, record_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.record_id = record_id

    @property
    def error_class(self) -> str:
        return type(self).__name__


class PayloadTooLarge(AdapterError):
    """Larger than `max_payload_bytes`."""


class InvalidEncoding(AdapterError):
    """Bytes that are not valid UTF-8 where the format requires it."""


class MalformedPayload(AdapterError):
    """Not parseable as the channel's format: truncated JSON, a broken CSV row, not an e-mail."""


class InvalidField(AdapterError):
    """Parseable but a field is missing, of the wrong type, or has an unknown value."""


class MissingIdentity(AdapterError):
    """Nothing in the payload identifies the customer."""


class InvalidTimestamp(AdapterError):
    """A timestamp that is missing, unparseable, before the earliest allowed, or in the future."""


class UnsupportedMessage(AdapterError):
    """A well-formed message of a kind omnicx does not ingest (Segment alias, empty transcript)."""


class UnknownChannel(AdapterError):
    """A channel name that is not phone, email, social, app or chat."""


# Every error class an adapter can raise, for documentation and tests.
ERROR_CLASSES: tuple[type[AdapterError], ...] = (
    PayloadTooLarge,
    InvalidEncoding,
    MalformedPayload,
    InvalidField,
    MissingIdentity,
    InvalidTimestamp,
    UnsupportedMessage,
    UnknownChannel,
)
