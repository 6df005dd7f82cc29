"""Broadcasts: the audience (levels, classes, languages, channels, segments, one message per
family, opted-out contacts apart), texts per language with the French fallback flagged, the
preview's SMS segments, scheduling out of quiet hours in each school's time zone, the urgent
bypass, idempotency, figures; and 10,000 families across 3 schools and 6 languages while
replies to other parents still pass ahead."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from broadcast_helpers import fetch, join, new_broadcast, new_family, new_school
from outbox_helpers import new_contact, queue, worker_environment

from broadcasts import audience, figures, preview, records, replies, sending
from broadcasts.records import Audience
from liaison.jobs import renderers_for
from liaison.settings import ROOT
from workshops.quiet_hours import QuietHours

# A Tuesday: 10:00 in Paris, 05:00 in Guadeloupe (night), 12:00 UTC is 08:00 there.
TUESDAY = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
QUIET = QuietHours()


@pytest.fixture(autouse=True)
async def _finish_broadcasts(pool):  # type: ignore[no-untyped-def]
    """No notice of a test is left due for a later test or a worker."""
    yield
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE broadcast SET status = 'cancelled' WHERE status IN ('scheduled', 'sending')"
        )


@pytest.fixture
def tools(runtime):  # type: ignore[no-untyped-def]
    return {
        "renderers": renderers_for(runtime.config),
        "catalogs": runtime.catalogs,
        "default_language": "fr",
    }


async def _send_due(pool, tools, now: datetime) -> int:  # type: ignore[no-untyped-def]
    async with pool.connection() as connection:
        return await sending.send_due(connection, now=now, quiet=QUIET, **tools)


async def _schedule(pool, broadcast_id: int, at: datetime, *, urgent: bool = False) -> None:  # type: ignore[no-untyped-def]
    async with pool.connection() as connection:
        await sending.schedule(connection, broadcast_id, at=at, urgent=urgent)


async def _resolve(pool, schools: list[int], chosen: Audience):  # type: ignore[no-untyped-def]
    async with pool.connection() as connection:
        return await audience.resolve(connection, schools, chosen, default_language="fr")


# -- audience --------------------------------------------------------------------------------


async def test_audience_by_level_class_language_and_channel(pool) -> None:
    school, other = await new_school(pool), await new_school(pool)
    a, _ = await new_family(pool, school, level="6e", class_name="6eA", language="ar")
    b, _ = await new_family(pool, school, level="6e", class_name="6eB", language="tr")
    c, _ = await new_family(
        pool,
        school,
        level="5e",
        class_name="5eA",
        language=None,
        preferred="telegram",
        contacts=(("sms", False, "pt"), ("telegram", False, "es")),
    )
    d, _ = await new_family(pool, other, level="6e", class_name="6eA", language="fr")

    def families(rows) -> set[int]:  # type: ignore[no-untyped-def]
        return {row[0] for row in rows}

    assert families(await _resolve(pool, [school], Audience())) == {a, b, c}
    assert families(await _resolve(pool, [school, other], Audience())) == {a, b, c, d}
    assert families(await _resolve(pool, [school], Audience(levels=("6e",)))) == {a, b}
    assert families(await _resolve(pool, [school], Audience(classes=("6eB", "5eA")))) == {b, c}
    assert families(await _resolve(pool, [school], Audience(languages=("ar", "es")))) == {a, c}
    assert families(await _resolve(pool, [school], Audience(channels=("telegram",)))) == {c}
    # The preferred channel wins, and the language is the family's, else the contact's.
    [row] = [r for r in await _resolve(pool, [school], Audience()) if r[0] == c]
    assert (row[3], row[4]) == ("telegram", "es")
    [row] = await _resolve(pool, [school], Audience(channels=("sms",), classes=("5eA",)))
    assert (row[3], row[4]) == ("sms", "pt")


async def test_a_family_in_two_targeted_classes_is_reached_once(pool) -> None:
    school = await new_school(pool)
    family, [contact] = await new_family(pool, school, class_name="6eA")
    async with pool.connection() as connection:
        await join(connection, family, school, "5e", "5eC")
    rows = await _resolve(pool, [school], Audience(classes=("6eA", "5eC")))
    assert [(r[0], r[2]) for r in rows] == [(family, contact)]


async def test_opted_out_contacts_are_counted_apart(pool) -> None:
    school = await new_school(pool)
    await new_family(pool, school, contacts=(("sms", True, None),))
    both, [_sms, telegram] = await new_family(
        pool, school, contacts=(("sms", True, None), ("telegram", False, None))
    )
    await new_family(pool, school)
    await new_family(pool, school, contacts=(("web", False, None),))
    async with pool.connection() as connection:
        counts = await audience.count(connection, [school], Audience(), default_language="fr")
    # The family that said STOP by SMS but follows on Telegram is reached there.
    assert (counts.total, counts.opted_out, counts.no_channel) == (2, 1, 1)
    assert counts.by_channel() == {"sms": 1, "telegram": 1}
    [row] = [r for r in await _resolve(pool, [school], Audience()) if r[0] == both]
    assert row[2] == telegram


async def test_engagement_segments(pool) -> None:
    school = await new_school(pool)
    silent, _ = await new_family(pool, school)
    talker, [talker_contact] = await new_family(pool, school)
    absent, [absent_contact] = await new_family(pool, school)
    now = datetime.now(UTC)
    async with pool.connection() as connection:
        await connection.execute(
            "INSERT INTO turn (contact_id, direction, channel, text, created_at) "
            "VALUES (%s, 'in', 'sms', 'bonjour', %s)",
            (talker_contact, now),
        )
        cursor = await connection.execute(
            "INSERT INTO workshop (ref, title, status, starts_at, ends_at, timezone, capacity, "
            "created_at, updated_at) VALUES (%s, 'Atelier', 'published', %s, %s, "
            "'Europe/Paris', 10, %s, %s) RETURNING id",
            (f"seg-{time.monotonic_ns()}", now, now + timedelta(hours=1), now, now),
        )
        (workshop,) = await cursor.fetchone()
        await connection.execute(
            "INSERT INTO enrolment (workshop_id, contact_id, people, status, attendance, "
            "created_at, updated_at) VALUES (%s, %s, 1, 'confirmed', 'no_show', %s, %s)",
            (workshop, absent_contact, now, now),
        )

    async def segment(*names: str) -> set[int]:
        return {r[0] for r in await _resolve(pool, [school], Audience(segments=names))}

    assert await segment("never_answered") == {silent, absent}
    assert await segment("never_enrolled") == {silent, talker}
    assert await segment("no_show") == {absent}
    assert await segment("no_show", "never_answered") == {silent, absent}
    with pytest.raises(audience.AudienceError):
        audience.parameters([school], Audience(segments=("rich",)), default_language="fr")


# -- texts and preview -------------------------------------------------------------------------


async def test_language_without_text_falls_back_to_french_and_is_flagged(pool, tools) -> None:
    school = await new_school(pool)
    await new_family(pool, school, language="fr")
    await new_family(pool, school, language="ar")
    await new_family(pool, school, language="tr", contacts=(("telegram", False, None),))
    broadcast_id = await new_broadcast(
        pool, [school], texts={"fr": "Réunion mardi à 18 h.", "ar": "اجتماع يوم الثلاثاء"}
    )
    async with pool.connection() as connection:
        broadcast = await records.load(connection, broadcast_id)
        counts = await audience.count(connection, [school], Audience(), default_language="fr")
    assert broadcast is not None
    shown = preview.preview(
        broadcast, counts, renderers=tools["renderers"], catalogs=tools["catalogs"]
    )
    by_key = {(r.language, r.channel): r for r in shown}
    assert preview.fallbacks(shown) == ["tr"]
    assert by_key[("tr", "telegram")].text.text == "Réunion mardi à 18 h."
    assert by_key[("ar", "sms")].text.source == "staff"
    assert preview.problems(shown) == []


async def test_templates_are_translated_with_dates_in_the_readers_language(tools) -> None:
    from broadcasts.templates import LIBRARY, TemplateError, check_values, fill

    meeting = LIBRARY["parent_meeting"]
    values = {"classe": "6eB", "date": "2026-12-08", "heure": "18:00", "lieu": "salle 12"}
    assert check_values(meeting, values) == values
    with pytest.raises(TemplateError, match="Lieu"):
        check_values(meeting, {**values, "lieu": " "})
    with pytest.raises(TemplateError, match="Date"):
        check_values(meeting, {**values, "date": "mardi"})
    catalogs = tools["catalogs"]
    french = fill(meeting, values, "fr", catalogs)
    assert "mardi 8 décembre à 18:00" in french and "6eB" in french
    for language in ("en", "ar", "tr", "pt", "es"):
        text = fill(meeting, values, language, catalogs)
        assert text != french and "6eB" in text and "salle 12" in text, language
    assert "Tuesday" in fill(meeting, values, "en", catalogs)
    for template in LIBRARY.values():  # every template is translated in every language
        filled = {name: values[name] for name in template.placeholders}
        texts = {fill(template, filled, code, catalogs) for code in ("fr", "en", "ar", "tr")}
        assert len(texts) == 4, template.key


async def test_preview_counts_sms_segments_and_recipients(pool, tools) -> None:
    school = await new_school(pool)
    for _ in range(3):
        await new_family(pool, school, language="fr")
    await new_family(pool, school, language="ar")
    await new_family(pool, school, language="fr", contacts=(("telegram", False, None),))
    long_french = "Bonjour. " + "La cantine sera fermée jeudi et vendredi. " * 5  # 214 GSM-7
    broadcast_id = await new_broadcast(
        pool, [school], texts={"fr": long_french.strip(), "ar": "المدرسة مغلقة يوم الخميس"}
    )
    async with pool.connection() as connection:
        broadcast = await records.load(connection, broadcast_id)
        counts = await audience.count(connection, [school], Audience(), default_language="fr")
    assert broadcast is not None
    shown = {
        (r.language, r.channel): r
        for r in preview.preview(
            broadcast, counts, renderers=tools["renderers"], catalogs=tools["catalogs"]
        )
    }
    assert (shown[("fr", "sms")].segments, shown[("fr", "sms")].recipients) == (2, 3)
    assert (shown[("ar", "sms")].segments, shown[("ar", "sms")].recipients) == (1, 1)
    assert (shown[("fr", "telegram")].segments, shown[("fr", "telegram")].recipients) == (1, 1)
    assert counts.by_channel() == {"sms": 4, "telegram": 1}


# -- sending -----------------------------------------------------------------------------------


async def test_quiet_hours_follow_each_schools_time_zone(pool, tools) -> None:
    paris, guadeloupe = await new_school(pool), await new_school(pool, "America/Guadeloupe")
    here, _ = await new_family(pool, paris)
    there, _ = await new_family(pool, guadeloupe)
    broadcast_id = await new_broadcast(pool, [paris, guadeloupe])
    await _schedule(pool, broadcast_id, TUESDAY - timedelta(minutes=5))

    assert await _send_due(pool, tools, TUESDAY) == 1  # Paris at 10:00; Guadeloupe at 05:00
    assert await _send_due(pool, tools, TUESDAY + timedelta(hours=2, minutes=59)) == 0
    [(status,)] = await fetch(pool, "SELECT status FROM broadcast WHERE id = %s", broadcast_id)
    assert status == "sending"
    assert await _send_due(pool, tools, TUESDAY + timedelta(hours=3)) == 1  # 08:00 there
    rows = await fetch(
        pool,
        "SELECT r.family_id, m.kind, m.priority, m.created_at FROM broadcast_recipient r "
        "JOIN outbound_message m ON m.id = r.outbound_message_id WHERE r.broadcast_id = %s "
        "ORDER BY m.created_at",
        broadcast_id,
    )
    assert [(r[0], r[1], r[2]) for r in rows] == [(here, "bulk", 0), (there, "bulk", 0)]
    [(status, sent_at)] = await fetch(
        pool, "SELECT status, sent_at FROM broadcast WHERE id = %s", broadcast_id
    )
    assert (status, sent_at) == ("sent", TUESDAY + timedelta(hours=3))


async def test_a_notice_scheduled_for_later_waits_for_its_time(pool, tools) -> None:
    school = await new_school(pool)
    await new_family(pool, school)
    broadcast_id = await new_broadcast(pool, [school])
    await _schedule(pool, broadcast_id, TUESDAY + timedelta(hours=1))
    assert await _send_due(pool, tools, TUESDAY) == 0
    assert await _send_due(pool, tools, TUESDAY + timedelta(hours=1)) == 1


async def test_urgent_notice_bypasses_quiet_hours(pool, tools) -> None:
    guadeloupe = await new_school(pool, "America/Guadeloupe")
    await new_family(pool, guadeloupe)
    calm = await new_broadcast(pool, [guadeloupe])
    urgent = await new_broadcast(
        pool, [guadeloupe], template="closure", texts={}, placeholders={"date": "2026-12-01"}
    )
    await _schedule(pool, calm, TUESDAY)
    await _schedule(pool, urgent, TUESDAY, urgent=True)

    assert await _send_due(pool, tools, TUESDAY) == 1  # 05:00 there: only the urgent one
    rows = await fetch(
        pool,
        "SELECT broadcast_id, outbound_message_id IS NOT NULL FROM broadcast_recipient "
        "WHERE broadcast_id IN (%s, %s) ORDER BY broadcast_id",
        calm,
        urgent,
    )
    assert rows == [(calm, False), (urgent, True)]


async def test_sending_twice_or_concurrently_queues_one_message_per_family(pool, tools) -> None:
    school = await new_school(pool)
    for _ in range(20):
        await new_family(pool, school)
    twice = await new_broadcast(pool, [school])
    await _schedule(pool, twice, TUESDAY)
    assert await _send_due(pool, tools, TUESDAY) == 20
    assert await _send_due(pool, tools, TUESDAY) == 0

    raced = await new_broadcast(pool, [school])
    await _schedule(pool, raced, TUESDAY)
    results = await asyncio.gather(*(_send_due(pool, tools, TUESDAY) for _ in range(4)))
    assert sorted(results) == [0, 0, 0, 20]
    for broadcast_id in (twice, raced):
        [(messages, families)] = await fetch(
            pool,
            "SELECT count(*), count(DISTINCT r.family_id) FROM broadcast_recipient r "
            "JOIN outbound_message m ON m.contact_id = r.contact_id "
            "AND m.idempotency_key LIKE 'broadcast:' || r.broadcast_id || ':%%' "
            "WHERE r.broadcast_id = %s",
            broadcast_id,
        )
        assert (messages, families) == (20, 20)
        [(jobs,)] = await fetch(
            pool,
            "SELECT count(*) FROM procrastinate_jobs j JOIN broadcast_recipient r "
            "ON (j.args->>'message_id')::bigint = r.outbound_message_id "
            "WHERE r.broadcast_id = %s",
            broadcast_id,
        )
        assert jobs == 20
    await _drop_jobs(pool, [twice, raced])


async def test_a_contact_that_opts_out_before_its_turn_is_skipped(pool, tools) -> None:
    guadeloupe = await new_school(pool, "America/Guadeloupe")
    _, [contact] = await new_family(pool, guadeloupe)
    broadcast_id = await new_broadcast(pool, [guadeloupe])
    await _schedule(pool, broadcast_id, TUESDAY)
    assert await _send_due(pool, tools, TUESDAY) == 0  # night there: waiting
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE contact SET opted_out_at = %s WHERE id = %s", (TUESDAY, contact)
        )
    assert await _send_due(pool, tools, TUESDAY + timedelta(hours=3)) == 0
    async with pool.connection() as connection:
        result = await figures.figures(connection, broadcast_id)
    assert (result.total.opted_out, result.total.total) == (1, 1)


async def test_figures_and_csv_per_language_and_channel(pool, tools) -> None:
    school = await new_school(pool)
    for language in ("fr", "fr", "ar", "es"):
        await new_family(pool, school, language=language)
    await new_family(pool, school, language="tr", contacts=(("telegram", False, None),))
    await new_family(pool, school, language="fr", contacts=(("sms", True, None),))
    broadcast_id = await new_broadcast(pool, [school])
    await _schedule(pool, broadcast_id, TUESDAY)
    async with pool.connection() as connection:
        result = await figures.figures(connection, broadcast_id)
    assert result.lines == []  # not resolved before its time
    assert await _send_due(pool, tools, TUESDAY) == 5
    ids = {
        language: message_id
        for language, message_id in await fetch(
            pool,
            "SELECT language, outbound_message_id FROM broadcast_recipient "
            "WHERE broadcast_id = %s AND outbound_message_id IS NOT NULL AND language <> 'fr'",
            broadcast_id,
        )
    }
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE outbound_message SET status = 'delivered' WHERE id = %s", (ids["ar"],)
        )
        await connection.execute(
            "UPDATE outbound_message SET status = 'failed', error_code = '30003', "
            "error_message = 'Unreachable destination handset' WHERE id = %s",
            (ids["es"],),
        )
        await connection.execute(
            "UPDATE outbound_message SET status = 'sent' WHERE id = %s", (ids["tr"],)
        )
        await connection.execute(
            "UPDATE outbound_message SET status = 'cancelled', error_code = 'opted_out' "
            "WHERE id IN (SELECT outbound_message_id FROM broadcast_recipient "
            "WHERE broadcast_id = %s AND language = 'fr' AND outbound_message_id IS NOT NULL "
            "ORDER BY family_id LIMIT 1)",
            (broadcast_id,),
        )
        result = await figures.figures(connection, broadcast_id)
    lines = {(line.language, line.channel): line for line in result.lines}
    assert (lines[("fr", "sms")].queued, lines[("fr", "sms")].opted_out) == (1, 2)
    assert lines[("ar", "sms")].delivered == 1
    assert lines[("es", "sms")].failed == 1
    assert lines[("tr", "telegram")].sent == 1
    total = result.total
    assert (total.total, total.queued, total.opted_out, total.failed) == (6, 1, 2, 1)
    assert [(r.code, r.count) for r in result.reasons] == [("30003", 1)]
    exported = figures.to_csv(result).splitlines()
    assert exported[0].startswith("langue,canal,familles")
    assert "total,,6,0,1,1,1,1,2,0" in exported
    assert exported[-1] == "30003,téléphone éteint ou hors réseau,1"
    await _drop_jobs(pool, [broadcast_id])


async def test_families_that_cannot_be_reached_are_kept_by_class(pool, tools) -> None:
    school = await new_school(pool)
    await new_family(pool, school, level="5e", class_name="5eB")
    for class_name in ("5eB", "=5eB", "=5eB"):  # no phone, no Telegram
        await new_family(pool, school, level="5e", class_name=class_name, contacts=())
    broadcast_id = await new_broadcast(pool, [school])
    await _schedule(pool, broadcast_id, TUESDAY)
    assert await _send_due(pool, tools, TUESDAY) == 1
    async with pool.connection() as connection:
        result = await figures.figures(connection, broadcast_id)
    assert result.total.total == 1 and result.total.queued == 1  # the lines: families reached
    name = (await fetch(pool, "SELECT name FROM school WHERE id = %s", school))[0][0]
    assert [(u.school, u.level, u.class_name, u.count) for u in result.unreachable] == [
        (name, "5e", "5eB", 1),
        (name, "5e", "=5eB", 2),
    ]
    assert result.unreachable_total == 3
    exported = figures.to_csv(result).splitlines()
    assert exported[-3:] == [
        "injoignables_ecole,niveau,classe,familles",
        f"{name},5e,5eB,1",
        f"{name},5e,'=5eB,2",  # never run as a spreadsheet formula
    ]
    [(status,)] = await fetch(pool, "SELECT status FROM broadcast WHERE id = %s", broadcast_id)
    assert status == "sent"  # nothing waits for the unreachable
    await _drop_jobs(pool, [broadcast_id])


async def test_the_page_says_why_messages_failed_and_who_was_not_reached(
    pool, tools, live_server_url, staff_clients
) -> None:
    from staff_helpers import make_account

    school = await new_school(pool)
    _, [contact] = await new_family(pool, school, class_name="4eC")
    await new_family(pool, school, level="4e", class_name="4eC", contacts=())
    broadcast_id = await new_broadcast(pool, [school])
    await _schedule(pool, broadcast_id, TUESDAY)
    await _send_due(pool, tools, TUESDAY)
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE outbound_message SET status = 'failed', error_code = '30003', "
            "error_message = 'Twilio status undelivered' WHERE contact_id = %s",
            (contact,),
        )
    account = await make_account(pool, roles=("school",), schools=(school,))
    client, _ = staff_clients.sign_in(live_server_url, account.email)
    page = client.get(f"/staff/annonces/{broadcast_id}")
    assert page.status_code == 200
    assert "téléphone éteint ou hors réseau : 1" in page.text and "code 30003" in page.text
    assert "Familles injoignables : 1" in page.text and "4eC : 1 famille(s)" in page.text
    assert 'http-equiv="refresh"' not in page.text  # sent: nothing moves any more
    async with pool.connection() as connection:  # as while families wait for allowed hours
        await connection.execute(
            "UPDATE broadcast SET status = 'sending' WHERE id = %s", (broadcast_id,)
        )
    sending_page = client.get(f"/staff/annonces/{broadcast_id}").text
    assert '<meta http-equiv="refresh" content="20">' in sending_page
    assert "Envoi en cours" in sending_page
    await _drop_jobs(pool, [broadcast_id])


async def test_the_last_notice_is_the_context_of_a_reply(pool, tools) -> None:
    school = await new_school(pool)
    _, [contact] = await new_family(pool, school)
    first, second = await new_broadcast(pool, [school]), await new_broadcast(pool, [school])
    await _schedule(pool, first, TUESDAY)
    await _send_due(pool, tools, TUESDAY)
    await _schedule(pool, second, TUESDAY + timedelta(hours=1))
    await _send_due(pool, tools, TUESDAY + timedelta(hours=1))
    async with pool.connection() as connection:
        later = TUESDAY + timedelta(hours=2)
        # Queued is not received: the parent cannot be answering it.
        assert await replies.last_notice(connection, contact, later) is None
        # As the worker records the provider's acceptance, each at its queueing time.
        await connection.execute(
            "UPDATE outbound_message SET status = 'sent', sent_at = created_at "
            "WHERE contact_id = %s",
            (contact,),
        )
        assert await replies.last_notice(connection, contact, later) == second
        assert await replies.answered_notice(connection, contact, later) == second
        assert await replies.last_notice(connection, contact, later + timedelta(days=8)) is None
    await _drop_jobs(pool, [first, second])


async def _drop_jobs(pool, broadcast_ids: list[int]) -> None:  # type: ignore[no-untyped-def]
    """What a test queued and will not send: cancelled, its jobs gone (workers of later tests
    must not spend their time on it)."""
    async with pool.connection() as connection:
        await connection.execute(
            "DELETE FROM procrastinate_jobs WHERE status = 'todo' "
            "AND (args->>'message_id')::bigint IN (SELECT m.id FROM outbound_message m "
            "WHERE m.idempotency_key LIKE ANY(%s))",
            ([f"broadcast:{b}:%" for b in broadcast_ids],),
        )
        await connection.execute(
            "UPDATE outbound_message SET status = 'cancelled' "
            "WHERE status = 'queued' AND idempotency_key LIKE ANY(%s)",
            ([f"broadcast:{b}:%" for b in broadcast_ids],),
        )


# -- 10,000 families ---------------------------------------------------------------------------

LANGUAGES = ["fr", "en", "ar", "tr", "pt", "es"]
_FAMILIES = """
WITH f AS (
    INSERT INTO family (language, preferred_channel, created_at, updated_at)
    SELECT (%(languages)s::text[])[1 + i %% 6], CASE WHEN i %% 3 = 0 THEN 'telegram' END,
           now(), now()
    FROM generate_series(1, %(count)s) i
    RETURNING id
), numbered AS (
    SELECT id, row_number() OVER (ORDER BY id) AS i FROM f
), c AS (
    INSERT INTO contact (channel, address, created_at, last_seen_at, opted_out_at)
    SELECT CASE WHEN i %% 3 = 0 THEN 'telegram' ELSE 'sms' END,
           CASE WHEN i %% 3 = 0 THEN (%(base)s + i)::text ELSE '+3376' || (%(base)s + i)::text END,
           now(), now(), CASE WHEN i %% 50 = 0 THEN now() END
    FROM numbered
    RETURNING id, channel, address
), fc AS (
    INSERT INTO family_contact (family_id, contact_id)
    SELECT n.id, c.id FROM numbered n
    JOIN c ON c.address = CASE WHEN n.i %% 3 = 0 THEN (%(base)s + n.i)::text
                               ELSE '+3376' || (%(base)s + n.i)::text END
    RETURNING family_id
)
INSERT INTO family_school (family_id, school_id, level, class_name, source, joined_at)
SELECT n.id, (%(schools)s::bigint[])[1 + n.i %% 3], '6e', '6e' || (n.i %% 4)::text, 'import', now()
FROM numbered n
UNION ALL  -- every 20th family is also in a second targeted class
SELECT n.id, (%(schools)s::bigint[])[1 + n.i %% 3], '5e', '5eZ', 'import', now()
FROM numbered n WHERE n.i %% 20 = 0
"""


@pytest.fixture
def worker_env(database, fakes, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A `liaison worker` environment on the test database and the fake providers."""
    config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    config["liaison"]["telegram"]["messages_per_second"] = 25
    config["liaison"]["sms"]["segments_per_second"] = 50
    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return worker_environment(database, fakes, path)


