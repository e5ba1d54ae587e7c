"""The simulated world: brands, the people who are their customers, and the pools their names,
addresses and phone numbers are drawn from.

Identifiers are unique by construction (derived from the person's index through bijections), so
two simulated people never share an email address, phone number or handle, and the manifest's
ground truth for identity resolution holds exactly.
"""

from __future__ import annotations

import random
import time
import unicodedata
import uuid
from bisect import bisect
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formataddr
from functools import lru_cache
from itertools import accumulate
from math import gcd

from faker import Faker
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from omnicx.simulate.config import BrandSpec, SimulateConfig
from omnicx.simulate.texts import TextPools, sentiment_neutral_word

# Fictional companies (Microsoft's sample-company names); every word is VADER-neutral.
BRAND_CATALOGUE = [
    ("northwind", "Northwind Traders", "NorthwindHelp"),
    ("contoso", "Contoso Mobile", "ContosoSupport"),
    ("fabrikam", "Fabrikam Energy", "FabrikamHelp"),
    ("tailspin", "Tailspin Travel", "TailspinSupport"),
    ("wingtip", "Wingtip Homeware", "WingtipHelp"),
    ("litware", "Litware Bank", "LitwareSupport"),
    ("proseware", "Proseware Broadband", "ProsewareHelp"),
    ("adatum", "Adatum Insurance", "AdatumSupport"),
]

QUEUES = ["BasicQueue", "Billing", "Orders", "TechnicalSupport"]

# Hour-of-day weights (UTC): quiet nights, a morning ramp, a lunchtime and an evening peak.
DIURNAL = [
    0.12, 0.07, 0.05, 0.04, 0.05, 0.10, 0.25, 0.55, 0.90, 1.10, 1.20, 1.25,
    1.30, 1.20, 1.15, 1.10, 1.05, 1.05, 1.15, 1.20, 1.05, 0.80, 0.50, 0.25,
]  # fmt: skip
_DIURNAL_CUM = list(accumulate(DIURNAL))

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

TWITTER_EPOCH_MS = 1_288_834_974_657  # snowflake epoch (2010-11-04)
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


@dataclass(frozen=True)
class Locale:
    """Where a customer lives: Faker locale, phone plan, mail providers, UTC offset (minutes)."""

    faker: str
    weight: float
    country_code: str
    # (national prefix digits, subscriber digits after the prefix)
    phone_prefixes: tuple[str, ...]
    subscriber_digits: int
    mail_domains: tuple[str, ...]
    utc_offsets: tuple[int, ...]
    language: str


LOCALES = (
    Locale(
        "en_US", 0.5, "1",
        ("212", "213", "312", "415", "512", "617", "646", "702", "713", "718", "773", "805",
         "818", "917", "206", "303", "404", "503", "602", "612", "702", "214", "305", "720"),
        7, ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "hotmail.com", "aol.com"),
        (-240, -300, -360, -420), "en-US",
    ),
    Locale(
        "en_GB", 0.25, "44", ("74", "75", "77", "78", "79"), 8,
        ("gmail.com", "outlook.com", "btinternet.com", "yahoo.co.uk", "hotmail.co.uk"),
        (60, 0), "en-GB",
    ),
    Locale(
        "de_DE", 0.1, "49", ("151", "152", "157", "160", "170", "171", "172", "176"), 7,
        ("gmx.de", "web.de", "gmail.com", "t-online.de"), (120, 60), "de-DE",
    ),
    Locale(
        "fr_FR", 0.1, "33", ("6", "7"), 8, ("orange.fr", "gmail.com", "free.fr", "laposte.net"),
        (120, 60), "fr-FR",
    ),
    Locale(
        "es_ES", 0.05, "34", ("6",), 8, ("gmail.com", "hotmail.es", "yahoo.es"), (120, 60),
        "es-ES",
    ),
)  # fmt: skip
_LOCALE_CUM = list(accumulate(loc.weight for loc in LOCALES))


