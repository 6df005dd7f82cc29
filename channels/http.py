"""HTTP helpers the channels share: bounded body reads, the secret check, the JSON error answer,
and the reader's language from the browser's `Accept-Language`."""

from __future__ import annotations

import hmac
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from liaison.errors import BadRequest, Forbidden, InboundError, MessageTooLarge


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with `MessageTooLarge` as soon as it passes `limit` bytes
    (declared or streamed), so a huge body is never held in memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise MessageTooLarge(f"request body is over {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise MessageTooLarge(f"request body is over {limit} bytes")
    return bytes(body)


async def read_json_object(request: Request, limit: int) -> dict[str, Any]:
    """The body as a JSON object; `BadRequest` if it is not UTF-8, not JSON or not an object,
    `MessageTooLarge` past `limit` bytes."""
    body = await read_body(request, limit)
    try:
        document = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadRequest("the body is not UTF-8", code="invalid_encoding") from exc
    except ValueError as exc:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from exc
    if not isinstance(document, dict):
        raise BadRequest("the body must be a JSON object", code="invalid_json")
    return document


def check_secret(given: str | None, expected: str) -> None:
    """Constant-time comparison of a shared secret; `Forbidden` when absent or different."""
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("missing or wrong secret token", code="forbidden")


def error_response(error: InboundError) -> JSONResponse:
    return JSONResponse({"error": error.code, "message": str(error)}, status_code=error.status)


def accepted_language(header: str, languages: list[str]) -> str | None:
    """The first of `languages` an `Accept-Language` header names ("ar-MA,fr;q=0.8" → "ar")."""
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in languages:
            return code
    return None
