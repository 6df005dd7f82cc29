"""Phone numbers: what people and providers send, overseas France, refusals, masking for logs.

Every expected value was checked against `phonenumbers` (metadata 9.0.x), not assumed.
"""

from __future__ import annotations

import pytest

from channels.phone import InvalidPhoneNumber, mask, region_of, to_e164

MOBILE = "+33612345678"

VALID = [
    # (id, raw, default_region, e164, region)
    ("spaces", "06 12 34 56 78", "FR", MOBILE, "FR"),
    ("dots", "06.12.34.56.78", "FR", MOBILE, "FR"),
    ("dashes", "06-12-34-56-78", "FR", MOBILE, "FR"),
    ("packed", "0612345678", "FR", MOBILE, "FR"),
    ("international", "+33 6 12 34 56 78", "FR", MOBILE, "FR"),
    ("00 prefix", "0033612345678", "FR", MOBILE, "FR"),
    ("(0) trunk", "+33 (0)6 12 34 56 78", "FR", MOBILE, "FR"),
    ("twilio E.164", MOBILE, "FR", MOBILE, "FR"),
    ("full-width digits", "０６ １２ ３４ ５６ ７８", "FR", MOBILE, "FR"),
    ("no-break spaces", "06\u00a012\u00a034\u00a056\u00a078", "FR", MOBILE, "FR"),
    ("narrow no-break spaces", "06\u202f12\u202f34\u202f56\u202f78", "FR", MOBILE, "FR"),
    ("surrounding whitespace", "\t06 12 34 56 78 \n", "FR", MOBILE, "FR"),
    ("arabic-indic digits", "٠٦١٢٣٤٥٦٧٨", "FR", MOBILE, "FR"),
    ("07 mobile", "07 81 23 45 67", "FR", "+33781234567", "FR"),
    ("landline", "01 23 45 67 89", "FR", "+33123456789", "FR"),
    ("exactly 32 characters", " " * 18 + "06 12 34 56 78", "FR", MOBILE, "FR"),
    # Overseas, written nationally from a mainland school (default FR).
    ("guadeloupe mobile", "0690 12 34 56", "FR", "+590690123456", "GP"),
    ("guyane mobile", "0694 20 12 34", "FR", "+594694201234", "GF"),
    ("martinique mobile", "0696 20 12 34", "FR", "+596696201234", "MQ"),
    ("reunion mobile 0692", "0692 12 34 56", "FR", "+262692123456", "RE"),
    ("reunion mobile 0693", "0693 12 34 56", "FR", "+262693123456", "RE"),
    ("mayotte mobile", "0639 40 12 34", "FR", "+262639401234", "YT"),
    ("saint-pierre mobile", "0708 40 12 34", "FR", "+508708401234", "PM"),
    ("guadeloupe landline", "0590 20 12 34", "FR", "+590590201234", "GP"),
    ("saint-barthelemy landline", "0590 27 12 34", "FR", "+590590271234", "BL"),
    ("saint-martin landline", "0590 77 12 34", "FR", "+590590771234", "MF"),
    ("guyane landline", "0594 10 12 34", "FR", "+594594101234", "GF"),
    ("reunion landline", "0262 16 12 34", "FR", "+262262161234", "RE"),
    # Overseas, with their own country code, or +33 by mistake.
    ("+590 as given", "+590 690 12 34 56", "FR", "+590690123456", "GP"),
    ("00590", "00590 690 12 34 56", "FR", "+590690123456", "GP"),
    ("+262", "+262 692 12 34 56", "FR", "+262692123456", "RE"),
    ("+33 on a guadeloupe mobile", "+33 690 12 34 56", "FR", "+590690123456", "GP"),
    ("+33 (0) on a guadeloupe mobile", "+33 (0)690 12 34 56", "FR", "+590690123456", "GP"),
    ("+33 0 on a reunion mobile", "+33 0692 12 34 56", "RE", "+262692123456", "RE"),
    ("new caledonia", "+687 75 12 34", "FR", "+687751234", "NC"),
    ("french polynesia", "+689 87 12 34 56", "FR", "+68987123456", "PF"),
    ("wallis-and-futuna", "+681 82 12 34", "FR", "+681821234", "WF"),
    ("saint-pierre 6 digits", "+508 55 12 34", "FR", "+508551234", "PM"),
    ("belgium", "+32 470 12 34 56", "FR", "+32470123456", "BE"),
    ("portugal", "+351 912 345 678", "FR", "+351912345678", "PT"),
    # A school overseas: its own default region, and the rest of the French plan still works.
    ("school in reunion", "0692 12 34 56", "RE", "+262692123456", "RE"),
    ("school in reunion, landline", "0262 16 12 34", "RE", "+262262161234", "RE"),
    ("school in reunion, mainland mobile", "06 12 34 56 78", "RE", MOBILE, "FR"),
    ("school in reunion, guadeloupe mobile", "0690 12 34 56", "RE", "+590690123456", "GP"),
    ("school in reunion, mayotte mobile", "0639 40 12 34", "RE", "+262639401234", "YT"),
    ("school in mayotte", "0639 40 12 34", "YT", "+262639401234", "YT"),
    ("school in martinique, landline", "0596 30 12 34", "MQ", "+596596301234", "MQ"),
    ("school in saint-pierre, 6 digits", "55 12 34", "PM", "+508551234", "PM"),
    ("school in noumea", "75 12 34", "NC", "+687751234", "NC"),
    ("school in papeete", "87 12 34 56", "PF", "+68987123456", "PF"),
    ("lower-case region", "0692 12 34 56", "re", "+262692123456", "RE"),
]

