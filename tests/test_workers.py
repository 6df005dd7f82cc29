"""Worker processes (`liaison worker`) against the fake providers: a worker killed with SIGKILL
in the middle of 1,000 messages loses none, and two workers together never pass the
configured rate. Each test runs real subprocesses on the test database."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from outbox_helpers import new_contact, queue, worker_environment

from liaison.settings import ROOT


@pytest.fixture
def worker_env(database, fakes, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Environment and config for `liaison worker` subprocesses; call with config overrides."""

    def make(**delivery: object) -> dict[str, str]:
        config = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
        section = config["liaison"]
        section["delivery"].update(
            {"heartbeat_seconds": 0.5, "stalled_after_seconds": 2, "backoff_seconds": 0.2}
        )
        for key, value in delivery.items():
            group, _, name = key.partition("__")
            section[group][name] = value
        path = tmp_path / f"config-{time.monotonic_ns()}.yml"
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return worker_environment(database, fakes, path)

    return make


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _start(workers: list, env: dict[str, str], concurrency: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "liaison", "worker", "--concurrency", str(concurrency)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers.append(process)
    return process


async def _count(pool, ids: list[int], status: str) -> int:
    async with pool.connection() as connection:
        cursor = await connection.execute(
            "SELECT count(*) FROM outbound_message WHERE id = ANY(%s) AND status = %s",
            (ids, status),
        )
        row = await cursor.fetchone()
    return int(row[0])


async def _queue_to_chats(pool, count: int, tag: str, base: int) -> list[int]:
    ids = []
    for number in range(count):
        chat = str(base + number)
        contact = await new_contact(pool, "telegram", chat)
        ids += await queue(pool, contact, "telegram", chat, [f"{tag}-{number}"], kind="bulk")
    return ids


async def test_sigkilled_worker_loses_nothing(pool, fakes, worker_env, workers) -> None:
    tag = f"kill{time.monotonic_ns()}"
    base = 7_000_000_000 + (time.monotonic_ns() % 1_000_000) * 1000
    env = worker_env(delivery__rate_limits=False)
    ids = await _queue_to_chats(pool, 1000, tag, base)

    first = _start(workers, env, concurrency=8)
    deadline = time.monotonic() + 90
    while sum(m.text.startswith(tag) for m in fakes.telegram.messages) < 200:
        assert time.monotonic() < deadline, "the first worker sent too little"
        await asyncio.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    in_flight = await _count(pool, ids, "sending")
    sent_before = await _count(pool, ids, "sent")
    assert sent_before < len(ids), "killed too late to prove anything"

    _start(workers, env, concurrency=8)
    while await _count(pool, ids, "sent") < len(ids):
        assert time.monotonic() < deadline + 60, "messages were lost"
        await asyncio.sleep(0.2)

    received = [m.text for m in fakes.telegram.messages if m.text.startswith(tag)]
    assert set(received) == {f"{tag}-{n}" for n in range(1000)}  # every message delivered
    duplicates = len(received) - len(set(received))
    # Only a message whose send was in flight when the worker died can go twice.
    assert duplicates <= in_flight


async def test_two_workers_hold_the_global_rate(pool, fakes, worker_env, workers) -> None:
    rate = 20
    tag = f"rate{time.monotonic_ns()}"
    base = 8_000_000_000 + (time.monotonic_ns() % 1_000_000) * 1000
    env = worker_env(telegram__messages_per_second=rate)
    ids = await _queue_to_chats(pool, 240, tag, base)

    _start(workers, env, concurrency=6)
    _start(workers, env, concurrency=6)
    deadline = time.monotonic() + 90
    while await _count(pool, ids, "sent") < len(ids):
        assert time.monotonic() < deadline, "the workers did not finish"
        await asyncio.sleep(0.2)

    # Sends per second as the provider counts them: arrivals in each second of its clock.
    times = sorted(m.time for m in fakes.telegram.messages if m.text.startswith(tag))
    assert len(times) == len(ids)
    per_second = Counter(int(t) for t in times)
    achieved = (len(times) - 1) / (times[-1] - times[0])
    assert max(per_second.values()) <= rate, f"{sorted(per_second.values())} over {rate}/s"
    assert achieved >= 0.85 * rate, f"only {achieved:.1f}/s of {rate}/s"


async def test_a_reply_passes_a_running_broadcast(pool, fakes, worker_env, workers) -> None:
    tag = f"bulk{time.monotonic_ns()}"
    base = 9_000_000_000 + (time.monotonic_ns() % 1_000_000) * 1000
    env = worker_env(telegram__messages_per_second=25)
    await _queue_to_chats(pool, 1000, tag, base)  # 40 s of broadcast at 25/s
    _start(workers, env, concurrency=8)
    deadline = time.monotonic() + 60
    while sum(m.text.startswith(tag) for m in fakes.telegram.messages) < 50:
        assert time.monotonic() < deadline, "the broadcast did not start"
        await asyncio.sleep(0.05)

    delays = []
    for number in range(5):
        chat = str(base - 1 - number)
        contact = await new_contact(pool, "telegram", chat)
        queued = time.time()
        await queue(pool, contact, "telegram", chat, [f"{tag}-reply"], kind="reply")
        [arrived] = await fakes.telegram.wait_for_messages(int(chat), count=1, timeout=10)
        delays.append(arrived.time - queued)
        await asyncio.sleep(0.5)

    assert max(delays) < 1.0, f"replies waited {delays} behind the broadcast"
