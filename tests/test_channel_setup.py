"""Which channels a deployment serves, from its credentials; the commands that set them up."""

from __future__ import annotations

import logging
from dataclasses import replace

from outbox_helpers import message, new_contact, queue
from test_cli import run

from channels.sms import SmsChannel
from channels.telegram import TelegramChannel
from channels.web import WebChannel
from liaison.app import channels_for, describe_channels, senders_for
from liaison.delivery import Delivery


async def test_without_credentials_only_the_web_chat_runs(runtime, pool, caplog) -> None:
    bare = runtime.settings.model_copy(
        update={"twilio_account_sid": None, "twilio_auth_token": None, "telegram_token": None}
    )
    channels = channels_for(replace(runtime, settings=bare), pool)

    assert [type(c) for c in channels] == [WebChannel]
    assert senders_for(bare, runtime.config) == {}
    with caplog.at_level(logging.INFO, logger="liaison.app"):
        describe_channels(bare)
    lines = [r.getMessage() for r in caplog.records]
    assert any(line.startswith("SMS channel off: set LIAISON_TWILIO_ACCOUNT_SID") for line in lines)
    assert any(line.startswith("Telegram channel off") for line in lines)


async def test_with_credentials_every_channel_runs(channel_runtime, pool) -> None:
    channels = channels_for(channel_runtime, pool)
    try:
        assert [type(c) for c in channels] == [WebChannel, SmsChannel, TelegramChannel]
        paths = {route.path for c in channels for route in c.routes()}  # type: ignore[attr-defined]
        assert {"/webhooks/twilio/sms", "/webhooks/twilio/status", "/webhooks/telegram"} <= paths
    finally:
        for channel in channels:
            await channel.close()


async def test_a_message_for_a_channel_that_is_off_fails_clearly(pool, channel_runtime, phone):
    delivery = Delivery(pool, {}, channel_runtime.config.delivery)
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour"])

    assert await delivery.deliver(message_id, attempt=1) == "failed"
    assert (await message(pool, message_id))["error_code"] == "channel_off"


def test_set_webhook_registers_url_and_secret(fakes) -> None:
    result = run(
        "telegram",
        "set-webhook",
        env={
            "LIAISON_TELEGRAM_TOKEN": fakes.telegram.token,
            "LIAISON_TELEGRAM_WEBHOOK_SECRET": "a-secret_1",
            "LIAISON_TELEGRAM_API_URL": fakes.url,
            "LIAISON_PUBLIC_URL": "https://liaison.example.fr/",
        },
    )

    assert result.returncode == 0, result.stderr
    webhook = fakes.telegram.webhook
    assert webhook is not None
    assert (webhook.url, webhook.secret_token) == (
        "https://liaison.example.fr/webhooks/telegram",
        "a-secret_1",
    )
    assert "message" in (webhook.allowed_updates or [])


def test_set_webhook_needs_https_and_a_secret(fakes) -> None:
    plain = run(
        "telegram",
        "set-webhook",
        env={
            "LIAISON_TELEGRAM_TOKEN": fakes.telegram.token,
            "LIAISON_TELEGRAM_WEBHOOK_SECRET": "a-secret",
            "LIAISON_PUBLIC_URL": "http://127.0.0.1:8000",
        },
    )
    assert plain.returncode == 1
    assert "https://" in plain.stderr

    no_token = run("telegram", "poll", env={"LIAISON_TELEGRAM_TOKEN": ""})
    assert no_token.returncode == 1
    assert "LIAISON_TELEGRAM_TOKEN is not set" in no_token.stderr
