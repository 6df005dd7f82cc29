"""Check-in at the door against the real app and PostgreSQL: the list and its search, marks and
their timing, walk-ins, QR codes (forged, reused, cancelled, another day; a GET never uses
one), sign-in and CSRF, and the parent's code page."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from phones import new_mobile
from staff_helpers import csrf_of, make_account

from channels.checkin_page import code_link
from channels.phone import mask
from liaison.signing import BadToken, Signer, secret_key
from staff.accounts import Account
from workshops import attendance, checkin_codes, store
from workshops.records import build

NOON = 12


def noon_zone() -> str:
    """A fixed-offset zone where it is now between 12:00 and 13:00, so that "today" on the
    venue's clock holds a few hours either side whenever the tests run."""
    offset = NOON - datetime.now(UTC).hour  # local = UTC + offset
    return f"Etc/GMT{-offset:+d}" if offset else "Etc/GMT"  # Etc/GMT-3 is UTC+3


@dataclass
class Setup:
    workshop_id: int
    ref: str
    enrolments: dict[str, int]  # name -> enrolment id
    addresses: dict[str, str]  # name -> contact address


async def make_workshop(
    pool: Any,
    *,
    starts_in: timedelta,
    status: str = "published",
    parents: dict[str, tuple[str, str, str | None, int, str]] | None = None,
) -> Setup:
    """A workshop starting `starts_in` from now (negative: under way) and its enrolments:
    name -> (channel, address, language, people, status)."""
    zone = noon_zone()
    start = datetime.now(UTC) + starts_in
    local = start.astimezone(ZoneInfo(zone))
    ref = f"door-{uuid.uuid4().hex[:10]}"
    workshop = build(
        {
            "ref": ref,
            "title": "Pronote à la porte",
            "starts_at": local.strftime("%Y-%m-%d %H:%M"),
            "ends_at": (local + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"),
            "timezone": zone,
            "capacity": "20",
            "status": status,
            "languages": "fr;ar",
            "venue_name": "Médiathèque",
            "venue_address": "2 place de la Mairie",
        }
    )
    now = datetime.now(UTC)
    enrolments: dict[str, int] = {}
    addresses: dict[str, str] = {}
    async with pool.connection() as connection:
        await store.save(connection, [workshop], now)
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
        workshop_id = int((await cursor.fetchone())[0])
        for name, (channel, address, language, people, state) in (parents or {}).items():
            cursor = await connection.execute(
                "INSERT INTO contact (channel, address, language, created_at, last_seen_at) "
                "VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (channel, address, language, now, now),
            )
            contact_id = (await cursor.fetchone())[0]
            cursor = await connection.execute(
                "INSERT INTO enrolment (workshop_id, contact_id, people, status, created_at, "
                "updated_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING id",
                (workshop_id, contact_id, people, state, now, now),
            )
            enrolments[name] = int((await cursor.fetchone())[0])
            addresses[name] = address
    return Setup(workshop_id, ref, enrolments, addresses)


def a_phone() -> str:
    return new_mobile()


def family(**extra: tuple[str, str, str | None, int, str]) -> dict[str, Any]:
    parents: dict[str, Any] = {
        "sms": ("sms", a_phone(), "fr", 2, "confirmed"),
        "telegram": ("telegram", str(uuid.uuid4().int)[:10], "ar", 1, "confirmed"),
        "web": ("web", f"web-{uuid.uuid4()}", "tr", 3, "offered"),
        "waiting": ("sms", a_phone(), "pt", 1, "waitlisted"),
        "gone": ("sms", a_phone(), "es", 4, "cancelled"),
    }
    parents.update(extra)
    return parents


async def row(pool: Any, enrolment_id: int) -> tuple[str | None, int | None]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT attendance, attendance_by FROM enrolment WHERE id = %s", (enrolment_id,)
        )
        found = await cursor.fetchone()
    return found[0], found[1]


async def used(pool: Any, token: str) -> bool:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT 1 FROM used_token WHERE digest = %s", (Signer.digest(token),)
        )
        return await cursor.fetchone() is not None


async def organiser(
    pool: Any, staff_clients: Any, url: str, *workshops: Setup
) -> tuple[httpx.Client, Account]:
    """A signed-in organiser managing `workshops`."""
    account = await make_account(pool, workshops=[setup.workshop_id for setup in workshops])
    client, _ = staff_clients.sign_in(url, account.email)
    return client, account


