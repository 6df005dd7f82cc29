"""Staff accounts, sign-in, sessions and CSRF, against the real app and PostgreSQL."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr
from staff_helpers import PASSWORD, csrf_of, make_account
from test_cli import run

from liaison.errors import ConfigError
from liaison.settings import load_settings
from liaison.signing import BadToken, Signer, secret_key
from staff import accounts, passwords, sessions


def test_a_page_without_a_session_sends_to_the_sign_in_page(live_server_url) -> None:
    answer = httpx.get(f"{live_server_url}/staff/?jour=1")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/connexion?suite=/staff/%3Fjour%3D1"


async def test_sign_in_opens_a_session_with_a_safe_cookie(
    live_server_url, pool, staff_clients
) -> None:
    account = await make_account(pool)
    client, answer = staff_clients.sign_in(live_server_url, account.email, suite="/staff/chiffres")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/staff/chiffres"
    cookie = answer.headers["set-cookie"]
    assert "liaison_staff=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert client.get("/staff/").headers["location"] == "/staff/ateliers"
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT last_login_at FROM staff_account WHERE id = %s", (account.id,)
        )
        assert (await cursor.fetchone())[0] is not None


@pytest.mark.parametrize(
    ("email", "password"),
    [("nobody@example.org", PASSWORD), (None, "wrong password, quite long")],
)
async def test_wrong_email_or_password_get_the_same_answer(
    live_server_url, pool, staff_clients, email, password
) -> None:
    account = await make_account(pool)
    client, answer = staff_clients.sign_in(live_server_url, email or account.email, password)
    assert answer.status_code == 401
    assert "E-mail ou mot de passe incorrect." in answer.text
    assert "liaison_staff=" not in answer.headers.get("set-cookie", "")
    assert client.get("/staff/").status_code == 303
    assert client.get("/staff/").headers["location"].startswith("/staff/connexion")


async def test_sign_in_form_without_its_nonce_is_refused(
    live_server_url, pool, staff_clients
) -> None:
    account = await make_account(pool)
    answer = staff_clients.new(live_server_url).post(
        "/staff/connexion",
        data={"email": account.email, "password": PASSWORD, "nonce": "forged"},
    )
    assert answer.status_code == 403
    assert "La page a expiré" in answer.text


@pytest.mark.parametrize(
    "suite", ["https://evil.example/staff/", "//evil.example/staff/", "/ailleurs", "/staff\\x"]
)
async def test_sign_in_never_redirects_off_the_staff_site(
    live_server_url, pool, staff_clients, suite
) -> None:
    account = await make_account(pool)
    _client, answer = staff_clients.sign_in(live_server_url, account.email, suite=suite)
    assert answer.headers["location"] == "/staff/ateliers"


async def test_sign_out_needs_the_csrf_token_and_ends_the_session(
    live_server_url, pool, staff_clients
) -> None:
    account = await make_account(pool)
    client, _ = staff_clients.sign_in(live_server_url, account.email)
    page = client.get("/staff/connexion")  # any page with the menu would do; get one that has it
    forged = client.post("/staff/deconnexion", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert "Formulaire expiré" in forged.text
    missing = client.post("/staff/deconnexion")
    assert missing.status_code == 403
    token = csrf_of(forged.text)
    assert page.status_code == 200
    out = client.post("/staff/deconnexion", data={"csrf": token})
    assert out.status_code == 303
    client.cookies.clear()
    assert client.get("/staff/").headers["location"].startswith("/staff/connexion")


async def test_a_stolen_cookie_stops_working_after_sign_out(
    live_server_url, pool, staff_clients
) -> None:
    account = await make_account(pool)
    client, _ = staff_clients.sign_in(live_server_url, account.email)
    stolen = dict(client.cookies)
    token = csrf_of(client.post("/staff/deconnexion", data={"csrf": "x"}).text)
    client.post("/staff/deconnexion", data={"csrf": token})
    thief = staff_clients.new(live_server_url, cookies=stolen)
    assert thief.get("/staff/").headers["location"].startswith("/staff/connexion")


async def test_idle_and_disabled_sessions_end(live_server_url, pool, staff_clients) -> None:
    idle = await make_account(pool)
    client, _ = staff_clients.sign_in(live_server_url, idle.email)
    async with pool.connection() as connection:
        await connection.execute(
            "UPDATE staff_session SET last_seen_at = now() - interval '5 hours' "
            "WHERE account_id = %s",
            (idle.id,),
        )
    assert client.get("/staff/").headers["location"].startswith("/staff/connexion")

    gone = await make_account(pool)
    client, _ = staff_clients.sign_in(live_server_url, gone.email)
    async with pool.connection() as connection:
        assert await accounts.disable(connection, email=gone.email, now=datetime.now(UTC))
    assert client.get("/staff/").headers["location"].startswith("/staff/connexion")
    _client, answer = staff_clients.sign_in(live_server_url, gone.email)
    assert answer.status_code == 401


async def test_a_forged_cookie_is_no_session(live_server_url, staff_clients) -> None:
    client = staff_clients.new(live_server_url, cookies={"liaison_staff": "x" * 43})
    assert client.get("/staff/").headers["location"].startswith("/staff/connexion")
    client = staff_clients.new(live_server_url, cookies={"liaison_staff": "x" * 5000})
    assert client.get("/staff/").headers["location"].startswith("/staff/connexion")


async def test_an_oversized_form_is_refused(live_server_url, pool, staff_clients) -> None:
    account = await make_account(pool)
    client, _ = staff_clients.sign_in(live_server_url, account.email)
    answer = client.post("/staff/deconnexion", data={"csrf": "x", "blob": "a" * 100_000})
    assert answer.status_code == 413


def test_staff_pages_are_not_cached_nor_framed(live_server_url) -> None:
    answer = httpx.get(f"{live_server_url}/staff/connexion")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "no-referrer"


async def test_accounts_refuse_bad_emails_weak_passwords_unknown_roles_and_duplicates(
    pool,
) -> None:
    now = datetime.now(UTC)
    async with pool.connection() as connection:
        for email, password, roles, reason in [
            ("not-an-email", PASSWORD, ("organiser",), "adresse e-mail invalide"),
            ("a@example.org", "short", ("organiser",), "12 caractères"),
            ("a@example.org", "aaaaaaaaaaaaaaaa", ("organiser",), "trop simple"),
            ("a@example.org", PASSWORD, ("pilot",), "rôle inconnu"),
        ]:
            with pytest.raises(ValueError, match=reason):
                await accounts.create(
                    connection, email=email, name="", password=password, roles=roles, now=now
                )
        account = await make_account(pool)
        with pytest.raises(accounts.AccountError, match="existe déjà"):
            await accounts.create(
                connection,
                email=account.email.upper(),
                name="",
                password=PASSWORD,
                now=now,
            )


async def test_passwords_are_stored_as_argon2id_only(pool) -> None:
    account = await make_account(pool)
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT password_hash FROM staff_account WHERE id = %s", (account.id,)
        )
        stored = (await cursor.fetchone())[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert passwords.verify(stored, PASSWORD)
    assert not passwords.verify(stored, PASSWORD + "!")
    assert not passwords.verify(None, PASSWORD)


async def test_new_password_signs_every_session_out(live_server_url, pool, staff_clients) -> None:
    account = await make_account(pool)
    client, _ = staff_clients.sign_in(live_server_url, account.email)
    async with pool.connection() as connection:
        assert await accounts.set_password(
            connection, email=account.email, password="another long passphrase"
        )
        assert await sessions.load_session(connection, "nothing", datetime.now(UTC)) is None
    assert client.get("/staff/").headers["location"].startswith("/staff/connexion")


def test_signed_tokens_are_single_purpose_and_tamper_proof() -> None:
    signer = Signer(b"k" * 32)
    token = signer.sign("checkin", "42")
    assert signer.unsign("checkin", token) == "42"
    value, _dot, signature = token.partition(".")
    for bad in [
        signer.sign("other", "42"),
        Signer(b"j" * 32).sign("checkin", "42"),
        signer.sign("checkin", "43").split(".")[0] + "." + signature,
        value,
        token[:-2],
        token[:-1] + ("B" if token[-1] == "A" else "A"),  # same bytes, other padding bits?
        token + "=",
        "",
        "é.é",
        "a" * 600,
    ]:
        with pytest.raises(BadToken):
            signer.unsign("checkin", bad)
    with pytest.raises(ConfigError):
        Signer(b"short")


def test_secret_key_is_made_once_owner_only_or_taken_from_the_environment(tmp_path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first = secret_key(settings)
    assert secret_key(settings) == first and len(first) >= 32
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600
    given = settings.model_copy(update={"secret_key": SecretStr("s" * 40)})
    assert secret_key(given) == b"s" * 40
    with pytest.raises(ConfigError, match="at least 32"):
        secret_key(settings.model_copy(update={"secret_key": SecretStr("short")}))


def test_staff_create_from_the_command_line(database) -> None:
    env = {"DATABASE_URL": database.url}
    email = f"cli-{datetime.now(UTC).timestamp():.0f}@example.org"
    created = run(
        "staff",
        "create",
        "--email",
        email,
        "--name",
        "Sam",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    assert f"compte créé : {email} (organiser)" in created.stdout
    again = run("staff", "create", "--email", email, "--password-stdin", stdin=PASSWORD, env=env)
    assert again.returncode == 1 and "existe déjà" in again.stderr
    weak = run("staff", "create", "--email", "x" + email, "--password-stdin", stdin="abc", env=env)
    assert weak.returncode == 1 and "12 caractères" in weak.stderr
    listed = run("staff", "list", env=env)
    assert email in listed.stdout
    assert run("staff", "disable", "--email", email, env=env).returncode == 0
    assert "(désactivé)" in run("staff", "list", env=env).stdout
    missing = run("staff", "disable", "--email", "nobody@example.org", env=env)
    assert missing.returncode == 1 and "pas de compte" in missing.stderr


def test_expired_sessions_are_forgotten_at_the_next_sign_in() -> None:
    assert sessions.IDLE < sessions.LIFETIME < timedelta(days=1)
