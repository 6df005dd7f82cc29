"""Staff passwords: argon2id hashes (argon2-cffi's RFC 9106 low-memory profile), never the
password itself. A hash made with older parameters is replaced at the next sign-in."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher()
# Verified when the e-mail is unknown, so that a wrong e-mail takes as long as a wrong password.
_DUMMY = _hasher.hash("not a password: unknown account")


class WeakPassword(ValueError):
    """A password refused before hashing, with the reason in words staff understand."""


def check_strength(password: str, *, email: str = "") -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"le mot de passe doit faire au moins {MIN_LENGTH} caractères")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"le mot de passe doit faire au plus {MAX_LENGTH} caractères")
    if email and password.casefold() == email.casefold():
        raise WeakPassword("le mot de passe ne doit pas être l'adresse e-mail")
    if len(set(password)) < 5:
        raise WeakPassword("le mot de passe est trop simple (trop peu de caractères différents)")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; with `password_hash=None` (unknown account) the same work
    is done and the answer is False."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
