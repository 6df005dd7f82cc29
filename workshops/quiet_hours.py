"""When a non-urgent message may be sent: not at night, not on Sundays, not on public holidays,
on the clock and the calendar of the place it concerns.

`next_allowed(moment, timezone)` is the first moment at or after `moment` that is allowed in
`timezone`; a reminder due in the night waits for the morning, one due on a Sunday or a public
holiday for the next working morning. Public holidays come from `holidays` (France), with the
overseas departments' own days (Abolition of Slavery on 27 May in Guadeloupe, 22 May in
Martinique...) chosen from the time zone. Daylight-saving changes need nothing special: local
times are built in the zone, so 08:00 stays 08:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

# The `holidays` subdivision of France each overseas time zone belongs to.
_SUBDIVISIONS = {
    "America/Guadeloupe": "971",
    "America/Martinique": "972",
    "America/Cayenne": "973",
    "Indian/Reunion": "974",
    "Indian/Mayotte": "976",
    "America/St_Barthelemy": "BL",
    "America/Marigot": "MF",
    "America/Miquelon": "PM",
    "Pacific/Noumea": "NC",
    "Pacific/Tahiti": "PF",
    "Pacific/Wallis": "WF",
}


@dataclass(frozen=True)
class QuietHours:
    """Nothing non-urgent from `start` until `end` the next morning, nor on Sundays or public
    holidays (each can be turned off)."""

    start: time = time(20, 0)
    end: time = time(8, 0)
    sundays: bool = True
    public_holidays: bool = True


@lru_cache(maxsize=64)
def _holidays(timezone: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("FR", subdiv=_SUBDIVISIONS.get(timezone), years=year)


def is_rest_day(day: date, timezone: str, quiet: QuietHours = QuietHours()) -> bool:
    if quiet.sundays and day.weekday() == 6:
        return True
    return quiet.public_holidays and day in _holidays(timezone, day.year)


def next_allowed(moment: datetime, timezone: str, quiet: QuietHours = QuietHours()) -> datetime:
    """The first allowed moment at or after `moment` (aware), in UTC."""
    zone = ZoneInfo(timezone)
    local = moment.astimezone(zone)
    for _ in range(400):  # a year of rest days in a row cannot happen; stop anyway
        morning = datetime.combine(local.date(), quiet.end, tzinfo=zone)
        if is_rest_day(local.date(), timezone, quiet) or local.time() >= quiet.start:
            local = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=zone)
            continue
        if local < morning:
            local = morning
        return local.astimezone(UTC)
    raise ValueError(f"no allowed moment found after {moment} in {timezone}")