@dataclass(frozen=True)
class Agent:
    username: str
    first: str
    agent_uuid: str

    @property
    def initials(self) -> str:
        first, _, last = self.username.partition(".")
        return (first[:1] + last[:1]).upper()


@dataclass
class Brand:
    """One company: its own tenant, support addresses, Twitter account and contact centre."""

    index: int
    slug: str
    name: str
    handle: str
    twitter_user_id: str
    domain: str
    support_address: str
    phone: str  # E.164, the SystemEndpoint customers dial
    instance_id: str  # Amazon Connect instance
    aws_account: str
    region: str
    app_namespace: str
    web_host: str
    agents: list[Agent] = field(default_factory=list)
    queue_arns: dict[str, str] = field(default_factory=dict)

    @property
    def tenant(self) -> str:
        return self.slug

    @property
    def instance_arn(self) -> str:
        return f"arn:aws:connect:{self.region}:{self.aws_account}:instance/{self.instance_id}"

    @property
    def from_header(self) -> str:
        return formataddr((f"{self.name} Support", self.support_address))

    def as_manifest(self) -> dict[str, object]:
        return {
            "tenant": self.tenant,
            "name": self.name,
            "email_domain": self.domain,
            "support_address": self.support_address,
            "twitter_handle": self.handle,
            "twitter_user_id": self.twitter_user_id,
            "phone": self.phone,
            "connect_instance_id": self.instance_id,
            "connect_instance_arn": self.instance_arn,
            "app_namespace": self.app_namespace,
            "web_host": self.web_host,
            "agents": [a.username for a in self.agents],
        }


@dataclass
class Person:
    """One simulated customer and every identifier they may use."""

    index: int
    pid: str
    brand: Brand
    first: str
    last: str
    locale: Locale
    email: str  # as the person types it (case varies; normalised form in `email_norm`)
    phone: str  # E.164
    phone_display: str  # international format, as typed into the app
    handle: str  # anonymised numeric Twitter id, as in the public twcs dataset
    user_id: str  # the app's user id (Segment userId)
    web_anonymous_id: str  # analytics.js anonymousId; the web chat widget's VisitorId
    device_id: str  # mobile anonymousId
    platform: str  # ios | android | web
    utc_offset: int  # minutes
    app_user: bool  # has an app account (identifies now and then)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def email_norm(self) -> str:
        return self.email.lower()

    @property
    def from_header(self) -> str:
        return formataddr((self.name, self.email))


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


