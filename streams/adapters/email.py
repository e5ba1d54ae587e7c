"""E-mail: RFC 5322 messages, one per `.eml` file or many in an mbox.

Threads follow Message-ID / In-Reply-To / References: the conversation is the thread's root
Message-ID (the first References entry, RFC 5322 section 3.6.4; failing that the In-Reply-To
chain as far as the batch knows it). Mail from the business's own addresses or domains is
outbound and its customers are the recipients; anything else is inbound from its sender.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email import policy
from email.header import decode_header, make_header
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from schemas.events import Channel, Direction, make_event_id
from schemas.identifiers import IdentifierType
from streams.adapters.base import (
    Adapted,
    Identifiers,
    RawRecord,
    build_event,
    check_size,
    check_time,
    fallback_record_id,
    split_json_records,
)
from streams.adapters.config import AdapterConfig
from streams.adapters.errors import InvalidTimestamp, MalformedPayload, MissingIdentity

SYSTEM = "rfc5322"
channel = Channel.EMAIL.value

_MSGID = re.compile(r"<([^<>\s]+)>")
_FOLD = re.compile(r"\r?\n[ \t]")
_HEADER_LINE = re.compile(rb"^[!-9;-~]+:")


def split(data: bytes, source: str, content_type: str | None = None) -> list[RawRecord]:
    """An mbox (messages after `From ` separator lines, as `mailbox.mbox` reads them), a JSON
    string or array of strings (HTTP), or one RFC 5322 message."""
    if content_type and "json" in content_type:
        return _split_json(data, source)
    if data.startswith(b"From "):
        return split_mbox(data, source)
    return [RawRecord(data, source, 1, content_type)]


def split_mbox(data: bytes, source: str) -> list[RawRecord]:
    """Split an mbox the way `mailbox.mbox` does (every line starting with `From ` begins a
    message; the blank line before it belongs to the separator), keeping each message's first
    line number for the DLQ."""
    records: list[RawRecord] = []
    lines = data.splitlines(keepends=True)
    start: int | None = None
    for number, line in enumerate(lines, start=1):
        if line.startswith(b"From "):
            if start is not None:
                records.append(_mbox_message(lines, start, number - 1, source))
            start = number + 1  # the message starts after its separator line
    if start is not None:
        records.append(_mbox_message(lines, start, len(lines) + 1, source))
    return records


def _mbox_message(lines: list[bytes], first: int, stop: int, source: str) -> RawRecord:
    body = lines[first - 1 : stop - 1]
    if body and body[-1].strip() == b"":
        body = body[:-1]  # the blank line that precedes the next separator
    return RawRecord(b"".join(body), source, first, "message/rfc822")


def _split_json(data: bytes, source: str) -> list[RawRecord]:
    records = []
    for record in split_json_records(data, source):
        try:
            value = json.loads(record.data)
        except ValueError:
            records.append(record)  # refused later as not an RFC 5322 message
            continue
        if isinstance(value, str):
            records.append(RawRecord(value.encode("utf-8"), source, record.line, "message/rfc822"))
        else:
            records.append(record)
    return records


def build_context(records: Sequence[RawRecord]) -> dict[str, str | None]:
    """Message-ID -> parent Message-ID over the batch, from the headers only (cheap), so a
    reply that lacks References still finds its thread's root."""
    parser = BytesHeaderParser(policy=policy.compat32)
    parents: dict[str, str | None] = {}
    for record in records:
        try:
            headers = parser.parsebytes(record.data)
            own = _first_id(str(headers.get("Message-ID", "")))
            if own is None:
                continue
            refs = _ids(str(headers.get("References", "")))
            parent = _first_id(str(headers.get("In-Reply-To", ""))) or (refs[-1] if refs else None)
            parents[own] = parent if parent != own else None
        except Exception:  # noqa: BLE001 - a broken header is refused later, with its reason
            continue
    return parents


