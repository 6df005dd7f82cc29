"""A workshop as organisers describe it, validated: the one shape CSV import, the staff pages and
the database share.

Times are given in the venue's time zone (what an organiser reads on a poster) and stored in
UTC; `timezone` is the IANA name of the venue's zone (`Europe/Paris`, `America/Guadeloupe`,
`Indian/Reunion`...). Topics are the digital tools the workshop teaches, in the assistant's own
names (`Pronote`, `ÉduConnect`...), so that a parent asking about a tool finds its workshops.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.nlu.entities import TOOLS
from bot.text import fold
from liaison.settings import SUPPORTED_LANGUAGES

STATUSES = ("draft", "published", "cancelled")
# Every field, in the order organisers read them (CSV columns, database columns).
FIELDS = (
    "ref",
    "title",
    "status",
    "starts_at",
    "ends_at",
    "timezone",
    "capacity",
    "topics",
    "languages",
    "venue_name",
    "venue_address",
    "online_url",
    "description",
    "accessibility",
    "childcare",
    "organiser",
    "territory",
    "schools",
)
# The fields that hold several values (`;`-separated in CSV, arrays in the database).
LIST_FIELDS = ("topics", "languages", "schools")
_TOOL_NAMES = {
    fold(alias, expand=False): name for name, aliases in TOOLS.items() for alias in aliases
}
_TOOL_NAMES.update({fold(name, expand=False): name for name in TOOLS})
_MAX_TEXT = 2000
# A ref goes into links (/?atelier=<ref>, /staff/ateliers/<ref>, Telegram deep links).
REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Words the staff pages use in the place of a ref.
RESERVED_REFS = frozenset({"nouveau", "import", "export"})
_LOCAL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%d/%m/%Y %H:%M")


class InvalidWorkshop(ValueError):
    """One or more fields are wrong; `problems` lists them as "field: what is wrong"."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Workshop:
    ref: str  # the organiser's own identifier, unique: importing again updates the workshop
    title: str
    starts_at: datetime  # aware, UTC
    ends_at: datetime
    timezone: str
    capacity: int
    status: str = "draft"
    topics: tuple[str, ...] = ()
    languages: tuple[str, ...] = ("fr",)
    description: str = ""
    venue_name: str = ""
    venue_address: str = ""
    online_url: str = ""
    accessibility: str = ""
    childcare: str = ""
    organiser: str = ""
    territory: str = ""
    schools: tuple[str, ...] = field(default=())

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """`moment` on the venue's clock."""
        return moment.astimezone(self.zone)


def parse_local(text: str, timezone: str) -> datetime:
    """ "2026-12-05 14:00" on the clock of `timezone`, as an aware UTC datetime."""
    for pattern in _LOCAL_FORMATS:
        try:
            naive = datetime.strptime(text.strip(), pattern)
        except ValueError:
            continue
        return naive.replace(tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    raise ValueError(f"{text!r} is not a date and time like 2026-12-05 14:00")


def build(raw: dict[str, str]) -> Workshop:
    """A validated workshop from text fields (a CSV row, a form); InvalidWorkshop lists every
    problem at once, so an organiser fixes a file in one go."""
    problems: list[str] = []

    def text(name: str, *, required: bool = False, limit: int = _MAX_TEXT) -> str:
        value = (raw.get(name) or "").strip()
        if required and not value:
            problems.append(f"{name}: required")
        if len(value) > limit:
            problems.append(f"{name}: longer than {limit} characters")
        return value

    def items(name: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in (raw.get(name) or "").split(";") if part.strip())

    ref = text("ref", required=True, limit=64)
    if ref and not REF.match(ref):
        problems.append(
            "ref: letters without accents, digits, '-', '_' and '.' only (it goes into links)"
        )
    elif ref.casefold() in RESERVED_REFS:
        problems.append(f"ref: {ref!r} is a reserved word, choose another")
    title = text("title", required=True, limit=120)
    timezone = text("timezone") or "Europe/Paris"
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"timezone: {timezone!r} is not a time zone such as Europe/Paris")
        timezone = "Europe/Paris"
    moments: dict[str, datetime] = {}
    for name in ("starts_at", "ends_at"):
        value = text(name, required=True)
        if value:
            try:
                moments[name] = parse_local(value, timezone)
            except ValueError as exc:
                problems.append(f"{name}: {exc}")
    if len(moments) == 2 and moments["ends_at"] <= moments["starts_at"]:
        problems.append("ends_at: must be after starts_at")
    capacity_text = text("capacity", required=True)
    capacity = 0
    if capacity_text:
        if capacity_text.isdigit() and 0 < int(capacity_text) <= 1000:
            capacity = int(capacity_text)
        else:
            problems.append("capacity: a number of seats from 1 to 1000")
    status = text("status") or "draft"
    if status not in STATUSES:
        problems.append(f"status: one of {', '.join(STATUSES)}")
    topics: list[str] = []
    for topic in items("topics"):
        tool = _TOOL_NAMES.get(fold(topic, expand=False))
        if tool is None:
            problems.append(f"topics: unknown tool {topic!r}; known: {', '.join(TOOLS)}")
        else:
            topics.append(tool)
    languages = items("languages") or ("fr",)
    unknown = [code for code in languages if code not in SUPPORTED_LANGUAGES]
    if unknown:
        problems.append(f"languages: {unknown} not among {', '.join(SUPPORTED_LANGUAGES)}")
    venue_name, venue_address = text("venue_name", limit=200), text("venue_address", limit=300)
    online_url = text("online_url", limit=500)
    if online_url and not online_url.startswith("https://"):
        problems.append("online_url: must start with https://")
    if not (venue_name and venue_address) and not online_url:
        problems.append("venue_name, venue_address: a place (name and address) or an online_url")
    description = text("description")
    accessibility, childcare = text("accessibility", limit=500), text("childcare", limit=500)
    organiser, territory = text("organiser", limit=200), text("territory", limit=200)
    if problems:
        raise InvalidWorkshop(problems)
    return Workshop(
        ref=ref,
        title=title,
        starts_at=moments["starts_at"],
        ends_at=moments["ends_at"],
        timezone=timezone,
        capacity=capacity,
        status=status,
        topics=tuple(dict.fromkeys(topics)),
        languages=tuple(dict.fromkeys(languages)),
        description=description,
        venue_name=venue_name,
        venue_address=venue_address,
        online_url=online_url,
        accessibility=accessibility,
        childcare=childcare,
        organiser=organiser,
        territory=territory,
        schools=items("schools"),
    )
