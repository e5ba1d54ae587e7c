"""What simulated customers and agents write.

Texts are pre-rendered into pools once per run and labelled with VADER there, so generation
never runs the sentiment analyser per message. The labels stay exact at run time because the
slots filled in later (`{first}`, `{order}`, `{brand}`, ...) only ever receive words that VADER
ignores: names and brand words are checked against its lexicon, numbers carry no sentiment, and
every slot value has the same number of tokens as the value used for labelling.

A pool entry is either clearly negative (compound <= -0.6, comfortably past the -0.5 line of
the negative_sentiment signal) or clearly not (compound > -0.35); entries in between are left
out, so an adapter that joins the subject to an email body, or strips @mentions from a tweet,
still lands on the same side of the line.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from itertools import product
from typing import Literal

from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE, SentimentIntensityAnalyzer

NEGATIVE_THRESHOLD = -0.5  # the negative_sentiment signal: compound <= this
NEG_MAX = -0.6  # pool entries labelled negative are at most this
CALM_MIN = -0.35  # pool entries labelled calm are above this

Mood = Literal["neg", "calm", "any"]

# Values used when labelling; run-time values have the same token shape (see module doc).
LABEL_SLOTS = {
    "brand": "Northwind Traders",
    "order": "48213377",
    "amount": "49.99",
    "code": "5012",
    "hours": "3",
    "first": "Sam",
    "agent": "Alex",
    "time": "10:15",
}

# --- customer texts, by intent -------------------------------------------------------------

CUSTOMER_CORES: dict[str, list[str]] = {
    "complaint_delivery": [
        "My order {order} was supposed to arrive {hours} days ago and it still hasn't shown up.",
        "Still no sign of order {order}. The tracking page hasn't changed in {hours} days.",
        "The parcel for order {order} was marked as delivered but nothing arrived.",
        "Order {order} turned up damaged and half of it is missing.",
        "I have been waiting {hours} days for order {order} and nobody can tell me where it is.",
        "You cancelled my order {order} without telling me and kept the money.",
        "Third time I am asking about order {order}. This is ridiculous.",
        "Worst delivery experience ever, order {order} is lost and your tracking is useless.",
        "Order {order} arrived with the wrong item inside. Really disappointed.",
        "The courier left order {order} in the rain and everything is ruined.",
    ],
    "complaint_billing": [
        "I was charged twice for order {order}, {amount} each time.",
        "You took {amount} from my account for a subscription I cancelled last month.",
        "My bill went up by {amount} without any warning. This is unacceptable.",
        "Still waiting for the refund of {amount} you promised {hours} weeks ago.",
        "Why is there a late fee on my account when I paid on time?",
        "I have been overcharged {amount} and your team keeps ignoring me.",
        "Your billing is a mess. Wrong amount again on this month's invoice.",
        "The refund for order {order} never arrived. Terrible service.",
    ],
    "app_error": [
        "The app keeps failing at checkout with error {code}.",
        "I tried to pay three times and the payment fails every time with error {code}.",
        "Checkout crashes as soon as I press pay. Error {code} again.",
        "Your app says payment declined but my bank says the card is fine.",
        "Cannot finish my order, the app freezes on the payment screen.",
        "The app logged me out and now checkout fails with error {code}.",
        "Every time I try to pay in the app I get error {code}. Frustrating.",
    ],
    "outage": [
        "Is the app down? Nothing loads since {time}.",
        "Your website is down and I cannot log in.",
        "The app has been broken for an hour. What is going on?",
        "Can't log in, can't pay, can't do anything. Is there an outage?",
        "Everything is down again. Absolutely useless.",
        "Error {code} on every page since {time}. Is anyone fixing this?",
        "Your service is down and I have a deadline. Terrible timing.",
        "Down again?! This is the second time this month. Awful.",
    ],
    "question": [
        "How do I change the delivery address for order {order}?",
        "Can I add another item to order {order} before it ships?",
        "What are your opening hours on weekends?",
        "Do you deliver to the islands, and how long does it take?",
        "How can I update the card on my account?",
        "Where can I find the invoice for order {order}?",
        "Is it possible to switch my plan in the middle of the month?",
        "Can you tell me when order {order} will be dispatched?",
    ],
    "polite_request": [
        "Could you please send me the invoice for order {order}? Many thanks.",
        "Would you be able to change the delivery date for order {order}? Thank you so much.",
        "I would like to update my email address, could you help me with that? Thanks a lot.",
        "Could you please confirm that my refund for order {order} is on its way? "
        "Much appreciated.",
        "I hope you are well. Could you tell me how to add a second user to my account? Thank you.",
        "Please could you resend the confirmation for order {order}? Thanks in advance.",
    ],
    "praise": [
        "Huge thanks to {agent} for sorting out my refund so quickly, brilliant service!",
        "Order {order} arrived a day early. Great job!",
        "Really impressed with how fast you fixed my account. Thank you!",
        "Best customer service I have had in years, well done {brand}!",
        "Love the new app update, checkout is so much faster now.",
        "Thanks for the quick help today, problem solved in minutes!",
    ],
    "thanks": [
        "Thank you, that is perfect.",
        "Great, thanks for the quick reply!",
        "Brilliant, that solved it. Thank you!",
        "Thanks a lot, much appreciated.",
        "Perfect, thank you for your help.",
    ],
    "follow_up": [
        "Still waiting for a reply, {hours} hours now. Awful customer service.",
        "Hello? Is anyone reading this? Still no answer.",
        "No response after {hours} hours. Really poor.",
        "Still ignored. Worst customer service ever.",
        "Waiting {hours} hours for a reply is unacceptable.",
    ],
}

# Sentences appended to a core sometimes, to vary length and tone.
CUSTOMER_EXTRAS: dict[str, list[str]] = {
    "neg": [
        "",
        "Very disappointed.",
        "Not happy at all.",
        "Sort it out.",
        "I want a refund.",
        "This is the last time I shop with you.",
        "😡",
        "Absolutely fed up.",
    ],
    "calm": ["", "Thanks.", "Thank you!", "Any help appreciated.", "Cheers."],
}

EMAIL_GREETINGS = ["Hi,", "Hello,", "Hello {brand} team,", "Dear Sir or Madam,", "Hi there,"]
EMAIL_CLOSINGS = ["Thanks,", "Regards,", "Best regards,", "Cheers,", "Thank you,", ""]

EMAIL_SUBJECTS: dict[str, list[str]] = {
    "complaint_delivery": ["Order {order}", "Missing delivery", "Where is my order {order}"],
    "complaint_billing": ["Billing issue", "Charge on my account", "Refund for order {order}"],
    "app_error": ["Payment problem in the app", "Checkout error {code}"],
    "outage": ["Cannot log in", "Website down"],
    "question": ["Question about order {order}", "Quick question", "Account question"],
    "polite_request": ["Request about order {order}", "Invoice request", "Account update"],
    "praise": ["Feedback", "Order {order}"],
    "thanks": ["Re: your reply"],
    "follow_up": ["Still waiting", "Follow-up on order {order}"],
}

# Chat: what customers say after their opening line.
CHAT_CUSTOMER_LINES: dict[str, list[str]] = {
    "neg": [
        "I already tried that twice.",
        "It's order {order}.",
        "That doesn't work either.",
        "This has taken far too long.",
        "I still can't pay.",
        "Why does this keep happening?",
        "I don't have time for this.",
    ],
    "calm": [
        "It's order {order}.",
        "OK, one moment.",
        "Sure, the email on the account is the one I'm logged in with.",
        "Yes, that's right.",
        "Let me try that now.",
        "OK.",
    ],
}

# --- brand texts ----------------------------------------------------------------------------

BRAND_SOCIAL_REPLIES = [
    "Sorry to hear that, {first}. Please DM us your order number and we'll take a look.",
    "Hi {first}, we're sorry for the trouble. Can you DM us the details so we can help?",
    "We're on it, {first}. Please check your DMs.",
    "Thanks for letting us know, {first}. Our team is looking into this now.",
    "Hi {first}, can you follow us and send a DM with your account email?",
    "We can help with that, {first}. Send us a DM and we'll sort it out.",
]
BRAND_SOCIAL_THANKS = [
    "Thanks so much, {first}! We'll pass this on to the team.",
    "That's great to hear, {first}! Thanks for the kind words.",
    "Thank you, {first}! Glad we could help.",
]
BRAND_OUTAGE_REPLIES = [
    "Hi {first}, we're aware of an issue with the app and website and are working on a fix.",
    "Sorry {first}, some services are down right now. We'll update you as soon as it's fixed.",
]

BRAND_EMAIL_REPLIES = [
    "Thank you for getting in touch. I have looked into this for you and {resolution}",
    "Thanks for your email. {resolution_cap}",
    "I'm sorry for the inconvenience. {resolution_cap}",
]
BRAND_EMAIL_RESOLUTIONS = [
    "the invoice is attached to your account under Orders.",
    "your refund has been processed and should reach you within 3 to 5 working days.",
    "I have updated the delivery details on order {order}.",
    "a replacement has been sent out today.",
    "your account details have been updated as requested.",
    "our delivery partner has confirmed that the parcel is on its way.",
]

CHAT_SYSTEM_GREETING = "Thanks for contacting {brand}. An agent will be with you shortly."
CHAT_SYSTEM_WAIT = "All of our agents are busy. Thanks for your patience."
CHAT_AGENT_LINES = {
    "greet": [
        "Hi {first}, my name is {agent}. How can I help today?",
        "Hello {first}, this is {agent}. I'm sorry to hear about the problem.",
        "Hi, {agent} here. Let me look into that for you.",
    ],
    "ask": [
        "Could you tell me the order number, please?",
        "Can you confirm the email address on the account?",
        "Which payment method did you use?",
        "Have you tried clearing the app cache and trying again?",
    ],
    "solve": [
        "Thanks, I can see the order. I have fixed the payment and it should go through now.",
        "I have reset your session. Please try again in a few minutes.",
        "I have raised this with our technical team and they will email you.",
    ],
    "escalate": [
        "I'm not able to fix this from chat. Please call us so we can verify your identity.",
        "This needs our payments team. The quickest way is to call us.",
    ],
    "close": [
        "Is there anything else I can help with?",
        "Thanks for chatting with us today.",
    ],
}

# Segment: failures the app reports.
APP_ERRORS = [
    ("PAYMENT_DECLINED", "Payment could not be authorised"),
    ("GATEWAY_TIMEOUT", "Payment gateway timed out"),
    ("CARD_VERIFICATION_FAILED", "3-D Secure verification failed"),
    ("INTERNAL_ERROR", "Something went wrong, please try again"),
]

PRODUCTS = [
    ("SKU-10023", "Wireless Earbuds", "Audio", 59.99),
    ("SKU-10417", "Running Jacket", "Clothing", 89.0),
    ("SKU-11002", "Coffee Grinder", "Kitchen", 45.5),
    ("SKU-12090", "Desk Lamp", "Home", 34.99),
    ("SKU-13311", "Yoga Mat", "Sport", 25.0),
    ("SKU-14007", "Phone Case", "Accessories", 19.99),
    ("SKU-15550", "Backpack", "Bags", 64.0),
    ("SKU-16020", "Water Bottle", "Sport", 14.5),
    ("SKU-17123", "Bluetooth Speaker", "Audio", 79.0),
    ("SKU-18444", "Notebook Set", "Stationery", 12.99),
]


@dataclass(slots=True)
class PoolEntry:
    text: str  # template with run-time slots
    compound: float  # VADER compound of the text rendered with LABEL_SLOTS

    @property
    def negative(self) -> bool:
        return self.compound <= NEGATIVE_THRESHOLD


@dataclass
class Pool:
    """Rendered variants of one intent, split by label."""

    neg: list[PoolEntry] = field(default_factory=list)
    calm: list[PoolEntry] = field(default_factory=list)

    def pick(self, rng: random.Random, mood: Mood) -> PoolEntry:
        if mood == "neg" and self.neg:
            return rng.choice(self.neg)
        if mood == "calm" and self.calm:
            return rng.choice(self.calm)
        both = self.neg + self.calm
        return rng.choice(both)


def vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment_neutral_word(analyzer: SentimentIntensityAnalyzer, word: str) -> bool:
    """True when VADER gives `word` no role: not in its lexicon, not a booster or negation,
    one token, and not all capitals (which VADER would treat as emphasis)."""
    lowered = word.lower()
    return (
        bool(word)
        and " " not in word
        and lowered not in analyzer.lexicon
        and lowered not in BOOSTER_DICT
        and lowered not in NEGATE
        and not word.isupper()
    )


def _label(analyzer: SentimentIntensityAnalyzer, template: str) -> float:
    return float(analyzer.polarity_scores(template.format(**LABEL_SLOTS))["compound"])


def _add(pool: Pool, analyzer: SentimentIntensityAnalyzer, template: str) -> None:
    template = " ".join(template.split())
    score = _label(analyzer, template)
    if score <= NEG_MAX:
        pool.neg.append(PoolEntry(template, score))
    elif score > CALM_MIN:
        pool.calm.append(PoolEntry(template, score))


@dataclass
class TextPools:
    """All text pools of one run."""

    tweets: dict[str, Pool]
    emails: dict[str, Pool]  # bodies without the sign-off name line
    chat_openers: dict[str, Pool]
    chat_lines: dict[str, Pool]  # "neg" / "calm" follow-up lines

    @classmethod
    def build(cls, rng: random.Random, analyzer: SentimentIntensityAnalyzer) -> TextPools:
        tweets: dict[str, Pool] = {}
        emails: dict[str, Pool] = {}
        openers: dict[str, Pool] = {}
        for intent, cores in CUSTOMER_CORES.items():
            tweets[intent], emails[intent], openers[intent] = Pool(), Pool(), Pool()
            extras = _extras(intent)
            for core in cores:
                for extra in extras:
                    _add(tweets[intent], analyzer, f"{core} {extra}")
                _add(openers[intent], analyzer, core)
            # Emails: greeting + core + extra + closing; sampled, not the full product.
            combos = list(
                product(EMAIL_GREETINGS, cores, CUSTOMER_EXTRAS["neg"] + CUSTOMER_EXTRAS["calm"])
            )
            rng.shuffle(combos)
            for greeting, core, extra in combos[:240]:
                closing = rng.choice(EMAIL_CLOSINGS)
                body = f"{greeting}\n\n{core} {extra}".rstrip() + "\n\n"
                body += f"{closing}\n{{first}}" if closing else "{first}"
                score = _label(analyzer, body)
                entry = PoolEntry(body, score)
                if score <= NEG_MAX:
                    emails[intent].neg.append(entry)
                elif score > CALM_MIN:
                    emails[intent].calm.append(entry)
        lines = {"neg": Pool(), "calm": Pool()}
        for mood, texts in CHAT_CUSTOMER_LINES.items():
            for text in texts:
                _add(lines[mood], analyzer, text)
        return cls(tweets=tweets, emails=emails, chat_openers=openers, chat_lines=lines)


# Intents whose writers are calm: they never get an angry closing sentence.
CALM_INTENTS = frozenset({"question", "polite_request", "praise", "thanks"})


def _extras(intent: str) -> list[str]:
    if intent in ("polite_request", "thanks"):
        return [""]  # these already end with their thanks
    if intent == "praise":
        return ["", "Keep it up.", "🙌"]
    if intent in CALM_INTENTS:
        return CUSTOMER_EXTRAS["calm"]
    return CUSTOMER_EXTRAS["neg"] + CUSTOMER_EXTRAS["calm"]


def fill(template: str, slots: dict[str, str]) -> str:
    """Render a template; unknown slots are an error (they would leak braces into output)."""
    return template.format_map(slots)
