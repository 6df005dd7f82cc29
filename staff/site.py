"""The staff site under `/staff`: sign-in, the session on every page, CSRF on every form.

`StaffSite.page(roles)` wraps a page handler: no session → the sign-in page (then back to the
page asked for); a session without one of `roles` → 403; a POST → the form is read (bounded)
and its `csrf` field must be the session's token, else 403. Handlers get a `StaffRequest`.

The session cookie is HttpOnly, `SameSite=Lax` (a QR code scanned with the phone's camera
opens a check-in page in the browser: a top-level GET that must carry the session; every change
is a POST with a CSRF token) and `Secure` with the `__Host-` prefix when `LIAISON_PUBLIC_URL` is
https. Pages are never cached and cannot be framed.

Sign-in is throttled (`staff.throttle`: 5 failures for one e-mail or 20 from one address in
15 minutes answer 429 without checking the password); sign-ins, failures and sign-outs go to
the audit log (`staff.audit`). What an account reaches within its roles is `staff.scopes`.

Sections (workshops, check-in, figures, families, inbox, journal, notices, mediation, accounts)
live in their own modules, listed in `staff.sections`, and give their routes to
`StaffSite.routes()`.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import jinja2
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from channels.base import Renderer
from channels.http import read_body
from liaison.errors import BadRequest, MessageTooLarge
from liaison.i18n import Catalogs
from liaison.settings import AssistantConfig
from liaison.signing import Signer
from staff import accounts, audit, sessions, throttle
from staff.sessions import Session

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent
Pool = AsyncConnectionPool[AsyncConnection[Any]]
FORM_LIMIT = 64 * 1024
MAX_FIELDS = 500
UPLOAD_LIMIT = 2 * 1024 * 1024
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Check-in URLs carry a token: never tell another site where we came from.
    "Referrer-Policy": "no-referrer",
}
ORGANISERS = frozenset({"organiser"})
THROTTLED = "Trop d'essais. Réessayez dans 15 minutes."


@dataclass
class StaffRequest:
    request: Request
    session: Session
    form: Mapping[str, str] = field(default_factory=dict)
    # Uploaded files of a multipart form (a CSV to import), by field name.
    files: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def account(self) -> accounts.Account:
        return self.session.account


Handler = Callable[[StaffRequest], Awaitable[Response]]


class StaffSite:
    """Everything the staff pages need, given once at start-up."""

    def __init__(
        self,
        *,
        pool: Pool,
        config: AssistantConfig,
        catalogs: Catalogs,
        renderers: Mapping[str, Renderer],
        signer: Signer,
        public_url: str,
    ) -> None:
        self.pool = pool
        self.config = config
        self.catalogs = catalogs
        self.renderers = renderers
        self.signer = signer
        self.public_url = public_url.rstrip("/")
        self.secure = public_url.startswith("https://")
        self.cookie = "__Host-liaison_staff" if self.secure else "liaison_staff"
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    # -- pages -------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        from staff import sections

        return [
            Mount(
                "/staff",
                routes=[
                    Route("/", self.page(frozenset())(self._home), methods=["GET"]),
                    Route("/connexion", self._login_page, methods=["GET"]),
                    Route("/connexion", self._login, methods=["POST"]),
                    Route("/deconnexion", self.page(frozenset())(self._logout), methods=["POST"]),
                    *[route for section in sections.ALL for route in section(self)],
                    Mount("/static", StaticFiles(directory=HERE / "static"), name="staff-static"),
                ],
            )
        ]

    def render(
        self, template: str, *, staff: StaffRequest | None = None, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = self.templates.get_template(template).render(
            staff=staff.account if staff else None,
            csrf=staff.session.csrf_token if staff else "",
            **context,
        )
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, status_code=303, headers=SECURITY_HEADERS)

    def error(self, staff: StaffRequest | None, status: int, message: str) -> HTMLResponse:
        return self.render("error.html", staff=staff, status=status, message=message)

    def page(self, roles: frozenset[str]) -> Callable[[Handler], Callable[[Request], Any]]:
        """Wrap a handler: signed in, one of `roles` (none: any account), CSRF on POST."""

        def wrap(handler: Handler) -> Callable[[Request], Any]:
            async def endpoint(request: Request) -> Response:
                token = request.cookies.get(self.cookie, "")
                async with self.pool.connection() as connection:
                    session = await sessions.load_session(connection, token, _now())
                if session is None:
                    if request.method != "GET":
                        return self.error(None, 403, "Votre session a expiré. Reconnectez-vous.")
                    return self.redirect(f"/staff/connexion?suite={quote(_local(request))}")
                staff = StaffRequest(request, session)
                if roles and not session.account.can(roles):
                    return self.error(staff, 403, "Votre compte n'a pas accès à cette page.")
                if request.method == "POST":
                    try:
                        form, files = await self.read_form_and_files(request)
                    except MessageTooLarge:
                        return self.error(staff, 413, "Le formulaire envoyé est trop gros.")
                    except BadRequest:
                        return self.error(staff, 400, "Le formulaire envoyé est illisible.")
                    if not _same(form.get("csrf", ""), session.csrf_token):
                        return self.error(
                            staff, 403, "Formulaire expiré : rechargez la page et recommencez."
                        )
                    staff.form, staff.files = form, files
                return await handler(staff)

            return endpoint

        return wrap

    async def read_form_and_files(
        self, request: Request
    ) -> tuple[dict[str, str], dict[str, bytes]]:
        """A URL-encoded form, or a multipart one with at most one file of `UPLOAD_LIMIT`."""
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            return await self.read_form(request), {}
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > UPLOAD_LIMIT + FORM_LIMIT:
            raise MessageTooLarge("upload too large")
        try:
            data = await request.form(max_files=1, max_fields=MAX_FIELDS, max_part_size=FORM_LIMIT)
        except HTTPException as exc:
            raise BadRequest(str(exc.detail), code="invalid_form") from exc
        fields: dict[str, str] = {}
        files: dict[str, bytes] = {}
        try:
            for key, value in data.multi_items():
                if isinstance(value, str):
                    fields[key] = value
                else:
                    content = await value.read(UPLOAD_LIMIT + 1)
                    if len(content) > UPLOAD_LIMIT:
                        raise MessageTooLarge("upload too large")
                    files[key] = content
        finally:
            await data.close()
        return fields, files

    async def read_form(self, request: Request) -> dict[str, str]:
        """The URL-encoded form (what every staff page sends), bounded; `BadRequest` when it
        is not UTF-8 or has too many fields. A repeated field keeps its last value."""
        body = await read_body(request, FORM_LIMIT)
        try:
            return dict(
                parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS)
            )
        except UnicodeDecodeError as exc:
            raise BadRequest("the form is not UTF-8", code="invalid_encoding") from exc
        except ValueError as exc:
            raise BadRequest("too many fields", code="invalid_form") from exc

    # -- sign-in -----------------------------------------------------------------------

    async def _home(self, staff: StaffRequest) -> Response:
        home = home_of(staff.account)
        if home == "/staff/":
            return self.error(staff, 403, "Votre compte n'a pas accès à cette page.")
        return self.redirect(home)

    async def _login_page(
        self, request: Request, *, error: str = "", status: int = 200
    ) -> Response:
        nonce = secrets.token_urlsafe(24)
        response = self.render(
            "login.html",
            status=status,
            error=error,
            nonce=nonce,
            suite=_safe_next(request.query_params.get("suite", "")),
            email=request.query_params.get("email", ""),
        )
        response.set_cookie(
            "liaison_login",
            nonce,
            httponly=True,
            samesite="strict",
            secure=self.secure,
            path="/staff/connexion",
            max_age=3600,
        )
        return response

    async def _login(self, request: Request) -> Response:
        try:
            form = await self.read_form(request)
        except MessageTooLarge:
            return self.error(None, 413, "Le formulaire envoyé est trop gros.")
        except BadRequest:
            return self.error(None, 400, "Le formulaire envoyé est illisible.")
        nonce = request.cookies.get("liaison_login", "")
        if not nonce or not _same(form.get("nonce", ""), nonce):
            return await self._login_page(
                request, error="La page a expiré : recommencez.", status=403
            )
        email, password = form.get("email", "").strip(), form.get("password", "")
        now = _now()
        keys = throttle.keys(email, request.client.host if request.client else "")
        async with self.pool.connection() as connection:
            async with connection.transaction():
                await throttle.hold(connection, keys)
                refused = await throttle.refused(connection, keys, now)
                account = None
                if not refused:  # the password is not even checked
                    account = await accounts.authenticate(
                        connection, email=email, password=password, now=now
                    )
                    if account is None:
                        await throttle.failed(connection, keys, now)
                        await self._audit_failure(connection, email, now)
            if refused:
                log.warning("staff sign-in throttled")
                response = await self._login_page(request, error=THROTTLED, status=429)
                response.headers["Retry-After"] = str(int(throttle.WINDOW.total_seconds()))
                return response
            if account is None:
                log.info("staff sign-in refused")
                return await self._login_page(
                    request, error="E-mail ou mot de passe incorrect.", status=401
                )
            async with connection.transaction():
                await throttle.succeeded(connection, keys)
                token, _session = await sessions.open_session(connection, account, now)
                await audit.record(
                    connection, account.id, "sign_in.succeeded", "account", account.id, at=now
                )
        log.info("staff sign-in: account %d", account.id)
        response = self.redirect(_safe_next(form.get("suite", "")) or home_of(account))
        response.set_cookie(
            self.cookie,
            token,
            httponly=True,
            samesite="lax",
            secure=self.secure,
            path="/",
            max_age=int(sessions.LIFETIME.total_seconds()),
        )
        response.delete_cookie("liaison_login", path="/staff/connexion")
        return response

    async def _audit_failure(
        self, connection: AsyncConnection[Any], email: str, now: datetime
    ) -> None:
        """A refused sign-in: on the account when the e-mail is one, else the e-mail's digest."""
        cursor = await connection.execute(
            "SELECT id FROM staff_account WHERE lower(email) = lower(%s)", (email,)
        )
        row = await cursor.fetchone()
        if row is not None:
            await audit.record(connection, None, "sign_in.failed", "account", int(row[0]), at=now)
        else:
            detail = {"email_sha256": audit.email_digest(email)}
            await audit.record(connection, None, "sign_in.failed", "account", "", detail, at=now)

    async def _logout(self, staff: StaffRequest) -> Response:
        async with self.pool.connection() as connection:
            await sessions.close_session(connection, staff.request.cookies.get(self.cookie, ""))
            account_id = staff.account.id
            await audit.record(connection, account_id, "sign_out", "account", account_id)
        response = self.redirect("/staff/connexion")
        response.delete_cookie(self.cookie, path="/", secure=self.secure, httponly=True)
        return response


def home_of(account: accounts.Account) -> str:
    """The first page of the staff site for `account`: the first part of the menu it sees."""
    for area, path in (
        ("workshops", "/staff/ateliers"),
        ("inbox", "/staff/messages"),
        ("families", "/staff/familles"),
        ("journal", "/staff/journal"),
    ):
        if account.can_see(area):
            return path
    return "/staff/"


def _now() -> datetime:
    return datetime.now(UTC)


def _same(given: str, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def _local(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _safe_next(path: str) -> str:
    """Only a page of this site under /staff/ (no other host, no scheme-relative URL)."""
    parts = urlsplit(path)
    if parts.scheme or parts.netloc or not path.startswith("/staff/") or "\\" in path:
        return ""
    return path
