"""Signed, single-purpose tokens (the check-in code on a parent's enrolment) and the key that
signs them.

A token is `value.signature`, both URL-safe: the signature is an HMAC-SHA256 of the value under
a key derived from the secret key *and the purpose*, so a token made for one purpose is refused
for any other. The secret comes from `LIAISON_SECRET_KEY`, or is made once and kept in
`data_dir/secret_key` (readable by its owner only), so that `make run` needs no setting and
every process of one machine shares it; several machines need the same `LIAISON_SECRET_KEY`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from liaison.errors import ConfigError
from liaison.settings import Settings

MIN_SECRET_BYTES = 32


class BadToken(ValueError):
    """A token that was not made by us for this purpose (forged, truncated, other purpose)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(f"the secret key must be at least {MIN_SECRET_BYTES} bytes")
        self._secret = secret

    def _mac(self, purpose: str, value: str) -> bytes:
        key = hmac.new(self._secret, b"liaison-token:" + purpose.encode(), hashlib.sha256)
        return hmac.new(key.digest(), value.encode(), hashlib.sha256).digest()[:20]

    def sign(self, purpose: str, value: str) -> str:
        encoded = _b64(value.encode())
        return f"{encoded}.{_b64(self._mac(purpose, encoded))}"

    def unsign(self, purpose: str, token: str) -> str:
        """The value signed in `token` for `purpose`, or `BadToken`."""
        encoded, dot, signature = token.partition(".")
        if not dot or len(token) > 512:
            raise BadToken("not a token")
        try:
            given = _unb64(signature)
            value = _unb64(encoded).decode()
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadToken("not a token") from exc
        if not hmac.compare_digest(given, self._mac(purpose, encoded)):
            raise BadToken("bad signature")
        # Base64 ignores padding bits: only our own spelling of a token is the token, so a
        # single-use token cannot be used again under another spelling.
        if _b64(given) != signature or _b64(value.encode()) != encoded:
            raise BadToken("not our spelling of the token")
        return value

    @staticmethod
    def digest(token: str) -> bytes:
        """What is stored of a used token (`used_token.digest`)."""
        return hashlib.sha256(token.encode()).digest()


def secret_key(settings: Settings) -> bytes:
    """`LIAISON_SECRET_KEY`, else the key kept under `data_dir` (made on first use)."""
    if settings.secret_key is not None:
        secret = settings.secret_key.get_secret_value().encode()
        if len(secret) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"LIAISON_SECRET_KEY must be at least {MIN_SECRET_BYTES} characters; "
                "make one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        return secret
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it at the same moment
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(48))
    secret = path.read_text().strip().encode()
    if len(secret) < MIN_SECRET_BYTES:
        raise ConfigError(f"{path} holds no usable key; delete it to make a new one")
    return secret