def seen(answer: httpx.Response | str) -> str:
    """The page's text with HTML entities read (an apostrophe is &#39; in the markup)."""
    return html.unescape(answer if isinstance(answer, str) else answer.text)


def numbers(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'data-testid="number">n° (\d+)<', page)}


@pytest.fixture(scope="module")
def signer(settings) -> Signer:  # type: ignore[no-untyped-def]
    return Signer(secret_key(settings))


# -- the list and its search ----------------------------------------------------------------


async def test_the_list_shows_numbers_masked_phones_and_counts_but_no_address(
    live_server_url, pool, staff_clients
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    page = client.get(f"/staff/ateliers/{setup.ref}/accueil")
    assert page.status_code == 200
    shown = numbers(page.text)
    ids = setup.enrolments
    assert shown == {ids["sms"], ids["telegram"], ids["web"], ids["waiting"]}
    assert mask(setup.addresses["sms"]) in seen(page)
    for name in ("sms", "telegram", "web", "waiting"):
        assert setup.addresses[name] not in seen(page)
    assert "Telegram" in seen(page) and "liste d'attente" in seen(page) and "arabe" in seen(page)
    # 2 (sms) + 1 (telegram) + 3 (offered a seat): the waiting list and the cancelled aside.
    assert 'data-testid="count-expected">6<' in seen(page)
    assert 'data-testid="count-present">0<' in seen(page)
    # Before the start: "Présent" only, no "Absent"/"Excusé".
    assert 'value="attended"' in seen(page) and 'value="no_show"' not in seen(page)
    assert '<script src="/staff/static/checkin.js" defer>' in seen(page)


async def test_search_by_number_and_by_phone_digits(live_server_url, pool, staff_clients) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    ids, phone = setup.enrolments, setup.addresses["sms"]
    national = "0" + phone[3:]
    spaced = " ".join(national[i : i + 2] for i in range(0, 10, 2))

    def search(query: str) -> set[int]:
        answer = client.get(f"/staff/ateliers/{setup.ref}/accueil", params={"q": query})
        assert answer.status_code == 200
        return numbers(answer.text)

    for query in (str(ids["web"]), f"n° {ids['web']}", f"#{ids['web']}", f"N°{ids['web']}"):
        assert search(query) == {ids["web"]}, query
    for query in (phone[-6:], phone, spaced, national, phone.replace("+33", "+33 ")):
        assert search(query) == {ids["sms"]}, query
    assert search(setup.addresses["telegram"]) == set()  # chat ids are no search key
    # Fewer than four digits are an enrolment number only, never the end of a phone.
    assert ids["sms"] not in search(phone[-3:]) or int(phone[-3:]) == ids["sms"]
    assert search("999999999999") == set()
    assert (
        "Personne ne correspond."
        in client.get(f"/staff/ateliers/{setup.ref}/accueil", params={"q": "999999999999"}).text
    )
    assert search("") == {ids["sms"], ids["telegram"], ids["web"], ids["waiting"]}


async def test_an_unknown_workshop_is_404(live_server_url, pool, staff_clients) -> None:
    client, _ = await organiser(pool, staff_clients, live_server_url)
    assert client.get("/staff/ateliers/nope-nope/accueil").status_code == 404


# -- marks ----------------------------------------------------------------------------------


async def test_mark_attended_undo_and_no_show_refused_before_the_start(
    live_server_url, pool, staff_clients
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    client, account = await organiser(pool, staff_clients, live_server_url, setup)
    url = f"/staff/ateliers/{setup.ref}/accueil"
    csrf = csrf_of(client.get(url).text)
    sms = setup.enrolments["sms"]

    answer = client.post(
        f"{url}/presence", data={"csrf": csrf, "enrolment": sms, "attendance": "attended"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{url}#e-{sms}"
    assert await row(pool, sms) == ("attended", account.id)
    page = client.get(url).text
    assert 'data-testid="count-present">2<' in page
    assert "Annuler « Présent »" in page

    answer = client.post(
        f"{url}/presence", data={"csrf": csrf, "enrolment": sms, "attendance": "", "q": "78"}
    )
    assert answer.headers["location"] == f"{url}?q=78#e-{sms}"
    assert await row(pool, sms) == (None, None)

    for value in ("no_show", "excused"):
        answer = client.post(
            f"{url}/presence", data={"csrf": csrf, "enrolment": sms, "attendance": value}
        )
        assert answer.status_code == 409
        assert "seulement une fois l'atelier commencé" in seen(answer)
        assert await row(pool, sms) == (None, None)


async def test_no_show_and_excused_once_started_for_seats_only(
    live_server_url, pool, staff_clients
) -> None:
    setup = await make_workshop(pool, starts_in=-timedelta(minutes=30), parents=family())
    client, account = await organiser(pool, staff_clients, live_server_url, setup)
    url = f"/staff/ateliers/{setup.ref}/accueil"
    page = client.get(url).text
    assert 'value="no_show"' in page and 'value="excused"' in page
    csrf = csrf_of(page)
    ids = setup.enrolments
    for name, value in (("sms", "no_show"), ("telegram", "excused"), ("web", "attended")):
        answer = client.post(
            f"{url}/presence", data={"csrf": csrf, "enrolment": ids[name], "attendance": value}
        )
        assert answer.status_code == 303, answer.text
        assert await row(pool, ids[name]) == (value, account.id)
    # Someone left on the waiting list was not missed; they may still come.
    answer = client.post(
        f"{url}/presence", data={"csrf": csrf, "enrolment": ids["waiting"], "attendance": "no_show"}
    )
    assert answer.status_code == 409 and "pas de place réservée" in seen(answer)
    answer = client.post(
        f"{url}/presence",
        data={"csrf": csrf, "enrolment": ids["waiting"], "attendance": "attended"},
    )
    assert answer.status_code == 303
    page = client.get(url).text
    # 3 (web) + 1 (came from the waiting list)
    assert 'data-testid="count-present">4<' in page


async def test_nothing_is_marked_before_the_workshops_day(
    live_server_url, pool, staff_clients
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(days=3), parents=family())
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    url = f"/staff/ateliers/{setup.ref}/accueil"
    page = client.get(url).text
    assert "L'accueil ouvre le jour de l'atelier" in page and 'value="attended"' not in page
    csrf = csrf_of(page)
    answer = client.post(
        f"{url}/presence",
        data={"csrf": csrf, "enrolment": setup.enrolments["sms"], "attendance": "attended"},
    )
    assert answer.status_code == 409
    answer = client.post(f"{url}/sans-inscription", data={"csrf": csrf, "people": "1"})
    assert answer.status_code == 409
    assert await row(pool, setup.enrolments["sms"]) == (None, None)


@pytest.mark.parametrize("value", ["present", "ATTENDED", "attended "])
async def test_unknown_attendance_values_are_refused(
    live_server_url, pool, staff_clients, value
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    url = f"/staff/ateliers/{setup.ref}/accueil"
    csrf = csrf_of(client.get(url).text)
    answer = client.post(
        f"{url}/presence",
        data={"csrf": csrf, "enrolment": setup.enrolments["sms"], "attendance": value},
    )
    assert answer.status_code == 400
    assert await row(pool, setup.enrolments["sms"]) == (None, None)


async def test_an_enrolment_of_another_workshop_cannot_be_marked(
    live_server_url, pool, staff_clients
) -> None:
    mine = await make_workshop(pool, starts_in=-timedelta(minutes=30), parents=family())
    other = await make_workshop(pool, starts_in=-timedelta(minutes=30), parents=family())
    client, _ = await organiser(pool, staff_clients, live_server_url, mine, other)
    url = f"/staff/ateliers/{mine.ref}/accueil"
    csrf = csrf_of(client.get(url).text)
    stranger = other.enrolments["sms"]
    for value in ("attended", "no_show", ""):
        answer = client.post(
            f"{url}/presence", data={"csrf": csrf, "enrolment": stranger, "attendance": value}
        )
        assert answer.status_code == 404
        assert f"Pas d'inscription n° {stranger} pour cet atelier" in seen(answer)
    assert await row(pool, stranger) == (None, None)
    # Nor a walk-in of another workshop taken back.
    other_url = f"/staff/ateliers/{other.ref}/accueil"
    client.post(f"{other_url}/sans-inscription", data={"csrf": csrf, "people": "2"})
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT id FROM walk_in WHERE workshop_id = %s", (other.workshop_id,)
        )
        walk_in_id = (await cursor.fetchone())[0]
    answer = client.post(
        f"{url}/sans-inscription/retirer", data={"csrf": csrf, "walk_in": walk_in_id}
    )
    assert answer.status_code == 404
    async with pool.connection() as connection:
        cursor = await connection.execute("SELECT 1 FROM walk_in WHERE id = %s", (walk_in_id,))
        assert await cursor.fetchone() is not None


# -- walk-ins -------------------------------------------------------------------------------


async def test_a_walk_in_is_added_counted_and_taken_back(
    live_server_url, pool, staff_clients
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    client, account = await organiser(pool, staff_clients, live_server_url, setup)
    url = f"/staff/ateliers/{setup.ref}/accueil"
    csrf = csrf_of(client.get(url).text)
    answer = client.post(
        f"{url}/sans-inscription",
        data={"csrf": csrf, "people": "3", "language": "ar", "label": "  manteau   rouge "},
    )
    assert answer.status_code == 303
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT id, people, language, label, created_by FROM walk_in WHERE workshop_id = %s",
            (setup.workshop_id,),
        )
        walk_in = await cursor.fetchone()
    assert walk_in[1:] == (3, "ar", "manteau rouge", account.id)
    assert answer.headers["location"] == f"{url}#w-{walk_in[0]}"
    page = client.get(url).text
    assert 'data-testid="count-walk-ins">3<' in page and 'data-testid="count-present">3<' in page
    assert "« manteau rouge »" in page
    assert numbers(client.get(url, params={"q": "rouge"}).text) == set()  # no enrolment matches
    assert "manteau rouge" in seen(client.get(url, params={"q": "rouge"}))
    # No language is fine too.
    answer = client.post(f"{url}/sans-inscription", data={"csrf": csrf, "people": "1"})
    assert answer.status_code == 303
    answer = client.post(
        f"{url}/sans-inscription/retirer", data={"csrf": csrf, "walk_in": walk_in[0]}
    )
    assert answer.status_code == 303
    assert 'data-testid="count-walk-ins">1<' in client.get(url).text


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"people": "0"}, "un nombre de 1 à 10"),
        ({"people": "11"}, "un nombre de 1 à 10"),
        ({"people": "deux"}, "un nombre de 1 à 10"),
        ({"people": ""}, "un nombre de 1 à 10"),
        ({"people": "-1"}, "un nombre de 1 à 10"),
        ({"people": "٣"}, "un nombre de 1 à 10"),  # an Arabic-Indic three
        ({"people": "2", "language": "xx"}, "choisissez une langue de la liste"),
        ({"people": "2", "language": "fr-FR"}, "choisissez une langue de la liste"),
        ({"people": "2", "label": "x" * 41}, "40 caractères au plus"),
    ],
)
async def test_a_bad_walk_in_is_refused_clearly(
    live_server_url, pool, staff_clients, fields, problem
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30))
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    url = f"/staff/ateliers/{setup.ref}/accueil"
    csrf = csrf_of(client.get(url).text)
    answer = client.post(f"{url}/sans-inscription", data={"csrf": csrf, **fields})
    assert answer.status_code == 422
    assert problem in seen(answer) and 'role="alert"' in seen(answer)
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM walk_in WHERE workshop_id = %s", (setup.workshop_id,)
        )
        assert (await cursor.fetchone())[0] == 0


