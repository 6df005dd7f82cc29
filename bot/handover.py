"""What the assistant tells a parent whose conversation goes to a person: that it does, when
a person will answer (the team's opening hours), and that the assistant is back when staff
close it; in the parent's language.

The inbox (`staff.inbox`, through the `Inbox` port of the tracker) says when; this module only
words it, with Babel for the reader's day names and clock ("lundi à partir de 08:30",
"Monday from 8:30 AM"), on the team's clock.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from babel.dates import format_date, format_skeleton, format_time

from bot.actions import Opening
from liaison.i18n import _, current_language

# Within this many days a day name ("lundi") is clear; later, a date ("le 2 janvier").
_WEEK = 6


def handover_message(reason: str, opening: Opening) -> str:
    """One message: the conversation goes to a person, when one will answer, what if urgent."""
    if reason == "fallbacks":
        first = _(
            "Je ne comprends pas bien, désolé. Je transmets votre message à une personne "
            "de l'équipe de l'école."
        )
    elif reason == "notice_reply":
        first = _("Je transmets votre réponse à une personne de l'équipe de l'école.")
    else:
        first = _("C'est noté : je transmets votre demande à une personne de l'équipe de l'école.")
    urgent = _("Si c'est urgent, appelez l'école.")
    return "\n".join((first, when_a_person_answers(opening), urgent))


def handed_back() -> str:
    """What the parent reads when staff close the conversation."""
    return _(
        "L'équipe de l'école a fermé la conversation. L'assistant automatique répond de "
        "nouveau à vos questions."
    )


def when_a_person_answers(opening: Opening) -> str:
    """ "Une personne de l'équipe vous répondra aujourd'hui à partir de 13:30", in the
    current language, on the team's clock."""
    if opening.answers_at is None:
        return _("Une personne de l'équipe vous répondra dès que possible.")
    if opening.answers_at <= opening.opened_at:
        return _("Une personne de l'équipe vous répondra bientôt, ici.")
    zone = ZoneInfo(opening.timezone)
    now = opening.opened_at.astimezone(zone)
    at = opening.answers_at.astimezone(zone)
    locale = current_language()
    time = format_time(at, "short", locale=locale)
    days = (at.date() - now.date()).days
    if days == 0:
        text = _("Une personne de l'équipe vous répondra aujourd'hui à partir de {time}.")
        return text.format(time=time)
    if days == 1:
        text = _("Une personne de l'équipe vous répondra demain à partir de {time}.")
        return text.format(time=time)
    if days <= _WEEK:
        text = _("Une personne de l'équipe vous répondra {day} à partir de {time}.")
        return text.format(day=format_date(at, "EEEE", locale=locale), time=time)
    text = _("Une personne de l'équipe vous répondra le {date} à partir de {time}.")
    return text.format(date=format_skeleton("MMMMd", at, locale=locale), time=time)
