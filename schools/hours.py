"""A school's opening hours (when its team answers parents), written the way a school would:

    lun-ven 08:30-12:00,13:30-17:00; sam 08:30-12:00

Groups separated by `;`, each a set of days then its time ranges. Days are French or English,
short or whole, accents optional (`lun`, `lundi`, `mer`, `mercredi`, `mon`…), as a range
(`lun-ven`) or a list (`lun,mar,jeu,ven`). Ranges are `HH:MM-HH:MM` (`8h30-12h` works too),
separated by `,`. Stored as `{"mon": [["08:30", "12:00"], ["13:30", "17:00"]], ...}` (the
inbox reads that), on the school's own clock.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FRENCH = dict(zip(DAYS, ("lun", "mar", "mer", "jeu", "ven", "sam", "dim"), strict=True))
_NAMES = {
    **{name: day for day, name in FRENCH.items()},
    **{day: day for day in DAYS},
    "lundi": "mon",
    "mardi": "tue",
    "mercredi": "wed",
    "jeudi": "thu",
    "vendredi": "fri",
    "samedi": "sat",
    "dimanche": "sun",
}
_TIME = re.compile(r"^(?P<h>[01]?\d|2[0-3])\s*[:hH]\s*(?P<m>[0-5]\d)?$")

Hours = dict[str, list[list[str]]]


class InvalidHours(ValueError):
    """The text cannot be read as opening hours; the message says why, in French."""


def parse(text: str) -> Hours:
    """The opening hours of `text` ({} for an empty text), or `InvalidHours`."""
    hours: Hours = {}
    for group in filter(None, (part.strip() for part in text.split(";"))):
        words = group.split(None, 1)
        if len(words) != 2:
            raise InvalidHours(f"« {group} » : les jours puis les heures (ex. lun-ven 08:30-12:00)")
        days, ranges = _days(words[0]), [_range(part) for part in words[1].split(",")]
        ranges.sort()
        for (_, end), (start, _) in itertools.pairwise(ranges):
            if start < end:
                raise InvalidHours(f"« {group} » : des heures qui se chevauchent")
        for day in days:
            if day in hours:
                raise InvalidHours(f"« {group} » : un jour donné deux fois")
            hours[day] = [list(r) for r in ranges]
    return {day: hours[day] for day in DAYS if day in hours}


def format_fr(hours: Hours) -> str:
    """`parse`'s input back, days that share their hours grouped: "lun-ven 08:30-12:00"."""
    groups: list[tuple[list[str], list[list[str]]]] = []
    for day in DAYS:
        if day not in hours:
            continue
        previous = groups[-1] if groups else None
        if (
            previous is not None
            and previous[1] == hours[day]
            and DAYS.index(previous[0][-1]) + 1 == DAYS.index(day)
        ):
            previous[0].append(day)
        else:
            groups.append(([day], hours[day]))
    parts = []
    for days, ranges in groups:
        if len(days) > 2:
            named = f"{FRENCH[days[0]]}-{FRENCH[days[-1]]}"
        else:
            named = ",".join(FRENCH[day] for day in days)
        parts.append(f"{named} " + ",".join(f"{start}-{end}" for start, end in ranges))
    return "; ".join(parts)


def _fold(word: str) -> str:
    decomposed = unicodedata.normalize("NFKD", word.strip().lower())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _day(word: str) -> str:
    day = _NAMES.get(_fold(word).rstrip("."))
    if day is None:
        raise InvalidHours(f"« {word} » n'est pas un jour (lun, mar, mer, jeu, ven, sam, dim)")
    return day


def _days(text: str) -> list[str]:
    days: list[str] = []
    for part in text.split(","):
        if "-" in part:
            first, last = (_day(word) for word in part.split("-", 1))
            start, end = DAYS.index(first), DAYS.index(last)
            if end < start:
                raise InvalidHours(f"« {part} » : le premier jour vient après le dernier")
            days += DAYS[start : end + 1]
        else:
            days.append(_day(part))
    return days


def _time(text: str) -> str:
    match = _TIME.match(text.strip())
    if match is None:
        raise InvalidHours(f"« {text.strip()} » n'est pas une heure (ex. 08:30)")
    return f"{int(match.group('h')):02d}:{match.group('m') or '00'}"


def _range(text: str) -> tuple[str, str]:
    parts = text.split("-")
    if len(parts) != 2:
        raise InvalidHours(f"« {text.strip()} » : une heure de début et de fin (ex. 08:30-12:00)")
    start, end = _time(parts[0]), _time(parts[1])
    if end <= start:
        raise InvalidHours(f"« {text.strip()} » : la fin vient avant le début")
    return start, end
