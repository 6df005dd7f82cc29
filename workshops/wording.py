"""How a workshop is told to a parent: day and hours on the venue's clock in the reader's
words (Babel), the place, the languages spoken. Used by the conversation, offers and
reminders alike; call inside `Catalogs.use(language)`."""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date, format_time

from liaison.i18n import LANGUAGE_NAMES, _, current_language
from workshops.records import Workshop


def moment(workshop: Workshop, at: datetime) -> str:
    """ "mercredi 2 décembre 2026, 18:00" on the venue's clock."""
    language = current_language()
    local = workshop.local(at)
    day = format_date(local, "full", locale=language)
    return f"{day}, {format_time(local, 'short', locale=language)}"


def when(workshop: Workshop) -> str:
    """ "mercredi 2 décembre 2026, 14:00–15:30" on the venue's clock, in the reader's words."""
    language = current_language()
    start, end = workshop.local(workshop.starts_at), workshop.local(workshop.ends_at)
    hours = "–".join(format_time(moment, "short", locale=language) for moment in (start, end))
    return f"{format_date(start, 'full', locale=language)}, {hours}"


def place(workshop: Workshop) -> str:
    if workshop.venue_name:
        return f"{workshop.venue_name}, {workshop.venue_address}"
    return _("En ligne")


def describe(workshop: Workshop) -> str:
    """Title, day and hours, place, languages spoken."""
    spoken = ", ".join(LANGUAGE_NAMES.get(code, code) for code in workshop.languages)
    languages = _("Langues : {languages}").format(languages=spoken)
    return "\n".join([workshop.title, when(workshop), place(workshop), languages])
