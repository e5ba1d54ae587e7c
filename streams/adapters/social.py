"""Social: the "Customer Support on Twitter" CSV layout (twcs) and Twitter API v2 tweet JSON.

twcs columns: tweet_id, author_id, inbound, created_at ("Wed Oct 11 06:55:44 +0000 2017"),
text, response_tweet_id (comma-separated), in_response_to_tweet_id. A row whose `inbound` is
False is a brand post. Twitter API v2: `data` (one tweet or a list) with `includes.users`
(expansions=author_id) giving each author's username.

Brand accounts are twcs's `inbound=False` authors plus the configured own handles. A brand post
is outbound: its `agent_id` and `tenant` are the brand; its customer is the author it replies to
(the in_response_to tweet's author when the batch has that tweet, else the text's leading
@mention). A customer post is inbound; its tenant is the brand of its conversation, so per-brand
KPIs work. The conversation is the root of the reply chain as far as the batch knows it.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from schemas.events import Channel, Direction, InteractionEvent, make_event_id
from schemas.identifiers import IdentifierType
from streams.adapters.base import (
    Adapted,
    Identifiers,
    RawRecord,
    build_event,
    check_size,
    check_time,
    decode_utf8,
    get_object,
    get_str,
    load_json,
    parse_iso_time,
    split_json_records,
    type_name,
)
from streams.adapters.config import AdapterConfig
from streams.adapters.errors import (
    InvalidField,
    InvalidTimestamp,
    MalformedPayload,
    MissingIdentity,
)

TWCS = "twcs"
TWITTER_V2 = "twitter_api_v2"
SYSTEMS = (TWCS, TWITTER_V2)
channel = Channel.SOCIAL.value

TWCS_COLUMNS = (
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
)
TWCS_TIME_FORMAT = "%a %b %d %H:%M:%S %z %Y"
_MENTION = re.compile(r"@(\w{1,50})")
_LEADING_MENTIONS = re.compile(r"^\s*((?:@\w{1,50}[\s,:]*)+)")
_TWEET_ID = re.compile(r"^\d{1,25}$")
# The twcs form exactly ('Wed Oct 11 06:55:44 +0000 2017'), parsed without strptime (a fifth
# of adapting a tweet); anything else goes to strptime, which decides as before.
_TWCS_TIME = re.compile(
    r"(?:mon|tue|wed|thu|fri|sat|sun) (jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec) "
    r"(\d\d) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d) (\d{4})",
    re.IGNORECASE | re.ASCII,
)
_MONTHS = {
    m: n
    for n, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


@dataclass
class Tweet:
    """What the batch context knows about one tweet."""

    tweet_id: str
    author: str | None
    brand: bool | None  # twcs's `not inbound`; None for Twitter API v2
    parent: str | None
    responses: list[str] = field(default_factory=list)


@dataclass
class SocialContext:
    """Tweets, brand accounts and user names seen anywhere in the batch."""

    tweets: dict[str, Tweet] = field(default_factory=dict)
    brands: dict[str, str] = field(default_factory=dict)  # lower-case handle -> as written
    users: dict[str, str] = field(default_factory=dict)  # v2 user id -> username

    def is_brand(self, handle: str | None, config: AdapterConfig) -> bool:
        if not handle:
            return False
        return handle.lower() in self.brands or config.is_own_handle(handle)

    def brand_name(self, handle: str) -> str:
        return self.brands.get(handle.lower(), handle.lstrip("@"))


def split(data: bytes, source: str, content_type: str | None = None) -> list[RawRecord]:
    """Twitter API v2 JSON (lines or an array) or a twcs CSV file: one record per row, each
    carrying the header line so it stands alone in cx.ingest.social."""
    head = data.lstrip()[:1]
    if head in (b"{", b"[") or (content_type and "json" in content_type):
        return split_json_records(data, source, content_type)
    text = data.decode("utf-8", errors="surrogateescape").lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error):
        return [RawRecord(data, source, 1, "text/csv")] if data.strip() else []
    header_line = _csv_line(header)
    records = []
    previous_end = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            # An unterminated quote swallows the rest of the file: keep it as one record that
            # is refused with the reason.
            bad = f"{header_line}# csv error: {exc}\n".encode("utf-8", "surrogateescape")
            records.append(RawRecord(bad, source, previous_end + 1, "text/csv"))
            break
        start = previous_end + 1
        previous_end = reader.line_num
        if not row:
            continue
        raw = (header_line + _csv_line(row)).encode("utf-8", errors="surrogateescape")
        records.append(RawRecord(raw, source, start, "text/csv"))
    return records


def _csv_line(row: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(row)
    return buf.getvalue()


def build_context(records: Sequence[RawRecord]) -> SocialContext:
    """Index every tweet of the batch (lenient: a broken record is refused later)."""
    context = SocialContext()
    for record in records:
        try:
            _index(record.data, context)
        except Exception:  # noqa: BLE001, S112 - refused with its reason when adapted
            continue
    return context


def _index(data: bytes, context: SocialContext) -> None:
    text = data.decode("utf-8", errors="replace")
    if text.lstrip()[:1] in ("{", "["):
        doc = json.loads(text)
        rows: list[dict[str, Any]]
        if isinstance(doc, dict) and "tweet_id" in doc:
            rows = [{k: _as_text(v) for k, v in doc.items()}]
        elif isinstance(doc, dict):
            includes = doc.get("includes") or {}
            for user in includes.get("users") or []:
                if isinstance(user, dict) and user.get("id") and user.get("username"):
                    context.users[str(user["id"])] = str(user["username"])
            tweets = doc.get("data")
            tweets = tweets if isinstance(tweets, list) else [tweets]
            for tweet in [*tweets, *(includes.get("tweets") or [])]:
                if isinstance(tweet, dict) and tweet.get("id"):
                    tid = str(tweet["id"])
                    context.tweets.setdefault(
                        tid,
                        Tweet(
                            tid,
                            context.users.get(str(tweet.get("author_id"))),
                            None,
                            _v2_replied_to(tweet),
                        ),
                    )
            return
        else:
            return
    else:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    for row in rows:
        row_id = _clean_id(row.get("tweet_id"))
        if row_id is None:
            continue
        author = (row.get("author_id") or "").strip() or None
        inbound = _parse_bool(row.get("inbound"))
        brand = None if inbound is None else not inbound
        if brand and author:
            context.brands.setdefault(author.lower(), author)
        context.tweets[row_id] = Tweet(
            row_id,
            author,
            brand,
            _clean_id(row.get("in_response_to_tweet_id")),
            _id_list(row.get("response_tweet_id")),
        )


def adapt(
    data: bytes,
    config: AdapterConfig,
    *,
    received_at: datetime,
    context: SocialContext | None = None,
) -> Adapted:
    """A twcs CSV record (header + row), a twcs row as a JSON object, or a Twitter API v2
    payload -> one event per tweet."""
    check_size(data, config)
    text = decode_utf8(data)
    if context is None:
        context = build_context([RawRecord(data)])
    if text.lstrip()[:1] in ("{", "["):
        doc = load_json(data, "tweet")
        if isinstance(doc, dict) and "tweet_id" in doc:
            row = {k: _as_text(v) for k, v in doc.items()}
            return _adapt_twcs(row, config, received_at, context)
        return _adapt_v2(doc, config, received_at, context)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if len(rows) < 2 or not rows[0]:
        raise MalformedPayload("a twcs record needs the CSV header line and one data row")
    if len(rows) > 2:
        raise MalformedPayload(f"a twcs record holds one data row, got {len(rows) - 1}")
    header, values = rows
    missing = [c for c in TWCS_COLUMNS if c not in header]
    if missing:
        raise MalformedPayload(f"not a twcs CSV: the header lacks {', '.join(missing)}")
    if len(values) != len(header):
        record_id = values[0] if values and header[0] == "tweet_id" else None
        raise MalformedPayload(
            f"the row has {len(values)} fields, the header {len(header)}", _clean_id(record_id)
        )
    return _adapt_twcs(dict(zip(header, values, strict=True)), config, received_at, context)


def _adapt_twcs(
    row: dict[str, str], config: AdapterConfig, received_at: datetime, context: SocialContext
) -> Adapted:
    raw_id = row.get("tweet_id", "")
    tweet_id = _clean_id(raw_id)
    if tweet_id is None:
        raise InvalidField(f"tweet_id must be a numeric tweet id, got {raw_id!r}")
    author = (row.get("author_id") or "").strip()
    if not author:
        raise MissingIdentity("the tweet has no author_id", tweet_id)
    inbound = _parse_bool(row.get("inbound"))
    if inbound is None:
        raise InvalidField(f"inbound must be True or False, got {row.get('inbound')!r}", tweet_id)
    created = (row.get("created_at") or "").strip()
    try:
        moment = parse_twcs_time(created)
    except ValueError:
        try:
            moment = parse_iso_time(created, "created_at", tweet_id)
        except InvalidTimestamp:
            raise InvalidTimestamp(
                f"created_at is not like 'Wed Oct 11 06:55:44 +0000 2017': {created!r}", tweet_id
            ) from None
    check_time(moment, "created_at", config, received_at, tweet_id)
    parent_raw = row.get("in_response_to_tweet_id") or ""
    parent = _clean_id(parent_raw)
    if parent_raw.strip() and parent is None:
        raise InvalidField(
            f"in_response_to_tweet_id must be a tweet id, got {parent_raw!r}", tweet_id
        )
    responses = _id_list(row.get("response_tweet_id"))
    body = _unescape(row.get("text") or "")
    brand = (not inbound) or config.is_own_handle(author)
    tweet = Tweet(tweet_id, author, brand, parent, responses)
    event = _event(
        TWCS,
        tweet,
        body,
        moment,
        config,
        received_at,
        context,
        conversation_hint=None,
        attributes={"response_tweet_ids": responses},
    )
    return Adapted(tweet_id, [event])


def _adapt_v2(
    doc: Any, config: AdapterConfig, received_at: datetime, context: SocialContext
) -> Adapted:
    if not isinstance(doc, dict):
        raise InvalidField(f"a Twitter API v2 payload must be a JSON object, got {type_name(doc)}")
    data = doc.get("data")
    if data is None and "id" in doc and "text" in doc:
        data = doc  # a bare tweet object
    if data is None:
        raise InvalidField("not a Twitter API v2 payload: no `data` (and no twcs `tweet_id`)")
    tweets = data if isinstance(data, list) else [data]
    if not tweets:
        raise InvalidField("the Twitter API v2 payload has an empty `data` list")
    ids = []
    for tweet in tweets:
        if not isinstance(tweet, dict):
            raise InvalidField(f"each tweet in `data` must be an object, got {type_name(tweet)}")
        ids.append(get_str(tweet, "id", "data", required=True, allow_int=True) or "")
    record_id = ",".join(ids)
    includes = get_object(doc, "includes", "payload", record_id)
    users = dict(context.users)
    raw_users = includes.get("users") or []
    if not isinstance(raw_users, list):
        raise InvalidField(
            f"includes.users must be an array, got {type_name(raw_users)}", record_id
        )
    for user in raw_users:
        if isinstance(user, dict) and user.get("id") and isinstance(user.get("username"), str):
            users[str(user["id"])] = user["username"]
    local = SocialContext(dict(context.tweets), dict(context.brands), users)
    for item in includes.get("tweets") or []:
        if isinstance(item, dict) and item.get("id"):
            tid = str(item["id"])
            author = users.get(str(item.get("author_id")))
            local.tweets.setdefault(tid, Tweet(tid, author, None, _v2_replied_to(item)))
    events: list[InteractionEvent] = []
    for tweet, tweet_id in zip(tweets, ids, strict=True):
        if not _TWEET_ID.match(tweet_id):
            raise InvalidField(f"data.id must be a numeric tweet id, got {tweet_id!r}", record_id)
        text = get_str(tweet, "text", "data", record_id=record_id) or ""
        author_id = get_str(tweet, "author_id", "data", record_id=record_id, allow_int=True)
        if author_id is None:
            raise MissingIdentity(
                f"tweet {tweet_id} has no author_id (request expansions=author_id)", record_id
            )
        username = users.get(author_id)
        if username is None:
            raise MissingIdentity(
                f"tweet {tweet_id}: author_id {author_id} has no username in includes.users "
                "(request expansions=author_id)",
                record_id,
            )
        if "created_at" not in tweet:
            raise InvalidTimestamp(
                f"tweet {tweet_id} has no created_at (request tweet.fields=created_at)", record_id
            )
        moment = parse_iso_time(tweet["created_at"], "data.created_at", record_id)
        check_time(moment, "created_at", config, received_at, record_id)
        refs = tweet.get("referenced_tweets") or []
        if not isinstance(refs, list):
            raise InvalidField(
                f"data.referenced_tweets must be an array, got {type_name(refs)}", record_id
            )
        parent = _v2_replied_to(tweet)
        reply_user = get_str(tweet, "in_reply_to_user_id", "data", record_id=record_id)
        replied_to_user = users.get(reply_user) if reply_user else None
        conversation = get_str(
            tweet, "conversation_id", "data", record_id=record_id, allow_int=True
        )
        mentions = [
            m["username"]
            for m in (get_object(tweet, "entities", "data", record_id).get("mentions") or [])
            if isinstance(m, dict) and isinstance(m.get("username"), str)
        ]
        brand = local.is_brand(username, config)
        info = Tweet(tweet_id, username, brand, parent)
        local.tweets[tweet_id] = info
        events.append(
            _event(
                TWITTER_V2,
                info,
                _unescape(text),
                moment,
                config,
                received_at,
                local,
                conversation_hint=conversation,
                attributes={"author_user_id": author_id, "lang": tweet.get("lang")},
                replied_to_user=replied_to_user,
                extra_mentions=mentions,
                record_id=record_id,
            )
        )
    return Adapted(record_id, events)


def _event(
    system: str,
    tweet: Tweet,
    text: str,
    moment: datetime,
    config: AdapterConfig,
    received_at: datetime,
    context: SocialContext,
    *,
    conversation_hint: str | None,
    attributes: dict[str, Any],
    replied_to_user: str | None = None,
    extra_mentions: Sequence[str] = (),
    record_id: str | None = None,
) -> InteractionEvent:
    record_id = record_id or tweet.tweet_id
    author = tweet.author or ""
    mentions = _MENTION.findall(text) or list(extra_mentions)
    identifiers = Identifiers(config.default_phone_region)
    if tweet.brand:
        direction = Direction.OUTBOUND
        agent_id: str | None = context.brand_name(author)
        tenant = agent_id
        customer = _customer_of_brand_post(tweet, text, replied_to_user, context, config)
        if customer is None:
            raise MissingIdentity(
                f"brand post {tweet.tweet_id} by {author}: the tweet it answers is not in this "
                "batch and the text starts with no customer @mention",
                record_id,
            )
        identifiers.add(IdentifierType.SOCIAL_HANDLE, customer, "customer handle")
    else:
        direction = Direction.INBOUND
        agent_id = None
        tenant = _brand_of(tweet, mentions, replied_to_user, context, config)
        identifiers.add(IdentifierType.SOCIAL_HANDLE, author, "author")
    ids = identifiers.require(f"tweet {tweet.tweet_id}: the handle is unusable", record_id)
    attrs: dict[str, Any] = {
        "tweet_id": tweet.tweet_id,
        "author": author,
        "in_response_to_tweet_id": tweet.parent,
        "mentions": mentions,
        "public": True,
        **{k: v for k, v in attributes.items() if v is not None},
    }
    return build_event(
        record_id,
        event_id=make_event_id(system, tweet.tweet_id),
        occurred_at=moment,
        ingested_at=received_at,
        channel=Channel.SOCIAL,
        direction=direction,
        kind="reply" if tweet.parent else "message",
        conversation_id=_root(tweet, context, conversation_hint),
        in_reply_to=make_event_id(system, tweet.parent) if tweet.parent else None,
        identifiers=ids,
        tenant=tenant,
        agent_id=agent_id,
        text=text or None,
        attributes=attrs,
        source={"system": system, "record_id": tweet.tweet_id},
    )


def _customer_of_brand_post(
    tweet: Tweet,
    text: str,
    replied_to_user: str | None,
    context: SocialContext,
    config: AdapterConfig,
) -> str | None:
    if replied_to_user and not context.is_brand(replied_to_user, config):
        return replied_to_user
    # Walk up the chain past the brand's own earlier posts to the customer's tweet.
    seen: set[str] = set()
    parent = tweet.parent
    while parent is not None and parent in context.tweets and parent not in seen:
        seen.add(parent)
        above = context.tweets[parent]
        if above.author and not (above.brand or context.is_brand(above.author, config)):
            return above.author
        parent = above.parent
    leading = _LEADING_MENTIONS.match(text)
    if leading:
        for handle in _MENTION.findall(leading.group(1)):
            if not context.is_brand(handle, config):
                return handle
    return None


def _brand_of(
    tweet: Tweet,
    mentions: Sequence[str],
    replied_to_user: str | None,
    context: SocialContext,
    config: AdapterConfig,
) -> str:
    """The brand a customer post is addressed to: a brand in its reply chain (above or
    answering it), else a brand it @mentions, else the default tenant."""
    if replied_to_user and context.is_brand(replied_to_user, config):
        return context.brand_name(replied_to_user)
    seen: set[str] = set()
    parent = tweet.parent
    while parent is not None and parent in context.tweets and parent not in seen:
        seen.add(parent)
        above = context.tweets[parent]
        if above.author and (above.brand or context.is_brand(above.author, config)):
            return context.brand_name(above.author)
        parent = above.parent
    # Then the replies below it, breadth first (a brand often answers further down a thread).
    queue, seen = list(tweet.responses), {tweet.tweet_id}
    while queue and len(seen) < 200:
        response = queue.pop(0)
        below = context.tweets.get(response)
        if below is None or response in seen:
            continue
        seen.add(response)
        if below.author and (below.brand or context.is_brand(below.author, config)):
            return context.brand_name(below.author)
        queue.extend(below.responses)
    for handle in mentions:
        if context.is_brand(handle, config):
            return context.brand_name(handle)
    return config.default_tenant


def _root(tweet: Tweet, context: SocialContext, hint: str | None) -> str:
    if hint:
        return hint
    root, seen = tweet.tweet_id, {tweet.tweet_id}
    parent = tweet.parent
    while parent is not None and parent not in seen:
        root = parent  # a parent outside the batch is the furthest root we can name
        seen.add(parent)
        above = context.tweets.get(parent)
        parent = above.parent if above else None
    return root


def _v2_replied_to(tweet: dict[str, Any]) -> str | None:
    refs = tweet.get("referenced_tweets")
    if not isinstance(refs, list):
        return None
    for ref in refs:
        if isinstance(ref, dict) and ref.get("type") == "replied_to" and ref.get("id"):
            return str(ref["id"])
    return None


def parse_twcs_time(text: str) -> datetime:
    """`datetime.strptime(text, TWCS_TIME_FORMAT)`, the common form parsed by hand.

    Raises:
        ValueError: as strptime does (not the format, or an impossible date or time).
    """
    m = _TWCS_TIME.fullmatch(text)
    if m is None:
        return datetime.strptime(text, TWCS_TIME_FORMAT)
    month, day, hour, minute, second, sign, off_h, off_m, year = m.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m))
    # strptime gives UTC itself for +0000, and refuses offsets of a day or more.
    if offset >= timedelta(days=1):
        return datetime.strptime(text, TWCS_TIME_FORMAT)
    zone = UTC if not offset else timezone(-offset if sign == "-" else offset)
    return datetime(
        int(year), _MONTHS[month.lower()], int(day), int(hour), int(minute), int(second),
        tzinfo=zone,
    )  # fmt: skip


def _clean_id(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    if text.endswith(".0"):  # the Kaggle file stores some ids as floats
        text = text[:-2]
    return text if _TWEET_ID.match(text) else None


def _id_list(value: str | None) -> list[str]:
    return [i for i in (_clean_id(p) for p in (value or "").split(",")) if i]


def _parse_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    text = str(value or "").strip().lower()
    return {"true": True, "false": False, "1": True, "0": False}.get(text)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _unescape(text: str) -> str:
    # Twitter escapes exactly these three in tweet text.
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
