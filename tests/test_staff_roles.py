"""Roles and scopes on every staff page (IDOR checks), CSRF on every form, sign-in
throttling, and the audit log, against the real app and PostgreSQL.

`EXPECTED` is the table: for every route of `StaffSite.routes()`, what each role gets, on its
own object ("own": the organiser's workshop, a family of the school or of the mediation) and on
someone else's ("other"). A new route without a line here fails
`test_every_staff_route_has_a_rule`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest
from phones import new_mobile
from staff_helpers import PASSWORD, csrf_of, make_account, sign_in
from starlette.routing import Mount, Route
from test_checkin import make_workshop
from test_staff_workshops import FORM

from liaison.jobs import renderers_for
from liaison.signing import Signer, secret_key
from staff import audit, grants, journal_pages, scopes, throttle
from staff.site import THROTTLED, StaffSite
from workshops import checkin_codes, figures

ROLES = ("admin", "organiser", "school", "mediator", "nobody", "signed_out")
OK, SIGN_IN = "ok", "sign-in"
PUBLIC = {("GET", "/staff/connexion"), ("POST", "/staff/connexion")}
PUBLIC_MOUNTS = {"/staff/static"}


def _rule(**by_role: Any) -> dict[str, Any]:
    """What each role gets; `(own, other)` for routes about one object. Signed out: the
    sign-in page (a GET) or 403 (a POST)."""
    return {"signed_out": SIGN_IN, **by_role}


WORKSHOP_ONE = _rule(admin=(OK, OK), organiser=(OK, 404), school=403, mediator=403, nobody=403)
WORKSHOP_ALL = _rule(admin=OK, organiser=OK, school=403, mediator=403, nobody=403)
INBOX_ONE = _rule(admin=(OK, OK), organiser=403, school=(OK, 404), mediator=(OK, 404), nobody=403)
INBOX_ALL = _rule(admin=OK, organiser=403, school=OK, mediator=OK, nobody=403)
FAMILIES = _rule(admin=OK, organiser=403, school=OK, mediator=403, nobody=403)
# The report of one's own last families import: none yet in this world.
FAMILY_REPORT = _rule(admin=404, organiser=403, school=404, mediator=403, nobody=403)
NOTICE_ALL = _rule(admin=OK, organiser=403, school=OK, mediator=403, nobody=403)
NOTICE_ONE = _rule(admin=(OK, OK), organiser=403, school=(OK, 404), mediator=403, nobody=403)
ADMIN_ONLY = _rule(admin=OK, organiser=403, school=403, mediator=403, nobody=403)
# Families that agreed to a mediator's help: the mediator's own; admins every family with a
# mediation (the "other" family has none: 404 for admins too).
MEDIATION_ALL = _rule(admin=OK, organiser=403, school=403, mediator=OK, nobody=403)
MEDIATION_ONE = _rule(admin=(OK, 404), organiser=403, school=403, mediator=(OK, 404), nobody=403)
ANY_ACCOUNT = _rule(admin=OK, organiser=OK, school=OK, mediator=OK, nobody=OK)

EXPECTED: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/staff/"): _rule(admin=OK, organiser=OK, school=OK, mediator=OK, nobody=403),
    ("GET", "/staff/ateliers"): WORKSHOP_ALL,
    ("GET", "/staff/ateliers.csv"): WORKSHOP_ALL,
    ("GET", "/staff/ateliers/import"): WORKSHOP_ALL,
    ("POST", "/staff/ateliers/import"): WORKSHOP_ALL,
    ("GET", "/staff/ateliers/nouveau"): WORKSHOP_ALL,
    ("POST", "/staff/ateliers/nouveau"): WORKSHOP_ALL,
    ("GET", "/staff/ateliers/{ref}/modifier"): WORKSHOP_ONE,
    ("POST", "/staff/ateliers/{ref}/modifier"): WORKSHOP_ONE,
    ("POST", "/staff/ateliers/{ref}/publier"): WORKSHOP_ONE,
    ("GET", "/staff/ateliers/{ref}/annuler"): WORKSHOP_ONE,
    ("POST", "/staff/ateliers/{ref}/annuler"): WORKSHOP_ONE,
    ("GET", "/staff/ateliers/{ref}/accueil"): WORKSHOP_ONE,
    ("POST", "/staff/ateliers/{ref}/accueil/presence"): WORKSHOP_ONE,
    ("POST", "/staff/ateliers/{ref}/accueil/sans-inscription"): WORKSHOP_ONE,
    ("POST", "/staff/ateliers/{ref}/accueil/sans-inscription/retirer"): WORKSHOP_ONE,
    ("GET", "/staff/accueil/{token}"): WORKSHOP_ONE,
    ("POST", "/staff/accueil/{token}"): WORKSHOP_ONE,
    ("GET", "/staff/chiffres"): WORKSHOP_ALL,
    ("GET", "/staff/chiffres.csv"): WORKSHOP_ALL,
    ("GET", "/staff/ateliers/{ref}/chiffres"): WORKSHOP_ONE,
    ("GET", "/staff/ateliers/{ref}/chiffres.csv"): WORKSHOP_ONE,
    ("GET", "/staff/messages"): INBOX_ALL,
    ("GET", "/staff/messages/{id}"): INBOX_ONE,
    ("POST", "/staff/messages/{id}/repondre"): INBOX_ONE,
    ("POST", "/staff/messages/{id}/fermer"): INBOX_ONE,
    ("GET", "/staff/familles"): FAMILIES,
    ("POST", "/staff/familles/import"): FAMILIES,
    ("GET", "/staff/familles/rapport.csv"): FAMILY_REPORT,
    ("GET", "/staff/annonces"): NOTICE_ALL,
    ("GET", "/staff/annonces/nouvelle"): NOTICE_ALL,
    ("POST", "/staff/annonces/nouvelle"): NOTICE_ALL,
    ("GET", "/staff/annonces/{id:int}"): NOTICE_ONE,
    ("GET", "/staff/annonces/{id:int}/modifier"): NOTICE_ONE,
    ("POST", "/staff/annonces/{id:int}/modifier"): NOTICE_ONE,
    ("POST", "/staff/annonces/{id:int}/envoyer"): NOTICE_ONE,
    ("POST", "/staff/annonces/{id:int}/annuler"): NOTICE_ONE,
    ("GET", "/staff/annonces/{id:int}/chiffres.csv"): NOTICE_ONE,
    ("GET", "/staff/journal"): ADMIN_ONLY,
    ("GET", "/staff/journal.csv"): ADMIN_ONLY,
    ("GET", "/staff/mediation"): MEDIATION_ALL,
    ("GET", "/staff/mediation/{family:int}"): MEDIATION_ONE,
    ("POST", "/staff/mediation/{family:int}/inscrire"): MEDIATION_ONE,
    ("POST", "/staff/mediation/{family:int}/annuler"): MEDIATION_ONE,
    ("POST", "/staff/mediation/{family:int}/langue"): MEDIATION_ONE,
    # The account is a field of each form: nothing in the path to guess.
    ("GET", "/staff/comptes"): ADMIN_ONLY,
    ("POST", "/staff/comptes/ecole"): ADMIN_ONLY,
    ("POST", "/staff/comptes/ecole/retirer"): ADMIN_ONLY,
    ("POST", "/staff/comptes/atelier"): ADMIN_ONLY,
    ("POST", "/staff/comptes/atelier/retirer"): ADMIN_ONLY,
    ("POST", "/staff/comptes/mediation"): ADMIN_ONLY,
    ("POST", "/staff/comptes/mediation/retirer"): ADMIN_ONLY,
    ("POST", "/staff/comptes/desactiver"): ADMIN_ONLY,
    # Last: it ends the session.
    ("POST", "/staff/deconnexion"): ANY_ACCOUNT,
}


def staff_routes(runtime: Any) -> list[tuple[str, str]]:
    """(method, path) of every route of the staff site, in its order; mounts as ("MOUNT", path)."""
    site = StaffSite(
        pool=None,  # type: ignore[arg-type]  # routes only
        config=runtime.config,
        catalogs=runtime.catalogs,
        renderers=renderers_for(runtime.config),
        signer=Signer(b"k" * 32),
        public_url="http://127.0.0.1",
    )
    found: list[tuple[str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            if isinstance(route, Route):
                found.extend(
                    (method, prefix + route.path)
                    for method in sorted(route.methods or ())
                    if method != "HEAD"
                )
            elif isinstance(route, Mount) and route.routes:
                walk(list(route.routes), prefix + route.path)
            elif isinstance(route, Mount):
                found.append(("MOUNT", prefix + route.path))
            else:
                raise AssertionError(f"an unknown kind of route: {route!r}")

    walk(site.routes(), "")
    return found


def test_every_staff_route_has_a_rule(runtime) -> None:
    routes = staff_routes(runtime)
    missing = [
        route
        for route in routes
        if route not in EXPECTED and route not in PUBLIC and route[1] not in PUBLIC_MOUNTS
    ]
    assert missing == [], f"staff routes without a scope rule in EXPECTED: {missing}"
    stale = sorted(set(EXPECTED) - set(routes))
    assert stale == [], f"rules for routes that no longer exist: {stale}"


# -- a world with two of everything -----------------------------------------------------------


@dataclass
class World:
    mine: Any  # test_checkin.Setup: the organiser's workshop
    theirs: Any  # another organiser's
    tokens: dict[str, str]  # own | other -> a check-in code
    handovers: dict[str, int]  # own | other -> a conversation in the inbox
    families: dict[str, int]  # own | other
    contacts: dict[str, int]
    schools: dict[str, int]
    accounts: dict[str, Any]  # role -> account (signed_out: none)
    notices: dict[str, int]  # own | other -> a draft notice of the school


async def school(connection: Any) -> int:
    code = uuid.uuid4().hex[:8].upper()
    cursor = await connection.execute(
        "INSERT INTO school (uai, name, join_code, created_at) VALUES (%s, %s, %s, now()) "
        "RETURNING id",
        (f"T{code}", f"École {code}", f"J{code}"),
    )
    return int((await cursor.fetchone())[0])


async def family(connection: Any, school_id: int, phone: str) -> tuple[int, int]:
    """A family of `school_id` reached by SMS on `phone`: (family id, contact id)."""
    cursor = await connection.execute(
        "INSERT INTO family (phone, language, created_at, updated_at) "
        "VALUES (%s, 'ar', now(), now()) RETURNING id",
        (phone,),
    )
    family_id = int((await cursor.fetchone())[0])
    cursor = await connection.execute(
        "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
        "VALUES ('sms', %s, 'ar', now(), now()) RETURNING id",
        (phone,),
    )
    contact_id = int((await cursor.fetchone())[0])
    await connection.execute(
        "INSERT INTO family_contact (family_id, contact_id) VALUES (%s, %s)",
        (family_id, contact_id),
    )
    await connection.execute(
        "INSERT INTO family_school (family_id, school_id, level, class_name, source, joined_at) "
        "VALUES (%s, %s, '6e', '6eB', 'import', now())",
        (family_id, school_id),
    )
    return family_id, contact_id


def a_phone() -> str:
    return new_mobile()


@pytest.fixture
async def world(pool, settings) -> World:
    signer = Signer(secret_key(settings))
    mine = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=_parents())
    theirs = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=_parents())
    async with pool.connection() as connection:
        schools = {"own": await school(connection), "other": await school(connection)}
        families, contacts, handovers = {}, {}, {}
        for side in ("own", "other"):
            families[side], contacts[side] = await family(connection, schools[side], a_phone())
            cursor = await connection.execute(
                "INSERT INTO handover (contact_id, school_id, status, reason, opened_at) "
                "VALUES (%s, %s, 'open', 'handover', now()) RETURNING id",
                (contacts[side], schools[side]),
            )
            handovers[side] = int((await cursor.fetchone())[0])
        notices = {}
        for side in ("own", "other"):
            cursor = await connection.execute(
                "INSERT INTO broadcast (title, school_ids, created_at) "
                "VALUES ('Réunion parents-professeurs', %s, now()) RETURNING id",
                ([schools[side]],),
            )
            notices[side] = int((await cursor.fetchone())[0])
    accounts = {
        "admin": await make_account(pool, roles=("admin",)),
        "organiser": await make_account(pool, workshops=[mine.workshop_id]),
        "school": await make_account(pool, roles=("school",), schools=[schools["own"]]),
        "mediator": await make_account(pool, roles=("mediator",)),
        "nobody": await make_account(pool),
    }
    await make_account(pool, workshops=[theirs.workshop_id])  # the other organiser
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE staff_account SET roles = '{}' WHERE id = %s", (accounts["nobody"].id,)
        )
        await scopes.mediate(
            connection, accounts["mediator"].id, families["own"], "oral, au guichet", _now()
        )
    tokens = {
        side: checkin_codes.token(signer, setup.enrolments["sms"], setup.workshop_id)
        for side, setup in (("own", mine), ("other", theirs))
    }
    return World(mine, theirs, tokens, handovers, families, contacts, schools, accounts, notices)


def _parents() -> dict[str, tuple[str, str, str | None, int, str]]:
    return {"sms": ("sms", a_phone(), "fr", 1, "confirmed")}


def _now() -> datetime:
    return datetime.now(UTC)


def _path(pattern: str, world: World, side: str) -> str:
    setup = world.mine if side == "own" else world.theirs
    return (
        pattern.replace("{ref}", setup.ref)
        .replace("{token}", world.tokens[side])
        .replace("{id}", str(world.handovers[side]))
        .replace("{id:int}", str(world.notices[side]))
        .replace("{family:int}", str(world.families[side]))
    )


def _sides(pattern: str) -> tuple[str, ...]:
    return ("own", "other") if "{" in pattern else ("own",)


def _check(answer: httpx.Response, expected: Any, method: str, world: World) -> str | None:
    """None when `answer` is what the table says, else what went wrong."""
    status, location = answer.status_code, answer.headers.get("location", "")
    text = unescape(answer.text)
    if status >= 500:
        return f"{status} (a server error)"
    if expected == SIGN_IN:
        if method == "GET" and status == 303 and location.startswith("/staff/connexion"):
            return None
        if method == "POST" and status == 403 and "session a expiré" in text:
            return None
        return f"{status} {location}, not the sign-in"
    if expected == OK:
        # (Signing out goes to the sign-in page, without a page to come back to.)
        if status in (401, 403, 404) or location.startswith("/staff/connexion?"):
            return f"{status} {location}, refused"
        return None
    if status != expected:
        return f"{status}, not {expected}"
    if status == 403 and "Votre compte n'a pas accès" not in text:
        return "403 but not for the role"
    if status == 404 and ("Pronote à la porte" in text or world.theirs.ref in text):
        return "404 that shows the workshop"
    return None


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_against_each_route(
    live_server_url, pool, staff_clients, runtime, world, role
) -> None:
    if role == "signed_out":
        client, csrf = staff_clients.new(live_server_url), "forged"
    else:
        client, answer = staff_clients.sign_in(live_server_url, world.accounts[role].email)
        assert answer.status_code == 303
        csrf = csrf_of(client.get("/staff/journal").text)
    routes = [r for r in staff_routes(runtime) if r in EXPECTED]
    routes.sort(key=lambda route: route == ("POST", "/staff/deconnexion"))
    wrong = []
    for method, pattern in routes:
        rule = EXPECTED[(method, pattern)][role]
        for index, side in enumerate(_sides(pattern)):
            expected = rule[index] if isinstance(rule, tuple) else rule
            path = _path(pattern, world, side)
            form = {"csrf": csrf}
            answer = client.get(path) if method == "GET" else client.post(path, data=form)
            problem = _check(answer, expected, method, world)
            if problem:
                wrong.append(f"{method} {pattern} ({side}): {problem}")
    assert wrong == [], f"{role}:\n" + "\n".join(wrong)


# -- what the lists show ---------------------------------------------------------------------


async def test_an_organiser_lists_exports_and_counts_their_own_workshops_only(
    live_server_url, pool, staff_clients, world
) -> None:
    client, _ = staff_clients.sign_in(live_server_url, world.accounts["organiser"].email)
    mine, theirs = world.mine.ref, world.theirs.ref

    listed = client.get("/staff/ateliers").text
    exported = client.get("/staff/ateliers.csv").text
    assert f'data-ref="{mine}"' in listed and f'data-ref="{theirs}"' not in listed
    assert mine in exported and theirs not in exported

    day = (_now() + timedelta(minutes=30)).date()
    period = (
        f"du={(day - timedelta(days=1)).isoformat()}&au={(day + timedelta(days=1)).isoformat()}"
    )
    page = client.get(f"/staff/chiffres?{period}").text
    csv_text = client.get(f"/staff/chiffres.csv?{period}").text
    assert f"/staff/ateliers/{mine}/chiffres" in page
    assert f"/staff/ateliers/{theirs}/chiffres" not in page
    assert mine in csv_text and theirs not in csv_text

    admin, _ = staff_clients.sign_in(live_server_url, world.accounts["admin"].email)
    everything = admin.get("/staff/ateliers").text
    assert f'data-ref="{mine}"' in everything and f'data-ref="{theirs}"' in everything
    assert theirs in admin.get(f"/staff/chiffres.csv?{period}").text


async def test_period_figures_can_be_limited_to_some_workshops(pool, world) -> None:
    start, end = _now() - timedelta(days=1), _now() + timedelta(days=1)
    mine, theirs = world.mine.workshop_id, world.theirs.workshop_id
    async with pool.connection() as connection:
        every = await figures.for_period(connection, start, end)
        some = await figures.for_period(connection, start, end, workshop_ids={mine})
        none = await figures.for_period(connection, start, end, workshop_ids=set())
    assert {mine, theirs} <= {row.id for row in every.workshops}
    assert [row.id for row in some.workshops] == [mine]
    assert some.totals.enrolled_parents == 1
    assert none.workshops == () and none.totals.enrolled_parents == 0


async def test_creating_a_workshop_makes_it_the_creators_and_import_cannot_take_anothers(
    live_server_url, pool, staff_clients, world
) -> None:
    client, _ = staff_clients.sign_in(live_server_url, world.accounts["organiser"].email)
    created = client.post(
        "/staff/ateliers/nouveau",
        data={**FORM, "csrf": csrf_of(client.get("/staff/ateliers").text)},
    )
    ref = parse_qs(urlsplit(created.headers["location"]).query)["atelier"][0]
    assert client.get(f"/staff/ateliers/{ref}/modifier").status_code == 200
    other, _ = staff_clients.sign_in(live_server_url, (await make_account(pool)).email)
    assert other.get(f"/staff/ateliers/{ref}/modifier").status_code == 404

    theirs = world.theirs.ref
    data = (
        "ref,title,status,starts_at,ends_at,timezone,capacity,online_url\n"
        f"{theirs},Pris,draft,2031-05-01 10:00,2031-05-01 11:00,Europe/Paris,5,https://v.fr/a\n"
    ).encode()
    csrf = csrf_of(client.get("/staff/ateliers/import").text)
    answer = client.post(
        "/staff/ateliers/import",
        data={"csrf": csrf},
        files={"fichier": ("a.csv", data, "text/csv")},
    )
    assert answer.status_code == 422
    assert f"ligne 2 : {theirs} : cette référence est déjà celle d'un atelier" in unescape(
        answer.text
    )
    async with pool.connection() as connection:
        cursor = await connection.execute("SELECT title FROM workshop WHERE ref = %s", (theirs,))
        assert (await cursor.fetchone())[0] == "Pronote à la porte"


async def test_a_code_of_another_organisers_workshop_is_not_used(
    live_server_url, pool, staff_clients, world
) -> None:
    client, _ = staff_clients.sign_in(live_server_url, world.accounts["organiser"].email)
    csrf = csrf_of(client.get("/staff/ateliers").text)
    answer = client.post(f"/staff/accueil/{world.tokens['other']}", data={"csrf": csrf})
    assert answer.status_code == 404
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT attendance FROM enrolment WHERE id = %s", (world.theirs.enrolments["sms"],)
        )
        assert (await cursor.fetchone())[0] is None
        cursor = await connection.execute(
            "SELECT 1 FROM used_token WHERE digest = %s", (Signer.digest(world.tokens["other"]),)
        )
        assert await cursor.fetchone() is None


async def test_the_scope_api_for_schools_mediators_and_families(pool, world) -> None:
    school_staff, mediator = world.accounts["school"], world.accounts["mediator"]
    admin, organiser = world.accounts["admin"], world.accounts["organiser"]
    own, other = world.families["own"], world.families["other"]
    async with pool.connection() as connection:
        assert await scopes.school_ids(connection, school_staff) == {world.schools["own"]}
        assert await scopes.school_ids(connection, admin) is None
        assert await scopes.school_ids(connection, organiser) == set()
        assert await scopes.workshop_ids(connection, organiser) == {world.mine.workshop_id}
        assert await scopes.workshop_ids(connection, admin) is None
        assert await scopes.workshop_ids(connection, school_staff) == set()
        for account, family_id, allowed in [
            (school_staff, own, True),
            (school_staff, other, False),
            (mediator, own, True),
            (mediator, other, False),
            (admin, other, True),
            (organiser, own, False),
        ]:
            assert await scopes.can_act_for_family(connection, account, family_id) is allowed
        assert await scopes.can_see_contact(connection, school_staff, world.contacts["own"])
        assert not await scopes.can_see_contact(connection, school_staff, world.contacts["other"])
        assert await scopes.can_see_contact(connection, mediator, world.contacts["own"])
        assert not await scopes.can_see_contact(connection, organiser, world.contacts["own"])
        # A revoked mediation: the mediator no longer acts for the family.
        assert await scopes.revoke_mediation(connection, mediator.id, own, _now()) == 1
        assert not await scopes.can_act_for_family(connection, mediator, own)
        assert not await scopes.can_see_contact(connection, mediator, world.contacts["own"])
        # Links without the role give nothing.
        await scopes.grant_school(connection, organiser.id, world.schools["own"])
        assert not await scopes.can_act_for_family(connection, organiser, own)


# -- CSRF -------------------------------------------------------------------------------------


async def test_every_form_needs_its_csrf_token(
    live_server_url, pool, staff_clients, runtime, world
) -> None:
    admin = world.accounts["admin"]
    client, _ = staff_clients.sign_in(live_server_url, admin.email)
    before = await _entries(pool, admin.id)
    posts = [pattern for method, pattern in staff_routes(runtime) if method == "POST"]
    posts = [p for p in posts if ("POST", p) not in PUBLIC]
    assert len(posts) >= 10
    for pattern in posts:
        path = _path(pattern, world, "own")
        for data in ({}, {"csrf": "forged"}, {"csrf": ""}):
            answer = client.post(path, data=data)
            assert answer.status_code == 403, (pattern, data)
            assert "Formulaire expiré" in answer.text
    assert await _entries(pool, admin.id) == before  # nothing done, nothing recorded
    assert client.get("/staff/journal").status_code == 200  # still signed in


# -- sign-in throttling ------------------------------------------------------------------------

LOOPBACK = hashlib.sha256(b"127.0.0.1").digest()


@pytest.fixture
async def fresh_address(pool) -> Any:
    """No failures counted for 127.0.0.1 before or after (every test signs in from there)."""

    async def forget() -> None:
        async with pool.connection() as connection:
            await connection.execute("DELETE FROM login_failure WHERE key = %s", (LOOPBACK,))

    await forget()
    yield
    await forget()


def _attempt(clients: Any, url: str, email: str, password: str) -> httpx.Response:
    return sign_in(clients.new(url), email, password)[1]


async def test_five_failures_refuse_the_email_for_fifteen_minutes(
    live_server_url, pool, staff_clients, fresh_address
) -> None:
    account = await make_account(pool)
    bystander = await make_account(pool)
    for _ in range(throttle.PER_EMAIL):
        answer = _attempt(staff_clients, live_server_url, account.email, "wrong password, long")
        assert answer.status_code == 401
    refused = _attempt(staff_clients, live_server_url, account.email.upper(), PASSWORD)
    assert refused.status_code == 429
    assert THROTTLED in refused.text.replace("&#39;", "'")
    assert refused.headers["retry-after"] == "900"
    assert "liaison_staff=" not in refused.headers.get("set-cookie", "")
    # Another e-mail from the same address signs in.
    assert _attempt(staff_clients, live_server_url, bystander.email, PASSWORD).status_code == 303

    digest = hashlib.sha256(account.email.lower().encode()).digest()
    async with pool.connection() as connection:
        cursor = await connection.execute("SELECT key FROM login_failure")
        keys = {bytes(row[0]) for row in await cursor.fetchall()}
        assert digest in keys and LOOPBACK in keys
        assert not any(account.email.encode() in key for key in keys)
        # Fifteen minutes later.
        await connection.execute(
            "UPDATE login_failure SET at = at - interval '15 minutes 1 second' WHERE key = %s",
            (digest,),
        )
    assert _attempt(staff_clients, live_server_url, account.email, PASSWORD).status_code == 303


async def test_a_success_forgets_the_emails_failures(
    live_server_url, pool, staff_clients, fresh_address
) -> None:
    account = await make_account(pool)
    for _round in range(2):
        for _ in range(throttle.PER_EMAIL - 1):
            answer = _attempt(staff_clients, live_server_url, account.email, "not the password!")
            assert answer.status_code == 401
        assert _attempt(staff_clients, live_server_url, account.email, PASSWORD).status_code == 303


async def test_twenty_failures_from_one_address_refuse_it(
    live_server_url, pool, staff_clients, fresh_address
) -> None:
    account = await make_account(pool)
    for n in range(throttle.PER_ADDRESS):
        email = f"guess-{n}-{uuid.uuid4().hex[:6]}@example.org"
        assert _attempt(staff_clients, live_server_url, email, PASSWORD).status_code == 401
    assert _attempt(staff_clients, live_server_url, account.email, PASSWORD).status_code == 429


# -- the audit log -----------------------------------------------------------------------------


async def _entries(pool: Any, account_id: int | None) -> list[dict[str, Any]]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT action, target_type, target_id, detail FROM audit_log "
            "WHERE account_id IS NOT DISTINCT FROM %s ORDER BY id",
            (account_id,),
        )
        return [
            {"action": a, "target_type": t, "target_id": i, "detail": d}
            for a, t, i, d in await cursor.fetchall()
        ]


def _actions(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["action"] for entry in entries]


async def test_every_change_is_in_the_audit_log(
    live_server_url, pool, staff_clients, settings, fresh_address
) -> None:
    door = await make_workshop(pool, starts_in=-timedelta(minutes=30), parents=_parents())
    account = await make_account(pool, workshops=[door.workshop_id])
    assert (
        _attempt(staff_clients, live_server_url, account.email, "wrong, wrong, wrong").status_code
        == 401
    )
    client, _ = staff_clients.sign_in(live_server_url, account.email)
    csrf = csrf_of(client.get("/staff/ateliers").text)

    created = client.post("/staff/ateliers/nouveau", data={**FORM, "csrf": csrf})
    ref = parse_qs(urlsplit(created.headers["location"]).query)["atelier"][0]
    client.post(f"/staff/ateliers/{ref}/modifier", data={**FORM, "capacity": "13", "csrf": csrf})
    client.post(f"/staff/ateliers/{ref}/publier", data={"csrf": csrf})
    client.post(f"/staff/ateliers/{ref}/annuler", data={"csrf": csrf})
    imported = f"audit-{uuid.uuid4().hex[:8]}"
    data = (
        "ref,title,starts_at,ends_at,capacity,online_url\n"
        f"{imported},Importé,2031-05-01 10:00,2031-05-01 11:00,5,https://v.fr/a\n"
    ).encode()
    client.post(
        "/staff/ateliers/import",
        data={"csrf": csrf},
        files={"fichier": ("a.csv", data, "text/csv")},
    )
    checkin = f"/staff/ateliers/{door.ref}/accueil"
    enrolment = door.enrolments["sms"]
    for value in ("no_show", ""):
        answer = client.post(
            f"{checkin}/presence", data={"csrf": csrf, "enrolment": enrolment, "attendance": value}
        )
        assert answer.status_code == 303
    walk_in = client.post(f"{checkin}/sans-inscription", data={"csrf": csrf, "people": "2"})
    walk_in_id = walk_in.headers["location"].rsplit("#w-", 1)[1]
    client.post(f"{checkin}/sans-inscription/retirer", data={"csrf": csrf, "walk_in": walk_in_id})
    token = checkin_codes.token(Signer(secret_key(settings)), enrolment, door.workshop_id)
    assert client.post(f"/staff/accueil/{token}", data={"csrf": csrf}).status_code == 303
    client.post("/staff/deconnexion", data={"csrf": csrf})

    entries = await _entries(pool, account.id)
    assert _actions(entries) == [
        "sign_in.succeeded",
        "workshop.created",
        "workshop.edited",
        "workshop.published",
        "workshop.cancelled",
        "workshop.imported",
        "attendance.marked",
        "attendance.undone",
        "walk_in.added",
        "walk_in.removed",
        "checkin_code.used",
        "sign_out",
    ]
    by_action = {entry["action"]: entry for entry in entries}
    assert by_action["attendance.marked"]["target_id"] == str(enrolment)
    assert by_action["attendance.marked"]["detail"] == {
        "workshop_id": door.workshop_id,
        "attendance": "no_show",
    }
    assert by_action["checkin_code.used"]["target_type"] == "enrolment"
    assert by_action["walk_in.added"]["detail"]["people"] == 2
    assert by_action["workshop.imported"]["detail"] == {"created": True}
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT account_id, detail FROM audit_log WHERE action = 'sign_in.failed' "
            "AND target_type = 'account' AND target_id = %s",
            (str(account.id),),
        )
        failures = await cursor.fetchall()
        cursor = await connection.execute(
            "SELECT detail::text FROM audit_log WHERE account_id = %s", (account.id,)
        )
        written = " ".join(row[0] for row in await cursor.fetchall())
    assert failures == [(None, {})]  # on the account: no e-mail, no password, no actor
    phone = next(iter(door.addresses.values()))
    assert PASSWORD not in written and phone not in written and phone[3:] not in written


async def test_an_unknown_email_is_recorded_by_its_digest_only(
    live_server_url, pool, staff_clients, fresh_address
) -> None:
    email = f"Nobody-{uuid.uuid4().hex[:8]}@example.org"
    assert _attempt(staff_clients, live_server_url, email, PASSWORD).status_code == 401
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT account_id, target_id, detail FROM audit_log "
            "WHERE action = 'sign_in.failed' AND detail->>'email_sha256' = %s",
            (hashlib.sha256(email.lower().encode()).hexdigest(),),
        )
        rows = await cursor.fetchall()
        cursor = await connection.execute(
            "SELECT count(*) FROM audit_log WHERE detail::text ILIKE %s", (f"%{email}%",)
        )
        assert (await cursor.fetchone())[0] == 0
    assert rows == [(None, "", {"email_sha256": audit.email_digest(email)})]


async def test_the_database_refuses_to_change_or_delete_the_audit_log(pool) -> None:
    async with pool.connection() as connection:
        await audit.record(connection, None, "staff.created", "test", 1, {"n": 1})
    for statement in (
        "UPDATE audit_log SET action = 'forged' WHERE target_type = 'test'",
        "DELETE FROM audit_log WHERE target_type = 'test'",
        "TRUNCATE audit_log",
    ):
        async with pool.connection() as connection:
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                await connection.execute(statement)
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM audit_log WHERE target_type = 'test'"
        )
        assert (await cursor.fetchone())[0] >= 1


@pytest.mark.parametrize(
    "detail",
    [
        {"password": "x"},
        {"phone": "x"},
        {"note": "+33612345678"},
        {"nested": {"who": "06 12 34 56 78"}},
        {"message": "bonjour"},
    ],
)
async def test_the_audit_log_refuses_phones_passwords_and_messages(pool, detail) -> None:
    async with pool.connection() as connection:
        with pytest.raises(audit.AuditError):
            await audit.record(connection, None, "staff.created", "test", 1, detail)


# -- grants from the command line ------------------------------------------------------------


async def test_grants_are_recorded(pool, world) -> None:
    organiser, school_staff = world.accounts["organiser"], world.accounts["school"]
    mediator = world.accounts["mediator"]
    phone = a_phone()
    now = _now()
    async with pool.connection() as connection:
        family_id, _contact = await family(connection, world.schools["other"], phone)
        assert await grants.grant_workshop(connection, organiser, world.theirs.ref)
        assert not await grants.grant_workshop(connection, organiser, world.theirs.ref)
        cursor = await connection.execute(
            "SELECT uai FROM school WHERE id = %s", (world.schools["other"],)
        )
        uai = (await cursor.fetchone())[0]
        assert await grants.grant_school(connection, school_staff, uai.lower())
        national = "0" + phone[3:]
        await grants.mediate(connection, mediator, national, "formulaire signé", now)
        assert await scopes.can_act_for_family(connection, mediator, family_id)
        assert await grants.revoke(connection, mediator, phone, now) == 1
        for wrong in (
            grants.grant_workshop(connection, school_staff, world.mine.ref),  # not an organiser
            grants.grant_school(connection, school_staff, "0000000X"),
            grants.mediate(connection, mediator, "+33699999999", "oui", now),
            grants.mediate(connection, mediator, phone, "  ", now),
        ):
            with pytest.raises(grants.GrantError):
                await wrong
        cursor = await connection.execute(
            "SELECT action, target_type, target_id, detail::text FROM audit_log "
            "WHERE account_id IS NULL AND ((target_type = 'account' AND target_id = ANY(%s)) "
            "OR (target_type = 'family' AND target_id = %s)) ORDER BY id",
            ([str(organiser.id), str(school_staff.id)], str(family_id)),
        )
        rows = await cursor.fetchall()
    actions = [row[0] for row in rows]
    assert actions.count("grant.workshop") == 1 and actions.count("grant.school") == 1
    assert actions[-2:] == ["mediation.granted", "mediation.revoked"]
    assert all(phone not in row[3] and phone[3:] not in row[3] for row in rows)


def test_grant_and_mediate_from_the_command_line(database, world) -> None:
    from test_cli import run

    env = {"DATABASE_URL": database.url}
    organiser = world.accounts["organiser"].email
    granted = run("staff", "grant", "--email", organiser, "--workshop", world.theirs.ref, env=env)
    assert granted.returncode == 0, granted.stderr
    assert "ajouté" in granted.stdout
    unknown = run("staff", "grant", "--email", organiser, "--workshop", "nope-nope", env=env)
    assert unknown.returncode == 1 and "pas d'atelier nope-nope" in unknown.stderr
    email = f"school-{uuid.uuid4().hex[:8]}@example.org"
    refused = run(
        "staff",
        "create",
        "--email",
        email,
        "--school",
        "0000000X",
        "--password-stdin",
        stdin=PASSWORD,
        env=env,
    )
    assert refused.returncode == 1 and "--role school" in refused.stderr
    unknown_school = run(
        "staff",
        "create",
        "--email",
        email,
        "--role",
        "school",
        "--school",
        "0000000X",
        "--password-stdin",
        stdin=PASSWORD,
        env=env,
    )
    assert unknown_school.returncode == 1 and "pas d'école" in unknown_school.stderr
    listed = run("staff", "list", env=env)
    assert email not in listed.stdout  # nothing created when a school is unknown


# -- the journal --------------------------------------------------------------------------------


async def test_the_journal_is_for_admins_filters_and_exports(
    live_server_url, pool, staff_clients, world
) -> None:
    admin = world.accounts["admin"]
    client, _ = staff_clients.sign_in(live_server_url, admin.email)
    organiser, _ = staff_clients.sign_in(live_server_url, world.accounts["organiser"].email)
    assert organiser.get("/staff/journal").status_code == 403

    page = client.get(f"/staff/journal?compte={admin.id}&action=sign_in.succeeded")
    assert page.status_code == 200
    shown = page.text.split("<tbody>", 1)[1]
    assert shown.count('data-action="sign_in.succeeded"') >= 1
    assert 'data-action="sign_out"' not in shown and admin.email in shown
    by_email = client.get(f"/staff/journal?compte={admin.email.upper()}").text
    assert 'data-action="sign_in.succeeded"' in by_email
    today = datetime.now(UTC).date()
    long_ago = client.get("/staff/journal?jour=2001-01-01").text
    assert "Aucune entrée pour ces filtres" in long_ago
    assert client.get("/staff/journal?jour=hier").status_code == 400
    assert client.get("/staff/journal?action=DROP%20TABLE").status_code == 400

    exported = client.get(f"/staff/journal.csv?compte={admin.id}&jour={today.isoformat()}")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == [
        "at",
        "account_id",
        "account_email",
        "action",
        "target_type",
        "target_id",
        "detail",
    ]
    assert any(row[3] == "sign_in.succeeded" and row[2] == admin.email for row in rows[1:])
    assert {row[1] for row in rows[1:]} == {str(admin.id)}
    # Nothing on the page changes the journal.
    assert 'method="post"' not in page.text.split("</header>", 1)[1]


async def test_a_digest_with_phone_like_digits_is_not_taken_for_a_phone(pool) -> None:
    """An e-mail's SHA-256 may hold ten digits in a row; it is not a phone number."""
    digest = "ab0612345678cd" + "e" * 50
    async with pool.connection() as connection:
        await audit.record(connection, None, "sign_in.failed", detail={"email_sha256": digest})
        note = {"note": "rappeler le 06 12 34 56 78"}
        with pytest.raises(audit.AuditError):
            await audit.record(connection, None, "sign_in.failed", detail=note)


async def test_every_audit_action_has_a_label_and_no_other_is_written(pool) -> None:
    assert set(journal_pages.ACTIONS) == audit.ACTIONS
    async with pool.connection() as connection:
        with pytest.raises(audit.AuditError, match="unknown action"):
            await audit.record(connection, None, "staff.renamed", "account", 1)
