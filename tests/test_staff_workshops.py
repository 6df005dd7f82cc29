"""The organisers' workshop pages against the real app and PostgreSQL: the form (every kind of
wrong input), publish, cancel (parents told once, in their language), changes of time, place
and capacity, CSV out and in, CSRF and sign-in.

Published workshops here start years from now, so that the conversation tests' "next
workshops" (soonest first) never see them.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from outbox_helpers import messages_for, new_contact
from phones import new_mobile
from staff_helpers import csrf_of, make_account

from channels.sms import outgoing_sms
from liaison.i18n import Catalogs
from workshops import csv_io, enrolment, store
from workshops.quiet_hours import QuietHours
from workshops.records import build
from workshops.reminders import send_due

FORM = {
    "title": "Pronote pas à pas",
    "description": "Voir les notes et les devoirs.",
    "starts_at": "2031-03-12T14:00",
    "ends_at": "2031-03-12T15:30",
    "timezone": "America/Guadeloupe",
    "venue_name": "Médiathèque du Moule",
    "venue_address": "1 rue de la Mer, Le Moule",
    "online_url": "",
    "capacity": "12",
    "topic-1": "Pronote",
    "lang-fr": "fr",
    "lang-ar": "ar",
    "accessibility": "Plain-pied",
    "childcare": "Coin jeux",
    "organiser": "Conseillère numérique",
    "territory": "Guadeloupe",
    "schools": "Collège A\nÉcole B",
}


async def _organiser(
    live_server_url: str, pool: Any, staff_clients: Any, *workshops: int
) -> httpx.Client:
    """Signed in as an organiser managing `workshops` (ids) and those they create."""
    account = await make_account(pool, workshops=workshops)
    client, answer = staff_clients.sign_in(live_server_url, account.email)
    assert answer.status_code == 303
    return client


def _csrf(client: httpx.Client, path: str = "/staff/ateliers") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def _create(client: httpx.Client, **changes: str) -> str:
    answer = client.post("/staff/ateliers/nouveau", data={**FORM, **changes, "csrf": _csrf(client)})
    assert answer.status_code == 303, answer.text
    return parse_qs(urlsplit(answer.headers["location"]).query)["atelier"][0]


async def _load(pool: Any, ref: str):  # type: ignore[no-untyped-def]
    async with pool.connection() as connection:
        return (await store.load_by_refs(connection, [ref])).get(ref)


async def _published(pool: Any, **fields: str) -> tuple[str, int]:
    """A published workshop saved straight to the database: (ref, id)."""
    ref = f"page-{uuid.uuid4().hex[:10]}"
    row = {
        "ref": ref,
        "title": "Skolengo pour les parents",
        "starts_at": "2032-05-12 14:00",
        "ends_at": "2032-05-12 15:30",
        "timezone": "Indian/Reunion",
        "capacity": "10",
        "topics": "Skolengo",
        "status": "published",
        "venue_name": "Collège Bourbon",
        "venue_address": "2 rue du Lycée, Saint-Denis",
        **fields,
    }
    async with pool.connection() as connection:
        await store.save(connection, [build(row)], datetime.now(UTC))
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = %s", (ref,))
        (workshop_id,) = await cursor.fetchone()
    return ref, int(workshop_id)


async def _parent(pool: Any, channel: str, language: str, *, opted_out: bool = False) -> int:
    address = (
        new_mobile()
        if channel == "sms"
        else str(uuid.uuid4().int % 10**10)
        if channel == "telegram"
        else f"web-{uuid.uuid4()}"
    )
    contact_id = await new_contact(pool, channel, address, opted_out=opted_out)
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE contact SET language = %s WHERE id = %s", (language, contact_id)
        )
    return contact_id


async def _enrol(pool: Any, workshop_id: int, contact_id: int, people: int = 1) -> str:
    async with pool.connection() as connection, connection.transaction():
        made = await enrolment.enrol(
            connection,
            workshop_id=workshop_id,
            contact_id=contact_id,
            people=people,
            now=datetime.now(UTC),
        )
    return made.status


async def _address(pool: Any, contact_id: int) -> tuple[str, str]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT channel, address FROM contact WHERE id = %s", (contact_id,)
        )
        channel, address = await cursor.fetchone()
    return channel, address


async def _told(pool: Any, contact_id: int) -> list[dict[str, Any]]:
    """What the parent was told, one entry per message (an SMS may need several bodies):
    `key` (the idempotency key), `body` (the bodies joined), `buttons` (all of them)."""
    told: dict[str, dict[str, Any]] = {}
    for row in await messages_for(pool, *await _address(pool, contact_id)):
        key = row["idempotency_key"].rsplit(":", 1)[0]
        entry = told.setdefault(key, {"key": key, "body": "", "buttons": []})
        entry["body"] = f"{entry['body']}\n{row['body']}" if entry["body"] else row["body"]
        entry["buttons"] += row["buttons"] or []
    return list(told.values())


async def _statuses(pool: Any, workshop_id: int) -> dict[int, str]:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT contact_id, status FROM enrolment WHERE workshop_id = %s", (workshop_id,)
        )
        return {int(contact): status for contact, status in await cursor.fetchall()}


# -- sign-in and CSRF ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/staff/ateliers", "/staff/ateliers/nouveau", "/staff/ateliers.csv"]
)
def test_pages_need_sign_in(live_server_url, path) -> None:
    answer = httpx.get(f"{live_server_url}{path}")
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/staff/connexion?suite=")


def test_changes_need_a_session(live_server_url) -> None:
    answer = httpx.post(f"{live_server_url}/staff/ateliers/nouveau", data=FORM)
    assert answer.status_code == 403


async def test_an_organiser_cannot_act_without_the_csrf_token(
    live_server_url, pool, staff_clients
) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    ref = _create(client)
    before = await _load(pool, ref)
    for path, data in [
        ("/staff/ateliers/nouveau", FORM),
        (f"/staff/ateliers/{ref}/modifier", {**FORM, "title": "Forgé"}),
        (f"/staff/ateliers/{ref}/publier", {"csrf": "forged"}),
        (f"/staff/ateliers/{ref}/annuler", {}),
    ]:
        answer = client.post(path, data=data)
        assert answer.status_code == 403, path
        assert "Formulaire expiré" in answer.text
    files = {"fichier": ("a.csv", b"ref,title\n", "text/csv")}
    assert client.post("/staff/ateliers/import", files=files).status_code == 403
    assert await _load(pool, ref) == before


# -- create, edit, publish ------------------------------------------------------------------


async def test_create_a_workshop_through_the_form(live_server_url, pool, staff_clients) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    form = client.get("/staff/ateliers/nouveau")
    assert form.status_code == 200
    assert 'name="csrf"' in form.text and 'type="datetime-local"' in form.text
    assert 'value="America/Cayenne"' in form.text and 'value="Pacific/Noumea"' in form.text

    ref = _create(client)
    workshop = await _load(pool, ref)

    assert ref.startswith("pronote-pas-a-pas-2031-03-12")
    assert workshop.status == "draft"
    # 14:00 in Guadeloupe (UTC-4) is 18:00 UTC.
    assert workshop.starts_at == datetime(2031, 3, 12, 18, 0, tzinfo=UTC)
    assert workshop.timezone == "America/Guadeloupe"
    assert (workshop.topics, workshop.languages) == (("Pronote",), ("fr", "ar"))
    assert workshop.schools == ("Collège A", "École B")
    assert (workshop.capacity, workshop.childcare) == (12, "Coin jeux")
    again = _create(client)
    assert again != ref and again.startswith("pronote-pas-a-pas-2031-03-12-")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        pytest.param({"title": "  "}, "title", "à remplir", id="no-title"),
        pytest.param(
            {"ends_at": "2031-03-12T13:00"}, "ends_at", "la fin doit venir après", id="end-first"
        ),
        pytest.param({"starts_at": ""}, "starts_at", "à remplir", id="no-start"),
        pytest.param({"starts_at": "demain"}, "starts_at", "une date et une heure", id="bad-date"),
        pytest.param({"capacity": "0"}, "capacity", "de 1 à 1000", id="capacity-0"),
        pytest.param({"capacity": "douze"}, "capacity", "de 1 à 1000", id="capacity-text"),
        pytest.param({"capacity": "-3"}, "capacity", "de 1 à 1000", id="capacity-negative"),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone", "fuseau", id="unknown-zone"),
        pytest.param({"timezone": "../../etc"}, "timezone", "fuseau", id="zone-path"),
        pytest.param({"description": "x" * 2001}, "description", "trop long", id="huge-text"),
        pytest.param({"title": "t" * 121}, "title", "trop long", id="long-title"),
        pytest.param({"venue_name": "", "online_url": ""}, "venue_name", "un lieu", id="nowhere"),
        pytest.param(
            {"online_url": "javascript:alert(1)"}, "online_url", "https://", id="bad-link"
        ),
        pytest.param({"lang-xx": "xx", "lang-fr": ""}, None, None, id="unknown-language-ignored"),
    ],
)
async def test_wrong_input_is_shown_next_to_the_form_with_the_values_kept(
    live_server_url, pool, staff_clients, changes, field, message
) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    title = f"Atelier {uuid.uuid4().hex[:8]}"
    data = {**FORM, "title": title, **changes}
    async with pool.connection() as connection:
        count = await store.count(connection)

    answer = client.post("/staff/ateliers/nouveau", data={**data, "csrf": _csrf(client)})

    if field is None:  # a language the form never offers is not taken: French by default
        assert answer.status_code == 303
        return
    assert answer.status_code == 422
    assert f'data-field="{field}"' in answer.text
    assert message in answer.text
    assert 'aria-invalid="true"' in answer.text
    assert "L'atelier n'est pas enregistré" in answer.text
    if "title" not in changes:
        assert f'value="{title}"' in answer.text
    assert "Coin jeux" in answer.text and "Conseillère numérique" in answer.text
    async with pool.connection() as connection:
        assert await store.count(connection) == count


async def test_markup_in_a_title_is_shown_as_text(live_server_url, pool, staff_clients) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    _create(client, title='<script>alert("x")</script>')
    page = client.get("/staff/ateliers").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page


async def test_edit_then_publish_and_see_it_in_the_list(
    live_server_url, pool, staff_clients
) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    ref = _create(client)
    form = client.get(f"/staff/ateliers/{ref}/modifier")
    assert form.status_code == 200
    assert 'value="2031-03-12T14:00"' in form.text  # on the venue's clock
    assert ref in form.text

    edited = client.post(
        f"/staff/ateliers/{ref}/modifier",
        data={**FORM, "title": "Pronote, les notes", "capacity": "20", "csrf": csrf_of(form.text)},
    )
    assert edited.status_code == 303
    published = client.post(f"/staff/ateliers/{ref}/publier", data={"csrf": _csrf(client)})
    assert published.status_code == 303
    assert "fait=publie" in published.headers["location"]

    workshop = await _load(pool, ref)
    assert (workshop.title, workshop.capacity, workshop.status, workshop.ref) == (
        "Pronote, les notes",
        20,
        "published",
        ref,
    )
    page = client.get(published.headers["location"])
    assert "Atelier publié" in page.text
    card = page.text.split(f'data-ref="{ref}"', 1)[1].split("</article>", 1)[0]
    assert "Publié" in card and "0 / 20" in card
    assert "mercredi 12 mars 2031, 14:00–15:30, heure de Guadeloupe" in card
    assert f"/?atelier={ref}" in card
    assert f"/staff/ateliers/{ref}/accueil" in card and f"/staff/ateliers/{ref}/chiffres" in card
    again = client.post(f"/staff/ateliers/{ref}/publier", data={"csrf": _csrf(client)})
    assert again.status_code == 303  # publishing twice changes nothing


async def test_unknown_workshops_are_404(live_server_url, pool, staff_clients) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    assert client.get("/staff/ateliers/nope-nope/modifier").status_code == 404
    assert client.get("/staff/ateliers/nope-nope/annuler").status_code == 404
    token = _csrf(client)
    assert client.post("/staff/ateliers/nope-nope/annuler", data={"csrf": token}).status_code == 404
    assert client.post("/staff/ateliers/nope-nope/publier", data={"csrf": token}).status_code == 404


async def test_the_list_puts_upcoming_first_then_past_and_filters(
    live_server_url, pool, staff_clients
) -> None:
    soon, soon_id = await _published(
        pool, title="Bientôt", venue_name="", online_url="https://v.fr/a"
    )
    last_year = (datetime.now(UTC) - timedelta(days=300)).strftime("%Y-%m-%d")
    past, past_id = await _published(
        pool,
        title="Autrefois",
        starts_at=f"{last_year} 10:00",
        ends_at=f"{last_year} 11:00",
    )
    full, full_id = await _published(pool, title="Complet", capacity="1")
    client = await _organiser(live_server_url, pool, staff_clients, soon_id, past_id, full_id)
    await _enrol(pool, full_id, await _parent(pool, "web", "fr"))
    await _enrol(pool, full_id, await _parent(pool, "web", "fr"))

    page = client.get("/staff/ateliers").text
    upcoming, _sep, older = page.partition("<h2>Passés</h2>")
    assert f'data-ref="{soon}"' in upcoming and f'data-ref="{past}"' in older
    assert "En ligne" in upcoming.split(f'data-ref="{soon}"', 1)[1].split("</article>")[0]
    complete = upcoming.split(f'data-ref="{full}"', 1)[1].split("</article>")[0]
    assert "1 / 1" in complete and "1 en attente" in complete
    only_upcoming = client.get("/staff/ateliers?periode=a-venir").text
    assert f'data-ref="{past}"' not in only_upcoming and f'data-ref="{soon}"' in only_upcoming
    drafts = client.get("/staff/ateliers?statut=draft").text
    assert f'data-ref="{soon}"' not in drafts
    assert client.get("/staff/ateliers?statut=<b>&periode=x").status_code == 200


# -- cancelling ------------------------------------------------------------------------------


async def test_cancelling_tells_each_parent_once_in_their_language(
    live_server_url, pool, staff_clients
) -> None:
    ref, workshop_id = await _published(pool, capacity="3")
    client = await _organiser(live_server_url, pool, staff_clients, workshop_id)
    later, _ = await _published(
        pool, title="Skolengo, la suite", starts_at="2032-04-20 14:00", ends_at="2032-04-20 16:00"
    )
    parents = {
        "fr": await _parent(pool, "sms", "fr"),
        "ar": await _parent(pool, "telegram", "ar"),
        "tr": await _parent(pool, "sms", "tr"),
    }
    web = await _parent(pool, "web", "fr")
    silent = await _parent(pool, "sms", "fr", opted_out=True)
    for contact in [*parents.values(), web]:
        await _enrol(pool, workshop_id, contact)
    assert await _enrol(pool, workshop_id, silent) == "waitlisted"

    confirm = client.get(f"/staff/ateliers/{ref}/annuler")
    assert confirm.status_code == 200
    assert "3 parent(s)</strong>" in confirm.text
    assert "1 parent(s) inscrit(s) depuis le chat du site ne peuvent pas être" in confirm.text
    assert "1 parent(s) ont demandé à ne plus recevoir" in confirm.text

    first = client.post(f"/staff/ateliers/{ref}/annuler", data={"csrf": csrf_of(confirm.text)})
    assert first.status_code == 303
    assert parse_qs(urlsplit(first.headers["location"]).query)["prevenus"] == ["3"]
    second = client.post(f"/staff/ateliers/{ref}/annuler", data={"csrf": csrf_of(confirm.text)})
    assert "fait=deja-annule" in second.headers["location"]
    assert "Cet atelier était déjà annulé" in client.get(second.headers["location"]).text

    told = {language: await _told(pool, contact) for language, contact in parents.items()}
    assert {language: len(messages) for language, messages in told.items()} == {
        "fr": 1,
        "ar": 1,
        "tr": 1,
    }
    assert told["fr"][0]["body"].startswith(
        "Nous sommes désolés : l'atelier « Skolengo pour les parents » (mercredi 12 mai 2032"
    )
    assert "نعتذر" in told["ar"][0]["body"] and "2032" in told["ar"][0]["body"]
    assert told["tr"][0]["body"].startswith("Üzgünüz: « Skolengo pour les parents » atölyesi")
    assert "Skolengo, la suite" in told["fr"][0]["body"]  # the next session, as a choice
    buttons = told["ar"][0]["buttons"]
    assert any(later in button["data"] for button in buttons)  # Telegram callback data
    assert all(m[0]["key"].startswith("workshop-cancelled:") for m in told.values())
    assert await _told(pool, web) == [] and await _told(pool, silent) == []
    assert (await _load(pool, ref)).status == "cancelled"
    assert set((await _statuses(pool, workshop_id)).values()) == {"cancelled"}


async def test_cancelling_a_workshop_nobody_enrolled_in(
    live_server_url, pool, staff_clients
) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    ref = _create(client)
    confirm = client.get(f"/staff/ateliers/{ref}/annuler")
    assert "Personne n'est inscrit" in confirm.text
    done = client.post(f"/staff/ateliers/{ref}/annuler", data={"csrf": csrf_of(confirm.text)})
    assert "fait=annule" in done.headers["location"]
    assert (await _load(pool, ref)).status == "cancelled"
    refused = client.post(f"/staff/ateliers/{ref}/publier", data={"csrf": _csrf(client)})
    assert refused.status_code == 409 and "annulé ne peut plus être publié" in refused.text


# -- changes to a published workshop -------------------------------------------------------


def _edit_form(workshop: Any, **changes: str) -> dict[str, str]:
    local = {name: workshop.local(getattr(workshop, name)) for name in ("starts_at", "ends_at")}
    form = {
        "title": workshop.title,
        "starts_at": local["starts_at"].strftime("%Y-%m-%dT%H:%M"),
        "ends_at": local["ends_at"].strftime("%Y-%m-%dT%H:%M"),
        "timezone": workshop.timezone,
        "venue_name": workshop.venue_name,
        "venue_address": workshop.venue_address,
        "online_url": workshop.online_url,
        "capacity": str(workshop.capacity),
        "lang-fr": "fr",
    }
    return {**form, **changes}


async def test_a_new_time_is_told_once_and_the_reminders_follow(
    live_server_url, pool, staff_clients
) -> None:
    ref, workshop_id = await _published(pool, timezone="Europe/Paris")
    client = await _organiser(live_server_url, pool, staff_clients, workshop_id)
    parent = await _parent(pool, "sms", "fr")
    waiting = await _parent(pool, "telegram", "tr")
    await _enrol(pool, workshop_id, parent)
    workshop = await _load(pool, ref)
    form = _edit_form(workshop, starts_at="2032-05-12T16:00", ends_at="2032-05-12T17:30")

    for _attempt in range(2):  # the same change sent twice tells once
        answer = client.post(
            f"/staff/ateliers/{ref}/modifier", data={**form, "csrf": _csrf(client)}
        )
        assert answer.status_code == 303
    await _enrol(pool, workshop_id, waiting)  # enrolled after: not told of the earlier change
    told = await _told(pool, parent)
    assert len(told) == 1
    assert told[0]["body"].startswith(
        "Attention : l'atelier « Skolengo pour les parents » a changé.\n"
        "Quand : mercredi 12 mai 2032, 16:00–17:30\nOù : Collège Bourbon"
    )
    assert "1. Je viendrai" in told[0]["body"]
    assert await _told(pool, waiting) == []

    moved = client.post(
        f"/staff/ateliers/{ref}/modifier",
        data={**form, "venue_name": "Médiathèque", "csrf": _csrf(client)},
    )
    assert parse_qs(urlsplit(moved.headers["location"]).query)["prevenus"] == ["2"]
    assert "Où : Médiathèque" in (await _told(pool, parent))[-1]["body"]
    assert "Nerede: Médiathèque" in (await _told(pool, waiting))[0]["body"]

    # Reminders are keyed on the start: the 3 h reminder goes out before the new start.
    new_start = (await _load(pool, ref)).starts_at
    async with pool.connection() as connection, connection.transaction():
        queued = await send_due(
            connection,
            now=new_start - timedelta(hours=3),
            hours_before=[3],
            quiet=QuietHours(),
            renderers={"sms": lambda replies: outgoing_sms(replies, 3)},
            catalogs=Catalogs.load(["fr"]),
            default_language="fr",
        )
    assert queued >= 1
    reminder = (await _told(pool, parent))[-1]
    assert reminder["body"].startswith("Rappel : atelier « Skolengo pour les parents »")
    assert "16:00–17:30" in reminder["body"]


async def test_more_seats_go_to_the_waiting_list(live_server_url, pool, staff_clients) -> None:
    ref, workshop_id = await _published(pool, capacity="1")
    client = await _organiser(live_server_url, pool, staff_clients, workshop_id)
    first, second = await _parent(pool, "sms", "fr"), await _parent(pool, "sms", "es")
    assert await _enrol(pool, workshop_id, first) == "confirmed"
    assert await _enrol(pool, workshop_id, second) == "waitlisted"

    answer = client.post(
        f"/staff/ateliers/{ref}/modifier",
        data={**_edit_form(await _load(pool, ref), capacity="2"), "csrf": _csrf(client)},
    )

    assert parse_qs(urlsplit(answer.headers["location"]).query)["places"] == ["1"]
    assert (await _statuses(pool, workshop_id))[second] == "offered"
    offer = await _told(pool, second)
    assert len(offer) == 1 and offer[0]["body"].startswith("Buena noticia")
    assert await _told(pool, first) == []


async def test_fewer_seats_than_taken_is_refused(live_server_url, pool, staff_clients) -> None:
    ref, workshop_id = await _published(pool, capacity="5")
    client = await _organiser(live_server_url, pool, staff_clients, workshop_id)
    await _enrol(pool, workshop_id, await _parent(pool, "web", "fr"), people=3)

    answer = client.post(
        f"/staff/ateliers/{ref}/modifier",
        data={**_edit_form(await _load(pool, ref), capacity="2"), "csrf": _csrf(client)},
    )

    assert answer.status_code == 422
    assert "la capacité (2) est inférieure aux places déjà prises (3)" in answer.text
    assert 'data-field="capacity"' in answer.text
    assert (await _load(pool, ref)).capacity == 5
    fine = client.post(
        f"/staff/ateliers/{ref}/modifier",
        data={**_edit_form(await _load(pool, ref), capacity="3"), "csrf": _csrf(client)},
    )
    assert fine.status_code == 303


# -- CSV -------------------------------------------------------------------------------------


def _upload(client: httpx.Client, data: bytes) -> httpx.Response:
    return client.post(
        "/staff/ateliers/import",
        data={"csrf": _csrf(client, "/staff/ateliers/import")},
        files={"fichier": ("ateliers.csv", data, "text/csv")},
    )


def _rows(text: str, refs: set[str]) -> str:
    lines = text.splitlines()
    return "\n".join([lines[0], *[line for line in lines[1:] if line.split(",")[0] in refs]])


async def test_csv_export_and_import_round_trip(live_server_url, pool, staff_clients) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    first = _create(client, title="Export un")
    second = _create(client, title="Export deux", timezone="Indian/Reunion", capacity="7")
    exported = client.get("/staff/ateliers.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in exported.headers["content-disposition"]
    mine = _rows(exported.text, {first, second})
    assert len(csv_io.read(mine.encode())) == 2
    assert "2031-03-12 14:00" in mine  # on the venue's clock, as the command line writes

    new_ref = f"import-{uuid.uuid4().hex[:8]}"
    changed = (
        mine.replace("Export deux", "Export deux (modifié)")
        + "\n"
        + (
            f"{new_ref},Nouveau par import,draft,2031-04-01 10:00,2031-04-01 12:00,Europe/Paris,"
            "8,ENT,fr;tr,Mairie,1 place de la Mairie,,,,,,,\n"
        )
    )
    answer = _upload(client, changed.encode())
    assert answer.status_code == 303, answer.text
    query = parse_qs(urlsplit(answer.headers["location"]).query)
    assert (query["ajoutes"], query["modifies"]) == (["1"], ["2"])
    assert (
        "1 atelier(s) ajouté(s). 2 atelier(s) mis à jour."
        in client.get(answer.headers["location"]).text
    )

    assert (await _load(pool, second)).title == "Export deux (modifié)"
    assert (await _load(pool, new_ref)).languages == ("fr", "tr")
    again = _rows(client.get("/staff/ateliers.csv").text, {first, second})
    assert again == mine.replace("Export deux", "Export deux (modifié)")


async def test_a_bad_csv_imports_nothing_and_names_the_lines(
    live_server_url, pool, staff_clients
) -> None:
    client = await _organiser(live_server_url, pool, staff_clients)
    good, bad, worse = (f"bad-{uuid.uuid4().hex[:8]}-{n}" for n in range(3))
    data = (
        "ref;title;starts_at;ends_at;capacity;online_url\n"
        f"{good};Bon;2031-05-01 10:00;2031-05-01 11:00;5;https://v.fr/a\n"
        f"{bad};Mauvais;2031-05-01 10:00;2031-05-01 11:00;zéro;https://v.fr/a\n"
        f"{worse};;2031-05-01 10:00;2031-05-01 09:00;5;https://v.fr/a\n"
    ).encode()

    answer = _upload(client, data)

    assert answer.status_code == 422
    assert "Rien n'a été importé" in answer.text
    assert "ligne 3 : Places (capacity) : un nombre de places, de 1 à 1000" in answer.text
    assert "ligne 4 : Titre (title) : à remplir" in answer.text
    assert "ligne 4 : Fin (ends_at) : la fin doit venir après le début" in answer.text
    assert "ligne 2" not in answer.text
    assert await _load(pool, good) is None
    for wrong, problem in [
        (b"\xff\xfe not utf-8", "pas en UTF-8"),
        (b"ref,title,colour\n", "colonne inconnue"),
        (b"", "Choisissez un fichier CSV"),
    ]:
        refused = _upload(client, wrong)
        assert refused.status_code == 422 and problem in refused.text


async def test_an_import_that_breaks_a_promise_imports_nothing(
    live_server_url, pool, staff_clients
) -> None:
    ref, workshop_id = await _published(pool, capacity="4")
    client = await _organiser(live_server_url, pool, staff_clients, workshop_id)
    await _enrol(pool, workshop_id, await _parent(pool, "web", "fr"), people=3)
    fresh = f"fresh-{uuid.uuid4().hex[:8]}"
    data = (
        "ref,title,status,starts_at,ends_at,timezone,capacity,online_url\n"
        f"{fresh},Neuf,draft,2031-05-01 10:00,2031-05-01 11:00,Europe/Paris,5,https://v.fr/a\n"
        f"{ref},Skolengo,published,2032-05-12 14:00,2032-05-12 15:30,Indian/Reunion,2,"
        "https://v.fr/b\n"
    ).encode()

    answer = _upload(client, data)

    assert answer.status_code == 422
    assert f"ligne 3 : {ref} : la capacité (2) est inférieure" in answer.text
    assert await _load(pool, fresh) is None
    assert (await _load(pool, ref)).capacity == 4
