"""Phone numbers in E.164, as Liaison stores them, whatever way a parent or a school wrote them.

`to_e164("06 12 34 56 78")` is "+33612345678". French overseas numbers written the mainland way
("0690 12 34 56", Guadeloupe) are not valid numbers of region FR for `phonenumbers`, so when
the default region is FR and the number is not valid there, the overseas regions are tried and
the one where it is valid wins ("+590690123456"). Logs carry `mask()`ed numbers only.
"""

from __future__ import annotations

import unicodedata

import phonenumbers

# Overseas departments and territories sharing the French national format (0 + 9 digits).
_OVERSEAS = ("GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF", "NC", "PF", "WF")
_MAX_LENGTH = 32


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number."""


def to_e164(raw: str, default_region: str = "FR") -> str:
    """The number in E.164 ("+33612345678"); InvalidPhoneNumber if it is not a valid one."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text or len(text) > _MAX_LENGTH:
        raise InvalidPhoneNumber("empty or too long to be a phone number")
    if any(char.isalpha() for char in text):
        raise InvalidPhoneNumber("a phone number has no letters")
    text = text.replace("(0)", "")
    regions = [default_region]
    if default_region == "FR" or default_region in _OVERSEAS:
        regions += [region for region in ("FR", *_OVERSEAS) if region != default_region]
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhoneNumber(f"not a valid phone number ({mask(text)})")


def region_of(e164: str) -> str | None:
    """The ISO region of a valid number ("GP" for +590 690...), or None."""
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def mask(number: str) -> str:
    """For logs: the first three characters and the last two, the rest hidden."""
    digits = number.strip()
    if len(digits) <= 5:
        return "•" * len(digits)
    return digits[:3] + "•" * (len(digits) - 5) + digits[-2:]
