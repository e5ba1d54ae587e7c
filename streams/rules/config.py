"""The rules' configuration: one typed model per rule, composed into `RulesConfig`.

`omnicx.settings.Settings.rules` holds it, so every field can be set from the environment,
e.g. `OMNICX_RULES__REPEAT_CONTACT__THRESHOLD=4` or `OMNICX_RULES__NEGATIVE_SENTIMENT__ENABLED=0`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from schemas.events import Channel
from schemas.signals import Severity
from streams.features.state import DAY_S, HOUR_S, WINDOW_S


class RuleConfig(BaseModel):
    """What every rule is told: whether it runs, how loud it is and how often it may speak."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="Run this rule.")
    severity: Severity = Field(Severity.MEDIUM, description="Severity of its signals.")
    # The state keeps a week of signals, so a longer cooldown could not be honoured.
    cooldown_s: float = Field(
        DAY_S,
        ge=0,
        le=WINDOW_S,
        description="No two signals of this rule for one customer closer than this (event time).",
    )
    expires_after_s: float = Field(
        DAY_S, gt=0, description="A signal expires this long after it was raised."
    )
    recommended_action: str = Field("Review the customer's recent contacts.", min_length=1)


class RepeatContactConfig(RuleConfig):
    """`repeat_contact`: `threshold` or more contacts (distinct inbound conversations) within
    `window_s`."""

    severity: Severity = Severity.HIGH
    threshold: int = Field(3, ge=2, description="Contacts that make a repeat contact.")
    window_s: float = Field(DAY_S, gt=0, le=WINDOW_S, description="Window for the contacts.")
    recommended_action: str = Field(
        "Call the customer back proactively; one owner for all open contacts.", min_length=1
    )


class ChannelFallbackConfig(RuleConfig):
    """`channel_fallback`: an inbound phone contact within `window_s` after an inbound contact
    on a digital channel (app, chat, email, social)."""

    window_s: float = Field(HOUR_S, gt=0, le=WINDOW_S, description="Digital -> phone window.")
    recommended_action: str = Field(
        "Check why the digital contact did not resolve the issue; fix the journey.", min_length=1
    )


class UnansweredPublicPostConfig(RuleConfig):
    """`unanswered_public_post`: an inbound social post with no outbound reply in its
    conversation within `window_s` of its event time."""

    severity: Severity = Severity.HIGH
    cooldown_s: float = Field(HOUR_S, ge=0, le=WINDOW_S)
    window_s: float = Field(HOUR_S, gt=0, le=WINDOW_S, description="Time allowed to reply.")
    # A wall-clock tick must not call a post unanswered while its reply is still in flight.
    grace_s: float = Field(
        60.0, ge=0, description="A tick at wall time W judges posts due by W - grace_s."
    )
    recommended_action: str = Field(
        "Reply publicly now and move the conversation to a private channel.", min_length=1
    )


class NegativeSentimentConfig(RuleConfig):
    """`negative_sentiment`: inbound text scored at or below `threshold` (VADER compound) on
    one of `channels`."""

    cooldown_s: float = Field(12 * HOUR_S, ge=0, le=WINDOW_S)
    threshold: float = Field(-0.5, ge=-1, le=1, description="VADER compound at or below this.")
    channels: tuple[Channel, ...] = Field(
        (Channel.CHAT, Channel.SOCIAL, Channel.EMAIL), description="Channels whose text counts."
    )
    recommended_action: str = Field(
        "Have a senior agent reach out and acknowledge the problem.", min_length=1
    )


class RulesConfig(BaseModel):
    """The configuration of every built-in rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    repeat_contact: RepeatContactConfig = Field(default_factory=RepeatContactConfig)
    channel_fallback: ChannelFallbackConfig = Field(default_factory=ChannelFallbackConfig)
    unanswered_public_post: UnansweredPublicPostConfig = Field(
        default_factory=UnansweredPublicPostConfig
    )
    negative_sentiment: NegativeSentimentConfig = Field(default_factory=NegativeSentimentConfig)
