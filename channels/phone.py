"""Phone numbers in E.164, as Liaison stores them, however parents, schools or Twilio wrote them.

`to_e164("06 12 34 56 78")` is "+33612345678"; so are "06.12.34.56.78", "+33 (0)6 12 34 56 78",
"0033612345678", full-width digits and numbers spaced with non-breaking spaces (the text is NFKC
normalised first). Anything else is refused with `InvalidPhoneNumber`: empty text, more than 32
characters, letters (no "tel:" URIs, no "ext. 12", no vanity numbers), symbols other than
`+ - . / ( )`, and whatever `phonenumbers.is_valid_number` rejects (too short, too long,
unassigned ranges). The messages never repeat the text: it is personal data.

The French numbering plan is shared by mainland France and the overseas departments and
collectivities (GP, MQ, GF, RE, YT, PM, BL, MF): ten digits starting with 0, dialled the same
way from all of them, each with its own country calling code in E.164. `phonenumbers` reads a
national number in the default region only, so with "FR" it rejects "0690 12 34 56" (a
Guadeloupe mobile), and a school in La Réunion ("RE") would reject a mainland "06...". So when
a ten-digit number written nationally is not valid in the default region (one of the plan), the
other regions of the plan are tried: the overseas ones first, then FR, whose ranges are the
coarsest. The answer must be unique: GP, BL and MF share +590, RE and YT share +262, so regions
count once per E.164 result, and two different results are refused rather than guessed (with
the current metadata none from FR; from RE, a few special-rate 08 and VoIP 09 ranges, never a
mobile). "+33 690 12 34 56", the usual mistake of putting the mainland code on an overseas
number, is read the same way: it is no valid French number, while 0690 12 34 56 is.

Some limits are deliberate. New Caledonia, French Polynesia and Wallis-and-Futuna have plans of
their own (6 or 8 digits, no leading 0), as have the old six-digit numbers of Saint-Pierre: a
bare "75 12 34" from a mainland school is likelier a truncated mainland number than a Nouméa
one, so those are reached only with their country code ("+687 75 12 34") or from a school whose
default region they are. And the other regions are only tried when the default one says
"invalid", never to overrule it: `phonenumbers`' FR ranges include some overseas landlines
(0269 Mayotte, 0596 Martinique, some 09), which with default "FR" come out as +33; a school
overseas sets its own default region. Mobiles, which SMS is about, do not overlap.

`mask()` is what logs show instead of a number: the country code and the last two digits.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from phonenumbers import CountryCodeSource, NumberParseException, PhoneNumber, PhoneNumberFormat

__all__ = ["InvalidPhoneNumber", "mask", "region_of", "timezone_of", "to_e164"]

_MAX_LENGTH = 32
_SEPARATORS = frozenset(" +-./()")
# The French plan, overseas first: tried in this order when a national number is not valid in
# the default region. FR's ranges are the coarsest, so it comes last.
_OVERSEAS = ("GP", "MQ", "GF", "RE", "YT", "PM", "BL", "MF")
_FRENCH_PLAN = (*_OVERSEAS, "FR")
_FRANCE_CODE = 33
_FRENCH_PLAN_DIGITS = 9  # after the leading 0
# The mobile range ARCEP keeps for fiction (06 39 98 xx xx): valid French numbers that are
# never given to a subscriber, which the demo data uses so that no real phone is texted.
_FICTION = "63998"


class InvalidPhoneNumber(ValueError):
    """The text is not a valid phone number. The message says why, never what the text was."""


def to_e164(raw: str, default_region: str = "FR") -> str:
    """The number in E.164 ("+33612345678"); `InvalidPhoneNumber` if it is not a valid one.

    `default_region` (ISO 3166, "FR", "RE"...) is where a number without country code is read;
    an unknown region is a plain `ValueError`, a configuration mistake rather than bad input.
    """
    region = default_region.upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default region {default_region!r}")
    text = _clean(raw)
    number = _parse(text, region)
    if number is None:
        raise InvalidPhoneNumber("not a phone number")
    if phonenumbers.is_valid_number(number):
        return _format(number)
    digits = phonenumbers.national_significant_number(number)
    if number.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY:
        tried = region if region in _FRENCH_PLAN else None
    else:
        tried = "FR" if number.country_code == _FRANCE_CODE else None
    if tried is not None and len(digits) == _FRENCH_PLAN_DIGITS:
        if digits.startswith(_FICTION):  # never a subscriber's: demos and tests
            return f"+{_FRANCE_CODE}{digits}"
        found = _in_french_plan("0" + digits, tried)
        if len(found) == 1:
            return found.pop()
        if found:
            raise InvalidPhoneNumber("ambiguous: valid in several French overseas regions")
    raise InvalidPhoneNumber(f"not a valid phone number (default region {region})")


def region_of(e164: str) -> str | None:
    """The ISO region of a valid E.164 number ("GP" for "+590690123456"), else None."""
    number = _parse(e164, None)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    region = phonenumbers.region_code_for_number(number)
    return region if region and region.isalpha() else None  # not "001" (global services)


# The time zone of each French region's numbers (mobiles included), for what a parent who
# writes from that number most likely lives by.
_TIMEZONES = {
    "FR": "Europe/Paris",
    "GP": "America/Guadeloupe",
    "BL": "America/St_Barthelemy",
    "MF": "America/Marigot",
    "MQ": "America/Martinique",
    "GF": "America/Cayenne",
    "RE": "Indian/Reunion",
    "YT": "Indian/Mayotte",
    "PM": "America/Miquelon",
    "NC": "Pacific/Noumea",
    "PF": "Pacific/Tahiti",
    "WF": "Pacific/Wallis",
}


def timezone_of(e164: str) -> str | None:
    """The IANA time zone of a French number's region ("+590690..." -> America/Guadeloupe)."""
    region = region_of(e164)
    return _TIMEZONES.get(region) if region else None


