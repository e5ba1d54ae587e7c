"""What each simulated person lives through: background app use and ordinary support contacts,
the scripted journeys of issue 7, and outage bursts.

Every function here appends native records to a `PersonSim`; nothing is written to disk here.
Times are milliseconds since the epoch (UTC). A person's whole activity is drawn from their own
random stream, so the output does not depend on how many people were generated before them.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from enum import StrEnum

from omnicx.simulate.channels import PersonSim, lognormal_s
from omnicx.simulate.config import JourneyMix, SimulateConfig
from omnicx.simulate.records import EmailMessage
from omnicx.simulate.texts import (
    BRAND_OUTAGE_REPLIES,
    BRAND_SOCIAL_REPLIES,
    BRAND_SOCIAL_THANKS,
    Mood,
)
from omnicx.simulate.world import DAY, HOUR, MINUTE, World


class Journey(StrEnum):
    """The scripted journeys; `BACKGROUND` is everyone else."""

    BACKGROUND = "background"
    APP_CHAT_PHONE = "app_chat_phone"
    UNANSWERED_PUBLIC_POST = "unanswered_public_post"
    POLITE_EMAIL = "polite_email"
    FRAGMENTED_IDENTITY = "fragmented_identity"
    REPEAT_CONTACT = "repeat_contact"
    POSITIVE_FEEDBACK = "positive_feedback"


@dataclass(frozen=True)
class Outage:
    """A window in which one brand's app and website fail."""

    brand_index: int
    start_ms: int
    end_ms: int


def pick_journey(rng: random.Random, mix: JourneyMix) -> Journey:
    """The scripted journey of one person over the whole period (most get none)."""
    draw = rng.random()
    for name, share in mix.model_dump().items():
        if draw < share:
            return Journey(name)
        draw -= share
    return Journey.BACKGROUND


def plan_outages(config: SimulateConfig, world: World) -> list[Outage]:
    """Outages of the whole period, drawn from their own stream (seed and day only)."""
    outages: list[Outage] = []
    days = (world.end_ms - world.start_ms + DAY - 1) // DAY
    for day in range(days):
        rng = random.Random(f"outage:{config.seed}:{day}")
        for _ in range(config.outages.per_day):
            # Outages happen in working hours, when they hurt most.
            start = world.start_ms + day * DAY + rng.randrange(8 * HOUR, 18 * HOUR)
            minutes = rng.randint(
                config.outages.min_minutes,
                max(config.outages.min_minutes, config.outages.max_minutes),
            )
            outages.append(
                Outage(rng.randrange(len(world.brands)), start, start + minutes * MINUTE)
            )
    return outages


def _daytime(sim: PersonSim, day_start: int) -> int:
    return sim.world.diurnal_time(sim.rng, day_start)


# --- background ------------------------------------------------------------------------------


def background_day(sim: PersonSim, day_start: int) -> None:
    """App sessions following the diurnal profile, and now and then an ordinary contact."""
    rng, config = sim.rng, sim.world.config
    person = sim.person
    # About six Segment messages per session.
    sessions = _poisson(rng, config.app_events_per_customer_day / 6.0)
    for _ in range(sessions):
        logged_in = person.app_user and rng.random() < 0.8
        identify = logged_in and not sim.identified and rng.random() < 0.3
        sim.browse_session(_daytime(sim, day_start), logged_in=logged_in, identify=identify)
    if rng.random() < config.support_contact_rate:
        ordinary_contact(sim, _daytime(sim, day_start))


def ordinary_contact(sim: PersonSim, ms: int) -> None:
    """A question or complaint on one channel, answered within a realistic time."""
    rng = sim.rng
    channel = rng.choices(("email", "social", "phone", "chat"), (0.3, 0.2, 0.3, 0.2))[0]
    intent = rng.choice(("question", "complaint_delivery", "complaint_billing", "question"))
    moods: tuple[Mood, ...] = ("neg", "calm", "any")
    mood: Mood = "calm" if intent == "question" else rng.choice(moods)
    if channel == "email":
        thread: list[EmailMessage] = []
        key = sim.uuid4()
        sim.customer_email(ms, intent, mood, thread, key)
        sim.brand_email(ms + lognormal_s(rng, 3 * 3600, 0.8) * 1000, thread, key)
    elif channel == "social":
        post = sim.customer_tweet(ms, intent, mood)
        sim.brand_tweet(ms + lognormal_s(rng, 25 * 60, 0.9) * 1000, post, BRAND_SOCIAL_REPLIES)
    elif channel == "phone":
        sim.phone_call(ms, wait_median_s=90, patience_median_s=600, talk_median_s=360)
    else:
        sim.chat(
            ms,
            intent=intent,
            mood=mood,
            attributes=_chat_attributes(sim, email=rng.random() < 0.6),
            wait_s=lognormal_s(rng, 45, 0.8),
        )


