"""Liaison's exceptions, one tree rooted at `LiaisonError`.

LiaisonError
├── ConfigError            a setting or config.yml key is missing or invalid (names the key)
├── DatabaseError          the database cannot be reached or started
├── CatalogError           a gettext catalog is missing or broken
├── NLUError               the NLU cannot be trained or loaded
│   └── TrainingDataError  a training file is malformed (names the file)
└── InboundError           a message from a channel is refused (carries an HTTP status)
    ├── BadRequest         400: not JSON, not UTF-8, a required field missing
    ├── InvalidField       422: wrong types, bad sender
    ├── Forbidden          403: a webhook's signature or secret token is missing or wrong
    └── MessageTooLarge    413: over the configured size
"""

from __future__ import annotations


class LiaisonError(Exception):
    """Root of every error Liaison raises on purpose."""


class ConfigError(LiaisonError):
    """A setting is missing or invalid; the message names the key and the fix."""


class DatabaseError(LiaisonError):
    """The database cannot be started, reached or migrated."""


class CatalogError(LiaisonError):
    """A gettext catalog cannot be read."""


class NLUError(LiaisonError):
    """The NLU cannot be trained or loaded."""


class TrainingDataError(NLUError):
    """A training data file is malformed."""


class InboundError(LiaisonError):
    """An inbound message is refused; `status` is the HTTP status to answer with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class BadRequest(InboundError):
    status = 400
    code = "bad_request"


class InvalidField(InboundError):
    status = 422
    code = "invalid_field"


class Forbidden(InboundError):
    status = 403
    code = "forbidden"


class MessageTooLarge(InboundError):
    status = 413
    code = "message_too_large"
