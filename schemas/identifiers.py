"""Identifier types and their normalisation.

Two events belong to one customer when they share an identifier, so the same person must
produce the same identifier string on every channel: e-mail addresses are case-folded, social
handles lose their `@` and case, phone numbers become E.164.
"""

from __future__ import annotations

import re
from enum import StrEnum
from functools import lru_cache

import phonenumbers


class IdentifierType(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    SOCIAL_HANDLE = "social_handle"
    APP_USER_ID = "app_user_id"
    DEVICE_ID = "device_id"
    CHAT_VISITOR_ID = "chat_visitor_id"
    CRM_ID = "crm_id"


class InvalidIdentifier(ValueError):
    """An identifier value that cannot be normalised (e.g. a phone number with no digits)."""


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalise_email(value: str) -> str:
    value = value.strip().lower()
    if value.startswith("mailto:"):
        value = value[len("mailto:") :]
    if not _EMAIL.match(value):
        raise InvalidIdentifier(f"not an e-mail address: {value!r}")
    return value


def normalise_phone(value: str, default_region: str | None = None) -> str:
    """E.164 (`+14155550123`). Numbers without a country code need `default_region` (ISO 3166
    alpha-2, e.g. "US"); without one they are refused rather than guessed."""
    raw = value.strip()
    if raw.lower().startswith("tel:"):
        raw = raw[4:]
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, None if raw.startswith("+") else default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidIdentifier(f"not a phone number: {value!r} ({exc})") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidIdentifier(f"not a possible phone number: {value!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_handle(value: str) -> str:
    value = value.strip().lstrip("@").lower()
    if not value or any(c.isspace() for c in value):
        raise InvalidIdentifier(f"not a social handle: {value!r}")
    return value


@lru_cache(maxsize=1 << 16)
def normalise(kind: IdentifierType | str, value: str, default_region: str | None = None) -> str:
    """The canonical string for an identifier of type `kind` (remembered: a customer's
    identifiers come back on every event, and parsing a phone number costs ~30 us)."""
    kind = IdentifierType(kind)
    if kind is IdentifierType.EMAIL:
        return normalise_email(value)
    if kind is IdentifierType.PHONE:
        return normalise_phone(value, default_region)
    if kind is IdentifierType.SOCIAL_HANDLE:
        return normalise_handle(value)
    value = value.strip()
    if not value:
        raise InvalidIdentifier(f"empty {kind.value}")
    return value