def _start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "liaison", "worker", "--concurrency", "8"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_ten_thousand_families_while_replies_pass_ahead(
    pool, tools, fakes, worker_env
) -> None:
    count = 10_000
    schools = [
        await new_school(pool),
        await new_school(pool, name="Collège"),
        await new_school(pool, "America/Guadeloupe", name="Collège de Pointe-à-Pitre"),
    ]
    base = 5_000_000_000 + (time.monotonic_ns() % 100_000) * 100_000
    async with pool.connection() as connection:
        await connection.execute(
            _FAMILIES, {"languages": LANGUAGES, "count": count, "base": base, "schools": schools}
        )
    chosen = Audience(classes=("6e0", "6e1", "6e2", "6e3", "5eZ"))
    started = time.monotonic()
    async with pool.connection() as connection:
        counts = await audience.count(connection, schools, chosen, default_language="fr")
    resolution = time.monotonic() - started
    assert (counts.total, counts.opted_out, counts.no_channel) == (9_800, 200, 0)
    assert counts.languages() == sorted(LANGUAGES)

    broadcast_id = await new_broadcast(
        pool,
        schools,
        audience=chosen,
        texts={},
        template="strike",
        placeholders={"date": "2026-12-03"},
    )
    await _schedule(pool, broadcast_id, TUESDAY)
    started = time.monotonic()
    first = await _send_due(pool, tools, TUESDAY)  # Paris 10:00, Guadeloupe 05:00
    enqueue_first = time.monotonic() - started
    waiting = await fetch(
        pool,
        "SELECT count(*) FROM broadcast_recipient WHERE broadcast_id = %s "
        "AND skipped IS NULL AND outbound_message_id IS NULL AND school_id = %s",
        broadcast_id,
        schools[2],
    )
    assert first + waiting[0][0] == 9_800
    assert 3_000 < waiting[0][0] < 3_400  # the Guadeloupe school's third, less opt-outs
    started = time.monotonic()
    second = await _send_due(pool, tools, TUESDAY + timedelta(hours=3))  # 08:00 there
    enqueue_second = time.monotonic() - started
    assert first + second == 9_800
    [(messages, families, opted_out_sent)] = await fetch(
        pool,
        "SELECT count(m.id), count(DISTINCT r.family_id), "
        "count(*) FILTER (WHERE c.opted_out_at IS NOT NULL AND m.id IS NOT NULL) "
        "FROM broadcast_recipient r JOIN contact c ON c.id = r.contact_id "
        "LEFT JOIN outbound_message m ON m.idempotency_key LIKE 'broadcast:' || %s || ':%%' "
        "AND m.contact_id = r.contact_id WHERE r.broadcast_id = %s",
        broadcast_id,
        broadcast_id,
    )
    assert (messages, families, opted_out_sent) == (9_800, 10_000, 0)

    async with pool.connection() as connection:
        result = await figures.figures(connection, broadcast_id)
    assert (result.total.total, result.total.queued, result.total.opted_out) == (10_000, 9_800, 200)
    assert {line.language for line in result.lines} == set(LANGUAGES)
    print(
        f"\n10,000 families: audience counted in {resolution:.2f} s, "
        f"queued {first} in {enqueue_first:.2f} s then {second} in {enqueue_second:.2f} s"
    )

    # A worker sends the broadcast; replies to five other parents still go out within a second.
    process = _start_worker(worker_env)
    try:
        deadline = time.monotonic() + 60
        while True:
            [(sent,)] = await fetch(
                pool,
                "SELECT count(*) FROM outbound_message WHERE status = 'sent' "
                "AND idempotency_key LIKE 'broadcast:' || %s || ':%%'",
                broadcast_id,
            )
            if sent >= 20:
                print(f"worker started, 20 sent in {time.monotonic() - deadline + 60:.1f} s")
                break
            assert time.monotonic() < deadline, "the broadcast did not start"
            await asyncio.sleep(0.1)
        delays = []
        for number in range(5):
            chat = str(base - 1 - number)
            contact = await new_contact(pool, "telegram", chat)
            queued = time.time()
            await queue(pool, contact, "telegram", chat, ["Voici la réponse."], kind="reply")
            [arrived] = await fakes.telegram.wait_for_messages(int(chat), count=1, timeout=10)
            delays.append(arrived.time - queued)
            await asyncio.sleep(0.3)
        assert max(delays) < 1.0, f"replies waited {delays} behind the broadcast"
        print(f"replies during the broadcast: {', '.join(f'{d:.2f}' for d in delays)} s")
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        await _drop_jobs(pool, [broadcast_id])
        await asyncio.sleep(1.0)  # the fake providers finish what the worker had in flight
    async with pool.connection() as connection:
        result = await figures.figures(connection, broadcast_id)
    assert result.total.sent + result.total.delivered >= 50