def _chat_attributes(sim: PersonSim, *, email: bool, phone: bool = False) -> dict[str, str]:
    """Contact attributes of a web chat: the widget's visitor id (the analytics anonymousId),
    plus what the pre-chat form asked for."""
    attrs = {
        "VisitorId": sim.person.web_anonymous_id,
        # The widget shares the site's analytics cookie, so it also passes it by its analytics
        # name: that is what links the chat to the web sessions (a device_id).
        "AnonymousId": sim.person.web_anonymous_id,
    }
    if email:
        attrs["CustomerEmail"] = sim.person.email
    if phone:
        attrs["CustomerPhone"] = sim.person.phone
    return attrs


# --- scripted journeys -----------------------------------------------------------------------


def app_chat_phone(sim: PersonSim, day_start: int) -> None:
    """Checkout fails in the app, the customer chats (the agent cannot fix it and asks them to
    call), then phones."""
    rng, person = sim.rng, sim.person
    ms = day_start + rng.randrange(9 * HOUR, 17 * HOUR)
    web = person.platform == "web"
    ms = sim.browse_session(ms, logged_in=True, identify=True)
    ms = sim.failed_checkout(
        ms + rng.randrange(10_000, 60_000), web=web, attempts=rng.randint(2, 4)
    )
    sim.app_error(ms + rng.randrange(1_000, 5_000), web=web, logged_in=True)
    _, ms = sim.chat(
        ms + rng.randrange(2, 10) * MINUTE,
        intent="app_error",
        mood="neg",
        attributes=_chat_attributes(sim, email=True),
        wait_s=lognormal_s(rng, 120, 0.5),
        turns=2,
        escalate=True,
    )
    sim.phone_call(
        ms + rng.randrange(5, 30) * MINUTE,
        wait_median_s=240,
        patience_median_s=3_600,  # they really want this fixed
        talk_median_s=540,
        reason="payment_failed",
    )


def unanswered_public_post(sim: PersonSim, day_start: int) -> None:
    """A public complaint; the customer follows up publicly; the brand answers hours later."""
    rng = sim.rng
    ms = day_start + rng.randrange(7 * HOUR, 14 * HOUR)
    post = sim.customer_tweet(ms, rng.choice(("complaint_delivery", "complaint_billing")), "neg")
    last = post
    for _ in range(rng.randint(1, 2)):
        ms += rng.randrange(60, 150) * MINUTE
        last = sim.customer_tweet(ms, "follow_up", "neg", reply_to=last)
    answer = post.ts + rng.randrange(4 * 60, 9 * 60) * MINUTE
    sim.brand_tweet(max(answer, ms + 10 * MINUTE), last, BRAND_SOCIAL_REPLIES)


def polite_email(sim: PersonSim, day_start: int) -> None:
    """A polite request answered within minutes, and the customer's thanks."""
    rng = sim.rng
    ms = _daytime(sim, day_start)
    thread: list[EmailMessage] = []
    key = sim.uuid4()
    sim.customer_email(ms, "polite_request", "calm", thread, key)
    ms += rng.randrange(3 * 60, 15 * 60) * 1000
    sim.brand_email(ms, thread, key)
    if rng.random() < 0.6:
        sim.customer_email(ms + rng.randrange(5, 90) * MINUTE, "thanks", "calm", thread, key)


def fragmented_identity(sim: PersonSim, day_start: int) -> None:
    """Known by a different identifier on each channel (email address, Twitter handle, phone
    number, chat visitor id) until one web login sends an identify carrying email, phone and
    twitter traits, with the same anonymousId the chat widget used as VisitorId."""
    rng = sim.rng
    ms = day_start + rng.randrange(8 * HOUR, 11 * HOUR)
    thread: list[EmailMessage] = []
    key = sim.uuid4()
    sim.customer_email(ms, "question", "calm", thread, key)
    sim.brand_email(ms + rng.randrange(20, 120) * MINUTE, thread, key)
    ms += rng.randrange(30, 90) * MINUTE
    post = sim.customer_tweet(ms, "question", "calm")
    sim.brand_tweet(ms + rng.randrange(10, 60) * MINUTE, post, BRAND_SOCIAL_REPLIES)
    ms += rng.randrange(30, 90) * MINUTE
    _, ms = sim.phone_call(ms, wait_median_s=60, patience_median_s=900, talk_median_s=240)
    ms += rng.randrange(20, 60) * MINUTE
    _, ms = sim.chat(
        ms,
        intent="question",
        mood="calm",
        attributes=_chat_attributes(sim, email=False),
        wait_s=lognormal_s(rng, 40, 0.5),
        display_name="Guest",
    )
    ms += rng.randrange(10, 60) * MINUTE
    # The linking login: on the web, so the anonymousId is the chat widget's VisitorId.
    sim.segment(
        ms, "page", web=True, logged_in=False, name="Sign in", properties={"path": "/login"}
    )
    ms += rng.randrange(20_000, 90_000)
    sim.segment(
        ms,
        "track",
        web=True,
        logged_in=True,
        event="Signed In",
        properties={"username": sim.person.email},
    )
    sim.identify(ms + rng.randrange(300, 2_000), web=True, twitter=True, phone=True)


