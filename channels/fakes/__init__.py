"""Fake Twilio and Telegram Bot API servers for tests, benchmarks and local development.

They speak the real HTTP APIs (the official twilio and aiogram SDKs work against them
unchanged), record what they receive, and can be scripted to fail per recipient.
`FakeProviders` serves both on 127.0.0.1 from a background thread; `python -m channels.fakes`
serves them in the foreground.
"""

from channels.fakes.server import FakeProviders, ThreadedServer
from channels.fakes.telegram import FakeTelegram, TelegramError
from channels.fakes.twilio import Delay, FakeTwilio, TwilioError

__all__ = [
    "Delay",
    "FakeProviders",
    "FakeTelegram",
    "FakeTwilio",
    "TelegramError",
    "ThreadedServer",
    "TwilioError",
]
