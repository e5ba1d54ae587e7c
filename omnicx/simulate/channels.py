"""Channel primitives: what one simulated person does on each channel, as native records.

`PersonSim` holds one person's random stream and appends `Rec`s; the journeys in
`omnicx.simulate.journeys` are sequences of these calls.
"""

from __future__ import annotations

import math
import random
import uuid
from typing import Any

from omnicx.simulate.records import EmailMessage, Rec, Touch, Tweet
from omnicx.simulate.texts import (
    APP_ERRORS,
    BRAND_EMAIL_REPLIES,
    BRAND_EMAIL_RESOLUTIONS,
    CHAT_AGENT_LINES,
    CHAT_SYSTEM_GREETING,
    CHAT_SYSTEM_WAIT,
    EMAIL_SUBJECTS,
    PRODUCTS,
    Mood,
    PoolEntry,
    fill,
)
from omnicx.simulate.world import QUEUES, Agent, Person, World, iso_ms, iso_s

APP_FILE = "app/segment.jsonl"
CTR_FILE = "phone/ctr.jsonl"
CHAT_FILE = "chat/transcripts.jsonl"
TWCS_FILE = "social/tweets.csv"
TWEETS_V2_FILE = "social/tweets_v2.jsonl"

IOS_DEVICES = [("Apple", "iPhone15,2", "17.4.1"), ("Apple", "iPhone14,5", "16.7.2")]
ANDROID_DEVICES = [
    ("samsung", "SM-S911B", "14"),
    ("Google", "Pixel 7", "14"),
    ("OnePlus", "CPH2449", "13"),
]  # noqa: E501
USER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
]
WEB_PAGES = [
    ("Home", "/", "Home"),
    ("Product", "/products/{sku}", "{product}"),
    ("Cart", "/cart", "Your basket"),
    ("Orders", "/account/orders", "Your orders"),
    ("Help", "/help", "Help centre"),
]
SCREENS = ["Home", "Product Detail", "Cart", "Orders", "Account", "Help"]
MAILERS = [None, "Apple Mail (2.3774.500.171.1.1)", "Microsoft Outlook 16.0", None]


def lognormal_s(rng: random.Random, median_s: float, sigma: float) -> int:
    """A duration in whole seconds, log-normally spread around `median_s`."""
    return max(1, int(median_s * math.exp(rng.gauss(0.0, sigma))))


