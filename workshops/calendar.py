"""A workshop as an iCalendar event (RFC 5545), for the "add to my calendar" link parents get
when they enrol on a channel that can open links.

Times are written in UTC (`…Z`), which every calendar shows on the reader's own clock; the
event's UID is the workshop's ref, so opening the link again after a change of time updates
the event instead of adding a second one, and a cancelled workshop says STATUS:CANCELLED.
Text is escaped and long lines folded at 75 octets, as the RFC asks.
"""

from __future__ import annotations

from datetime import UTC, datetime

from workshops.records import Workshop

PRODID = "-//Liaison//Ateliers e-parentalite//FR"


def _escape(text: str) -> str:
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "\\n")
    )


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with CRLF + space, never inside a character."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    parts: list[str] = []
    current = ""
    limit = 75
    for char in line:
        if len((current + char).encode()) > limit:
            parts.append(current)
            current = char
            limit = 74  # the leading space of a continuation line counts
        else:
            current += char
    parts.append(current)
    return "\r\n ".join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def event(workshop: Workshop, *, host: str, stamp: datetime) -> str:
    """The VCALENDAR text of one workshop; `host` makes the UID globally unique."""
    location = (
        f"{workshop.venue_name}, {workshop.venue_address}".strip(", ")
        if workshop.venue_name or workshop.venue_address
        else workshop.online_url
    )
    notes = [workshop.description, workshop.accessibility, workshop.childcare]
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{workshop.ref}@{host}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(workshop.starts_at)}",
        f"DTEND:{_utc(workshop.ends_at)}",
        f"SUMMARY:{_escape(workshop.title)}",
        f"STATUS:{'CANCELLED' if workshop.status == 'cancelled' else 'CONFIRMED'}",
    ]
    if location:
        lines.append(f"LOCATION:{_escape(location)}")
    if workshop.online_url:
        lines.append(f"URL:{workshop.online_url}")
    description = "\n\n".join(note for note in notes if note)
    if description:
        lines.append(f"DESCRIPTION:{_escape(description)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(_fold(line) + "\r\n" for line in lines)
