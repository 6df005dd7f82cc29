"""The admins' accounts page (`/staff/comptes`): link and unlink schools and workshops, record
and revoke mediations, disable accounts; every change through `staff.grants`, audited with the
admin as the one who acted; refusals in French next to the form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import pytest
from staff_helpers import csrf_of, make_account
from test_checkin import make_workshop
from test_staff_roles import a_phone, family, school

from staff import scopes


@dataclass
class Admin:
    account: Any
    client: Any
    csrf: str

    def post(self, path: str, **form: Any) -> Any:
        return self.client.post(f"/staff/comptes{path}", data={"csrf": self.csrf, **form})


@pytest.fixture
async def admin(pool, staff_clients, live_server_url) -> Admin:
    account = await make_account(pool, roles=("admin",))
    client, _ = staff_clients.sign_in(live_server_url, account.email)
    return Admin(account, client, csrf_of(client.get("/staff/comptes").text))


def _now() -> datetime:
    return datetime.now(UTC)


def text(answer: Any) -> str:
    return unescape(answer.text)


async def _audit(pool: Any, actor: int) -> list[tuple[str, str, str, dict[str, Any]]]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT action, target_type, target_id, detail FROM audit_log "
            "WHERE account_id = %s AND action <> 'sign_in.succeeded' ORDER BY id",
            (actor,),
        )
        return list(await cursor.fetchall())


async def test_the_page_lists_accounts_with_what_they_reach(pool, admin) -> None:
    async with pool.connection() as connection:
        school_id = await school(connection)
        family_id, _contact = await family(connection, school_id, phone := a_phone())
    workshop = await make_workshop(pool, starts_in=timedelta(days=1))
    staff = await make_account(pool, roles=("school",), schools=[school_id])
    organiser = await make_account(pool, workshops=[workshop.workshop_id])
    mediator = await make_account(pool, roles=("mediator",))
    async with pool.connection() as connection:
        await scopes.mediate(connection, mediator.id, family_id, "formulaire signé", _now())
    page = text(admin.client.get("/staff/comptes"))
    for account in (staff, organiser, mediator, admin.account):
        assert f'data-account="{account.id}"' in page
    card = page.split(f'data-account="{staff.id}"', 1)[1].split("</article>", 1)[0]
    assert 'data-testid="school"' in card
    card = page.split(f'data-account="{organiser.id}"', 1)[1].split("</article>", 1)[0]
    assert f'data-ref="{workshop.ref}"' in card
    card = page.split(f'data-account="{mediator.id}"', 1)[1].split("</article>", 1)[0]
    assert f'data-family="{family_id}"' in card and "« formulaire signé »" in card
    assert phone not in page  # masked
    assert '<a href="/staff/comptes">Comptes</a>' in page


async def test_link_and_unlink_a_school(pool, admin) -> None:
    async with pool.connection() as connection:
        school_id = await school(connection)
        cursor = await connection.execute("SELECT uai FROM school WHERE id = %s", (school_id,))
        uai = (await cursor.fetchone())[0]
    staff = await make_account(pool, roles=("school",))
    answer = admin.post("/ecole", account=staff.id, uai=uai)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/staff/comptes?fait=ecole#compte-{staff.id}"
    async with pool.connection() as connection:
        assert await scopes.school_ids(connection, staff) == {school_id}
    assert (
        admin.post("/ecole", account=staff.id, uai=uai)
        .headers["location"]
        .startswith("/staff/comptes?fait=deja")
    )
    assert admin.post("/ecole/retirer", account=staff.id, school=school_id).status_code == 303
    async with pool.connection() as connection:
        assert await scopes.school_ids(connection, staff) == set()
    detail = {"school_id": school_id}
    assert await _audit(pool, admin.account.id) == [
        ("grant.school", "account", str(staff.id), detail),
        ("grant.school_removed", "account", str(staff.id), detail),
    ]


async def test_link_and_unlink_a_workshop(pool, admin) -> None:
    workshop = await make_workshop(pool, starts_in=timedelta(days=1))
    organiser = await make_account(pool)
    assert admin.post("/atelier", account=organiser.id, ref=workshop.ref).status_code == 303
    async with pool.connection() as connection:
        assert await scopes.workshop_ids(connection, organiser) == {workshop.workshop_id}
    answer = admin.post("/atelier/retirer", account=organiser.id, workshop=workshop.workshop_id)
    assert answer.status_code == 303
    async with pool.connection() as connection:
        assert await scopes.workshop_ids(connection, organiser) == set()
    assert [row[0] for row in await _audit(pool, admin.account.id)] == [
        "grant.workshop",
        "grant.workshop_removed",
    ]


async def test_record_and_revoke_a_mediation(pool, admin, staff_clients, live_server_url) -> None:
    async with pool.connection() as connection:
        family_id, _contact = await family(connection, await school(connection), phone := a_phone())
    mediator = await make_account(pool, roles=("mediator",))
    national = "0" + phone[3:]
    spaced = " ".join(national[i : i + 2] for i in range(0, 10, 2))
    answer = admin.post("/mediation", account=mediator.id, phone=spaced, consent="oral, au CCAS")
    assert answer.status_code == 303
    client, _ = staff_clients.sign_in(live_server_url, mediator.email)
    assert client.get(f"/staff/mediation/{family_id}").status_code == 200

    answer = admin.post("/mediation/retirer", account=mediator.id, family=family_id)
    assert answer.status_code == 303
    assert client.get(f"/staff/mediation/{family_id}").status_code == 404
    entries = await _audit(pool, admin.account.id)
    assert [(action, target, int(fid)) for action, target, fid, _ in entries] == [
        ("mediation.granted", "family", family_id),
        ("mediation.revoked", "family", family_id),
    ]
    assert all(phone[3:] not in str(detail) for *_, detail in entries)


@pytest.mark.parametrize(
    ("path", "form", "reason"),
    [
        ("/mediation", {"phone": "+33699999999", "consent": "oui"}, "Aucune famille n'a ce numéro"),
        ("/mediation", {"phone": "pas un numéro", "consent": "oui"}, "n'est pas valide"),
        ("/mediation", {"phone": "PHONE", "consent": "   "}, "Dites comment la famille a donné"),
        ("/mediation", {"phone": "", "consent": "oui"}, "Donnez le numéro de téléphone"),
        ("/mediation", {"phone": "PHONE", "consent": "x" * 501}, "500 caractères au plus"),
        ("/atelier", {"ref": "no-such-workshop"}, "Pas d'atelier no-such-workshop"),
        ("/atelier", {"ref": ""}, "Donnez la référence de l'atelier"),
        ("/ecole", {"uai": "0000000X"}, "Pas d'école avec l'UAI 0000000X"),
        ("/desactiver", {}, "Cochez la case pour confirmer"),
    ],
)
async def test_a_refusal_says_why_next_to_the_form(pool, admin, path, form, reason) -> None:
    async with pool.connection() as connection:
        _family, _contact = await family(connection, await school(connection), phone := a_phone())
    account = await make_account(pool, roles=("mediator", "organiser", "school"))
    form = {key: phone if value == "PHONE" else value for key, value in form.items()}
    answer = admin.post(path, account=account.id, **form)
    assert answer.status_code == 422
    shown = text(answer)
    card = shown.split(f'data-account="{account.id}"', 1)[1].split("</article>", 1)[0]
    assert reason in card and 'data-testid="error"' in card
    if form.get("consent", "").strip() and form.get("phone"):
        assert form["consent"] in card  # what was typed is kept
    assert await _audit(pool, admin.account.id) == []


async def test_a_role_the_account_does_not_have_is_refused(pool, admin) -> None:
    workshop = await make_workshop(pool, starts_in=timedelta(days=1))
    staff = await make_account(pool, roles=("school",))
    answer = admin.post("/atelier", account=staff.id, ref=workshop.ref)
    assert answer.status_code == 422
    assert "n'a pas le rôle organiser" in text(answer)
    unknown = admin.post("/ecole", account="999999999", uai="X")
    assert unknown.status_code == 422 and "Ce compte n'existe pas" in text(unknown)
    assert await _audit(pool, admin.account.id) == []


async def test_disable_an_account(pool, admin, staff_clients, live_server_url) -> None:
    mediator = await make_account(pool, roles=("mediator",))
    client, _ = staff_clients.sign_in(live_server_url, mediator.email)
    assert client.get("/staff/mediation").status_code == 200
    assert admin.post("/desactiver", account=mediator.id, confirm="oui").status_code == 303
    signed_out = client.get("/staff/mediation")
    assert signed_out.status_code == 303
    assert signed_out.headers["location"].startswith("/staff/connexion")
    assert await _audit(pool, admin.account.id) == [
        ("staff.disabled", "account", str(mediator.id), {})
    ]
    page = text(admin.client.get("/staff/comptes"))
    card = page.split(f'data-account="{mediator.id}"', 1)[1].split("</article>", 1)[0]
    assert "désactivé" in card and "/staff/comptes/desactiver" not in card

    own = admin.post("/desactiver", account=admin.account.id, confirm="oui")
    assert own.status_code == 422
    assert "propre compte" in text(own)
