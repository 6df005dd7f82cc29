"""A team's opening hours, and when a person will answer a parent.

Hours are {"mon": [["08:30", "12:00"], ["13:30", "17:00"]], ...} on the team's clock (a
school's, from the database, or `liaison.inbox.opening_hours`); public holidays of the time
zone's region are closed (`workshops.quiet_hours`), Sundays only when they have no hours.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from workshops.quiet_hours import QuietHours, is_rest_day

log = logging.getLogger(__name__)

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOLIDAYS_ONLY = QuietHours(sundays=False, public_holidays=True)


def parse_hours(raw: Mapping[str, Any]) -> dict[int, list[tuple[time, time]]]:
    """{"mon": [["08:30", "12:00"], ...]} as weekday -> spans; what is malformed is left out
    (a school's hours come from the database, written by hand)."""
    spans: dict[int, list[tuple[time, time]]] = {}
    for day, pairs in raw.items():
        if day not in DAYS or not isinstance(pairs, list | tuple):
            continue
        for pair in pairs:
            try:
                start, end = (time.fromisoformat(str(value)) for value in pair)
            except (TypeError, ValueError):
                log.warning("opening hours: %r on %s is not [start, end]", pair, day)
                continue
            if start < end:
                spans.setdefault(DAYS.index(day), []).append((start, end))
    return {day: sorted(day_spans) for day, day_spans in spans.items()}


def next_opening(hours: Mapping[str, Any], timezone: str, now: datetime) -> datetime | None:
    """When a person will answer: `now` when the team is open now, else the next opening (UTC)
    within two weeks; None when the team has no opening hours."""
    spans = parse_hours(hours)
    if not spans:
        return None
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    for offset in range(15):
        day = local.date() + timedelta(days=offset)
        if is_rest_day(day, timezone, _HOLIDAYS_ONLY):
            continue
        for start, end in spans.get(day.weekday(), []):
            opens = datetime.combine(day, start, tzinfo=zone)
            if datetime.combine(day, end, tzinfo=zone) <= local:
                continue
            return now if opens <= local else opens.astimezone(UTC)
    return None


def valid_zone(name: str | None, default: str) -> str:
    """`name` when it is a known time zone, else `default`."""
    try:
        ZoneInfo(name or default)
    except (ZoneInfoNotFoundError, ValueError):
        return default
    return name or default