def adapt(
    data: bytes,
    config: AdapterConfig,
    *,
    received_at: datetime,
    context: dict[str, str | None] | None = None,
) -> Adapted:
    """One RFC 5322 message -> one `message` or `reply` event."""
    check_size(data, config)
    if data.startswith(b"From "):
        data = data.split(b"\n", 1)[1] if b"\n" in data else b""
    first_line = data.lstrip(b"\r\n").split(b"\n", 1)[0]
    if not data.strip() or not _HEADER_LINE.match(first_line):
        raise MalformedPayload("not an RFC 5322 message: it does not start with a header field")
    try:
        msg = BytesParser(policy=_message_policy()).parsebytes(data)
    except Exception as exc:  # noqa: BLE001 - the parser is lenient; this is a last resort
        raise MalformedPayload(f"unparseable RFC 5322 message: {exc}") from None
    assert isinstance(msg, EmailMessage)
    raw = _raw_headers(msg)

    message_id = _first_id(raw.get("message-id", ""))
    record_id = message_id or fallback_record_id(data)
    moment = _date(raw.get("date"), record_id)
    check_time(moment, "Date header", config, received_at, record_id)

    senders = _addresses(raw.get("from", ""))
    if not senders:
        raise MissingIdentity("the message has no From address", record_id)
    from_name, from_addr = senders[0]
    to, cc = _addresses(raw.get("to", "")), _addresses(raw.get("cc", ""))
    recipients = to + cc

    identifiers = Identifiers(config.default_phone_region)
    own_recipients = [a for _, a in recipients if config.is_own_email(a)]
    if config.is_own_email(from_addr):
        direction = Direction.OUTBOUND
        customers = [a for _, a in recipients if not config.is_own_email(a)]
        for address in customers:
            identifiers.add(IdentifierType.EMAIL, address, "recipient")
        ids = identifiers.require(
            "outbound mail from an own address, but no recipient outside the business",
            record_id,
        )
        agent_id: str | None = from_addr
    else:
        direction = Direction.INBOUND
        identifiers.add(IdentifierType.EMAIL, from_addr, "From")
        ids = identifiers.require("the From address is not an e-mail address", record_id)
        agent_id = None

    references = _ids(raw.get("references", ""))
    in_reply_to = _first_id(raw.get("in-reply-to", "")) or (references[-1] if references else None)
    conversation_id = _thread_root(message_id, in_reply_to, references, context or {})
    text, body_format = _body_text(msg)
    attachments = _attachments(msg)
    attributes: dict[str, Any] = {
        "message_id": message_id,
        "subject": _decode(raw.get("subject", "")) or None,
        "from": from_addr,
        "from_name": from_name or None,
        "to": [a for _, a in to],
        "cc": [a for _, a in cc],
        "in_reply_to_message_id": in_reply_to,
        "references": len(references),
        "body_format": body_format,
        "attachments": attachments,
    }
    if own_recipients and direction is Direction.INBOUND:
        attributes["mailbox"] = own_recipients[0]
    if identifiers.dropped:
        attributes["unusable_identifiers"] = identifiers.dropped
    event = build_event(
        record_id,
        event_id=make_event_id(SYSTEM, record_id),
        occurred_at=moment,
        ingested_at=received_at,
        channel=Channel.EMAIL,
        direction=direction,
        kind="reply" if in_reply_to else "message",
        conversation_id=conversation_id or record_id,
        in_reply_to=make_event_id(SYSTEM, in_reply_to) if in_reply_to else None,
        identifiers=ids,
        tenant=config.default_tenant,
        agent_id=agent_id,
        text=text,
        attributes=attributes,
        source={"system": SYSTEM, "record_id": record_id},
    )
    return Adapted(record_id, [event])


_REGISTRY = HeaderRegistry()