INVALID = [
    # (id, raw, default_region)
    ("empty", "", "FR"),
    ("blank", "   ", "FR"),
    ("no-break space only", "\u00a0", "FR"),
    ("letters", "abc", "FR"),
    ("a letter among digits", "06 12 34 56 7B", "FR"),
    ("tel uri", "tel:+33612345678", "FR"),
    ("extension", "0612345678 ext 12", "FR"),
    ("vanity number", "0800 FLOWERS", "FR"),
    ("semicolon", "06 12 34 56 78;", "FR"),
    ("star", "*0612345678", "FR"),
    ("hash", "0612345678#", "FR"),
    ("plus only", "+", "FR"),
    ("parentheses only", "()", "FR"),
    ("too short", "123", "FR"),
    ("one digit short", "06 12 34 56 7", "FR"),
    ("one digit too many", "06 12 34 56 78 9", "FR"),
    ("far too long", "0612345678901", "FR"),
    ("two numbers", "06 12 34 56 78 07 81 23 45 67", "FR"),
    ("truncated international", "+33 6 12", "FR"),
    ("33 characters", " " * 19 + "06 12 34 56 78", "FR"),
    ("unassigned 07 range", "07 12 34 56 78", "FR"),
    ("unassigned 04 range", "04 00 12 34 56", "FR"),
    ("unassigned mayotte range", "0639 12 34 56", "FR"),
    ("unassigned +33 range", "+33 7 12 34 56 78", "FR"),
    # Not guessed from a mainland school: a truncated mainland number is likelier.
    ("bare new caledonia", "75 12 34", "FR"),
    ("old saint-pierre national", "055 12 34", "FR"),
    # From La Réunion, some special-rate numbers are valid in several overseas regions at once.
    ("ambiguous from reunion", "0812 34 56 78", "RE"),
    # The Pacific collectivities have their own plans: no mainland "06" there.
    ("mainland national from noumea", "06 12 34 56 78", "NC"),
    ("guadeloupe national from papeete", "0690 12 34 56", "PF"),
]


@pytest.mark.parametrize(
    ("raw", "default_region", "e164", "region"),
    [pytest.param(*case[1:], id=case[0]) for case in VALID],
)
def test_valid_numbers(raw: str, default_region: str, e164: str, region: str) -> None:
    assert to_e164(raw, default_region) == e164
    assert region_of(e164) == region
    assert to_e164(e164) == e164  # E.164 in, the same out, whatever the default region


