"""A bare Starlette JSON endpoint, the reference point of webhook_bench.py."""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def answer(request: Request) -> JSONResponse:
    body = await request.json()
    return JSONResponse([{"recipient_id": body.get("sender"), "text": "ok"}])


app = Starlette(routes=[Route("/json", answer, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
