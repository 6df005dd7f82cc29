"""The fake providers of `python -m channels.fakes`, plus what a benchmark needs to read back.

    .venv/bin/python bench/fake_stats.py [--port 0]

Same fakes and credentials as `python -m channels.fakes`, but quiet, with no Twilio status
callbacks (nobody listens for them in a benchmark), and two more routes:

* `GET /_stats` — per channel, every accepted message as `[wall-clock arrival, units]`
  (`time.time()`, comparable across processes; units = SMS segments, 1 for Telegram), the
  number of distinct bodies (a duplicate send shows as fewer bodies than arrivals) and the
  number of refused requests;
* `POST /_reset` — forget everything received so far.

Binds 127.0.0.1 (port 0: the kernel picks one) and prints `PORT <n>` once it is bound.
"""

from __future__ import annotations

import argparse
import socket
import sys
from pathlib import Path

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.fakes import FakeTelegram, FakeTwilio
from channels.fakes.__main__ import (
    DEFAULT_TELEGRAM_TOKEN,
    DEFAULT_TWILIO_SID,
    DEFAULT_TWILIO_TOKEN,
)
from channels.fakes.server import build_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    twilio = FakeTwilio(DEFAULT_TWILIO_SID, DEFAULT_TWILIO_TOKEN, status_callbacks=False)
    telegram = FakeTelegram(DEFAULT_TELEGRAM_TOKEN)

    async def stats(request: Request) -> JSONResponse:
        sms, chats = twilio.messages, telegram.messages
        return JSONResponse(
            {
                "sms": {
                    "arrivals": [[m.time, m.num_segments] for m in sms],
                    "bodies": len({m.body for m in sms}),
                    "refused": sum(1 for a in twilio.attempts if a.status >= 300),
                },
                "telegram": {
                    "arrivals": [[m.time, 1] for m in chats],
                    "bodies": len({m.text for m in chats}),
                    "refused": sum(1 for a in telegram.attempts if a.status >= 300),
                },
            }
        )

    async def reset(request: Request) -> JSONResponse:
        twilio.reset()
        telegram.reset()
        return JSONResponse({"ok": True})

    app = build_app(
        twilio,
        telegram,
        [Route("/_stats", stats, methods=["GET"]), Route("/_reset", reset, methods=["POST"])],
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    print(f"PORT {sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, ws="none", timeout_graceful_shutdown=2
    )
    uvicorn.Server(config).run(sockets=[sock])  # uvloop and httptools when installed


if __name__ == "__main__":
    main()