class _ParseOnce:
    """A header factory that parses each (name, value) once per message. `email` re-parses a
    header on every read, and walking a message for its body and attachments reads each
    part's Content-Type about ten times; that parsing was most of this adapter's time. The
    memo lives for one message only (a fresh factory per message), so nothing is shared
    between messages or threads."""

    def __init__(self) -> None:
        self._parsed: dict[tuple[str, str], Any] = {}

    def __call__(self, name: str, value: str) -> Any:
        key = (name, value)
        header = self._parsed.get(key)
        if header is None:
            header = self._parsed[key] = _REGISTRY(name, value)
        return header


def _message_policy() -> policy.EmailPolicy[EmailMessage]:
    return policy.default.clone(header_factory=_ParseOnce())


def _raw_headers(msg: EmailMessage) -> dict[str, str]:
    """First value of each header, unparsed and unfolded (lower-case names). Reading raw values
    keeps one malformed header from making the whole message unreadable."""
    out: dict[str, str] = {}
    for name, value in msg.raw_items():
        key = name.lower()
        if key not in out:
            out[key] = _clean(_FOLD.sub(" ", str(value)).strip())
    return out


def _clean(value: str) -> str:
    """Undo the parser's surrogateescape: raw 8-bit header bytes are read as UTF-8 (RFC 6532)
    and anything that is not UTF-8 becomes U+FFFD, so no lone surrogate reaches the JSON."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _decode(value: str) -> str:
    """RFC 2047 encoded words (`=?utf-8?q?Jos=C3=A9?=`) to text."""
    if "=?" not in value:
        return value
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # noqa: BLE001 - an undecodable word stays as written
        return value


def _addresses(value: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) pairs; entries without an address are skipped."""
    if not value:
        return []
    pairs = getaddresses([value])
    return [(_decode(name).strip(), addr.strip().lower()) for name, addr in pairs if "@" in addr]


def _ids(value: str) -> list[str]:
    return _MSGID.findall(value)


def _first_id(value: str) -> str | None:
    """The first `<id>` in a header; a bare id without angle brackets is accepted too."""
    ids = _ids(value)
    if ids:
        return ids[0]
    value = value.strip()
    return value if value and not any(c.isspace() for c in value) else None


def _date(value: str | None, record_id: str) -> datetime:
    if not value:
        raise InvalidTimestamp("the message has no Date header", record_id)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        raise InvalidTimestamp(
            f"Date header is not an RFC 5322 date: {value!r}", record_id
        ) from None
    if moment.tzinfo is None:  # "-0000": UTC with unknown local zone (RFC 5322 3.3)
        moment = moment.replace(tzinfo=UTC)
    return moment


def _thread_root(
    message_id: str | None,
    in_reply_to: str | None,
    references: list[str],
    parents: dict[str, str | None],
) -> str | None:
    if references:
        return references[0]
    if in_reply_to is None:
        return message_id
    root, seen = in_reply_to, {in_reply_to}
    while (parent := parents.get(root)) is not None and parent not in seen:
        root = parent
        seen.add(root)
    return root


class _TextExtractor(HTMLParser):
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def strip_html(html: str) -> str:
    """Visible text of an HTML body, one line per block."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _body_text(msg: EmailMessage) -> tuple[str | None, str | None]:
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - a broken MIME tree has no body we can trust
        body = None
    if body is None:
        return None, None
    assert isinstance(body, EmailMessage)
    try:
        content = body.get_content()
    except Exception:  # noqa: BLE001 - unknown charset: decode what we can, visibly
        payload = body.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return None, None
    content = _clean(content).replace("\r\n", "\n")
    if body.get_content_subtype() == "html":
        return strip_html(content) or None, "html"
    return content.strip() or None, "plain"


def _attachments(msg: EmailMessage) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    try:
        parts = list(msg.iter_attachments())
    except Exception:  # noqa: BLE001
        return out
    for part in parts:
        payload = part.get_payload(decode=True)
        out.append(
            {
                "name": _clean(name) if (name := part.get_filename()) else None,
                "content_type": part.get_content_type(),
                "size": len(payload) if isinstance(payload, bytes) else None,
            }
        )
    return out
