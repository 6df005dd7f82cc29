"""Follow-ups after a workshop, in each parent's language, on the channel they enrolled from.

What is sent depends on the attendance organisers recorded (`enrolment.attendance`):

* attended — the day after, thanks and the assistant's answers on the workshop's tools
  (`RESOURCES`, buttons that open the FAQ answers); `autonomy_after_days` later (7), the
  autonomy check "did you manage to log into Pronote without help? 1 Yes 2 Not yet", whose
  answers `bot.workshop_actions` records as outcomes;
* no_show — the day after, "you could not come: never mind", with the next published sessions
  on the same tools at a venue on the same clock (up to three, in the parent's language first,
  with enrol buttons), or a person when there is none; a parent who cancelled is not told;
* excused, or not recorded — nothing: we never thank someone who did not come, nor tell someone
  who said they could not come that they were missed, and an organiser who records nothing
  has not told us either way.

`due()` says when: at `hour` on the venue's clock the day after the workshop and
`autonomy_after_days` after it, on the first day that is not a Sunday or a public holiday
there, then out of the night (`quiet_hours.next_allowed`). `send_due()` (the periodic job
`liaison.send_followups`) queues what is due by `now` for published workshops, parents who did
not opt out, and channels that can reach them between visits (SMS, Telegram; not the web
chat). Each follow-up has an idempotency key per enrolment and kind (`followup:<id>:day_after`,
`followup:<id>:autonomy`): a scheduler that runs twice, or two workers racing, queue it once,
and an attendance corrected afterwards never brings a second day-after message.

Attendance is often entered after the session, so a follow-up stays worth sending for
`LOOKBACK` (two days, a weekend) after its time, but is only queued outside quiet hours; older
ones are dropped (a thanks a week late reads oddly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from babel.dates import format_skeleton, format_time
from psycopg import AsyncConnection

from bot.content import FaqEntry
from bot.replies import Button, Reply, payload
from channels.base import Renderer
from liaison.i18n import Catalogs, _, current_language
from workshops.notify import tell
from workshops.quiet_hours import QuietHours, is_rest_day, next_allowed
from workshops.records import Workshop
from workshops.store import load, load_by_refs

# How late a follow-up is still worth sending (attendance entered the evening after, a weekend).
LOOKBACK = timedelta(days=2)
DAY_AFTER, AUTONOMY = "day_after", "autonomy"
# The outcome kinds a parent can answer, and the answers (by the intent of the button).
ANSWERS = {"affirm": "yes", "deny": "not_yet"}
# The FAQ answers that help after a workshop on each tool, most useful first.
RESOURCES: dict[str, tuple[str, ...]] = {
    "ENT": ("faq_ent_login", "faq_homework", "faq_contact_teacher"),
    "Pronote": ("faq_pronote_grades", "faq_homework", "faq_mobile_app"),
    "ÉduConnect": ("faq_educonnect", "faq_password_reset"),
    "FranceConnect": ("faq_educonnect", "faq_password_reset"),
    "École Directe": ("faq_pronote_grades", "faq_homework", "faq_absence"),
    "Skolengo": ("faq_ent_login", "faq_pronote_grades", "faq_homework"),
    "Mon Bureau Numérique": ("faq_ent_login", "faq_homework", "faq_contact_teacher"),
}
_FIRST_STEPS = ("faq_ent_login", "faq_educonnect", "faq_password_reset")
SHOWN = 3  # resources, or later sessions, in one message (numbered choices over SMS)

# With the kinds already queued (their first message's key), so that the follow-ups done are
# not tried again every minute of the lookback; `tell()`'s keys still decide races.
_CANDIDATES = """
SELECT e.id, e.attendance, e.contact_id, c.channel, c.address, c.language, w.ref,
       ARRAY(SELECT split_part(o.idempotency_key, ':', 3) FROM outbound_message o
             WHERE o.idempotency_key IN ('followup:' || e.id || ':day_after:0',
                                         'followup:' || e.id || ':autonomy:0')) AS sent
