"""The delivery pipeline against the fake providers (real HTTP on 127.0.0.1, real SDKs, real
PostgreSQL): sent once, retried when worth it, failed for good when not, opt-outs honoured,
provider statuses recorded, and the shared rate limiter's spacing."""

from __future__ import annotations

import asyncio
import itertools
import time
from datetime import UTC, datetime

import pytest
from outbox_helpers import deliver_all, message, new_contact, queue

from channels.base import RetryableSendError
from channels.fakes import FakeProviders, TelegramError, TwilioError
from channels.fakes.twilio import Delay
from liaison.delivery import RateLimiter
from liaison.outbox import record_status


async def test_sms_is_sent_once_with_the_provider_id(pool, delivery, fakes, phone) -> None:
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour, voici la réponse."])

    assert await delivery.deliver(message_id, attempt=1) == "sent"
    assert await delivery.deliver(message_id, attempt=1) == "skipped"  # a job run twice

    [sent] = fakes.twilio.messages_to(phone)
    row = await message(pool, message_id)
    assert sent.body == "Bonjour, voici la réponse."
    assert (row["status"], row["provider_id"], row["attempts"]) == ("sent", sent.sid, 1)


async def test_telegram_is_sent_with_its_inline_keyboard(pool, delivery, fakes, chat_id) -> None:
    contact = await new_contact(pool, "telegram", str(chat_id))
    buttons = [{"title": "Voir les devoirs", "data": "/faq_homework"}]
    [message_id] = await queue(
        pool, contact, "telegram", str(chat_id), ["Que voulez-vous ?"], buttons=buttons
    )

    assert await delivery.deliver(message_id, attempt=1) == "sent"

    [sent] = fakes.telegram.messages_to(chat_id)
    keyboard = sent.reply_markup["inline_keyboard"]
    assert keyboard == [[{"text": "Voir les devoirs", "callback_data": "/faq_homework"}]]
    assert (await message(pool, message_id))["provider_id"] == f"{chat_id}:{sent.message_id}"


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        pytest.param(TwilioError.too_many_requests(), "20429", id="429"),
        pytest.param(TwilioError.server_error(), "20500", id="500"),
        pytest.param(
            Delay(2.0, accept_if_abandoned=False), "timeout", id="timeout-before-accepting"
        ),
    ],
)
async def test_sms_retryable_failures_are_retried_and_delivered_once(
    pool, delivery, fakes: FakeProviders, phone, fault, code
) -> None:
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Rappel : atelier demain."])
    fakes.twilio.fail(phone, fault)

    with pytest.raises(RetryableSendError) as raised:
        await delivery.deliver(message_id, attempt=1)
    assert raised.value.code == code
    failed = await message(pool, message_id)
    assert (failed["status"], failed["error_code"]) == ("queued", code)

    assert await delivery.deliver(message_id, attempt=2) == "sent"
    await asyncio.sleep(2.5 if code == "timeout" else 0.1)  # the stalled request is over
    assert len(fakes.twilio.messages_to(phone)) == 1
    row = await message(pool, message_id)
    assert (row["status"], row["attempts"], row["error_code"]) == ("sent", 2, None)


async def test_a_send_accepted_after_our_timeout_is_the_one_duplicate_window(
    pool, delivery, fakes: FakeProviders, phone
) -> None:
    """The documented limit of the guarantee: when the provider takes a message but answers
    after our timeout, the retry sends it again (neither provider takes an idempotency key)."""
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour"])
    fakes.twilio.fail(phone, Delay(1.5))

    with pytest.raises(RetryableSendError):
        await delivery.deliver(message_id, attempt=1)
    assert await delivery.deliver(message_id, attempt=2) == "sent"

    await fakes.twilio.wait_for_messages(phone, count=2, timeout=5)
    assert (await message(pool, message_id))["status"] == "sent"


async def test_telegram_429_carries_retry_after(pool, delivery, fakes, chat_id) -> None:
    contact = await new_contact(pool, "telegram", str(chat_id))
    [message_id] = await queue(pool, contact, "telegram", str(chat_id), ["Bonjour"])
    fakes.telegram.fail(chat_id, TelegramError.too_many_requests(retry_after=3))

    with pytest.raises(RetryableSendError) as raised:
        await delivery.deliver(message_id, attempt=1)

    assert raised.value.retry_after == 3.0
    assert await delivery.deliver(message_id, attempt=2) == "sent"
    assert len(fakes.telegram.messages_to(chat_id)) == 1


async def test_invalid_number_fails_without_retry(pool, delivery, fakes, phone) -> None:
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour"])
    fakes.twilio.fail(phone, TwilioError.invalid_number())

    assert await delivery.deliver(message_id, attempt=1) == "failed"

    row = await message(pool, message_id)
    assert (row["status"], row["error_code"]) == ("failed", "21211")
    assert await delivery.deliver(message_id, attempt=2) == "skipped"
    assert fakes.twilio.messages_to(phone) == []


@pytest.mark.parametrize(
    ("channel", "refusal"),
    [
        pytest.param("sms", TwilioError.unsubscribed(), id="twilio-21610"),
        pytest.param("telegram", TelegramError.blocked(), id="telegram-blocked"),
    ],
)
async def test_refusals_opt_the_contact_out_and_cancel_the_rest(
    pool, delivery, fakes, phone, chat_id, channel, refusal
) -> None:
    address = phone if channel == "sms" else str(chat_id)
    contact = await new_contact(pool, channel, address)
    first, second = await queue(pool, contact, channel, address, ["Un", "Deux"])
    (fakes.twilio if channel == "sms" else fakes.telegram).fail(
        phone if channel == "sms" else chat_id, refusal
    )

    assert await delivery.deliver(first, attempt=1) == "failed"

    assert (await message(pool, second))["status"] == "cancelled"
    assert await delivery.deliver(second, attempt=1) == "skipped"
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT opted_out_at IS NOT NULL FROM contact WHERE id = %s", (contact,)
        )
        assert await cursor.fetchone() == (True,)


