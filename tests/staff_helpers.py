"""Staff accounts and signed-in HTTP clients for the staff-page tests."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import httpx
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from staff import accounts, scopes

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_NONCE = re.compile(r'name="nonce" value="([^"]+)"')


async def make_account(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    *,
    roles: tuple[str, ...] = ("organiser",),
    password: str = PASSWORD,
    workshops: Iterable[int] = (),
    schools: Iterable[int] = (),
) -> accounts.Account:
    """A new account with a unique e-mail, managing `workshops` and working for `schools`
    (ids; an organiser sees only the workshops linked to them)."""
    async with pool.connection() as connection:
        account = await accounts.create(
            connection,
            email=f"staff-{uuid.uuid4().hex[:10]}@example.org",
            name="Camille Test",
            password=password,
            roles=roles,
            now=datetime.now(UTC),
        )
        for workshop_id in workshops:
            await scopes.link_workshop(connection, account.id, workshop_id)
        for school_id in schools:
            await scopes.grant_school(connection, account.id, school_id)
        return account


class Clients:
    """Signed-in HTTP clients, closed by the test's teardown (the `staff_clients` fixture)."""

    def __init__(self) -> None:
        self.open: list[httpx.Client] = []

    def new(self, base_url: str, **kwargs: Any) -> httpx.Client:
        client = httpx.Client(base_url=base_url, timeout=10, **kwargs)
        self.open.append(client)
        return client

    def sign_in(
        self, base_url: str, email: str, password: str = PASSWORD, *, suite: str = ""
    ) -> tuple[httpx.Client, httpx.Response]:
        return sign_in(self.new(base_url), email, password, suite=suite)

    def close(self) -> None:
        for client in self.open:
            client.close()


def sign_in(
    client: httpx.Client, email: str, password: str = PASSWORD, *, suite: str = ""
) -> tuple[httpx.Client, httpx.Response]:
    """`client` after the sign-in form; (client, the answer to the form)."""
    page = client.get("/staff/connexion")
    nonce = _NONCE.search(page.text)
    assert nonce is not None, page.text
    answer = client.post(
        "/staff/connexion",
        data={"nonce": nonce.group(1), "email": email, "password": password, "suite": suite},
    )
    return client, answer


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a staff page."""
    found = _CSRF.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)