class PersonSim:
    """One person's activity: appends native records to `recs`."""

    def __init__(self, world: World, person: Person, rng: random.Random) -> None:
        self.world = world
        self.person = person
        self.brand = person.brand
        self.rng = rng
        self.recs: list[Rec] = []
        self.scripted = False  # set while a scripted journey runs
        self.identified = False  # an identify has been sent in this period

    # --- helpers ---------------------------------------------------------------------------

    def uuid4(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n: int) -> str:
        return f"{self.rng.getrandbits(4 * n):0{n}x}"

    def agent(self) -> Agent:
        return self.rng.choice(self.brand.agents)

    def slots(self, agent: Agent | None = None, **extra: str) -> dict[str, str]:
        rng = self.rng
        values = {
            "brand": self.brand.name,
            "order": str(rng.randrange(10_000_000, 99_999_999)),
            "amount": f"{rng.randrange(5, 400)}.{rng.randrange(100):02d}",
            "code": str(rng.randrange(1000, 9999)),
            "hours": str(rng.randrange(2, 9)),
            "first": self.person.first,
            "agent": (agent or self.agent()).first,
            "time": f"{rng.randrange(7, 22):02d}:{rng.randrange(60):02d}",
        }
        values.update(extra)
        return values

    def _add(self, rec: Rec) -> Rec:
        rec.scripted = self.scripted
        self.recs.append(rec)
        return rec

    # --- app (Segment) ---------------------------------------------------------------------

    def _context(self, web: bool) -> dict[str, Any]:
        p, rng = self.person, self.rng
        ip = f"{rng.randrange(23, 223)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"  # noqa: E501
        if web:
            return {
                "ip": ip,
                "library": {"name": "analytics.js", "version": "next-1.70.0"},
                "locale": p.locale.language,
                "userAgent": rng.choice(USER_AGENTS),
            }
        maker, model, os_version = rng.choice(
            IOS_DEVICES if p.platform == "ios" else ANDROID_DEVICES
        )
        return {
            "app": {
                "build": "412",
                "name": self.brand.name,
                "namespace": self.brand.app_namespace,
                "version": "5.12.0",
            },
            "device": {
                "id": p.device_id,
                "manufacturer": maker,
                "model": model,
                "type": p.platform,
            },
            "ip": ip,
            "library": {
                "name": "analytics-swift" if p.platform == "ios" else "analytics-kotlin",
                "version": "1.5.11" if p.platform == "ios" else "1.16.3",
            },
            "locale": p.locale.language,
            "network": {"wifi": rng.random() < 0.6, "cellular": rng.random() < 0.5},
            "os": {"name": "iOS" if p.platform == "ios" else "Android", "version": os_version},
            "timezone": "UTC",
        }

    def segment(
        self,
        ms: int,
        kind: str,
        *,
        web: bool,
        logged_in: bool,
        event: str | None = None,
        name: str | None = None,
        properties: dict[str, Any] | None = None,
        traits: dict[str, Any] | None = None,
        page: dict[str, str] | None = None,
    ) -> Rec:
        p, rng = self.person, self.rng
        anonymous_id = p.web_anonymous_id if web else p.device_id
        message_id = f"ajs-next-{self.hex(32)}" if web else self.uuid4()
        sent = ms + rng.randrange(0, 4000)
        received = sent + rng.randrange(40, 600)
        msg: dict[str, Any] = {"anonymousId": anonymous_id}
        context = self._context(web)
        if web and page:
            context["page"] = page
        msg["context"] = context
        if event is not None:
            msg["event"] = event
        msg["integrations"] = {}
        msg["messageId"] = message_id
        if name is not None:
            msg["name"] = name
        if properties is not None:
            msg["properties"] = properties
        msg["receivedAt"] = iso_ms(received)
        msg["sentAt"] = iso_ms(sent)
        msg["timestamp"] = iso_ms(ms)
        if traits is not None:
            msg["traits"] = traits
        msg["type"] = kind
        if logged_in:
            msg["userId"] = p.user_id
        elif web:
            msg["userId"] = None  # analytics.js sends an explicit null before identify
        ids = [("anonymousId", "device_id", anonymous_id)]
        if logged_in:
            ids.append(("userId", "app_user_id", p.user_id))
        if traits:
            # Traits come from this person, so their normalised forms are known exactly.
            for trait, kind_, value in (
                ("email", "email", p.email_norm),
                ("phone", "phone", p.phone),
                ("twitter", "social_handle", p.handle),
            ):
                if trait in traits:
                    ids.append((f"traits.{trait}", kind_, value))
        touch = Touch(ms, "app", True, False, anonymous_id, message_id)
        return self._add(
            Rec("app", APP_FILE, "segment", ms, received, msg, message_id, [touch], ids)
        )

    def _page(self, web: bool, label: str) -> tuple[str, dict[str, Any], dict[str, str] | None]:
        sku, product, category, price = self.rng.choice(PRODUCTS)
        if not web:
            return label, {"name": label}, None
        for name, path, title in WEB_PAGES:
            if name == label:
                url_path = path.format(sku=sku.lower())
                page = {
                    "path": url_path,
                    "referrer": self.rng.choice(["", "https://www.google.com/"]),
                    "search": "",
                    "title": title.format(product=product),
                    "url": f"https://{self.brand.web_host}{url_path}",
                }
                return name, dict(page), page
        raise KeyError(label)

    def view(self, ms: int, label: str, *, web: bool, logged_in: bool) -> Rec:
        name, props, page = self._page(web, label)
        kind = "page" if web else "screen"
        return self.segment(
            ms, kind, web=web, logged_in=logged_in, name=name, properties=props, page=page
        )

    def identify(self, ms: int, *, web: bool, twitter: bool, phone: bool = True) -> Rec:
        p = self.person
        traits: dict[str, Any] = {
            "email": p.email,
            "firstName": p.first,
            "lastName": p.last,
            "name": p.name,
        }
        if phone:
            traits["phone"] = p.phone_display
        if twitter:
            traits["twitter"] = p.handle
        self.identified = True
        return self.segment(ms, "identify", web=web, logged_in=True, traits=traits)

    def browse_session(self, ms: int, *, logged_in: bool, identify: bool) -> int:
        """An ordinary app or web session; returns when it ended (ms)."""
        rng, web = self.rng, self.person.platform == "web"
        n = max(1, int(rng.expovariate(1 / 4.0)) + 1)
        if not web:
            self.segment(
                ms,
                "track",
                web=False,
                logged_in=logged_in,
                event="Application Opened",
                properties={"from_background": rng.random() < 0.4, "version": "5.12.0"},
            )
            ms += rng.randrange(2_000, 15_000)
        if identify:
            self.segment(ms, "track", web=web, logged_in=True, event="Signed In",
                         properties={"username": self.person.email})  # fmt: skip
            ms += rng.randrange(300, 2_000)
            self.identify(ms, web=web, twitter=rng.random() < 0.3, phone=rng.random() < 0.8)
            ms += rng.randrange(1_000, 10_000)
        for _ in range(n):
            label = rng.choice(["Home", "Product", "Product", "Cart", "Orders"])
            if label == "Product" or not web:
                label = label if web else rng.choice(SCREENS)
            self.view(ms, label, web=web, logged_in=logged_in)
            ms += rng.randrange(5_000, 90_000)
            if rng.random() < 0.25:
                sku, product, category, price = rng.choice(PRODUCTS)
                self.segment(
                    ms, "track", web=web, logged_in=logged_in, event="Product Viewed",
                    properties={"product_id": sku, "name": product, "category": category,
                                "price": price, "currency": "USD"},
                )  # fmt: skip
                ms += rng.randrange(3_000, 40_000)
        if logged_in and rng.random() < 0.08:
            sku, product, category, price = rng.choice(PRODUCTS)
            self.segment(
                ms, "track", web=web, logged_in=True, event="Order Completed",
                properties={"order_id": str(rng.randrange(10**7, 10**8)), "total": price,
                            "revenue": round(price / 1.2, 2), "currency": "USD",
                            "products": [{"product_id": sku, "name": product, "price": price,
                                          "quantity": 1}]},
            )  # fmt: skip
        return ms

    def failed_checkout(self, ms: int, *, web: bool, attempts: int) -> int:
        """Checkout that fails `attempts` times; returns the time of the last failure."""
        rng = self.rng
        sku, product, category, price = rng.choice(PRODUCTS)
        order_id = str(rng.randrange(10**7, 10**8))
        self.segment(
            ms, "track", web=web, logged_in=True, event="Checkout Started",
            properties={"order_id": order_id, "value": price, "currency": "USD",
                        "products": [{"product_id": sku, "name": product, "price": price,
                                      "quantity": 1}]},
        )  # fmt: skip
        code, message = rng.choice(APP_ERRORS)
        for attempt in range(attempts):
            ms += rng.randrange(20_000, 90_000)
            self.segment(
                ms, "track", web=web, logged_in=True, event="Payment Failed",
                properties={"order_id": order_id, "error_code": code, "error_message": message,
                            "attempt": attempt + 1, "value": price, "currency": "USD"},
            )  # fmt: skip
        return ms

    def app_error(self, ms: int, *, web: bool, logged_in: bool) -> Rec:
        code = self.rng.choice(["503", "502", "504"])
        return self.segment(
            ms, "track", web=web, logged_in=logged_in, event="Application Error",
            properties={"status": int(code), "endpoint": "/api/v2/session",
                        "error_message": "Service Unavailable"},
        )  # fmt: skip

    # --- email -----------------------------------------------------------------------------

    def email_file(self) -> str:
        if self.world.config.email_format == "eml":
            return f"email/{self.brand.slug}"
        return f"email/{self.brand.slug}.mbox"

    def _message_id(self, domain: str) -> str:
        return f"<{self.hex(24)}.{self.hex(8)}@{domain}>"

    def email(
        self,
        ms: int,
        *,
        inbound: bool,
        subject: str,
        body: str,
        compound: float | None,
        thread: list[EmailMessage],
        thread_key: str,
    ) -> Rec:
        p, b, rng = self.person, self.brand, self.rng
        parent = thread[-1] if thread else None
        if parent is not None and not subject.lower().startswith("re:"):
            subject = f"Re: {subject}"
        if inbound:
            from_h, from_a, to_h, to_a = p.from_header, p.email, b.from_header, b.support_address
            domain, offset = p.email.split("@")[1], p.utc_offset
            mailer = rng.choice(MAILERS)
        else:
            from_h, from_a, to_h, to_a = b.from_header, b.support_address, p.from_header, p.email
            domain, offset, mailer = b.domain, 0, None
        msg = EmailMessage(
            from_header=from_h,
            from_addr=from_a,
            to_header=to_h,
            to_addr=to_a,
            subject=subject,
            ms=ms,
            utc_offset=offset,
            message_id=self._message_id(domain),
            in_reply_to=parent.message_id if parent else None,
            references=[m.message_id for m in thread][-8:],
            body=body,
            html=(not inbound) or rng.random() < 0.3,
            boundary=f"{self.hex(28)}",
            mailer=mailer,
        )
        thread.append(msg)
        touch = Touch(ms, "email", inbound, inbound, thread_key, msg.message_id, compound)
        field_name = "From" if inbound else "To"
        ids = [(field_name, "email", p.email_norm)]
        return self._add(
            Rec("email", self.email_file(), "email", ms, ms, msg, msg.message_id, [touch], ids)
        )

    def customer_email(
        self, ms: int, intent: str, mood: Mood, thread: list[EmailMessage], thread_key: str
    ) -> Rec:
        entry = self.world.texts.emails[intent].pick(self.rng, mood)
        slots = self.slots()
        subject = fill(self.rng.choice(EMAIL_SUBJECTS[intent]), slots)
        if thread:
            subject = thread[0].subject
        return self.email(
            ms,
            inbound=True,
            subject=subject,
            body=fill(entry.text, slots),
            compound=entry.compound,
            thread=thread,
            thread_key=thread_key,
        )

    def brand_email(self, ms: int, thread: list[EmailMessage], thread_key: str) -> Rec:
        rng, agent = self.rng, self.agent()
        slots = self.slots(agent)
        resolution = fill(rng.choice(BRAND_EMAIL_RESOLUTIONS), slots)
        core = rng.choice(BRAND_EMAIL_REPLIES).format(
            resolution=resolution, resolution_cap=resolution[0].upper() + resolution[1:]
        )
        body = (
            f"Dear {self.person.first},\n\n{core}\n\nIf there is anything else we can do, "
            f"just reply to this email.\n\nKind regards,\n{agent.first}\n{self.brand.name} "
            "Customer Care"
        )
        return self.email(
            ms,
            inbound=False,
            subject=thread[0].subject,
            body=body,
            compound=None,
            thread=thread,
            thread_key=thread_key,
        )

    # --- social (Twitter) ------------------------------------------------------------------

    def tweet(
        self,
        ms: int,
        *,
        inbound: bool,
        text: str,
        compound: float | None,
        reply_to: Rec | None,
    ) -> Rec:
        p, b = self.person, self.brand
        tweet_id = self.world.next_tweet_id(ms)
        conversation = reply_to.data.conversation_id if reply_to is not None else tweet_id
        if inbound:
            author, user_id, author_name = p.handle, p.handle, p.name
        else:
            author, user_id, author_name = b.handle, b.twitter_user_id, f"{b.name} Support"
        tw = Tweet(
            tweet_id=tweet_id,
            author_id=author,
            author_user_id=user_id,
            author_name=author_name,
            inbound=inbound,
            ms=ms,
            text=text,
            conversation_id=conversation,
            reply_to=reply_to,
        )
        touch = Touch(ms, "social", inbound, inbound, str(conversation), str(tweet_id), compound)
        ids = [("author_id" if inbound else "in_reply_to", "social_handle", p.handle)]
        rec = Rec("social", TWCS_FILE, "twcs", ms, ms, tw, str(tweet_id), [touch], ids)
        if reply_to is not None:
            reply_to.data.responses.append(rec)
        return self._add(rec)

    def customer_tweet(self, ms: int, intent: str, mood: Mood, reply_to: Rec | None = None) -> Rec:
        entry: PoolEntry = self.world.texts.tweets[intent].pick(self.rng, mood)
        text = f"@{self.brand.handle} {fill(entry.text, self.slots())}"
        return self.tweet(ms, inbound=True, text=text[:280], compound=entry.compound,
                          reply_to=reply_to)  # fmt: skip

    def brand_tweet(self, ms: int, reply_to: Rec, templates: list[str]) -> Rec:
        agent = self.agent()
        body = fill(self.rng.choice(templates), self.slots(agent))
        text = f"@{self.person.handle} {body} ^{agent.initials}"
        return self.tweet(ms, inbound=False, text=text[:280], compound=None, reply_to=reply_to)

    # --- phone (Amazon Connect CTR) --------------------------------------------------------

    def call(
        self,
        ms: int,
        *,
        wait_s: int,
        talk_s: int | None,
        queue: str | None = None,
        inbound: bool = True,
        reason: str = "",
    ) -> Rec:
        """One call. `talk_s` None: the caller hung up in the queue (no Agent)."""
        rng, b, p = self.rng, self.brand, self.person
        contact_id = self.uuid4()
        queue = queue or rng.choice(QUEUES)
        ivr_s = rng.randrange(15, 70) if inbound else 0
        enqueue = ms + ivr_s * 1000
        dequeue = enqueue + wait_s * 1000
        agent_block: dict[str, Any] | None = None
        if talk_s is None:
            disconnect = dequeue
            last_update = disconnect + rng.randrange(2_000, 20_000)
            disconnect_reason = "CUSTOMER_DISCONNECT"
        else:
            agent = self.agent()
            holds = rng.choices((0, 1, 2), (0.7, 0.2, 0.1))[0]
            hold_s = sum(rng.randrange(20, 180) for _ in range(holds))
            disconnect = dequeue + (talk_s + hold_s) * 1000
            acw_s = rng.randrange(10, 120)
            acw_end = disconnect + acw_s * 1000
            last_update = acw_end + rng.randrange(1_000, 10_000)
            disconnect_reason = rng.choices(
                ("CUSTOMER_DISCONNECT", "AGENT_DISCONNECT"), (0.6, 0.4)
            )[0]  # noqa: E501
            agent_block = {
                "ARN": f"{b.instance_arn}/agent/{agent.agent_uuid}",
                "AfterContactWorkDuration": acw_s,
                "AfterContactWorkEndTimestamp": iso_s(acw_end),
                "AfterContactWorkStartTimestamp": iso_s(disconnect),
                "AgentInteractionDuration": talk_s,
                "ConnectedToAgentTimestamp": iso_s(dequeue),
                "CustomerHoldDuration": hold_s,
                "HierarchyGroups": None,
                "LongestHoldDuration": hold_s and max(1, hold_s // max(1, holds)),
                "NumberOfHolds": holds,
                "RoutingProfile": {
                    "ARN": f"{b.instance_arn}/routing-profile/{b.instance_id[:8]}-basic",
                    "Name": "Basic Routing Profile",
                },
                "Username": agent.username,
            }
        attributes = {"greetingPlayed": "true", "language": p.locale.language}
        if reason:
            attributes["callReason"] = reason
        ctr: dict[str, Any] = {
            "AWSAccountId": b.aws_account,
            "AWSContactTraceRecordFormatVersion": "2017-03-10",
            "Agent": agent_block,
            "AgentConnectionAttempts": 1 if agent_block else 0,
            "Attributes": attributes,
            "Channel": "VOICE",
            "ConnectedToSystemTimestamp": iso_s(ms),
            "ContactId": contact_id,
            "CustomerEndpoint": {"Address": p.phone, "Type": "TELEPHONE_NUMBER"},
            "DisconnectReason": disconnect_reason,
            "DisconnectTimestamp": iso_s(disconnect),
            "InitialContactId": None,
            "InitiationMethod": "INBOUND" if inbound else "OUTBOUND",
            "InitiationTimestamp": iso_s(ms),
            "InstanceARN": b.instance_arn,
            "LastUpdateTimestamp": iso_s(last_update),
            "MediaStreams": [{"Type": "AUDIO"}],
            "NextContactId": None,
            "PreviousContactId": None,
            "Queue": {
                "ARN": b.queue_arns[queue],
                "DequeueTimestamp": iso_s(dequeue),
                "Duration": wait_s,
                "EnqueueTimestamp": iso_s(enqueue),
                "Name": queue,
            },
            "Recording": None,
            "Recordings": None,
            "SystemEndpoint": {"Address": b.phone, "Type": "TELEPHONE_NUMBER"},
            "TransferCompletedTimestamp": None,
            "TransferredToEndpoint": None,
        }
        # Whole seconds, as the records carry them, so the ground truth matches the file.
        start = ms - ms % 1000
        touch = Touch(start, "phone", inbound, inbound, contact_id, contact_id)
        ids = [("CustomerEndpoint.Address", "phone", p.phone)]
        rec = Rec("phone", CTR_FILE, "ctr", start, last_update, ctr, contact_id, [touch], ids)
        rec.events = 2  # call_started + call_ended
        return self._add(rec)

    def phone_call(self, ms: int, *, wait_median_s: float, patience_median_s: float,
                   talk_median_s: float, reason: str = "") -> tuple[Rec, int]:  # fmt: skip
        """An inbound call whose caller gives up when the wait outlasts their patience;
        returns the record and when the call ended (ms)."""
        rng = self.rng
        wait = lognormal_s(rng, wait_median_s, 0.8)
        patience = lognormal_s(rng, patience_median_s, 0.6)
        if wait > patience:
            rec = self.call(ms, wait_s=patience, talk_s=None, reason=reason)
        else:
            rec = self.call(ms, wait_s=wait, talk_s=lognormal_s(rng, talk_median_s, 0.6),
                            reason=reason)  # fmt: skip
        return rec, rec.last_ts

    # --- chat (Amazon Connect chat transcript) ---------------------------------------------

    def chat(
        self,
        ms: int,
        *,
        intent: str,
        mood: Mood,
        attributes: dict[str, str],
        wait_s: int,
        abandon_after_s: int | None = None,
        turns: int = 2,
        escalate: bool = False,
        display_name: str = "Customer",
    ) -> tuple[Rec, int]:
        """One chat contact; returns the record and when it ended (ms). The customer leaves
        before an agent joins when `abandon_after_s` is shorter than `wait_s`."""
        rng, texts = self.rng, self.world.texts
        contact_id = self.uuid4()
        customer_pid, agent_pid, system_pid = self.uuid4(), self.uuid4(), self.uuid4()
        agent = self.agent()
        slots = self.slots(agent)
        items: list[dict[str, Any]] = []
        touches: list[Touch] = []

        def add(at: int, role: str, content: str | None, content_type: str,
                compound: float | None = None) -> None:  # fmt: skip
            item_id = self.uuid4()
            item: dict[str, Any] = {"AbsoluteTime": iso_ms(at)}
            if content is not None:
                item["Content"] = content
            item["ContentType"] = content_type
            item["Id"] = item_id
            item["Type"] = "MESSAGE" if content_type == "text/plain" else "EVENT"
            if role != "NONE":
                pid = {"CUSTOMER": customer_pid, "AGENT": agent_pid, "SYSTEM": system_pid}[role]
                item["ParticipantId"] = pid
                item["DisplayName"] = {
                    "CUSTOMER": display_name,
                    "AGENT": agent.first,
                    "SYSTEM": "SYSTEM_MESSAGE",
                }[role]
                item["ParticipantRole"] = role
            items.append(item)
            if item["Type"] == "MESSAGE":
                inbound = role == "CUSTOMER"
                first_customer = inbound and not any(t.inbound for t in touches)
                touches.append(
                    Touch(at, "chat", inbound, first_customer, contact_id, item_id, compound)
                )

        joined = "application/vnd.amazonaws.connect.event.participant.joined"
        left = "application/vnd.amazonaws.connect.event.participant.left"
        ended = "application/vnd.amazonaws.connect.event.chat.ended"
        t = ms
        add(t, "CUSTOMER", None, joined)
        t += rng.randrange(300, 1500)
        add(t, "SYSTEM", fill(CHAT_SYSTEM_GREETING, slots), "text/plain")
        t += rng.randrange(5_000, 25_000)
        opener = texts.chat_openers[intent].pick(rng, mood)
        add(t, "CUSTOMER", fill(opener.text, slots), "text/plain", opener.compound)
        agent_joins = ms + wait_s * 1000
        participants = [{"ParticipantId": customer_pid, "ParticipantRole": "CUSTOMER"}]
        if abandon_after_s is not None and abandon_after_s < wait_s:
            if abandon_after_s > 60:
                add(ms + 60_000, "SYSTEM", CHAT_SYSTEM_WAIT, "text/plain")
            t = max(t, ms + abandon_after_s * 1000)
            if rng.random() < 0.5:
                line = texts.chat_lines["neg"].pick(rng, "neg")
                add(t, "CUSTOMER", fill(line.text, slots), "text/plain", line.compound)
                t += rng.randrange(2_000, 10_000)
            add(t, "CUSTOMER", None, left)
        else:
            if wait_s > 60:
                add(max(t + 1000, ms + 60_000), "SYSTEM", CHAT_SYSTEM_WAIT, "text/plain")
            t = max(t + 2000, agent_joins)
            participants.append({"ParticipantId": agent_pid, "ParticipantRole": "AGENT"})
            add(t, "AGENT", None, joined)
            t += rng.randrange(4_000, 20_000)
            add(t, "AGENT", fill(rng.choice(CHAT_AGENT_LINES["greet"]), slots), "text/plain")
            for _turn in range(turns):
                t += rng.randrange(10_000, 60_000)
                add(t, "AGENT", fill(rng.choice(CHAT_AGENT_LINES["ask"]), slots), "text/plain")
                t += rng.randrange(15_000, 90_000)
                line = texts.chat_lines["neg" if mood == "neg" else "calm"].pick(rng, mood)
                add(t, "CUSTOMER", fill(line.text, slots), "text/plain", line.compound)
            t += rng.randrange(30_000, 180_000)
            key = "escalate" if escalate else "solve"
            add(t, "AGENT", fill(rng.choice(CHAT_AGENT_LINES[key]), slots), "text/plain")
            t += rng.randrange(10_000, 40_000)
            add(t, "AGENT", fill(rng.choice(CHAT_AGENT_LINES["close"]), slots), "text/plain")
            t += rng.randrange(5_000, 30_000)
            add(t, "CUSTOMER", None, left)
        t += rng.randrange(500, 3_000)
        add(t, "NONE", None, ended)
        b = self.brand
        transcript = {
            "Version": "2019-08-26",
            "AWSAccountId": b.aws_account,
            "InstanceId": b.instance_id,
            "InitialContactId": contact_id,
            "ContactId": contact_id,
            "Participants": participants,
            "Transcript": items,
            "Attributes": attributes,
        }
        ids = []
        for attr, kind in (("VisitorId", "device_id"), ("CustomerEmail", "email"),
                           ("CustomerPhone", "phone")):  # fmt: skip
            if attr in attributes:
                ids.append((f"Attributes.{attr}", kind, attributes[attr]))
        rec = Rec("chat", CHAT_FILE, "chat", ms, t, transcript, contact_id, touches, ids)
        rec.events = sum(1 for item in items if item["Type"] == "MESSAGE")
        return self._add(rec), t