@pytest.mark.parametrize(
    ("raw", "default_region"), [pytest.param(*case[1:], id=case[0]) for case in INVALID]
)
def test_invalid_numbers(raw: str, default_region: str) -> None:
    with pytest.raises(InvalidPhoneNumber) as caught:
        to_e164(raw, default_region)
    message = str(caught.value)
    assert message
    # Privacy: the message repeats no four characters in a row of what was sent.
    text = raw.strip()
    assert not any(text[i : i + 4] in message for i in range(len(text) - 3))


def test_invalid_number_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a valid phone number"):
        to_e164("07 12 34 56 78")


def test_ambiguity_is_refused_not_guessed() -> None:
    with pytest.raises(InvalidPhoneNumber, match="ambiguous"):
        to_e164("0812 34 56 78", "RE")
    assert to_e164("0812 34 56 78", "FR") == "+33812345678"


def test_default_is_france() -> None:
    assert to_e164("06 12 34 56 78") == MOBILE
    assert to_e164("0690 12 34 56") == "+590690123456"


@pytest.mark.parametrize("region", ["XX", "", "FRA"])
def test_unknown_default_region_is_a_configuration_error(region: str) -> None:
    with pytest.raises(ValueError, match="unknown default region") as caught:
        to_e164(MOBILE, region)
    assert not isinstance(caught.value, InvalidPhoneNumber)


def test_mainland_wins_where_phonenumbers_says_so() -> None:
    """A known limit, pinned: 0596 is Martinique, but phonenumbers' FR ranges accept it, and a
    number valid in the default region is never second-guessed. Schools there set "MQ"."""
    assert to_e164("0596 30 12 34", "FR") == "+33596301234"
    assert to_e164("0596 30 12 34", "MQ") == "+596596301234"


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        pytest.param(MOBILE, "+33 ••• •• •• 78", id="france"),
        pytest.param("+590690123456", "+590 ••• •• •• 56", id="guadeloupe"),
        pytest.param("+262639401234", "+262 ••• •• •• 34", id="mayotte"),
        pytest.param("+687751234", "+687 •• •• 34", id="new caledonia 6 digits"),
        pytest.param("+68987123456", "+689 •• •• •• 56", id="polynesia 8 digits"),
        pytest.param("+12025550123", "+1 •• •• •• •• 23", id="north america 10 digits"),
        pytest.param("+33612", "+33 •••", id="too short to show digits"),
        pytest.param("0612345678", "•••", id="not E.164"),
        pytest.param("not a number", "•••", id="not a number"),
        pytest.param("", "•••", id="empty"),
    ],
)
def test_mask(e164: str, masked: str) -> None:
    assert mask(e164) == masked


@pytest.mark.parametrize(
    "e164", [pytest.param(case[3], id=case[0]) for case in VALID if case[0].endswith("mobile")]
)
def test_mask_keeps_only_country_code_and_last_two_digits(e164: str) -> None:
    masked = mask(e164)
    code, _ = masked[1:].split(" ", 1)
    assert "".join(char for char in masked if char.isdigit()) == code + e164[-2:]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("+33612", id="too short"),
        pytest.param("+80012345678", id="global service, no ISO region"),
        pytest.param("0612345678", id="not E.164"),
        pytest.param("garbage", id="garbage"),
        pytest.param("", id="empty"),
    ],
)
def test_region_of_is_none_for_what_is_not_a_valid_number(text: str) -> None:
    assert region_of(text) is None


def test_the_fiction_range_is_a_french_mobile() -> None:
    """06 39 98 xx xx is never given to a subscriber (ARCEP keeps it for fiction): the demo's
    families use it, and staff can type it like any number (a mediation, a search)."""
    assert to_e164("06 39 98 02 03") == "+33639980203"
    assert to_e164("+33 6 39 98 02 03", "RE") == "+33639980203"
    with pytest.raises(InvalidPhoneNumber):
        to_e164("06 39 98 02 0")  # still nine digits after the 0