async def test_opted_out_contact_gets_only_keyword_confirmations(
    pool, delivery, fakes, phone
) -> None:
    contact = await new_contact(pool, "sms", phone, opted_out=True)
    [reply] = await queue(pool, contact, "sms", phone, ["Une réponse"])
    [confirmation] = await queue(pool, contact, "sms", phone, ["STOP reçu"], kind="keyword")

    assert await delivery.deliver(reply, attempt=1) == "cancelled"
    assert await delivery.deliver(confirmation, attempt=1) == "sent"
    assert [m.body for m in fakes.twilio.messages_to(phone)] == ["STOP reçu"]


async def test_gives_up_after_max_attempts(pool, delivery, fakes, phone) -> None:
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour"])
    fakes.twilio.fail_always(phone, TwilioError.server_error())
    try:
        last = delivery.config.max_attempts
        assert await delivery.deliver(message_id, attempt=last) == "failed"
    finally:
        fakes.twilio.clear_faults(phone)
    row = await message(pool, message_id)
    assert (row["status"], row["error_code"]) == ("failed", "20500")


async def test_status_callbacks_move_messages_forward_only(pool, delivery, fakes, phone) -> None:
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour"])
    assert await delivery.deliver(message_id, attempt=1) == "sent"
    sid = (await message(pool, message_id))["provider_id"]
    now = datetime.now(UTC)

    async with pool.connection() as connection:
        report = {"message_id": message_id, "channel": "sms", "now": now}
        assert await record_status(connection, provider_id=sid, status="delivered", **report)
        assert not await record_status(connection, provider_id=sid, status="sent", **report)
        assert not await record_status(connection, provider_id="SMother", status="failed", **report)
        with pytest.raises(ValueError, match="unknown message status"):
            await record_status(connection, provider_id=sid, status="exploded", **report)

    row = await message(pool, message_id)
    assert (row["status"], row["delivered_at"] is not None) == ("delivered", True)


async def test_deliver_all_keeps_the_order_of_a_turn(pool, delivery, fakes, phone) -> None:
    contact = await new_contact(pool, "sms", phone)
    await queue(pool, contact, "sms", phone, ["1/3", "2/3", "3/3"])

    assert await deliver_all(delivery, pool, "sms", phone) == ["sent"] * 3
    assert [m.body for m in fakes.twilio.messages_to(phone)] == ["1/3", "2/3", "3/3"]


async def test_rate_limiter_spaces_sends_across_callers(pool) -> None:
    limiter = RateLimiter(pool, horizon=0.2)
    key = f"test:{time.monotonic_ns()}"
    start = time.monotonic()

    async def send() -> float:
        await limiter.wait([(key, 0.05)], bulk=False)
        return time.monotonic() - start

    times = sorted(await asyncio.gather(*(send() for _ in range(20))))

    # 20/s: booked 50 ms apart whoever books first; the wake-ups carry a few ms of jitter.
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps) >= 0.025
    assert times[-1] >= 0.95 * 19 * 0.05


async def test_bulk_books_only_within_the_horizon(pool) -> None:
    limiter = RateLimiter(pool, horizon=0.1)
    key = f"test:{time.monotonic_ns()}"
    await limiter.wait([(key, 1.0)], bulk=False)  # the next slot is now 1 s away
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT liaison_rate_reserve(%s::text[], %s::float8[], %s)", ([key], [1.0], 0.1)
        )
        (refusal,) = await cursor.fetchone()
    assert -1.0 < refusal < -0.5  # nothing booked: ask again in about 0.9 s
    reply_wait = await RateLimiter(pool, horizon=0.1).wait([(key, 1.0)], bulk=False)
    assert 0.8 < reply_wait < 1.1  # a reply books at once, right after the first send


async def test_delivery_survives_a_database_restart(pool, delivery, fakes, phone) -> None:
    contact = await new_contact(pool, "sms", phone)
    [message_id] = await queue(pool, contact, "sms", phone, ["Bonjour"])
    async with pool.connection() as connection:  # the delivery's idle connections die
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'liaison-delivery-tests' AND state = 'idle'"
        )

    assert await delivery.deliver(message_id, attempt=1) == "sent"
    assert len(fakes.twilio.messages_to(phone)) == 1


def test_retry_strategy_retries_only_what_is_worth_it(channel_runtime) -> None:
    import psycopg
    from procrastinate.jobs import Job

    from channels.base import PermanentSendError
    from liaison.delivery import DeliveryRetry

    config = channel_runtime.config.delivery
    strategy = DeliveryRetry(config)
    job = Job(id=1, queue="delivery", lock=None, queueing_lock=None, task_name="t", attempts=0)
    later = job.evolve(attempts=config.max_attempts - 1)

    assert strategy.get_retry_decision(exception=RetryableSendError("x"), job=job) is not None
    assert strategy.get_retry_decision(exception=psycopg.OperationalError(), job=job) is not None
    assert strategy.get_retry_decision(exception=PermanentSendError("x"), job=job) is None
    assert strategy.get_retry_decision(exception=KeyError("x"), job=job) is None
    assert strategy.get_retry_decision(exception=RetryableSendError("x"), job=later) is None
    waited = strategy.get_retry_decision(exception=RetryableSendError("x", retry_after=7), job=job)
    assert waited is not None and waited.retry_at is not None
    assert 6 < (waited.retry_at - datetime.now(UTC)).total_seconds() <= 7
