"""Quiet hours on the place's own clock and calendar: nights, Sundays, public holidays
(overseas ones included), across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from workshops.quiet_hours import QuietHours, is_rest_day, next_allowed

PARIS = "Europe/Paris"
GUADELOUPE = "America/Guadeloupe"


def _at(text: str, zone: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone))


@pytest.mark.parametrize(
    ("due", "zone", "sent"),
    [
        pytest.param("2026-12-02 10:00", PARIS, "2026-12-02 10:00", id="wednesday-morning"),
        pytest.param("2026-12-02 21:30", PARIS, "2026-12-03 08:00", id="evening"),
        pytest.param("2026-12-02 06:15", PARIS, "2026-12-02 08:00", id="early-morning"),
        pytest.param("2026-12-02 19:59", PARIS, "2026-12-02 19:59", id="just-before-night"),
        pytest.param("2026-12-02 20:00", PARIS, "2026-12-03 08:00", id="night-starts"),
        pytest.param("2026-12-06 11:00", PARIS, "2026-12-07 08:00", id="sunday"),
        pytest.param("2026-12-05 22:00", PARIS, "2026-12-07 08:00", id="saturday-night"),
        pytest.param("2026-12-25 09:00", PARIS, "2026-12-26 08:00", id="christmas"),
        pytest.param("2026-03-29 10:00", PARIS, "2026-03-30 08:00", id="dst-starts-sunday"),
        pytest.param("2026-10-24 23:00", PARIS, "2026-10-26 08:00", id="dst-ends-weekend"),
        # Easter Sunday 2027 is also the night the clocks go forward; Monday is a holiday.
        pytest.param("2027-03-27 21:00", PARIS, "2027-03-30 08:00", id="easter-weekend-dst"),
        pytest.param("2026-05-27 09:00", GUADELOUPE, "2026-05-28 08:00", id="gp-abolition"),
        pytest.param("2026-05-27 09:00", PARIS, "2026-05-27 09:00", id="not-in-paris"),
        pytest.param("2026-12-02 21:00", GUADELOUPE, "2026-12-03 08:00", id="gp-evening"),
    ],
)
def test_next_allowed(due: str, zone: str, sent: str) -> None:
    assert next_allowed(_at(due, zone), zone) == _at(sent, zone).astimezone(UTC)


def test_the_same_instant_waits_differently_in_paris_and_guadeloupe() -> None:
    instant = _at("2026-12-02 23:30", PARIS)  # 18:30 in Guadeloupe
    assert next_allowed(instant, GUADELOUPE) == instant.astimezone(UTC)
    assert next_allowed(instant, PARIS) == _at("2026-12-03 08:00", PARIS).astimezone(UTC)


def test_eight_oclock_stays_eight_oclock_across_the_clock_change() -> None:
    before = next_allowed(_at("2026-10-24 21:00", PARIS), PARIS)  # Saturday night -> Monday
    local = before.astimezone(ZoneInfo(PARIS))
    assert (local.weekday(), local.hour, local.minute) == (0, 8, 0)
    assert local.utcoffset() is not None and local.utcoffset().total_seconds() == 3600


def test_rules_can_be_relaxed() -> None:
    weekend = QuietHours(sundays=False, public_holidays=False)
    assert not is_rest_day(_at("2026-12-25 09:00", PARIS).date(), PARIS, weekend)
    assert next_allowed(_at("2026-12-06 11:00", PARIS), PARIS, weekend) == _at(
        "2026-12-06 11:00", PARIS
    ).astimezone(UTC)