FROM enrolment e
JOIN workshop w ON w.id = e.workshop_id
JOIN contact c ON c.id = e.contact_id
WHERE e.attendance IN ('attended', 'no_show')
  AND (e.attendance = 'attended' OR e.status = 'confirmed')
  AND w.status = 'published' AND c.opted_out_at IS NULL
  AND w.ends_at <= %(now)s AND w.ends_at > %(since)s
  AND c.channel = ANY(%(channels)s)
ORDER BY w.ends_at, e.id
"""

_BOOKED = """
SELECT w.ref FROM enrolment e JOIN workshop w ON w.id = e.workshop_id
WHERE e.contact_id = %s AND e.status IN ('confirmed', 'waitlisted', 'offered')
"""


@dataclass(frozen=True)
class Schedule:
    """When follow-ups go (`liaison.followups`): at `hour` on the venue's clock, the day after
    and `autonomy_after_days` after the workshop."""

    hour: time = time(10, 0)
    autonomy_after_days: int = 7


def _morning_after(
    workshop: Workshop, days: int, schedule: Schedule, quiet: QuietHours
) -> datetime:
    day = workshop.local(workshop.ends_at).date() + timedelta(days=days)
    while is_rest_day(day, workshop.timezone, quiet):  # a Sunday, a holiday: the next school day
        day += timedelta(days=1)
    wanted = datetime.combine(day, schedule.hour, tzinfo=workshop.zone)
    return next_allowed(wanted, workshop.timezone, quiet)


def due(
    workshop: Workshop, attendance: str | None, schedule: Schedule, quiet: QuietHours
) -> list[tuple[str, datetime]]:
    """(kind, when to send) of each follow-up of a parent with this attendance."""
    if attendance == "attended":
        return [
            (DAY_AFTER, _morning_after(workshop, 1, schedule, quiet)),
            (AUTONOMY, _morning_after(workshop, schedule.autonomy_after_days, schedule, quiet)),
        ]
    if attendance == "no_show":
        return [(DAY_AFTER, _morning_after(workshop, 1, schedule, quiet))]
    return []


def resources(workshop: Workshop, faq: Mapping[str, FaqEntry]) -> list[str]:
    """The FAQ intents to offer after `workshop`: the first of each tool, then the seconds..."""
    lists = [RESOURCES.get(topic, _FIRST_STEPS) for topic in workshop.topics] or [_FIRST_STEPS]
    ordered = [intents[n] for n in range(SHOWN) for intents in lists if n < len(intents)]
    return [intent for intent in dict.fromkeys(ordered) if intent in faq][:SHOWN]


def later_sessions(
    workshop: Workshop, upcoming: Sequence[Workshop], *, exclude: Sequence[str] = ()
) -> list[Workshop]:
    """Up to `SHOWN` upcoming sessions on the same tools, at a venue on the same clock (a
    parent in Guadeloupe is not sent to Paris), not already booked; in the reader's language
    first, then the soonest. Call inside `Catalogs.use`."""
    language = current_language()
    topics = set(workshop.topics)
    fitting = [
        w
        for w in upcoming
        if w.ref != workshop.ref
        and w.ref not in exclude
        and w.status == "published"
        and w.timezone == workshop.timezone
        and (topics & set(w.topics) or not topics)
    ]
    fitting.sort(key=lambda w: (language not in w.languages, w.starts_at))
    return fitting[:SHOWN]


def label(workshop: Workshop) -> str:
    """A button for a session: "Pronote pour les parents, 2 déc. 18:00"."""
    start, language = workshop.local(workshop.starts_at), current_language()
    day = format_skeleton("MMMd", start, locale=language)
    return f"{workshop.title}, {day} {format_time(start, 'short', locale=language)}"


def another_session(opening: str, sessions: Sequence[Workshop]) -> Reply:
    """`opening`, then the sessions to enrol in and a person, or a person alone."""
    person = Button(_("Parler à une personne"), "/human_handover")
    if not sessions:
        later = _(
            "Il n'y a pas d'autre atelier prévu pour le moment. "
            "Une personne de l'école peut vous aider."
        )
        return Reply(f"{opening}\n{later}", (person,))
    buttons = [Button(label(w), payload("workshop_enrol", workshop=w.ref)) for w in sessions]
    later = _("Vous pouvez venir à un autre atelier. Choisissez une date :")
    return Reply(f"{opening}\n{later}", (*buttons, person))


def thanks(workshop: Workshop, faq: Mapping[str, FaqEntry]) -> Reply:
    text = _(
        "Merci pour votre participation à l'atelier « {title} » !\n"
        "Pour revoir ce que vous avez appris, choisissez un sujet :"
    ).format(title=workshop.title)
    buttons = [Button(_(faq[i].title), f"/{i}") for i in resources(workshop, faq)]
    return Reply(text, tuple(buttons))


def autonomy_check(workshop: Workshop, enrolment_id: int) -> Reply:
    """ "Did you manage to log into Pronote without help? 1 Yes 2 Not yet" (the workshop's
    first tool: organisers name the main one first). A typed "oui" takes the first button."""
    if workshop.topics:
        question = _(
            "Bonjour ! Depuis l'atelier, avez-vous réussi à vous connecter à « {tool} » sans aide ?"
        ).format(tool=workshop.topics[0])
    else:
        question = _(
            "Bonjour ! Depuis l'atelier « {title} », arrivez-vous à utiliser "
            "ce que vous avez appris sans aide ?"
        ).format(title=workshop.title)
    answer = {"followup": AUTONOMY, "enrolment": str(enrolment_id)}
    return Reply(
        question,
        (
            Button(_("Oui"), payload("affirm", **answer, confirm="yes")),
            Button(_("Pas encore"), payload("deny", **answer)),
        ),
    )


def missed(workshop: Workshop, sessions: Sequence[Workshop]) -> Reply:
    opening = _("Vous n'avez pas pu venir à l'atelier « {title} » : ce n'est pas grave !")
    return another_session(opening.format(title=workshop.title), sessions)


async def send_due(
    connection: AsyncConnection[Any],
    *,
    now: datetime,
    schedule: Schedule,
    quiet: QuietHours,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
    faq: Mapping[str, FaqEntry],
    default_language: str,
) -> int:
    """Queue the follow-ups due by `now`; returns how many were queued (not counting those
    already sent)."""
    # Rest days can push a follow-up a few days past its nominal day.
    since = now - LOOKBACK - timedelta(days=schedule.autonomy_after_days + 7)
    cursor = await connection.execute(
        _CANDIDATES, {"now": now, "since": since, "channels": list(renderers)}
    )
    rows = await cursor.fetchall()
    workshops = await load_by_refs(connection, sorted({row[6] for row in rows}))
    upcoming: list[Workshop] | None = None
    queued = 0
    for enrolment_id, attendance, contact_id, channel, address, language, ref, sent in rows:
        workshop = workshops[ref]
        for kind, send_at in due(workshop, attendance, schedule, quiet):
            if kind in sent or not now - LOOKBACK <= send_at <= now:
                continue
            if next_allowed(now, workshop.timezone, quiet) != now:
                continue  # a late one waits for the morning
            booked: list[str] = []
            if attendance == "no_show":
                if upcoming is None:
                    upcoming = await load(connection, status="published", after=now)
                cursor = await connection.execute(_BOOKED, (contact_id,))
                booked = [row[0] for row in await cursor.fetchall()]
            with catalogs.use(language or default_language):
                if attendance == "no_show":
                    reply = missed(
                        workshop, later_sessions(workshop, upcoming or [], exclude=booked)
                    )
                elif kind == DAY_AFTER:
                    reply = thanks(workshop, faq)
                else:
                    reply = autonomy_check(workshop, enrolment_id)
                messages = renderers[channel]([reply])
            # The message's buttons become the offered ones: "1" or "2" answers it.
            queued += await tell(
                connection,
                contact_id=contact_id,
                channel=channel,
                address=address,
                messages=messages,
                buttons=reply.buttons,
                key=f"followup:{enrolment_id}:{kind}",
                now=now,
            )
    return queued