# -- staff pages -------------------------------------------------------------------------------


async def test_staff_compose_preview_and_send_within_their_schools(
    pool, live_server_url, staff_clients
) -> None:
    from staff_helpers import csrf_of, make_account

    from staff import scopes

    mine, theirs = await new_school(pool), await new_school(pool)
    await new_family(pool, mine, language="fr")
    await new_family(pool, mine, language="ar")
    account = await make_account(pool, roles=("school",))
    async with pool.connection() as connection:
        await scopes.grant_school(connection, account.id, mine)
    client, _ = staff_clients.sign_in(live_server_url, account.email)

    form = client.get("/staff/annonces/nouvelle")
    assert form.status_code == 200 and f'name="ecole-{theirs}"' not in form.text
    fields = {"csrf": csrf_of(form.text), "titre": "Grève", "modele": "strike"}
    refused = client.post("/staff/annonces/nouvelle", data={**fields, f"ecole-{mine}": "oui"})
    assert refused.status_code == 422 and "Date" in refused.text
    created = client.post(
        "/staff/annonces/nouvelle",
        data={
            **fields,
            f"ecole-{mine}": "oui",
            f"ecole-{theirs}": "oui",
            "champ-date": "2026-12-03",
        },
    )
    assert created.status_code == 303, created.text
    created = client.get(created.headers["location"])
    assert 'data-testid="recipients"><strong>2</strong>' in created.text
    assert "Grève le jeudi 3 décembre" in created.text
    broadcast_id = int(created.url.path.rsplit("/", 1)[1])
    [(schools,)] = await fetch(pool, "SELECT school_ids FROM broadcast WHERE id = %s", broadcast_id)
    assert schools == [mine]  # a school outside the account's scope is never taken

    sent = client.post(
        f"/staff/annonces/{broadcast_id}/envoyer",
        data={"csrf": csrf_of(created.text), "mode": "maintenant", "urgent": "oui"},
    )
    assert sent.status_code == 303
    assert "Programmée" in client.get(sent.headers["location"]).text
    actions = await fetch(
        pool,
        "SELECT action FROM audit_log WHERE target_type = 'broadcast' AND target_id = %s "
        "ORDER BY id",
        str(broadcast_id),
    )
    assert [a for (a,) in actions] == ["broadcast.scheduled", "broadcast.urgent"]
    assert client.get(f"/staff/annonces/{broadcast_id}/chiffres.csv").status_code == 200

    other = await make_account(pool, roles=("school",))
    outsider, _ = staff_clients.sign_in(live_server_url, other.email)
    assert outsider.get(f"/staff/annonces/{broadcast_id}").status_code == 404
    organiser = await make_account(pool, roles=("organiser",))
    stranger, _ = staff_clients.sign_in(live_server_url, organiser.email)
    assert stranger.get("/staff/annonces").status_code == 403
    no_csrf = client.post(f"/staff/annonces/{broadcast_id}/annuler", data={})
    assert no_csrf.status_code == 403
