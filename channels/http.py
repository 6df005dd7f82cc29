"""HTTP helpers every channel's webhooks share: a bounded body read and the JSON error answer."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse

from liaison.errors import Forbidden, InboundError, MessageTooLarge


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


def check_secret(given: str | None, expected: str) -> None:
    """Constant-time comparison of a shared secret; `Forbidden` when absent or different."""
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("missing or wrong secret token", code="forbidden")


def error_response(error: InboundError) -> JSONResponse:
    return JSONResponse({"error": error.code, "message": str(error)}, status_code=error.status)
