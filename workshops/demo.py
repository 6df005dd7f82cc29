"""Demo data for `make run`, dated from today: four upcoming workshops (three in mainland
France, one online, one in Guadeloupe) in several languages, one of them full with a waiting
list; a drop-in session today (to try the check-in at the door); two that took place, with
their attendance, walk-ins and day-7 answers, so that the check-in, the follow-ups and the
figures have something to show."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

from workshops import store
from workshops.records import Workshop, build


def _next(today: date, weekday: int, weeks: int = 0) -> date:
    days = (weekday - today.weekday()) % 7 or 7
    return today + timedelta(days=days + 7 * weeks)


def demo_workshops(today: date) -> list[Workshop]:
    wednesday, saturday = _next(today, 2), _next(today, 5)
    tuesday = _next(today, 1, weeks=1)
    rows = [
        {
            "ref": "demo-pronote",
            "title": "Pronote pas à pas",
            "starts_at": f"{wednesday} 14:00",
            "ends_at": f"{wednesday} 15:30",
            "capacity": "12",
            "topics": "Pronote;ENT",
            "languages": "fr;ar",
            "venue_name": "Collège Jean Moulin, salle informatique",
            "venue_address": "12 rue des Écoles, 93200 Saint-Denis",
            "description": "Voir les notes, les devoirs et les absences sur Pronote.",
            "accessibility": "Salle au rez-de-chaussée, accessible en fauteuil.",
            "childcare": "Un coin jeux pour les petits frères et sœurs.",
            "organiser": "Collège Jean Moulin",
            "territory": "Saint-Denis",
        },
        {
            "ref": "demo-educonnect",
            "title": "Créer son compte ÉduConnect",
            "starts_at": f"{saturday} 10:00",
            "ends_at": f"{saturday} 11:30",
            "capacity": "10",
            "topics": "ÉduConnect",
            "languages": "fr;tr",
            "venue_name": "Médiathèque Gulliver",
            "venue_address": "4 place de la Mairie, 93200 Saint-Denis",
            "description": "Venez avec votre téléphone : on active le compte ensemble.",
            "organiser": "Médiathèque Gulliver",
            "territory": "Saint-Denis",
        },
        {
            "ref": "demo-ent-online",
            "title": "L'ENT en ligne, depuis chez vous",
            "starts_at": f"{tuesday} 18:00",
            "ends_at": f"{tuesday} 19:00",
            "capacity": "20",
            "topics": "ENT",
            "languages": "fr;pt;es",
            "online_url": "https://visio.example.fr/atelier-ent",
            "description": "Un atelier en visio : messagerie, cahier de textes, agenda.",
            "organiser": "Réseau parents 93",
            "territory": "Seine-Saint-Denis",
        },
        {
            "ref": "demo-guadeloupe",
            "title": "Pronote pour les parents",
            "starts_at": f"{wednesday} 15:00",
            "ends_at": f"{wednesday} 16:30",
            "timezone": "America/Guadeloupe",
            "capacity": "15",
            "topics": "Pronote",
            "languages": "fr",
            "venue_name": "Collège Courbaril",
            "venue_address": "Rue Schœlcher, 97110 Pointe-à-Pitre",
            "organiser": "Collège Courbaril",
            "territory": "Guadeloupe",
        },
    ]
    return [build({**row, "status": "published"}) for row in rows]


def past_demo_workshops(today: date) -> list[Workshop]:
    """Two workshops that took place (7 to 13 days ago), for the check-in history, the
    follow-ups and the figures of `make run`."""
    wednesday, saturday = (
        _next(today, 2) - timedelta(days=14),
        _next(today, 5) - timedelta(days=14),
    )
    rows = [
        {
            "ref": "demo-past-pronote",
            "title": "Pronote pas à pas",
            "starts_at": f"{wednesday} 14:00",
            "ends_at": f"{wednesday} 15:30",
            "capacity": "12",
            "topics": "Pronote;ENT",
            "languages": "fr;ar",
            "venue_name": "Collège Jean Moulin, salle informatique",
            "venue_address": "12 rue des Écoles, 93200 Saint-Denis",
            "organiser": "Collège Jean Moulin",
            "territory": "Saint-Denis",
        },
        {
            "ref": "demo-past-educonnect",
            "title": "Créer son compte ÉduConnect",
            "starts_at": f"{saturday} 10:00",
            "ends_at": f"{saturday} 11:30",
            "capacity": "10",
            "topics": "ÉduConnect",
            "languages": "fr;tr",
            "venue_name": "Médiathèque Gulliver",
            "venue_address": "4 place de la Mairie, 93200 Saint-Denis",
            "organiser": "Médiathèque Gulliver",
            "territory": "Saint-Denis",
        },
    ]
    return [build({**row, "status": "published"}) for row in rows]


def todays_demo_workshop(today: date) -> Workshop:
    """A drop-in session all day today, so that the check-in at the door can be tried at once."""
    return build(
        {
            "ref": "demo-permanence",
            "title": "Permanence numérique : ENT et Pronote",
            "starts_at": f"{today} 09:00",
            "ends_at": f"{today} 18:00",
            "capacity": "20",
            "topics": "ENT;Pronote;ÉduConnect",
            "languages": "fr;ar;tr",
            "venue_name": "Médiathèque Gulliver, espace numérique",
            "venue_address": "4 place de la Mairie, 93200 Saint-Denis",
            "description": "Venez quand vous voulez : on vous aide avec vos comptes.",
            "organiser": "Médiathèque Gulliver",
            "territory": "Saint-Denis",
            "status": "published",
        }
    )


# Demo parents: numbers of the range ARCEP keeps for fiction (06 39 98 xx xx), so that no real
# person is ever written to, and made-up Telegram chat ids. (ref, channel, language, people,
# status, attendance, autonomy answer)
DEMO_ENROLMENTS: tuple[tuple[str, str, str, int, str, str | None, str | None], ...] = (
    # Full (10 seats): two parents wait for a seat.
    ("demo-educonnect", "sms", "fr", 2, "confirmed", None, None),
    ("demo-educonnect", "sms", "tr", 1, "confirmed", None, None),
    ("demo-educonnect", "telegram", "tr", 2, "confirmed", None, None),
    ("demo-educonnect", "sms", "ar", 1, "confirmed", None, None),
    ("demo-educonnect", "sms", "fr", 1, "confirmed", None, None),
    ("demo-educonnect", "telegram", "pt", 2, "confirmed", None, None),
    ("demo-educonnect", "sms", "es", 1, "confirmed", None, None),
    ("demo-educonnect", "sms", "tr", 1, "waitlisted", None, None),
    ("demo-educonnect", "telegram", "ar", 2, "waitlisted", None, None),
    ("demo-pronote", "sms", "ar", 2, "confirmed", None, None),
    ("demo-pronote", "sms", "fr", 1, "confirmed", None, None),
    ("demo-pronote", "telegram", "ar", 1, "confirmed", None, None),
    ("demo-pronote", "sms", "fr", 2, "confirmed", None, None),
    ("demo-pronote", "sms", "tr", 1, "confirmed", None, None),
    ("demo-permanence", "sms", "ar", 1, "confirmed", "attended", None),
    ("demo-permanence", "sms", "fr", 2, "confirmed", "attended", None),
    ("demo-permanence", "telegram", "tr", 1, "confirmed", None, None),
    ("demo-permanence", "sms", "tr", 3, "confirmed", None, None),
    ("demo-permanence", "sms", "pt", 1, "confirmed", None, None),
    ("demo-permanence", "telegram", "fr", 1, "confirmed", None, None),
    ("demo-past-pronote", "sms", "ar", 2, "confirmed", "attended", "yes"),
    ("demo-past-pronote", "sms", "fr", 1, "confirmed", "attended", "yes"),
    ("demo-past-pronote", "telegram", "ar", 1, "confirmed", "attended", "not_yet"),
    ("demo-past-pronote", "sms", "fr", 1, "confirmed", "attended", None),
    ("demo-past-pronote", "sms", "tr", 2, "confirmed", "attended", "yes"),
    ("demo-past-pronote", "sms", "es", 1, "confirmed", "no_show", None),
    ("demo-past-pronote", "telegram", "fr", 1, "confirmed", "no_show", None),
    ("demo-past-pronote", "sms", "pt", 1, "confirmed", "excused", None),
    ("demo-past-educonnect", "sms", "tr", 1, "confirmed", "attended", "yes"),
    ("demo-past-educonnect", "sms", "tr", 2, "confirmed", "attended", "not_yet"),
    ("demo-past-educonnect", "telegram", "fr", 1, "confirmed", "attended", "yes"),
    ("demo-past-educonnect", "sms", "ar", 1, "confirmed", "attended", "yes"),
    ("demo-past-educonnect", "sms", "fr", 2, "confirmed", "no_show", None),
)
# Walk-ins at the past workshops: (ref, people, language).
DEMO_WALK_INS = (("demo-past-pronote", 2, "ar"), ("demo-past-educonnect", 1, "fr"))


async def add_demo(connection: AsyncConnection[Any], today: date, now: datetime) -> int:
    """The demo workshops, parents, enrolments, attendance and answers, in one transaction;
    returns how many workshops were added or refreshed. Parents are added only with workshops
    that did not exist yet, so running it twice does not double them."""
    workshops = [*demo_workshops(today), todays_demo_workshop(today), *past_demo_workshops(today)]
    existing = set(await store.load_by_refs(connection, [w.ref for w in workshops]))
    created, updated = await store.save(connection, workshops, now)
    cursor = await connection.execute(
        "SELECT ref, id FROM workshop WHERE ref = ANY(%s)", ([w.ref for w in workshops],)
    )
    ids = dict(await cursor.fetchall())
    for number, (ref, channel, language, people, status, attendance, answer) in enumerate(
        DEMO_ENROLMENTS
    ):
        if ref in existing:
            continue
        address = f"+336399801{number:02d}" if channel == "sms" else str(900_000_100 + number)
        cursor = await connection.execute(
            "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (channel, address) "
            "DO UPDATE SET language = EXCLUDED.language RETURNING id",
            (channel, address, language, now, now),
        )
        contact_id = (await cursor.fetchone() or (0,))[0]
        await connection.execute(
            "INSERT INTO conversation (contact_id, updated_at) VALUES (%s, %s) "
            "ON CONFLICT DO NOTHING",
            (contact_id, now),
        )
        cursor = await connection.execute(
            "INSERT INTO enrolment (workshop_id, contact_id, people, status, attendance, "
            "attendance_at, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                ids[ref],
                contact_id,
                people,
                status,
                attendance,
                now if attendance else None,
                now - timedelta(days=20),
                now,
            ),
        )
        enrolment_id = (await cursor.fetchone() or (0,))[0]
        if answer:
            await connection.execute(
                "INSERT INTO outcome (enrolment_id, kind, answer, recorded_at) "
                "VALUES (%s, 'autonomy', %s, %s)",
                (enrolment_id, answer, now),
            )
    for ref, people, language in DEMO_WALK_INS:
        if ref not in existing:
            await connection.execute(
                "INSERT INTO walk_in (workshop_id, people, language, created_at) "
                "VALUES (%s, %s, %s, %s)",
                (ids[ref], people, language, now),
            )
    return created + updated
