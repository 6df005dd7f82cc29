"""Follow-ups after a workshop: when they fall (Sundays, holidays, Guadeloupe), who gets what
(attended, no-show, excused, unknown, opted out, cancelled workshop), sent once however often
and however many schedulers run, and the autonomy check answered by numbers over SMS in the
parent's language, recorded as outcomes."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from bot.assistant import Inbound
from bot.content import load_faq
from bot.nlu.entities import TOOLS
from bot.store import Conversations
from channels.sms import outgoing_sms
from liaison.i18n import Catalogs
from workshops import enrolment, store
from workshops.followups import (
    AUTONOMY,
    DAY_AFTER,
    LOOKBACK,
    RESOURCES,
    Schedule,
    due,
    resources,
    send_due,
)
from workshops.quiet_hours import QuietHours
from workshops.records import Workshop, build

FAQ = load_faq()
CATALOGS = Catalogs.load(["fr", "ar", "tr"])
SMS = {"sms": lambda replies: outgoing_sms(replies, 3)}
OPTIONS = {
    "schedule": Schedule(),
    "quiet": QuietHours(),
    "renderers": SMS,
    "catalogs": CATALOGS,
    "faq": FAQ,
    "default_language": "fr",
}


def _workshop(
    start: str,
    *,
    timezone: str = "Europe/Paris",
    ref: str = "f1",
    topics: str = "Pronote",
    status: str = "published",
    title: str = "Pronote pas à pas",
) -> Workshop:
    begin = datetime.fromisoformat(start)
    return build(
        {
            "ref": ref,
            "title": title,
            "starts_at": start,
            "ends_at": (begin + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
            "timezone": timezone,
            "capacity": "10",
            "status": status,
            "topics": topics,
            "languages": "fr;ar;tr",
            "venue_name": "Collège",
            "venue_address": "1 rue de l'École",
        }
    )


def _local(moments: list[tuple[str, datetime]], zone: str) -> list[tuple[str, str]]:
    return [(kind, m.astimezone(ZoneInfo(zone)).strftime("%a %d %H:%M")) for kind, m in moments]


# -- when ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(
            "2027-01-12 18:00", [(DAY_AFTER, "Wed 13 10:00"), (AUTONOMY, "Tue 19 10:00")], id="tue"
        ),
        # Saturday's workshop: Sunday is a rest day, the thanks waits for Monday morning.
        pytest.param(
            "2027-01-09 10:00", [(DAY_AFTER, "Mon 11 10:00"), (AUTONOMY, "Sat 16 10:00")], id="sat"
        ),
        # The day after is Ascension Thursday.
        pytest.param(
            "2027-05-05 18:00",
            [(DAY_AFTER, "Fri 07 10:00"), (AUTONOMY, "Wed 12 10:00")],
            id="ascension",
        ),
        pytest.param(
            "2026-12-24 14:00", [(DAY_AFTER, "Sat 26 10:00"), (AUTONOMY, "Thu 31 10:00")], id="xmas"
        ),
        # Day 7 is 8 May (a holiday) then a Sunday: the check waits for Monday.
        pytest.param(
            "2027-05-01 10:00", [(DAY_AFTER, "Mon 03 10:00"), (AUTONOMY, "Mon 10 10:00")], id="8may"
        ),
    ],
)
def test_when_followups_fall(start: str, expected: list[tuple[str, str]]) -> None:
    moments = due(_workshop(start), "attended", Schedule(), QuietHours())
    assert _local(moments, "Europe/Paris") == expected


def test_a_guadeloupe_workshop_is_followed_up_on_guadeloupe_time_and_holidays() -> None:
    # 27 May (Abolition of Slavery) is a holiday in Guadeloupe, not in Paris.
    here = due(_workshop("2027-05-26 18:00"), "attended", Schedule(), QuietHours())
    there = due(
        _workshop("2027-05-26 18:00", timezone="America/Guadeloupe"),
        "attended",
        Schedule(),
        QuietHours(),
    )
    assert _local(here, "Europe/Paris")[0] == (DAY_AFTER, "Thu 27 10:00")
    assert _local(there, "America/Guadeloupe")[0] == (DAY_AFTER, "Fri 28 10:00")
    assert there[0][1] == datetime(2027, 5, 28, 14, 0, tzinfo=UTC)


def test_each_attendance_has_its_followups() -> None:
    workshop = _workshop("2027-01-12 18:00")
    kinds = {
        attendance: [kind for kind, _ in due(workshop, attendance, Schedule(), QuietHours())]
        for attendance in ("attended", "no_show", "excused", None)
    }
    assert kinds == {
        "attended": [DAY_AFTER, AUTONOMY],
        "no_show": [DAY_AFTER],
        "excused": [],
        None: [],
    }


def test_the_hour_and_the_day_of_the_check_come_from_the_schedule() -> None:
    schedule = Schedule(hour=time(21, 0), autonomy_after_days=3)
    moments = due(_workshop("2027-01-12 18:00"), "attended", schedule, QuietHours())
    # 21:00 is in the night: the next morning at 08:00.
    assert _local(moments, "Europe/Paris") == [
        (DAY_AFTER, "Thu 14 08:00"),
        (AUTONOMY, "Sat 16 08:00"),
    ]


def test_every_tool_has_resources_that_exist() -> None:
    assert set(RESOURCES) == set(TOOLS)
    assert all(intent in FAQ for intents in RESOURCES.values() for intent in intents)
    both = _workshop("2027-01-12 18:00", topics="Pronote;ENT")
    assert resources(both, FAQ) == ["faq_pronote_grades", "faq_ent_login", "faq_homework"]


# -- who gets what ---------------------------------------------------------------------------


def _number() -> str:
    return "+336" + str(uuid.uuid4().int)[:8]


async def _contact(
    connection: psycopg.AsyncConnection,
    *,
    channel: str = "sms",
    language: str | None = "fr",
    opted_out: bool = False,
    address: str | None = None,
) -> tuple[int, str]:
    address = address or (_number() if channel == "sms" else f"web-{uuid.uuid4()}")
    now = datetime.now(UTC)
    cursor = await connection.execute(
        "INSERT INTO contact (channel, address, language, created_at, last_seen_at, opted_out_at)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
        (channel, address, language, now, now, now if opted_out else None),
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0]), address


async def _save(connection: psycopg.AsyncConnection, workshop: Workshop) -> int:
    await store.save(connection, [workshop], datetime.now(UTC))
    cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (workshop.ref,))
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _enrol(
    connection: psycopg.AsyncConnection,
    workshop: Workshop,
    workshop_id: int,
    contact_id: int,
    attendance: str | None,
) -> int:
    made = await enrolment.enrol(
        connection,
        workshop_id=workshop_id,
        contact_id=contact_id,
        people=1,
        now=workshop.starts_at - timedelta(days=3),
    )
    await connection.execute(
        "UPDATE enrolment SET attendance = %s WHERE id = %s", (attendance, made.id)
    )
    return made.id


async def _bodies(pool, address: str) -> list[str]:  # type: ignore[no-untyped-def]
    """What was queued for `address`, on any channel (a long message is several SMS)."""
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT body FROM outbound_message WHERE address = %s ORDER BY id", (address,)
        )
        return [row[0] for row in await cursor.fetchall()]


async def _text(pool, address: str) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(await _bodies(pool, address))


def _ref(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:8]}"


async def test_each_parent_gets_what_fits_their_attendance(database, pool) -> None:
    # On La Réunion's clock, so that no other test's workshop is among the next sessions.
    zone = "Indian/Reunion"
    workshop = _workshop("2025-03-04 18:00", timezone=zone, ref=_ref("fu-main"))
    later = _workshop("2025-03-18 18:00", timezone=zone, ref=_ref("fu-later"), title="Pronote, 2e")
    lonely = _workshop("2025-03-04 18:00", timezone=zone, ref=_ref("fu-sk"), topics="Skolengo")
    called_off = _workshop("2025-03-04 18:00", timezone=zone, ref=_ref("fu-x"))
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        ids = {w.ref: await _save(connection, w) for w in (workshop, later, lonely, called_off)}
        parents: dict[str, str] = {}
        for name, attendance in [
            ("attended", "attended"),
            ("no_show", "no_show"),
            ("excused", "excused"),
            ("unknown", None),
        ]:
            contact_id, parents[name] = await _contact(connection)
            await _enrol(connection, workshop, ids[workshop.ref], contact_id, attendance)
        contact_id, parents["opted_out"] = await _contact(connection, opted_out=True)
        await _enrol(connection, workshop, ids[workshop.ref], contact_id, "attended")
        contact_id, parents["web"] = await _contact(connection, channel="web")
        await _enrol(connection, workshop, ids[workshop.ref], contact_id, "attended")
        contact_id, parents["no_show_no_later"] = await _contact(connection)
        await _enrol(connection, lonely, ids[lonely.ref], contact_id, "no_show")
        contact_id, parents["cancelled"] = await _contact(connection)
        await _enrol(connection, called_off, ids[called_off.ref], contact_id, "attended")
        cancelled = replace(called_off, status="cancelled")
        await store.save(connection, [cancelled], datetime.now(UTC))
        await connection.commit()

        (_, day_after), (_, day_seven) = due(workshop, "attended", Schedule(), QuietHours())
        await send_due(connection, now=day_after + timedelta(minutes=1), **OPTIONS)
        await connection.commit()
        after_one_day = {name: await _text(pool, address) for name, address in parents.items()}
        await send_due(connection, now=day_seven + timedelta(minutes=1), **OPTIONS)
        await connection.commit()
        after_a_week = {name: await _text(pool, address) for name, address in parents.items()}

    thanks = after_one_day["attended"]
    assert thanks.startswith("Merci pour votre participation à l'atelier « Pronote pas à pas » !")
    assert "1. Voir les notes" in thanks and "Répondez 1, 2 ou 3." in thanks
    missed = after_one_day["no_show"]
    assert missed.startswith("Vous n'avez pas pu venir à l'atelier « Pronote pas à pas »")
    assert "1. Pronote, 2e, 18 mars 18:00" in missed and "2. Parler à une personne" in missed
    alone = after_one_day["no_show_no_later"]
    assert "Une personne de l'école peut vous aider." in alone
    assert "1. Parler à une personne" in alone
    for name in ("excused", "unknown", "opted_out", "web", "cancelled"):
        assert after_a_week[name] == "", name

    check = after_a_week["attended"].removeprefix(thanks).strip()
    assert check.startswith(
        "Bonjour ! Depuis l'atelier, avez-vous réussi à vous connecter à « Pronote » sans aide ?"
    )
    assert "1. Oui\n2. Pas encore" in check
    assert after_a_week["no_show"] == missed  # no autonomy check for someone who did not come


async def test_sent_once_however_often_and_however_many_schedulers_run(database, pool) -> None:
    workshop = _workshop("2025-03-18 18:00", ref=_ref("fu-once"))
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        workshop_id = await _save(connection, workshop)
        attended_id, attended = await _contact(connection)
        enrolment_id = await _enrol(connection, workshop, workshop_id, attended_id, "attended")
        no_show_id, no_show = await _contact(connection)
        await _enrol(connection, workshop, workshop_id, no_show_id, "no_show")
        await connection.commit()
    (_, day_after), _ = due(workshop, "attended", Schedule(), QuietHours())
    now = day_after + timedelta(minutes=1)

    async def scheduler() -> int:
        async with await psycopg.AsyncConnection.connect(database.url) as connection:
            queued = await send_due(connection, now=now, **OPTIONS)
            await connection.commit()
            return queued

    racing = await asyncio.gather(scheduler(), scheduler())
    again = await scheduler()

    assert sum(racing) == 2 and again == 0
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT idempotency_key FROM outbound_message WHERE address = ANY(%s) ORDER BY id",
            ([attended, no_show],),
        )
        keys = [row[0] for row in await cursor.fetchall()]
    # One message each (the thanks takes two SMS): nothing twice.
    assert len(keys) == len(set(keys)) and len(keys) >= 2
    assert f"followup:{enrolment_id}:day_after:0" in keys
    assert "Merci pour votre participation" in await _text(pool, attended)
    assert "Vous n'avez pas pu venir" in await _text(pool, no_show)


async def test_late_ones_wait_for_the_morning_and_old_ones_are_dropped(database, pool) -> None:
    workshop = _workshop("2025-04-01 18:00", ref=_ref("fu-late"))  # a Tuesday
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        workshop_id = await _save(connection, workshop)
        contact_id, late = await _contact(connection)
        await _enrol(connection, workshop, workshop_id, contact_id, "attended")
        await connection.commit()
        (_, day_after), (_, day_seven) = due(workshop, "attended", Schedule(), QuietHours())
        paris = ZoneInfo("Europe/Paris")
        at_night = datetime(2025, 4, 2, 21, 30, tzinfo=paris)  # attendance entered late
        next_morning = datetime(2025, 4, 3, 8, 0, tzinfo=paris)
        queued = [
            await send_due(connection, now=at_night, **OPTIONS),
            await send_due(connection, now=next_morning, **OPTIONS),
            # The autonomy check, two days and an hour too late: dropped.
            await send_due(connection, now=day_seven + LOOKBACK + timedelta(hours=1), **OPTIONS),
        ]
        await connection.commit()
    assert day_after.astimezone(paris).strftime("%a %d %H:%M") == "Wed 02 10:00"
    assert queued == [0, 1, 0]
    assert (await _text(pool, late)).startswith("Merci pour votre participation")
    assert "Bonjour" not in await _text(pool, late)


# -- the answers -----------------------------------------------------------------------------

ANSWERS = {
    # language: (the question's choices, what "1" answers, what "2" answers)
    "fr": ("1. Oui\n2. Pas encore", "Bravo !", "Pas de souci"),
    "ar": ("1. نعم\n2. ليس بعد", "أحسنتم!", "لا مشكلة"),
    "tr": ("1. Evet\n2. Henüz değil", "Tebrikler!", "Sorun değil"),
}
MAYOTTE = "Indian/Mayotte"  # no other test has workshops there
NEXT = "fu-next-mayotte"  # the next Pronote session there


@pytest.fixture
async def sms_conversations(database, pool, runtime):  # type: ignore[no-untyped-def]
    """The assistant with SMS replies rendered and queued, as the SMS channel does, and a
    Pronote session to come in Mayotte (put back to draft afterwards: other tests list the
    upcoming workshops)."""
    later = datetime.now(UTC).astimezone(ZoneInfo(MAYOTTE)) + timedelta(days=30)
    next_one = _workshop(
        later.strftime("%Y-%m-%d 18:00"), timezone=MAYOTTE, ref=NEXT, title="Suite"
    )
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await _save(connection, next_one)
    yield Conversations(pool, runtime.assistant, outbox=dict(SMS))
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await connection.execute("UPDATE workshop SET status = 'draft' WHERE ref = %s", (NEXT,))


async def _checked(database, conversations, language: str) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """A parent who came to a Pronote workshop and was just asked the autonomy check."""
    phone = _number()
    await conversations.handle(Inbound("sms", phone, "bonjour"))
    start = datetime.now(UTC).astimezone(ZoneInfo(MAYOTTE)) - timedelta(days=8)
    workshop = _workshop(start.strftime("%Y-%m-%d 18:00"), timezone=MAYOTTE, ref=_ref("fu-ask"))
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        workshop_id = await _save(connection, workshop)
        cursor = await connection.execute(
            "UPDATE contact SET language = %s WHERE address = %s RETURNING id", (language, phone)
        )
        (contact_id,) = await cursor.fetchone() or (0,)
        enrolment_id = await _enrol(connection, workshop, workshop_id, contact_id, "attended")
        _, (_, day_seven) = due(workshop, "attended", Schedule(), QuietHours())
        await send_due(connection, now=day_seven + timedelta(minutes=1), **OPTIONS)
        await connection.commit()
    conversations.workshops.refresh()
    return phone, enrolment_id


async def _outcomes(pool, enrolment_id: int) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT kind, answer FROM outcome WHERE enrolment_id = %s ORDER BY id",
            (enrolment_id,),
        )
        return [(kind, answer) for kind, answer in await cursor.fetchall()]


@pytest.mark.parametrize("language", list(ANSWERS))
async def test_yes_by_number_is_recorded_and_answered_in_the_parents_language(
    database, pool, sms_conversations, language
) -> None:
    choices, yes, _not_yet = ANSWERS[language]
    phone, enrolment_id = await _checked(database, sms_conversations, language)
    assert choices in await _text(pool, phone)  # the check, numbered, in their language

    outcome = await sms_conversations.handle(Inbound("sms", phone, "1"))

    assert outcome.replies[0].text.startswith(yes)
    assert (await _text(pool, phone)).endswith(outcome.replies[0].text)  # queued as an SMS
    assert await _outcomes(pool, enrolment_id) == [("autonomy", "yes")]


@pytest.mark.parametrize("language", list(ANSWERS))
async def test_not_yet_by_number_offers_the_next_session_or_a_person(
    database, pool, sms_conversations, language
) -> None:
    _choices, _yes, not_yet = ANSWERS[language]
    phone, enrolment_id = await _checked(database, sms_conversations, language)

    outcome = await sms_conversations.handle(Inbound("sms", phone, "2"))

    (reply,) = outcome.replies
    assert reply.text.startswith(not_yet)
    payloads = [button.payload for button in reply.buttons]
    assert payloads == [f'/workshop_enrol{{"workshop": "{NEXT}"}}', "/human_handover"]
    assert await _outcomes(pool, enrolment_id) == [("autonomy", "not_yet")]
    # "1" now enrols in the next session.
    enrol = await sms_conversations.handle(Inbound("sms", phone, "1"))
    assert enrol.intent == "workshop_enrol"


async def test_typed_answers_count_and_the_latest_answer_is_a_new_row(
    database, pool, sms_conversations
) -> None:
    phone, enrolment_id = await _checked(database, sms_conversations, "fr")
    await sms_conversations.handle(Inbound("sms", phone, "non"))
    again = f'/affirm{{"followup": "autonomy", "enrolment": "{enrolment_id}", "confirm": "yes"}}'
    outcome = await sms_conversations.handle(Inbound("sms", phone, again))

    assert outcome.replies[0].text.startswith("Bravo !")
    assert await _outcomes(pool, enrolment_id) == [("autonomy", "not_yet"), ("autonomy", "yes")]

    other_phone, other_enrolment = await _checked(database, sms_conversations, "fr")
    await sms_conversations.handle(Inbound("sms", other_phone, "oui"))
    assert await _outcomes(pool, other_enrolment) == [("autonomy", "yes")]


@pytest.mark.parametrize(
    "forged",
    [
        '/affirm{{"followup": "autonomy", "enrolment": "{other}", "confirm": "yes"}}',
        '/deny{{"followup": "autonomy", "enrolment": "{other}"}}',
        '/deny{{"followup": "autonomy", "enrolment": "abc{other}"}}',
        '/deny{{"followup": "satisfaction", "enrolment": "{other}"}}',
    ],
)
async def test_a_forged_answer_records_nothing(database, pool, sms_conversations, forged) -> None:
    _victim, other = await _checked(database, sms_conversations, "fr")
    phone = _number()  # someone else, who was asked nothing
    await sms_conversations.handle(Inbound("sms", phone, "bonjour"))

    outcome = await sms_conversations.handle(Inbound("sms", phone, forged.format(other=other)))

    assert outcome.replies[0].text == "Désolé, je ne trouve pas cet atelier dans vos inscriptions."
    assert "outcome:unknown" in outcome.events
    assert await _outcomes(pool, other) == []


async def test_plain_yes_and_no_still_do_what_they_did(conversations, sender) -> None:
    await conversations.handle(Inbound("web", sender, "bonjour", language_hint="fr"))
    yes = await conversations.handle(Inbound("web", sender, "oui", language_hint="fr"))
    no = await conversations.handle(Inbound("web", sender, "non", language_hint="fr"))

    assert yes.replies[0].text == "Très bien. Quelle est votre question ?"
    assert no.replies[0].text.startswith("D'accord. Je reste là")