# -- sign-in and CSRF -----------------------------------------------------------------------


async def test_pages_need_a_session_and_forms_their_csrf_token(
    live_server_url, pool, staff_clients, signer
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    url = f"/staff/ateliers/{setup.ref}/accueil"
    token = checkin_codes.token(signer, setup.enrolments["sms"], setup.workshop_id)
    anonymous = staff_clients.new(live_server_url)
    for path in (url, f"/staff/accueil/{token}"):
        answer = anonymous.get(path)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/staff/connexion?suite=/staff/")
    for path in (f"{url}/presence", f"{url}/sans-inscription", f"/staff/accueil/{token}"):
        assert anonymous.post(path, data={"enrolment": "1", "people": "1"}).status_code == 403

    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    form = {"enrolment": setup.enrolments["sms"], "attendance": "attended", "people": "1"}
    for csrf in (None, "forged"):
        data = form if csrf is None else {**form, "csrf": csrf}
        for path in (f"{url}/presence", f"{url}/sans-inscription", f"/staff/accueil/{token}"):
            answer = client.post(path, data=data)
            assert answer.status_code == 403, path
            assert "Formulaire expiré" in seen(answer)
    assert await row(pool, setup.enrolments["sms"]) == (None, None)
    assert not await used(pool, token)


async def test_after_signing_in_a_scanned_code_opens_the_persons_card(
    live_server_url, pool, staff_clients, signer
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    token = checkin_codes.token(signer, setup.enrolments["sms"], setup.workshop_id)
    account = await make_account(pool, workshops=[setup.workshop_id])
    client, answer = staff_clients.sign_in(
        live_server_url, account.email, suite=f"/staff/accueil/{token}"
    )
    assert answer.headers["location"] == f"/staff/accueil/{token}"
    card = client.get(answer.headers["location"])
    assert card.status_code == 200
    assert f"n° {setup.enrolments['sms']}" in seen(card) and "Confirmer l'arrivée" in seen(card)
    assert mask(setup.addresses["sms"]) in seen(card)
    assert setup.addresses["sms"] not in seen(card)


# -- QR codes -------------------------------------------------------------------------------


def _other_spelling(token: str) -> str:
    """The same signature bytes, spelt differently: the last base64 character carries two
    padding bits that decoding ignores."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]


FORGERIES = {
    "changed signature": lambda s, t, v: t[:-3] + ("AAA" if t[-3:] != "AAA" else "BBB"),
    "changed value": lambda s, t, v: s.sign("checkin", v + "0").split(".")[0] + t[t.index(".") :],
    "other purpose": lambda s, t, v: s.sign("password-reset", v),
    "other secret": lambda s, t, v: Signer(b"another secret, 32 bytes or more!").sign("checkin", v),
    "garbage": lambda s, t, v: "garbage",
    "no signature": lambda s, t, v: t.split(".")[0] + ".",
    "truncated": lambda s, t, v: t[:-1],
    "longer": lambda s, t, v: t + "A",
    "other spelling": lambda s, t, v: _other_spelling(t),
    "padded": lambda s, t, v: t + "=",
    "signed non-code": lambda s, t, v: s.sign("checkin", "12;34"),
    "oversized": lambda s, t, v: t + "A" * 600,
}


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_code_is_refused(
    live_server_url, pool, staff_clients, signer, forgery
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    sms = setup.enrolments["sms"]
    good = checkin_codes.token(signer, sms, setup.workshop_id)
    forged = FORGERIES[forgery](signer, good, f"{sms}:{setup.workshop_id}")
    assert forged != good
    with pytest.raises(BadToken):
        checkin_codes.read(signer, forged)
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    card = client.get(f"/staff/accueil/{forged}")
    assert card.status_code == 400
    assert "Code non valable" in seen(card) and "Confirmer l'arrivée" not in seen(card)
    csrf = csrf_of(card.text)
    answer = client.post(f"/staff/accueil/{forged}", data={"csrf": csrf})
    assert answer.status_code == 400 and "Code non valable" in seen(answer)
    assert await row(pool, sms) == (None, None)
    assert not await used(pool, forged) and not await used(pool, good)
    # The genuine code still works afterwards.
    assert client.post(f"/staff/accueil/{good}", data={"csrf": csrf}).status_code == 303


async def test_a_get_never_uses_a_code_and_a_reused_code_is_refused(
    live_server_url, pool, staff_clients, signer
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    sms = setup.enrolments["sms"]
    token = checkin_codes.token(signer, sms, setup.workshop_id)
    client, account = await organiser(pool, staff_clients, live_server_url, setup)
    for _ in range(3):  # a link preview, a prefetch, the organiser
        card = client.get(f"/staff/accueil/{token}")
        assert card.status_code == 200 and "Confirmer l'arrivée" in seen(card)
    head = client.head(f"/staff/accueil/{token}")
    assert head.status_code in (200, 405)
    assert not await used(pool, token)
    assert await row(pool, sms) == (None, None)

    answer = client.post(f"/staff/accueil/{token}", data={"csrf": csrf_of(card.text)})
    assert answer.status_code == 303
    list_url = f"/staff/ateliers/{setup.ref}/accueil"
    assert answer.headers["location"] == f"{list_url}?arrivee={sms}#e-{sms}"
    assert f"N° {sms} : arrivée notée." in client.get(answer.headers["location"]).text
    assert await row(pool, sms) == ("attended", account.id)
    assert await used(pool, token)

    again = client.get(f"/staff/accueil/{token}")
    assert again.status_code == 409
    assert re.search(r"Ce code a déjà servi à \d\d:\d\d\.", seen(again))
    assert "Confirmer l'arrivée" not in seen(again)
    second = client.post(f"/staff/accueil/{token}", data={"csrf": csrf_of(again.text)})
    assert second.status_code == 409 and "Ce code a déjà servi" in seen(second)
    # An undo on the list does not make the code new again.
    client.post(
        f"{list_url}/presence",
        data={"csrf": csrf_of(again.text), "enrolment": sms, "attendance": ""},
    )
    assert (
        client.post(f"/staff/accueil/{token}", data={"csrf": csrf_of(again.text)}).status_code
        == 409
    )


@pytest.mark.parametrize("status", ["cancelled", "expired"])
async def test_a_cancelled_enrolments_code_is_refused(
    live_server_url, pool, staff_clients, signer, status
) -> None:
    parents = family(late=("sms", a_phone(), "fr", 1, status))
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=parents)
    late = setup.enrolments["late"]
    token = checkin_codes.token(signer, late, setup.workshop_id)
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    card = client.get(f"/staff/accueil/{token}")
    assert card.status_code == 410
    assert "ce code ne vaut plus" in seen(card) and "Confirmer l'arrivée" not in seen(card)
    answer = client.post(f"/staff/accueil/{token}", data={"csrf": csrf_of(card.text)})
    assert answer.status_code == 410
    assert await row(pool, late) == (None, None) and not await used(pool, token)


async def test_a_cancelled_workshops_code_is_refused(
    live_server_url, pool, staff_clients, signer
) -> None:
    setup = await make_workshop(
        pool, starts_in=timedelta(minutes=30), status="cancelled", parents=family()
    )
    token = checkin_codes.token(signer, setup.enrolments["sms"], setup.workshop_id)
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    card = client.get(f"/staff/accueil/{token}")
    assert card.status_code == 410 and "Atelier annulé" in seen(card)


@pytest.mark.parametrize("days", [3, -3])
async def test_a_code_is_for_the_workshops_day_only(
    live_server_url, pool, staff_clients, signer, days
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(days=days), parents=family())
    sms = setup.enrolments["sms"]
    token = checkin_codes.token(signer, sms, setup.workshop_id)
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    card = client.get(f"/staff/accueil/{token}")
    assert card.status_code == 409
    assert "pas pour aujourd'hui" in seen(card) and "Confirmer l'arrivée" not in seen(card)
    answer = client.post(f"/staff/accueil/{token}", data={"csrf": csrf_of(card.text)})
    assert answer.status_code == 409
    assert await row(pool, sms) == (None, None) and not await used(pool, token)


async def test_a_code_whose_enrolment_is_gone_is_refused(
    live_server_url, pool, staff_clients, signer
) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    token = checkin_codes.token(signer, 10**15, setup.workshop_id)
    client, _ = await organiser(pool, staff_clients, live_server_url, setup)
    assert client.get(f"/staff/accueil/{token}").status_code == 404
    # An enrolment paired with another workshop than its own is no code either.
    other = await make_workshop(pool, starts_in=timedelta(minutes=30))
    token = checkin_codes.token(signer, setup.enrolments["sms"], other.workshop_id)
    assert client.get(f"/staff/accueil/{token}").status_code == 404


async def test_two_organisers_scanning_at_once_use_the_code_once(database, pool, signer) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    token = checkin_codes.token(signer, setup.enrolments["sms"], setup.workshop_id)

    async def scan() -> str:
        async with await psycopg.AsyncConnection.connect(database.url) as connection:
            try:
                await checkin_codes.use(connection, signer, token, datetime.now(UTC))
            except checkin_codes.AlreadyUsed:
                return "refused"
            await connection.commit()
            return "used"

    results = await asyncio.gather(*(scan() for _ in range(6)))
    assert sorted(results) == ["refused"] * 5 + ["used"]
    assert (await row(pool, setup.enrolments["sms"]))[0] == "attended"


async def test_the_domain_refuses_early_no_shows_and_strangers(pool) -> None:
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    other = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    now = datetime.now(UTC)
    async with pool.connection() as connection:
        with pytest.raises(attendance.NotNow):
            await attendance.mark(
                connection, setup.enrolments["sms"], setup.workshop_id, "no_show", None, now
            )
        with pytest.raises(attendance.UnknownEnrolment):
            await attendance.mark(
                connection, other.enrolments["sms"], setup.workshop_id, "attended", None, now
            )
        with pytest.raises(ValueError, match="attendance"):
            await attendance.mark(
                connection, setup.enrolments["sms"], setup.workshop_id, "late", None, now
            )
        counts = await attendance.counts(connection, setup.workshop_id)
    assert counts == attendance.Counts(expected=6, present=0, walk_ins=0, walk_in_people=0)


# -- the parent's page ----------------------------------------------------------------------


async def test_the_parents_code_page_shows_the_qr_code_in_their_language(
    live_server_url, pool, staff_clients, signer, runtime
) -> None:
    parent = staff_clients.new(live_server_url)  # no session: any browser
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=family())
    public_url = runtime.settings.public_url
    link = code_link(public_url, signer, setup.enrolments["web"], setup.workshop_id)
    token = link.rsplit("/", 1)[1]
    assert link == f"{public_url.rstrip('/')}/code/{token}"
    assert checkin_codes.read(signer, token).enrolment_id == setup.enrolments["web"]

    page = parent.get(f"/code/{token}")  # the contact reads Turkish
    assert page.status_code == 200
    assert '<html lang="tr" dir="ltr">' in seen(page)
    assert "Bu kodu girişte gösterin." in seen(page)
    assert f"<bdi>{setup.enrolments['web']}</bdi>" in seen(page) and "<bdi>3</bdi>" in seen(page)
    assert "Médiathèque, 2 place de la Mairie" in seen(page)
    staff_url = checkin_codes.staff_url(public_url, token)
    assert checkin_codes.qr_svg(staff_url, "QR kod").split("</title>")[1] in seen(page)
    assert "script" not in page.headers["content-security-policy"].replace("'none'", "")
    assert page.headers["referrer-policy"] == "no-referrer"

    arabic = parent.get(f"/code/{token}", params={"lang": "ar"})
    assert '<html lang="ar" dir="rtl">' in seen(arabic)
    assert "أظهر هذا الرمز عند الاستقبال." in seen(arabic) and "<svg" in seen(arabic)
    french = parent.get(f"/code/{token}", params={"lang": "fr"})
    assert "Montrez ce code à l'accueil." in seen(french)
    # Reading the page never uses the code.
    assert not await used(pool, token)
    assert await row(pool, setup.enrolments["web"]) == (None, None)


async def test_the_parents_page_after_arrival_or_cancellation_shows_no_qr(
    live_server_url, pool, staff_clients, signer
) -> None:
    parent = staff_clients.new(live_server_url)
    parents = family(late=("sms", a_phone(), "fr", 1, "cancelled"))
    setup = await make_workshop(pool, starts_in=timedelta(minutes=30), parents=parents)
    sms = checkin_codes.token(signer, setup.enrolments["sms"], setup.workshop_id)
    async with pool.connection() as connection:
        await checkin_codes.use(connection, signer, sms, datetime.now(UTC))
    page = parent.get(f"/code/{sms}")
    assert "Votre arrivée est notée." in seen(page) and "<svg" not in seen(page)
    late = checkin_codes.token(signer, setup.enrolments["late"], setup.workshop_id)
    page = parent.get(f"/code/{late}")
    assert "Cette inscription est annulée" in seen(page) and "<svg" not in seen(page)
    waiting = checkin_codes.token(signer, setup.enrolments["waiting"], setup.workshop_id)
    page = parent.get(f"/code/{waiting}")  # Portuguese
    assert "Está na lista de espera" in seen(page) and "<svg" in seen(page)


@pytest.mark.parametrize("lang", ["", "ar", "es", "xx"])
def test_a_bad_link_gets_a_polite_page(live_server_url, signer, lang) -> None:
    forged = signer.sign("password-reset", "1:1")
    page = httpx.get(f"{live_server_url}/code/{forged}", params={"lang": lang} if lang else {})
    assert page.status_code == 404
    assert "Ce lien ne marche pas." in seen(page)
    assert "<svg" not in seen(page)
    if lang == "ar":
        assert "هذا الرابط لا يعمل." in seen(page) and 'dir="rtl"' in seen(page)
    if lang == "es":
        assert "Este enlace no funciona." in seen(page)
    assert page.text.count('data-testid="bad-link"') == (2 if lang in ("ar", "es") else 1)
