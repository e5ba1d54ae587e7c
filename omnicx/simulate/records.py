"""The simulator's in-memory records: one native record (an email, a tweet, a Segment message,
a contact trace record, a chat transcript) before it is serialised, plus the "touches" it
stands for, which the ground truth (expected signals) is computed from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Channels whose inbound texts and contacts count as "digital" for channel_fallback.
DIGITAL_CONTACT_CHANNELS = frozenset({"email", "social", "chat"})


@dataclass(slots=True)
class Touch:
    """One interaction inside a record, as the signal rules see it."""

    ms: int
    channel: str
    inbound: bool  # from the customer
    contact: bool  # counts towards repeat_contact (see docs/simulator.md)
    conversation: str  # thread / tweet conversation root / call / chat contact id
    ref: str  # native id: Message-ID, tweet id, ContactId, chat message Id, messageId
    compound: float | None = None  # VADER compound of an inbound text


@dataclass(slots=True)
class Rec:
    """A native record before serialisation."""

    channel: str
    file: str  # path relative to the output directory (or an .eml folder)
    fmt: str  # email | twcs | segment | ctr | chat
    ts: int  # sort key (ms): the record's own time
    last_ts: int  # latest timestamp anywhere in it (ms); must not pass the window end
    data: Any
    ref: str
    touches: list[Touch] = field(default_factory=list)
    ids: list[tuple[str, str, str]] = field(default_factory=list)  # (field, type, value)
    scripted: bool = False  # part of a scripted journey: never corrupted
    events: int = 1  # canonical events it should become
    kept: bool = True  # inside the window and on a selected channel
    malformed: str | None = None


@dataclass(slots=True)
class Tweet:
    """A tweet; rendered as a twcs row and, optionally, Twitter API v2 JSON."""

    tweet_id: int
    author_id: str  # customer: anonymised numeric id; brand: its handle (twcs convention)
    author_user_id: str  # numeric user id (API v2)
    author_name: str
    inbound: bool
    ms: int
    text: str
    conversation_id: int
    reply_to: Rec | None = None  # the Rec of the tweet this one answers
    responses: list[Rec] = field(default_factory=list)


@dataclass(slots=True)
class EmailMessage:
    """An RFC 5322 message, kept as parts until serialisation."""

    from_header: str
    from_addr: str
    to_header: str
    to_addr: str
    subject: str
    ms: int
    utc_offset: int
    message_id: str
    in_reply_to: str | None
    references: list[str]
    body: str
    html: bool  # multipart/alternative with an HTML part
    boundary: str
    mailer: str | None
