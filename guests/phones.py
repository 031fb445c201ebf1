"""Phone numbers: every number we store is E.164 (`+919876500001`), parsed with India as the default region."""
from __future__ import annotations

import functools

import phonenumbers
from django.core.exceptions import ValidationError

DEFAULT_REGION = "IN"


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """Return `raw` in E.164 or raise ValidationError with a message a host can act on."""
    text = (raw or "").strip()
    if not text:
        raise ValidationError("Enter a phone number.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(f"“{text}” is not a phone number. Use a format like +91 98765 01234.") from None
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"“{text}” is not a valid phone number. Check the digits and the country code, e.g. +91 98765 01234."
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@functools.lru_cache(maxsize=65536)
def is_mobile(e164: str) -> bool:
    """False for landlines: they cannot receive WhatsApp or SMS (EC-03)."""
    number = phonenumbers.parse(e164, None)
    return phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    )


@functools.lru_cache(maxsize=4096)  # a pure function of the text; parsing is ~0.1 ms (portal pages show two)
def display_phone(e164: str) -> str:
    try:
        return phonenumbers.format_number(phonenumbers.parse(e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    except phonenumbers.NumberParseException:
        return e164


def validate_phone(value: str) -> None:
    normalize_phone(value)


def normalized_or_unchanged(value: str) -> str:
    """For model clean(): E.164 when valid; else unchanged, since the field validator reports the error once."""
    try:
        return normalize_phone(value)
    except ValidationError:
        return value