class Bijection:
    """idx -> a scattered value in [0, size), one-to-one for idx < size."""

    def __init__(self, size: int, rng: random.Random) -> None:
        self.size = size
        mult = rng.randrange(size // 3, size) | 1
        while gcd(mult, size) != 1:
            mult += 2
        self.mult = mult
        self.offset = rng.randrange(size)

    def __call__(self, idx: int) -> int:
        return (idx * self.mult + self.offset) % self.size


@lru_cache(maxsize=4)
def text_pools(seed: int) -> TextPools:
    """The text pools of a seed. Labelling them with VADER takes seconds, so they are built
    once per process and seed, from their own random stream (read-only afterwards)."""
    return TextPools.build(random.Random(f"texts:{seed}"), SentimentIntensityAnalyzer())


class World:
    """Brands, pools and per-person derivation for one run."""

    def __init__(self, config: SimulateConfig, start: datetime, end: datetime) -> None:
        self.config = config
        self.start_ms = int(start.timestamp() * 1000)
        self.end_ms = int(end.timestamp() * 1000)
        rng = random.Random(f"world:{config.seed}")
        self.analyzer = SentimentIntensityAnalyzer()
        self.texts = text_pools(config.seed)
        faker = Faker([loc.faker for loc in LOCALES])
        faker.seed_instance(config.seed)
        self.first_names: dict[str, list[str]] = {}
        self.last_names: dict[str, list[str]] = {}
        for loc in LOCALES:
            local = faker[loc.faker]
            firsts = {local.first_name() for _ in range(600)}
            lasts = {local.last_name() for _ in range(600)}
            self.first_names[loc.faker] = sorted(
                n for n in firsts if self._neutral_name(n) and _ascii(n)
            )
            self.last_names[loc.faker] = sorted(
                n for n in lasts if self._neutral_name(n) and _ascii(n)
            )
        self.aws_account = f"{rng.randrange(10**11, 10**12):012d}"
        specs = config.brand_specs or [
            BrandSpec(slug=slug, name=name, twitter_handle=handle, email_domain=f"{slug}.example")
            for slug, name, handle in BRAND_CATALOGUE[: config.brands]
        ]
        self.brands = [self._brand(i, spec, rng, faker) for i, spec in enumerate(specs)]
        self.phone_maps = {
            loc.faker: Bijection(len(loc.phone_prefixes) * 10**loc.subscriber_digits, rng)
            for loc in LOCALES
        }
        self.user_map = Bijection(16**12, rng)
        self.handle_base = 100_000 + rng.randrange(50_000)
        self.tweet_seq = 200_000 + rng.randrange(100_000)

    def _neutral_name(self, name: str) -> bool:
        return all(sentiment_neutral_word(self.analyzer, part) for part in name.split("-"))

    def _brand(self, idx: int, spec: BrandSpec, rng: random.Random, faker: Faker) -> Brand:
        slug, domain = spec.slug, spec.email_domain
        brand = Brand(
            index=idx,
            slug=slug,
            name=spec.name,
            handle=spec.twitter_handle,
            twitter_user_id=str(rng.randrange(10**8, 10**9)),
            domain=domain,
            support_address=spec.support_address or f"support@{domain}",
            phone=f"+1888{rng.randrange(2_000_000, 9_999_999)}",
            instance_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            aws_account=self.aws_account,
            region="us-east-1",
            app_namespace=f"com.{slug}.app",
            web_host=f"www.{domain}",
        )
        en = faker["en_US"]
        seen: set[str] = set()
        while len(brand.agents) < 12:
            first, last = en.first_name(), en.last_name()
            username = f"{_ascii(first)}.{_ascii(last)}"
            if username in seen or not self._neutral_name(first):
                continue
            seen.add(username)
            brand.agents.append(
                Agent(username, first, str(uuid.UUID(int=rng.getrandbits(128), version=4)))
            )
        for queue in QUEUES:
            queue_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            brand.queue_arns[queue] = f"{brand.instance_arn}/queue/{queue_id}"
        return brand

    def person(self, idx: int, rng: random.Random) -> Person:
        locale = LOCALES[bisect(_LOCALE_CUM, rng.random() * _LOCALE_CUM[-1])]
        first = rng.choice(self.first_names[locale.faker])
        last = rng.choice(self.last_names[locale.faker])
        brand = self.brands[rng.randrange(len(self.brands))]
        # The index in the local part keeps every address unique; the style and the case vary
        # the way people type them.
        fa, la = _ascii(first), _ascii(last)
        style = rng.randrange(4)
        local = (f"{fa}.{la}", f"{fa}_{la}", f"{fa[0]}.{la}", f"{fa}.{la}")[style] + str(idx)
        domain = rng.choice(locale.mail_domains)
        email = f"{local}@{domain}"
        if style == 3:
            email = f"{fa.title()}.{la.title()}{idx}@{domain}"
        phone, display = self._phone(locale, idx)
        platform = rng.choices(("ios", "android", "web"), (0.4, 0.3, 0.3))[0]
        return Person(
            index=idx,
            pid=f"p{idx:07d}",
            brand=brand,
            first=first,
            last=last,
            locale=locale,
            email=email,
            phone=phone,
            phone_display=display,
            handle=str(self.handle_base + idx),
            user_id=f"{self.user_map(idx):012x}",
            web_anonymous_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            device_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper(),
            platform=platform,
            utc_offset=rng.choice(locale.utc_offsets),
            app_user=rng.random() < 0.7,
        )

    def _phone(self, locale: Locale, idx: int) -> tuple[str, str]:
        n = self.phone_maps[locale.faker](idx)
        digits = locale.subscriber_digits
        prefix = locale.phone_prefixes[n // 10**digits]
        rest = f"{n % 10**digits:0{digits}d}"
        if locale.country_code == "1":
            # NANP: the exchange may not start with 0 or 1.
            rest = str(2 + int(rest[0]) % 8) + rest[1:]
            display = f"+1 {prefix}-{rest[:3]}-{rest[3:]}"
        elif locale.country_code == "44":
            national = prefix + rest
            display = f"+44 {national[:4]} {national[4:]}"
        elif locale.country_code == "49":
            display = f"+49 {prefix} {rest}"
        else:
            national = prefix + rest
            pairs = " ".join(national[i : i + 2] for i in range(1, len(national), 2))
            if locale.country_code == "33":
                display = f"+33 {national[0]} {pairs}"
            else:
                display = f"+34 {national[:3]} {national[3:5]} {national[5:7]} {national[7:]}"
        return f"+{locale.country_code}{prefix}{rest}", display

    def next_tweet_id(self, ms: int) -> int:
        """A Twitter snowflake id for a tweet posted at `ms`: ids grow with time as real ones
        do; the low 22 bits (worker and sequence) take a run-wide counter, so two tweets in the
        same millisecond still differ."""
        self.tweet_seq += 1
        return ((ms - TWITTER_EPOCH_MS) << 22) | (self.tweet_seq & 0x3FFFFF)

    def diurnal_time(self, rng: random.Random, day_start_ms: int) -> int:
        """A moment of the day starting at `day_start_ms`, following the diurnal profile."""
        hour = bisect(_DIURNAL_CUM, rng.random() * _DIURNAL_CUM[-1])
        return day_start_ms + hour * HOUR + rng.randrange(HOUR)


# --- timestamp formats ---------------------------------------------------------------------


@lru_cache(maxsize=64)
def _day(day: int) -> str:
    t = time.gmtime(day * 86_400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"


def iso_ms(ms: int) -> str:
    """2017-10-11T06:55:44.123Z (Segment, Amazon Connect chat, Twitter API v2)."""
    # Called for nearly every record: the date part is cached per day, the rest is arithmetic.
    day, rest = divmod(ms, DAY)
    secs, milli = divmod(rest, 1000)
    hours, secs = divmod(secs, 3600)
    minutes, secs = divmod(secs, 60)
    return f"{_day(day)}T{hours:02d}:{minutes:02d}:{secs:02d}.{milli:03d}Z"


def iso_s(ms: int) -> str:
    """2017-10-11T06:55:44Z (Amazon Connect contact trace records)."""
    return iso_ms(ms)[:19] + "Z"


def twitter_date(ms: int) -> str:
    """Wed Oct 11 06:55:44 +0000 2017 (the twcs created_at column)."""
    t = time.gmtime(ms // 1000)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:02d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000 {t.tm_year}"
    )


def rfc5322_date(ms: int, offset_min: int) -> str:
    """Wed, 11 Oct 2017 08:55:44 +0200 (the Date header, in the sender's local time)."""
    t = time.gmtime(ms // 1000 + offset_min * 60)
    sign = "+" if offset_min >= 0 else "-"
    hh, mm = divmod(abs(offset_min), 60)
    return (
        f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {sign}{hh:02d}{mm:02d}"
    )


def mbox_date(ms: int) -> str:
    """Wed Oct 11 06:55:44 2017 (the asctime of an mbox From_ line, UTC)."""
    t = time.gmtime(ms // 1000)
    return (
        f"{_DAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday:2d} "
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {t.tm_year}"
    )
