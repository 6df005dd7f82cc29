"""Workshops as organisers describe them: validation, CSV in and out, storage, demo data and
the `liaison workshops` command."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from babel.dates import format_date
from test_cli import run

from bot.assistant import Inbound
from channels.phone import timezone_of
from liaison.i18n import Catalogs
from workshops import csv_io, enrolment, store
from workshops.demo import demo_workshops
from workshops.records import InvalidWorkshop, build

OFFER = timedelta(hours=4)

ROW = {
    "ref": "w1",
    "title": "Pronote pas à pas",
    "starts_at": "2026-12-09 14:00",
    "ends_at": "2026-12-09 15:30",
    "capacity": "12",
    "topics": "pronote; ENT",
    "languages": "fr;ar",
    "venue_name": "Collège Jean Moulin",
    "venue_address": "12 rue des Écoles, Saint-Denis",
}


def test_a_valid_row_becomes_a_workshop_in_utc() -> None:
    workshop = build(ROW)

    assert workshop.starts_at == datetime(2026, 12, 9, 13, 0, tzinfo=UTC)  # Paris, winter
    assert workshop.topics == ("Pronote", "ENT")
    assert (workshop.languages, workshop.status, workshop.timezone) == (
        ("fr", "ar"),
        "draft",
        "Europe/Paris",
    )


def test_overseas_venues_keep_their_own_clock() -> None:
    workshop = build({**ROW, "timezone": "America/Guadeloupe", "starts_at": "09/12/2026 14:00"})
    assert workshop.starts_at == datetime(2026, 12, 9, 18, 0, tzinfo=UTC)
    assert workshop.local(workshop.starts_at).hour == 14


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        pytest.param({"title": ""}, "title: required", id="no-title"),
        pytest.param({"starts_at": "demain"}, "starts_at: 'demain' is not", id="bad-date"),
        pytest.param({"ends_at": "2026-12-09 13:00"}, "ends_at: must be after", id="ends-first"),
        pytest.param({"capacity": "0"}, "capacity: a number of seats", id="no-seats"),
        pytest.param({"capacity": "douze"}, "capacity: a number of seats", id="capacity-text"),
        pytest.param({"status": "open"}, "status: one of draft", id="status"),
        pytest.param({"topics": "Facebook"}, "topics: unknown tool 'Facebook'", id="topic"),
        pytest.param({"languages": "fr;de"}, "languages: ['de']", id="language"),
        pytest.param({"timezone": "Paris"}, "timezone: 'Paris' is not", id="timezone"),
        pytest.param(
            {"venue_name": "", "venue_address": ""},
            "venue_name, venue_address: a place",
            id="no-place",
        ),
        pytest.param({"online_url": "http://x.fr"}, "online_url: must start", id="plain-http"),
        pytest.param({"title": "x" * 121}, "title: longer than 120", id="long-title"),
        pytest.param({"ref": "atelier pronote"}, "ref: letters without accents", id="ref-space"),
        pytest.param({"ref": "a/b"}, "ref: letters without accents", id="ref-slash"),
        pytest.param({"ref": "éduc"}, "ref: letters without accents", id="ref-accent"),
        pytest.param({"ref": "Nouveau"}, "ref: 'Nouveau' is a reserved word", id="ref-reserved"),
    ],
)
def test_invalid_rows_say_what_is_wrong(changes: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidWorkshop) as raised:
        build({**ROW, **changes})
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


def test_every_problem_of_a_row_is_reported_at_once() -> None:
    with pytest.raises(InvalidWorkshop) as raised:
        build({**ROW, "title": "", "capacity": "-3", "status": "?"})
    assert len(raised.value.problems) == 3


def _csv(*rows: dict[str, str], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(ROW), delimiter=delimiter, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def test_csv_round_trip() -> None:
    workshops = csv_io.read(_csv(ROW, {**ROW, "ref": "w2", "topics": "educonect"}))
    again = csv_io.read(csv_io.write(workshops).encode("utf-8"))

    assert again == workshops
    assert workshops[1].topics == ("ÉduConnect",)


def test_csv_from_a_french_spreadsheet() -> None:
    data = b"\xef\xbb\xbf" + _csv(ROW, delimiter=";").replace(b"pronote, ENT", b"pronote")
    [workshop] = csv_io.read(data)
    assert workshop.title == "Pronote pas à pas"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param(b"", "the file is empty", id="empty"),
        pytest.param("ref,title\nw1,Café".encode("latin-1"), "the file is not UTF-8", id="latin-1"),
        pytest.param(b"ref,title,colour\n", "line 1: unknown column 'colour'", id="unknown-column"),
        pytest.param(b"ref,title\nw1,x\n", "line 1: missing column 'starts_at'", id="missing"),
        pytest.param(_csv(ROW, ROW), "line 3: ref 'w1' already on line 2", id="duplicate-ref"),
        pytest.param(
            _csv(ROW).replace(b'Saint-Denis"\n', b'Saint-Denis",extra\n'),
            "line 2: more cells",
            id="extra-cell",
        ),
        pytest.param(
            _csv(ROW, {**ROW, "ref": "w2", "capacity": "0"}),
            "line 3: capacity",
            id="bad-row",
        ),
    ],
)
def test_bad_files_import_nothing_and_say_where(data: bytes, problem: str) -> None:
    with pytest.raises(csv_io.InvalidFile) as raised:
        csv_io.read(data)
    assert any(p.startswith(problem) for p in raised.value.problems), raised.value.problems


async def test_saving_twice_updates_by_ref(database) -> None:
    ref = f"store-{datetime.now(UTC).timestamp()}"
    first = build({**ROW, "ref": ref})
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        assert await store.save(connection, [first], datetime.now(UTC)) == (1, 0)
        changed = build({**ROW, "ref": ref, "capacity": "20", "status": "published"})
        assert await store.save(connection, [changed], datetime.now(UTC)) == (0, 1)
        loaded = [w for w in await store.load(connection) if w.ref == ref]
    assert loaded == [changed]


def test_demo_workshops_are_upcoming_and_published() -> None:
    today = date(2026, 12, 6)  # a Sunday
    workshops = demo_workshops(today)

    assert len(workshops) == 4
    assert all(w.status == "published" for w in workshops)
    assert all(w.local(w.starts_at).date() > today for w in workshops)
    assert all(w.local(w.starts_at).weekday() != 6 for w in workshops)
    guadeloupe = next(w for w in workshops if w.timezone == "America/Guadeloupe")
    assert guadeloupe.local(guadeloupe.starts_at).hour == 15


def test_import_and_export_commands(database, tmp_path) -> None:
    ref = f"cli-{datetime.now(UTC).timestamp()}"
    path = tmp_path / "ateliers.csv"
    path.write_bytes(_csv({**ROW, "ref": ref}))
    env = {"DATABASE_URL": database.url}

    checked = run("workshops", "import", str(path), "--dry-run", env=env)
    assert checked.returncode == 0, checked.stderr
    assert "1 workshops, all valid" in checked.stdout
    imported = run("workshops", "import", str(path), env=env)
    assert "1 workshops added, 0 updated" in imported.stdout
    exported = run("workshops", "export", env=env)
    assert ref in exported.stdout and "2026-12-09 14:00" in exported.stdout

    path.write_bytes(_csv({**ROW, "ref": ref, "capacity": "0"}))
    refused = run("workshops", "import", str(path), env=env)
    assert refused.returncode == 1
    assert "nothing imported" in refused.stderr and "line 2: capacity" in refused.stderr


@pytest.fixture
async def demo(database, conversations):  # type: ignore[no-untyped-def]
    """The demo workshops in the database, and the assistant reading them afresh."""
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await store.save(connection, demo_workshops(date.today()), datetime.now(UTC))
    conversations.workshops.refresh()
    return conversations


async def _ask(conversations, sender: str, text: str, language: str | None = None) -> str:
    outcome = await conversations.handle(Inbound("web", sender, text, language_hint=language))
    return "\n".join(reply.text for reply in outcome.replies)


@pytest.mark.parametrize(
    ("language", "question", "heading"),
    [
        ("fr", "c'est quand le prochain atelier pour les parents ?", "Les prochains ateliers"),
        ("ar", "متى الورشة القادمة للآباء؟", "الورشات القادمة"),
        ("tr", "veli atölyesi ne zaman?", "Sonraki atölyeler"),
    ],
)
async def test_workshop_info_lists_the_next_workshops_in_the_parents_words(
    demo, sender, language, question, heading
) -> None:
    answer = await _ask(demo, sender, question, language)

    assert heading in answer
    pronote = next(w for w in demo_workshops(date.today()) if w.ref == "demo-pronote")
    day = format_date(pronote.local(pronote.starts_at), "full", locale=language)
    assert day in answer  # the day in the parent's language, on the venue's clock


async def test_the_tool_asked_about_comes_first(demo, sender) -> None:
    await _ask(demo, sender, "comment activer mon compte educonnect", "fr")
    answer = await _ask(demo, sender, "il y a des ateliers ?", "fr")

    listed = answer.split("Les prochains ateliers :", 1)[1]
    assert listed.strip().startswith("Créer son compte ÉduConnect")


async def test_no_upcoming_workshop_says_so(conversations, sender, database) -> None:
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await connection.execute("UPDATE workshop SET status = 'draft' WHERE status = 'published'")
        await connection.commit()
    conversations.workshops.refresh()
    try:
        answer = await _ask(conversations, sender, "c'est quand le prochain atelier ?", "fr")
    finally:
        conversations.workshops.refresh()
    assert "Pas d'atelier prévu pour le moment." in answer


async def test_workshops_in_the_parents_time_zone_come_first(demo, sender) -> None:
    inbound = Inbound("web", sender, "prochain atelier pronote ?", timezone="America/Guadeloupe")
    outcome = await demo.handle(inbound)
    answer = "\n".join(reply.text for reply in outcome.replies)

    listed = answer.split("Les prochains ateliers :", 1)[1]
    assert listed.strip().startswith("Pronote pour les parents\n")  # the one in Pointe-à-Pitre
    assert "15:00–16:30" in listed  # on the venue's clock


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+33612345678", "Europe/Paris"),
        ("+590690123456", "America/Guadeloupe"),
        ("+262692123456", "Indian/Reunion"),
        ("+447700900123", None),
    ],
)
def test_time_zone_of_a_number(number: str, zone: str | None) -> None:
    assert timezone_of(number) == zone


ENROL_FLOW = {
    # language: (ask to enrol, "yes", my enrolments, cancel, expected words at each step)
    "fr": (
        "je veux m'inscrire à un atelier",
        "oui",
        "mes inscriptions",
        "annuler mon inscription",
        ["Pour quel atelier ?", "Combien de personnes", "D'accord ?", "est réservée"],
    ),
    "ar": (
        "أريد التسجيل في ورشة",
        "نعم",
        "ما هي الورشات التي سجلت فيها",
        "إلغاء الحجز",
        ["أي ورشة؟", "كم شخصا", "هل توافقون؟", "محجوز"],
    ),
    "tr": (
        "atölyeye kaydolmak istiyorum",
        "evet",
        "kayıtlarım neler",
        "kaydımı iptal etmek istiyorum",
        ["Hangi atölye?", "kaç kişi", "Tamam mı?", "yeriniz ayrıldı"],
    ),
}


async def _enrolment_of(database, sender: str) -> list[tuple[str, int]]:
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        cursor = await connection.execute(
            "SELECT e.status, e.people FROM enrolment e JOIN contact c ON c.id = e.contact_id "
            "WHERE c.address = %s ORDER BY e.id",
            (sender,),
        )
        return list(await cursor.fetchall())


@pytest.mark.parametrize("language", list(ENROL_FLOW))
async def test_enrol_list_and_cancel_by_numbers(demo, database, sender, language) -> None:
    ask, yes, mine, cancel, steps = ENROL_FLOW[language]
    await _ask(demo, sender, "bonjour", language)

    choose = await _ask(demo, sender, ask, language)
    assert steps[0] in choose
    how_many = await _ask(demo, sender, "1", language)  # the first workshop offered
    assert steps[1] in how_many
    confirm = await _ask(demo, sender, "2", language)  # two people
    assert steps[2] in confirm
    done = await _ask(demo, sender, yes, language)  # typed "yes" takes the confirm button
    assert steps[3] in done
    assert await _enrolment_of(database, sender) == [("confirmed", 2)]

    listed = await _ask(demo, sender, mine, language)
    titles = [w.title for w in demo_workshops(date.today()) if w.title in listed]
    assert len(titles) == 1 and ": 2" in listed  # the one workshop, for two people

    question = await _ask(demo, sender, cancel, language)
    assert "{title}" not in question
    await _ask(demo, sender, "1", language)  # "Yes, cancel"
    assert await _enrolment_of(database, sender) == [("cancelled", 2)]


async def test_a_full_workshop_puts_the_parent_on_the_waiting_list(demo, database, sender):
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await connection.execute("UPDATE workshop SET capacity = 1 WHERE ref = 'demo-pronote'")
        await connection.execute(
            "DELETE FROM enrolment WHERE workshop_id = (SELECT id FROM workshop "
            "WHERE ref = 'demo-pronote')"
        )
        await connection.commit()
    first, second = f"{sender}-a", f"{sender}-b"
    payload = '/workshop_enrol{"workshop": "demo-pronote", "people": "1", "confirm": "yes"}'
    for parent in (first, second):
        await _ask(demo, parent, "bonjour", "fr")
    assert "est réservée" in await _ask(demo, first, payload, "fr")
    assert "liste d'attente" in await _ask(demo, second, payload, "fr")
    assert await _enrolment_of(database, second) == [("waitlisted", 1)]


async def test_enrolling_is_offered_as_numbered_choices_over_sms(demo, channel_runtime, sender):
    from channels.sms import SmsChannel

    sms = SmsChannel(
        conversations=demo,
        auth_token="x",
        public_url="http://127.0.0.1",
        max_segments=channel_runtime.config.sms.max_segments,
    )
    await _ask(demo, sender, "bonjour", "fr")
    outcome = await demo.handle(Inbound("web", sender, "je veux m'inscrire à un atelier"))
    with channel_runtime.catalogs.use("fr"):
        bodies = [m.body for m in sms.outgoing(outcome.replies)]
    assert any("Répondez 1" in body for body in bodies)


async def test_no_enrolment_to_list_or_cancel(demo, sender) -> None:
    await _ask(demo, sender, "bonjour", "fr")
    assert "pas d'inscription" in await _ask(demo, sender, "mes inscriptions", "fr")
    assert "pas d'inscription" in await _ask(demo, sender, "annuler mon inscription", "fr")


@pytest.fixture
async def sms_conversations(demo, database):  # type: ignore[no-untyped-def]
    """The assistant with SMS replies (and seat offers) going to the outbox."""
    from channels.sms import outgoing_sms

    demo.outbox["sms"] = lambda replies: outgoing_sms(replies, 3)
    try:
        yield demo
    finally:
        demo.outbox.pop("sms", None)


async def _texted(conversations, phone: str, text: str) -> None:
    await conversations.handle(Inbound("sms", phone, text))


async def _outbox(database, phone: str) -> list[str]:
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        cursor = await connection.execute(
            "SELECT body FROM outbound_message WHERE address = %s ORDER BY id", (phone,)
        )
        return [row[0] for row in await cursor.fetchall()]


async def test_a_freed_seat_is_offered_by_sms_and_taken_with_oui(
    sms_conversations, database, phone
) -> None:
    first, waiting = phone, phone[:-1] + str((int(phone[-1]) + 1) % 10)
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await connection.execute("UPDATE workshop SET capacity = 1 WHERE ref = 'demo-educonnect'")
        await connection.execute(
            "DELETE FROM enrolment WHERE workshop_id = "
            "(SELECT id FROM workshop WHERE ref = 'demo-educonnect')"
        )
        await connection.commit()
    enrol = '/workshop_enrol{"workshop": "demo-educonnect", "people": "1", "confirm": "yes"}'
    for parent in (first, waiting):
        await _texted(sms_conversations, parent, "bonjour")
        await _texted(sms_conversations, parent, enrol)
    assert await _enrolment_of(database, waiting) == [("waitlisted", 1)]

    await _texted(sms_conversations, first, "annuler mon inscription")
    await _texted(sms_conversations, first, "oui")  # "Oui, annuler"
    assert await _enrolment_of(database, first) == [("cancelled", 1)]

    sent = await _outbox(database, waiting)
    offer = "\n".join(sent[next(i for i, b in enumerate(sent) if "Bonne nouvelle" in b) :])
    assert offer.startswith("Bonne nouvelle") and "1. Oui, je prends la place" in offer
    await _texted(sms_conversations, waiting, "OUI")
    assert await _enrolment_of(database, waiting) == [("confirmed", 1)]
    assert "est réservée" in "\n".join((await _outbox(database, waiting))[-3:])


async def test_expired_offers_move_to_the_next_parent(database, pool) -> None:
    from channels.sms import outgoing_sms
    from workshops import offers
    from workshops.enrolment import cancel, enrol, expire_offers

    ref = f"offers-{datetime.now(UTC).timestamp()}"
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=5)
    workshop = build(
        {
            **ROW,
            "ref": ref,
            "capacity": "1",
            "status": "published",
            "timezone": "UTC",
            "starts_at": start.strftime("%Y-%m-%d %H:%M"),
            "ends_at": (start + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"),
        }
    )
    now = datetime.now(UTC)
    numbers = [f"+3361{n}{int(now.timestamp()) % 1000000:06d}" for n in range(3)]
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await store.save(connection, [workshop], now)
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
        (workshop_id,) = await cursor.fetchone()
        contacts = []
        for number in numbers:
            cursor = await connection.execute(
                "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
                "VALUES ('sms', %s, 'tr', %s, %s) RETURNING id",
                (number, now, now),
            )
            contacts.append((await cursor.fetchone())[0])
        for contact in contacts:
            await enrol(connection, workshop_id=workshop_id, contact_id=contact, people=1, now=now)
        _, made = await cancel(
            connection, workshop_id=workshop_id, contact_id=contacts[0], now=now, offer_for=OFFER
        )
        later = now + OFFER + timedelta(minutes=1)
        _, moved = await expire_offers(connection, now=later, offer_for=OFFER)
        mine = [m for m in moved if m.workshop_id == workshop_id]
        catalogs = Catalogs.load(["fr", "tr"])
        sent = await offers.announce(
            connection,
            mine,
            now=later,
            renderers={"sms": lambda replies: outgoing_sms(replies, 3)},
            catalogs=catalogs,
            default_language="fr",
        )
        await connection.commit()
    assert [m.contact_id for m in made] == [contacts[1]]
    assert [m.contact_id for m in mine] == [contacts[2]] and sent == 1
    message = "\n".join(await _outbox(database, numbers[2]))
    assert message.startswith("Güzel haber")  # in the parent's language


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?atelier=demo-pronote", 'data-workshop="demo-pronote"'),
        ("?atelier=%3Cscript%3E", 'data-workshop=""'),
        ("", 'data-workshop=""'),
    ],
)
async def test_invitation_link_opens_the_chat_on_the_workshop(
    live_server_url, query: str, expected: str
) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        page = await client.get(live_server_url + "/" + query)
    assert page.status_code == 200 and expected in page.text


@pytest.mark.parametrize(
    ("text", "payload"),
    [
        ("/start workshop_demo-pronote", '/workshop_enrol{"workshop": "demo-pronote"}'),
        ("/start workshops", "/workshop_info"),
        ("/start", "/greet"),
    ],
)
def test_telegram_invitation_deep_link(text: str, payload: str) -> None:
    from channels.telegram import _start_payload

    assert _start_payload(text) == payload


async def test_an_invitation_payload_goes_straight_to_how_many(demo, sender) -> None:
    answer = await _ask(demo, sender, '/workshop_enrol{"workshop": "demo-pronote"}', "fr")
    assert "Combien de personnes" in answer


def test_demo_command_adds_the_demo_workshops(database) -> None:
    """What `make run` (`liaison run --demo`) adds to an empty database."""
    env = {"DATABASE_URL": database.url}
    added = run("workshops", "demo", env=env)
    assert added.returncode == 0, added.stderr
    assert "7 demo workshops" in added.stdout
    exported = run("workshops", "export", env=env).stdout
    assert all(ref in exported for ref in ("demo-pronote", "demo-guadeloupe", "demo-past-pronote"))
    with psycopg.connect(database.url) as connection:  # the demo parents leave with the test
        connection.execute(
            "DELETE FROM enrolment WHERE workshop_id IN "
            "(SELECT id FROM workshop WHERE ref LIKE 'demo-%%')"
        )


async def test_import_command_keeps_the_promises_made_to_parents(
    database, conversations, phone, tmp_path
) -> None:
    """A CSV import is a change like the staff page's: capacity never below the seats taken."""
    ref = f"cli-promise-{datetime.now(UTC).timestamp():.0f}"
    row = {**ROW, "ref": ref, "status": "published", "starts_at": "2031-06-04 14:00"}
    row["ends_at"] = "2031-06-04 15:30"
    await conversations.handle(Inbound("sms", phone, "bonjour"))
    async with await psycopg.AsyncConnection.connect(database.url) as connection:
        await store.save(connection, [build(row)], datetime.now(UTC))
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
        (workshop_id,) = await cursor.fetchone()
        cursor = await connection.execute("SELECT id FROM contact WHERE address = %s", (phone,))
        (contact_id,) = await cursor.fetchone()
        await enrolment.enrol(
            connection,
            workshop_id=workshop_id,
            contact_id=contact_id,
            people=3,
            now=datetime.now(UTC),
        )
    path = tmp_path / "ateliers.csv"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row), lineterminator="\n")
    writer.writeheader()
    writer.writerow({**row, "capacity": "2"})
    path.write_bytes(out.getvalue().encode())
    refused = run("workshops", "import", str(path), env={"DATABASE_URL": database.url})
    assert refused.returncode == 1
    assert "nothing imported" in refused.stderr and "line 2" in refused.stderr
    assert "places déjà prises (3)" in refused.stderr
