"""Native records to the bytes of their real formats, and the deliberately malformed variants.

Formats (issue 3): RFC 5322 email (mbox or .eml), the "Customer Support on Twitter" CSV layout
and Twitter API v2 tweet JSON, Segment Spec JSON lines, Amazon Connect contact trace records
(JSON lines) and Amazon Connect chat transcripts (JSON lines).

Malformed records are made to be refused by any careful adapter, for one stated reason each,
without breaking the container format around them (the mbox still splits into messages, the CSV
still parses into rows, every JSON line is still one line).
"""

from __future__ import annotations

import csv
import email.header
import html
import io
import json
import quopri
import re
from typing import Any

from omnicx.simulate.records import EmailMessage, Rec, Tweet
from omnicx.simulate.world import iso_ms, mbox_date, rfc5322_date, twitter_date

TWCS_HEADER = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)

# Malformation kinds, per format; a record gets one, chosen by the writer's own stream.
MALFORMATIONS: dict[str, tuple[str, ...]] = {
    "segment": ("truncated_json", "missing_identity", "impossible_timestamp"),
    "ctr": ("truncated_json", "missing_identity", "impossible_timestamp"),
    "chat": ("truncated_json", "wrong_type"),
    "twcs": ("impossible_timestamp", "missing_identity"),
    "email": ("missing_identity",),
}

_FROM_LINE = re.compile(r"^(>*From )", re.MULTILINE)


def _json_line(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def _truncate(line: str) -> str:
    # Cut inside the object: still one line, no longer JSON (an interrupted export).
    return line[: max(1, len(line) // 2)] + "\n"


def segment_line(rec: Rec, malformed: str | None) -> str:
    data = rec.data
    if malformed == "missing_identity":
        # Identify traits (email, phone, ...) identify the customer too: drop them as well.
        data = {k: v for k, v in data.items() if k not in ("anonymousId", "userId", "traits")}
        if isinstance(data.get("context"), dict) and "traits" in data["context"]:
            data["context"] = {k: v for k, v in data["context"].items() if k != "traits"}
    elif malformed == "impossible_timestamp":
        data = dict(data, timestamp="2026-02-30T25:61:00.000Z")
    line = _json_line(data)
    return _truncate(line) if malformed == "truncated_json" else line


def ctr_line(rec: Rec, malformed: str | None) -> str:
    data = rec.data
    if malformed == "missing_identity":
        data = dict(data, CustomerEndpoint=None)
    elif malformed == "impossible_timestamp":
        data = dict(data, InitiationTimestamp="2026-13-01T99:00:00Z")
    line = _json_line(data)
    return _truncate(line) if malformed == "truncated_json" else line


def chat_line(rec: Rec, malformed: str | None) -> str:
    data = rec.data
    if malformed == "wrong_type":
        # A transcript export where the message list came out as a string.
        data = dict(data, Transcript=json.dumps(data["Transcript"])[:200])
    line = _json_line(data)
    return _truncate(line) if malformed == "truncated_json" else line


def twcs_row(rec: Rec, kept_responses: list[int], malformed: str | None) -> str:
    tw: Tweet = rec.data
    author = "" if malformed == "missing_identity" else tw.author_id
    created = "yesterday, around lunch" if malformed == "impossible_timestamp" else None
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(
        (
            tw.tweet_id,
            author,
            "True" if tw.inbound else "False",
            created or twitter_date(tw.ms),
            tw.text,
            ",".join(str(t) for t in kept_responses),
            tw.reply_to.data.tweet_id if tw.reply_to is not None else "",
        )
    )
    return buf.getvalue()


def tweet_v2_line(rec: Rec, malformed: str | None) -> str:
    """Twitter API v2 GET /2/tweets/:id with expansions=author_id (data + includes.users)."""
    tw: Tweet = rec.data
    data: dict[str, Any] = {
        "author_id": tw.author_user_id,
        "conversation_id": str(tw.conversation_id),
        "created_at": iso_ms(tw.ms),
        "id": str(tw.tweet_id),
        "lang": "en",
    }
    mention = tw.text.split(" ", 1)[0]
    if mention.startswith("@"):
        data["entities"] = {
            "mentions": [{"start": 0, "end": len(mention), "username": mention[1:]}]
        }
    if tw.reply_to is not None:
        parent: Tweet = tw.reply_to.data
        data["in_reply_to_user_id"] = parent.author_user_id
        data["referenced_tweets"] = [{"type": "replied_to", "id": str(parent.tweet_id)}]
    data["text"] = tw.text
    users = [{"id": tw.author_user_id, "name": tw.author_name, "username": tw.author_id}]
    line = _json_line({"data": data, "includes": {"users": users}})
    return _truncate(line) if malformed else line


def _header(value: str) -> str:
    """A header value: ASCII as is, anything else as an RFC 2047 encoded word."""
    if value.isascii():
        return value
    return email.header.Header(value, "utf-8").encode()


def _qp(text: str) -> str:
    return quopri.encodestring(text.encode()).decode("ascii")


def _email_text(m: EmailMessage, malformed: str | None) -> str:
    """The message with LF line ends, built by hand: the stdlib's EmailMessage is ~50x slower
    and these messages are simple (text/plain, or multipart/alternative with an HTML part)."""
    lines = []
    if malformed != "missing_identity":
        lines.append(f"From: {m.from_header}")
    lines += [
        f"To: {m.to_header}",
        f"Subject: {_header(m.subject)}",
        f"Date: {rfc5322_date(m.ms, m.utc_offset)}",
        f"Message-ID: {m.message_id}",
    ]
    if m.in_reply_to:
        lines.append(f"In-Reply-To: {m.in_reply_to}")
    if m.references:
        lines.append("References: " + "\n ".join(m.references))  # folded, one id a line
    if m.mailer:
        lines.append(f"X-Mailer: {m.mailer}")
    lines.append("MIME-Version: 1.0")
    plain = (
        'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable'
        f"\n\n{_qp(m.body)}"
    )
    if not m.html:
        return "\n".join(lines) + "\n" + plain.rstrip("\n") + "\n"
    paragraphs = "".join(
        f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in m.body.split("\n\n")
    )
    body = f'<html><body style="font-family:Arial,sans-serif">{paragraphs}</body></html>'
    rich = (
        'Content-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable'
        f"\n\n{_qp(body)}"
    )
    b = m.boundary
    lines.append(f'Content-Type: multipart/alternative; boundary="{b}"')
    parts = f"--{b}\n{plain.rstrip(chr(10))}\n--{b}\n{rich.rstrip(chr(10))}\n--{b}--\n"
    return "\n".join(lines) + "\n\n" + parts


def mbox_entry(rec: Rec, malformed: str | None) -> str:
    """One mbox entry: the From_ line, the message (">From " escaped), a blank line."""
    m: EmailMessage = rec.data
    sender = "MAILER-DAEMON" if malformed == "missing_identity" else m.from_addr
    # mboxrd: body lines that look like a From_ line are quoted (QP never encodes "From ").
    text = _FROM_LINE.sub(r">\1", _email_text(m, malformed))
    return f"From {sender} {mbox_date(m.ms)}\n{text}\n"


def eml_bytes(rec: Rec, malformed: str | None) -> bytes:
    # .eml files as mail clients save them: CRLF line ends.
    return _email_text(rec.data, malformed).replace("\n", "\r\n").encode("ascii")
