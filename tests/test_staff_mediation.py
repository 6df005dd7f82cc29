"""The mediators' pages (`/staff/mediation`): the families that agreed to a mediator's help,
and what the mediator does for them (enrol, cancel, language), each in the audit log, against
the real app and PostgreSQL. Another mediator's family, or a revoked mediation, is a 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from staff_helpers import csrf_of, make_account
from test_checkin import Setup, make_workshop
from test_staff_roles import a_phone, family, school

from channels.phone import mask
from staff import grants, scopes


@dataclass
class Side:
    """A mediator, the family that agreed to their help, its SMS contact, a signed-in client."""

    account: Any
    family_id: int
    contact_id: int
    phone: str
    client: Any
    csrf: str


@dataclass
class Mediations:
    a: Side
    b: Side
    admin: Any  # a signed-in client
    admin_account: Any
    upcoming: Setup  # published, in two days, 20 seats


def _now() -> datetime:
    return datetime.now(UTC)


async def _side(pool: Any, staff_clients: Any, url: str, school_id: int) -> Side:
    account = await make_account(pool, roles=("mediator",))
    phone = a_phone()
    async with pool.connection() as connection:
        family_id, contact_id = await family(connection, school_id, phone)
        await scopes.mediate(connection, account.id, family_id, "oral, à la médiathèque", _now())
    client, _ = staff_clients.sign_in(url, account.email)
    csrf = csrf_of(client.get("/staff/mediation").text)
    return Side(account, family_id, contact_id, phone, client, csrf)


@pytest.fixture
async def mediations(pool, staff_clients, live_server_url) -> Mediations:
    async with pool.connection() as connection:
        school_id = await school(connection)
    a = await _side(pool, staff_clients, live_server_url, school_id)
    b = await _side(pool, staff_clients, live_server_url, school_id)
    admin_account = await make_account(pool, roles=("admin",))
    admin, _ = staff_clients.sign_in(live_server_url, admin_account.email)
    upcoming = await make_workshop(pool, starts_in=timedelta(days=2))
    return Mediations(a, b, admin, admin_account, upcoming)


def text(answer: Any) -> str:
    return unescape(answer.text)


async def _enrolment(pool: Any, contact_id: int, workshop_id: int) -> tuple[int, str] | None:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT id, status FROM enrolment WHERE contact_id = %s AND workshop_id = %s "
            "ORDER BY id DESC LIMIT 1",
            (contact_id, workshop_id),
        )
        row = await cursor.fetchone()
    return (int(row[0]), row[1]) if row else None


async def _audit(pool: Any, family_id: int) -> list[tuple[int | None, str, dict[str, Any]]]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT account_id, action, detail FROM audit_log "
            "WHERE target_type = 'family' AND target_id = %s ORDER BY id",
            (str(family_id),),
        )
        return list(await cursor.fetchall())


def _enrol(side: Side, ref: str, people: str = "1", **extra: str) -> Any:
    form = {"csrf": side.csrf, "workshop": ref, "people": people, "contact": str(side.contact_id)}
    return side.client.post(f"/staff/mediation/{side.family_id}/inscrire", data={**form, **extra})


# -- what a mediator sees --------------------------------------------------------------------


async def test_a_mediator_sees_the_families_that_agreed_and_only_those(pool, mediations) -> None:
    a, b = mediations.a, mediations.b
    async with pool.connection() as connection:
        await connection.execute(
            "INSERT INTO handover (contact_id, status, reason, opened_at) "
            "VALUES (%s, 'open', 'handover', now())",
            (a.contact_id,),
        )
    listed = text(a.client.get("/staff/mediation"))
    assert f'data-family="{a.family_id}"' in listed
    assert f'data-family="{b.family_id}"' not in listed
    assert mask(a.phone) in listed and a.phone not in listed  # masked on the list
    assert "« oral, à la médiathèque », depuis le" in listed
    assert "arabe (العربية)" in listed
    assert 'data-testid="conversation"' in listed and "/staff/messages/" in listed

    detail = a.client.get(f"/staff/mediation/{a.family_id}")
    assert detail.status_code == 200
    assert a.phone in text(detail)  # in full on the family's own page
    assert mediations.upcoming.ref in text(detail)  # a workshop to enrol in

    for path in (f"/staff/mediation/{b.family_id}", "/staff/mediation/99999999999999999999"):
        refused = a.client.get(path)
        assert refused.status_code == 404, path
        assert b.phone not in refused.text and mask(b.phone) not in text(refused)

    everything = text(mediations.admin.get("/staff/mediation"))
    assert f'data-family="{a.family_id}"' in everything
    assert f'data-family="{b.family_id}"' in everything
    assert a.account.email in everything  # whose mediation it is


async def test_the_menu_shows_the_mediators_families(mediations) -> None:
    page = text(mediations.a.client.get("/staff/messages"))
    assert '<a href="/staff/mediation">Familles accompagnées</a>' in page
    assert '<a href="/staff/comptes">' not in page


async def test_a_revoked_mediation_hides_the_family(pool, mediations) -> None:
    a = mediations.a
    async with pool.connection() as connection:
        await grants.revoke_family(connection, a.account, a.family_id, _now())
    assert f'data-family="{a.family_id}"' not in a.client.get("/staff/mediation").text
    assert a.client.get(f"/staff/mediation/{a.family_id}").status_code == 404
    answer = _enrol(a, mediations.upcoming.ref)
    assert answer.status_code == 404
    assert await _enrolment(pool, a.contact_id, mediations.upcoming.workshop_id) is None


async def test_another_mediators_family_cannot_be_acted_for(pool, mediations) -> None:
    a, b = mediations.a, mediations.b
    base = f"/staff/mediation/{b.family_id}"
    form = {"csrf": a.csrf, "workshop": mediations.upcoming.ref, "people": "1"}
    for path, data in (
        (f"{base}/inscrire", {**form, "contact": str(b.contact_id)}),
        (f"{base}/langue", {"csrf": a.csrf, "language": "fr"}),
        (f"{base}/annuler", {"csrf": a.csrf, "enrolment": "1"}),
    ):
        assert a.client.post(path, data=data).status_code == 404, path
    # Nor through one's own family's URL with the other family's contact.
    answer = _enrol(a, mediations.upcoming.ref, contact=str(b.contact_id))
    assert answer.status_code == 422
    assert await _enrolment(pool, b.contact_id, mediations.upcoming.workshop_id) is None
    assert await _audit(pool, b.family_id) == []
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT language FROM family WHERE id = %s", (b.family_id,)
        )
        assert (await cursor.fetchone())[0] == "ar"


async def test_a_form_without_its_csrf_token_is_refused(pool, mediations) -> None:
    a = mediations.a
    answer = a.client.post(
        f"/staff/mediation/{a.family_id}/langue", data={"language": "fr", "csrf": "forged"}
    )
    assert answer.status_code == 403 and "Formulaire expiré" in text(answer)
    assert await _audit(pool, a.family_id) == []


# -- what a mediator does -------------------------------------------------------------------


async def test_enrol_then_cancel_for_the_family_each_audited(pool, mediations) -> None:
    a, workshop = mediations.a, mediations.upcoming
    answer = _enrol(a, workshop.ref, people="2")
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/staff/mediation/{a.family_id}?fait=confirmed"
    enrolment = await _enrolment(pool, a.contact_id, workshop.workshop_id)
    assert enrolment is not None and enrolment[1] == "confirmed"
    page = text(a.client.get(answer.headers["location"]))
    assert "la famille est inscrite" in page
    assert f'data-enrolment="{enrolment[0]}"' in page and "Pronote à la porte" in page
    assert f"n° <strong>{enrolment[0]}</strong>" in text(a.client.get("/staff/mediation"))

    again = _enrol(a, workshop.ref)
    assert again.status_code == 409 and "déjà inscrite" in text(again)

    cancelled = a.client.post(
        f"/staff/mediation/{a.family_id}/annuler",
        data={"csrf": a.csrf, "enrolment": str(enrolment[0])},
    )
    assert cancelled.status_code == 303
    assert await _enrolment(pool, a.contact_id, workshop.workshop_id) == (
        enrolment[0],
        "cancelled",
    )
    entries = await _audit(pool, a.family_id)
    assert [(who, action) for who, action, _ in entries] == [
        (a.account.id, "mediation.enrolled"),
        (a.account.id, "mediation.cancelled"),
    ]
    assert entries[0][2] == {
        "contact_id": a.contact_id,
        "workshop_id": workshop.workshop_id,
        "enrolment_id": enrolment[0],
        "status": "confirmed",
    }
    assert all(a.phone not in str(detail) for _, _, detail in entries)


async def test_a_full_workshop_puts_the_family_on_the_waiting_list(pool, mediations) -> None:
    a = mediations.a
    full = await make_workshop(
        pool,
        starts_in=timedelta(days=3),
        parents={"seat": ("sms", a_phone(), "fr", 1, "confirmed")},
    )
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE workshop SET capacity = 1 WHERE id = %s", (full.workshop_id,)
        )
    answer = _enrol(a, full.ref)
    assert answer.headers["location"].endswith("?fait=waitlisted")
    assert (await _enrolment(pool, a.contact_id, full.workshop_id))[1] == "waitlisted"
    assert "sur la liste d'attente" in text(a.client.get(answer.headers["location"]))


async def test_cancelling_offers_the_seat_to_the_waiting_list(pool, mediations) -> None:
    a = mediations.a
    one_seat = await make_workshop(pool, starts_in=timedelta(days=3))
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE workshop SET capacity = 1 WHERE id = %s", (one_seat.workshop_id,)
        )
    assert _enrol(a, one_seat.ref).headers["location"].endswith("?fait=confirmed")
    mine = await _enrolment(pool, a.contact_id, one_seat.workshop_id)
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
            "VALUES ('sms', %s, 'fr', now(), now()) RETURNING id",
            (a_phone(),),
        )
        waiting = int((await cursor.fetchone())[0])
        await connection.execute(
            "INSERT INTO enrolment (workshop_id, contact_id, people, status, created_at, "
            "updated_at) VALUES (%s, %s, 1, 'waitlisted', now(), now())",
            (one_seat.workshop_id, waiting),
        )
    answer = a.client.post(
        f"/staff/mediation/{a.family_id}/annuler", data={"csrf": a.csrf, "enrolment": mine[0]}
    )
    assert answer.status_code == 303
    assert (await _enrolment(pool, waiting, one_seat.workshop_id))[1] == "offered"
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM outbound_message WHERE contact_id = %s", (waiting,)
        )
        assert (await cursor.fetchone())[0] >= 1  # told a seat is theirs


async def test_the_language_of_the_family_and_its_contacts(pool, mediations) -> None:
    a = mediations.a
    answer = a.client.post(
        f"/staff/mediation/{a.family_id}/langue", data={"csrf": a.csrf, "language": "tr"}
    )
    assert answer.status_code == 303
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT f.language, c.language FROM family f JOIN family_contact fc "
            "ON fc.family_id = f.id JOIN contact c ON c.id = fc.contact_id WHERE f.id = %s",
            (a.family_id,),
        )
        assert await cursor.fetchall() == [("tr", "tr")]
    assert await _audit(pool, a.family_id) == [
        (a.account.id, "mediation.language_set", {"from": "ar", "to": "tr"})
    ]


async def test_an_admin_acts_for_a_family_with_a_mediation(pool, mediations) -> None:
    b, admin = mediations.b, mediations.admin
    csrf = csrf_of(admin.get("/staff/mediation").text)
    answer = admin.post(
        f"/staff/mediation/{b.family_id}/langue", data={"csrf": csrf, "language": "es"}
    )
    assert answer.status_code == 303
    entries = await _audit(pool, b.family_id)
    assert [(who, action) for who, action, _ in entries] == [
        (mediations.admin_account.id, "mediation.language_set")
    ]


@pytest.mark.parametrize(
    ("form", "status", "reason"),
    [
        ({"workshop": "no-such-workshop"}, 422, "n'est pas ouvert aux inscriptions"),
        ({"workshop": "PAST"}, 422, "n'est pas ouvert aux inscriptions"),
        ({"people": "0"}, 422, "Le nombre de personnes va de 1 à 10"),
        ({"people": "onze"}, 422, "Le nombre de personnes va de 1 à 10"),
        ({"contact": ""}, 422, "Choisissez qui inscrire"),
    ],
)
async def test_a_wrong_enrolment_says_why_in_french(pool, mediations, form, status, reason) -> None:
    a = mediations.a
    started = await make_workshop(pool, starts_in=-timedelta(minutes=30))
    fields = {"workshop": mediations.upcoming.ref, "people": "1", "contact": str(a.contact_id)}
    fields.update(form)
    if fields["workshop"] == "PAST":
        fields["workshop"] = started.ref
    answer = a.client.post(
        f"/staff/mediation/{a.family_id}/inscrire", data={"csrf": a.csrf, **fields}
    )
    assert answer.status_code == status
    assert reason in text(answer)
    assert 'data-testid="error"' in answer.text
    assert await _audit(pool, a.family_id) == []


async def test_wrong_cancellations_and_languages_say_why(pool, mediations) -> None:
    a, b = mediations.a, mediations.b
    _enrol(b, mediations.upcoming.ref)
    theirs = await _enrolment(pool, b.contact_id, mediations.upcoming.workshop_id)
    for enrolment in (str(theirs[0]), "", "x"):
        answer = a.client.post(
            f"/staff/mediation/{a.family_id}/annuler", data={"csrf": a.csrf, "enrolment": enrolment}
        )
        assert answer.status_code == 422
        assert "n'est pas (ou plus) celle de la famille" in text(answer)
    assert (await _enrolment(pool, b.contact_id, mediations.upcoming.workshop_id))[1] == (
        "confirmed"
    )
    for language in ("xx", "", "de"):
        answer = a.client.post(
            f"/staff/mediation/{a.family_id}/langue", data={"csrf": a.csrf, "language": language}
        )
        assert answer.status_code == 422
        assert "Choisissez une des langues proposées" in text(answer)
    assert await _audit(pool, a.family_id) == []