def mask(e164: str) -> str:
    """For logs: "+33 ••• •• •• 78", only the country code and the last two digits. Never raises."""
    number = _parse(e164, None)
    if number is None:
        return "•••"
    digits = phonenumbers.national_significant_number(number)
    if len(digits) < 6:  # too short to show two digits of it
        return f"+{number.country_code} •••"
    hidden = "•" * (len(digits) - 2) + digits[-2:]
    # Pairs from the right, as French numbers are written; a lone first character joins the next.
    groups = [hidden[max(end - 2, 0) : end] for end in range(len(hidden), 0, -2)][::-1]
    if len(groups[0]) == 1:
        groups[:2] = [groups[0] + groups[1]]
    return f"+{number.country_code} " + " ".join(groups)


def _clean(raw: str) -> str:
    if len(raw) > _MAX_LENGTH:
        raise InvalidPhoneNumber(f"too long for a phone number (over {_MAX_LENGTH} characters)")
    # NFKC: full-width digits become ASCII, non-breaking and narrow spaces become spaces.
    text = " ".join(unicodedata.normalize("NFKC", raw).split())
    if not text:
        raise InvalidPhoneNumber("empty phone number")
    if any(char.isalpha() for char in text):
        raise InvalidPhoneNumber("a phone number has no letters")
    if not all(char.isdecimal() or char in _SEPARATORS for char in text):
        raise InvalidPhoneNumber("a phone number has only digits, spaces and + - . / ( )")
    return text


def _parse(text: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region, keep_raw_input=True)
    except NumberParseException:
        return None


def _in_french_plan(national: str, tried: str) -> set[str]:
    """E.164 results of a national number ("0690123456") in the regions of the French plan
    other than `tried`: overseas first, then FR only if none of them took it."""
    found: set[str] = set()
    for region in _FRENCH_PLAN:
        if region == tried or (region == "FR" and found):
            continue
        number = _parse(national, region)
        if number is not None and phonenumbers.is_valid_number(number):
            found.add(_format(number))
    return found


def _format(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)