def repeat_contact(sim: PersonSim, day_start: int) -> None:
    """Three or more contacts about one problem within a day, on different channels."""
    rng = sim.rng
    ms = day_start + rng.randrange(8 * HOUR, 12 * HOUR)
    thread: list[EmailMessage] = []
    key = sim.uuid4()
    sim.customer_email(ms, "complaint_delivery", "any", thread, key)
    sim.brand_email(ms + rng.randrange(40, 120) * MINUTE, thread, key)
    ms += rng.randrange(150, 240) * MINUTE
    _, ms = sim.phone_call(ms, wait_median_s=200, patience_median_s=400, talk_median_s=300)
    ms += rng.randrange(60, 180) * MINUTE
    post = sim.customer_tweet(ms, "complaint_delivery", "neg")
    sim.brand_tweet(ms + rng.randrange(15, 90) * MINUTE, post, BRAND_SOCIAL_REPLIES)
    if rng.random() < 0.5:
        sim.chat(
            ms + rng.randrange(100, 150) * MINUTE,
            intent="complaint_delivery",
            mood="neg",
            attributes=_chat_attributes(sim, email=True),
            wait_s=lognormal_s(rng, 60, 0.6),
        )


def positive_feedback(sim: PersonSim, day_start: int) -> None:
    """Praise on Twitter or by email, thanked by the brand."""
    rng = sim.rng
    ms = _daytime(sim, day_start)
    if rng.random() < 0.6:
        post = sim.customer_tweet(ms, "praise", "calm")
        sim.brand_tweet(ms + rng.randrange(10, 120) * MINUTE, post, BRAND_SOCIAL_THANKS)
    else:
        thread: list[EmailMessage] = []
        key = sim.uuid4()
        sim.customer_email(ms, "praise", "calm", thread, key)
        sim.brand_email(ms + rng.randrange(30, 240) * MINUTE, thread, key)


SCRIPTS = {
    Journey.APP_CHAT_PHONE: app_chat_phone,
    Journey.UNANSWERED_PUBLIC_POST: unanswered_public_post,
    Journey.POLITE_EMAIL: polite_email,
    Journey.FRAGMENTED_IDENTITY: fragmented_identity,
    Journey.REPEAT_CONTACT: repeat_contact,
    Journey.POSITIVE_FEEDBACK: positive_feedback,
}


# --- outages ---------------------------------------------------------------------------------


def outage_burst(sim: PersonSim, outage: Outage) -> None:
    """An affected customer: app errors, then a contact on whichever channel they reach first.
    Contacts cluster in the first minutes of the outage (exponential delay)."""
    rng, person = sim.rng, sim.person
    span = outage.end_ms - outage.start_ms
    ms = outage.start_ms + min(span - MINUTE, int(rng.expovariate(1 / (span / 4))))
    web = person.platform == "web"
    for _ in range(rng.randint(1, 3)):
        sim.app_error(ms, web=web, logged_in=person.app_user)
        ms += rng.randrange(5_000, 60_000)
    channel = rng.choices(("social", "phone", "chat", "email"), (0.35, 0.3, 0.2, 0.15))[0]
    ms += rng.randrange(1, 8) * MINUTE
    if channel == "social":
        post = sim.customer_tweet(ms, "outage", rng.choice(("neg", "any")))
        if rng.random() < 0.4:  # the social team is overwhelmed: most go unanswered
            sim.brand_tweet(ms + rng.randrange(10, 90) * MINUTE, post, BRAND_OUTAGE_REPLIES)
    elif channel == "phone":
        # Queues explode during an outage: many give up.
        sim.phone_call(ms, wait_median_s=900, patience_median_s=420, talk_median_s=180)
    elif channel == "chat":
        wait = lognormal_s(rng, 600, 0.5)
        sim.chat(
            ms,
            intent="outage",
            mood="neg",
            attributes=_chat_attributes(sim, email=rng.random() < 0.5),
            wait_s=wait,
            abandon_after_s=lognormal_s(rng, 300, 0.5),
            turns=1,
        )
    else:
        thread: list[EmailMessage] = []
        sim.customer_email(ms, "outage", "neg", thread, sim.uuid4())


# --- one person ------------------------------------------------------------------------------


def live(sim: PersonSim, journey: Journey, outages: list[Outage]) -> None:
    """Everything one person does over the period."""
    world = sim.world
    rng = sim.rng
    days = (world.end_ms - world.start_ms + DAY - 1) // DAY
    journey_day = rng.randrange(days)
    for day in range(days):
        day_start = world.start_ms + day * DAY
        background_day(sim, day_start)
        if journey is not Journey.BACKGROUND and day == journey_day:
            sim.scripted = True
            SCRIPTS[journey](sim, day_start)
            sim.scripted = False
    affected = world.config.outages.affected_share
    for outage in outages:
        if outage.brand_index == sim.brand.index and rng.random() < affected:
            outage_burst(sim, outage)


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; the means here are small (a few sessions a day)."""
    if mean <= 0:
        return 0
    if mean > 30:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
