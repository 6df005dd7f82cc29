"""Serve fake Twilio and Telegram on 127.0.0.1 for local development.

    python -m channels.fakes --port 8081

Prints the base URL and the environment variables that point Liaison at the fakes. Messages
the app sends are logged to the console; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from channels.fakes.server import build_app
from channels.fakes.telegram import FakeTelegram
from channels.fakes.twilio import FakeTwilio

DEFAULT_TWILIO_SID = "AC" + "0" * 32
# Fixed so that a .env written once keeps working; they open nothing but these fakes.
DEFAULT_TWILIO_TOKEN = "fake-twilio-auth-token"  # noqa: S105 - a fake's credential
DEFAULT_TELEGRAM_TOKEN = "123456789:fake-telegram-token"  # noqa: S105 - a fake's credential


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m channels.fakes", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--port", type=int, default=8081, help="port on 127.0.0.1 (8081)")
    parser.add_argument("--twilio-sid", default=DEFAULT_TWILIO_SID, help="Account SID")
    parser.add_argument("--twilio-token", default=DEFAULT_TWILIO_TOKEN, help="Auth Token")
    parser.add_argument(
        "--twilio-number", default="+33639980000", help="the fake's own phone number"
    )
    parser.add_argument("--telegram-token", default=DEFAULT_TELEGRAM_TOKEN, help="bot token")
    args = parser.parse_args(argv)

    twilio = FakeTwilio(args.twilio_sid, args.twilio_token, phone_number=args.twilio_number)
    try:
        telegram = FakeTelegram(args.telegram_token)
    except ValueError as exc:
        parser.error(str(exc))
    url = f"http://127.0.0.1:{args.port}"
    print(f"Fake Twilio and Telegram on {url}\n\nPoint Liaison at them with:\n")
    print(f"LIAISON_TWILIO_ACCOUNT_SID={twilio.account_sid}")
    print(f"LIAISON_TWILIO_AUTH_TOKEN={twilio.auth_token}")
    print(f"LIAISON_TWILIO_FROM={twilio.phone_number}")
    print(f"LIAISON_TWILIO_API_URL={url}")
    print(f"LIAISON_TELEGRAM_TOKEN={telegram.token}")
    print(f"LIAISON_TELEGRAM_API_URL={url}", flush=True)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    uvicorn.run(
        build_app(twilio, telegram),
        host="127.0.0.1",
        port=args.port,
        log_level="info",
        access_log=False,
        ws="none",
        timeout_graceful_shutdown=2,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
