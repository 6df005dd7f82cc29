"""The delivery pipeline: throughput with limits lifted, and the accuracy of the rate limits.

    .venv/bin/python bench/delivery_bench.py [--messages 20000] [--workers 2] [--concurrency 8]

Everything runs on 127.0.0.1 in subprocesses: an embedded PostgreSQL under
var/bench-delivery-postgres (or DATABASE_URL), the fake providers (`bench/fake_stats.py`: the
fakes of `python -m channels.fakes` plus a `/_stats` route) and `liaison worker` processes.
Logs and the generated config files go to var/bench-delivery/.

1. Limits lifted (`delivery.rate_limits: false`): N bulk messages, half SMS and half Telegram,
   over `--contacts` contacts, enqueued with `liaison.outbox.enqueue` in one transaction
   (timed). The workers are already up: the clock starts at the commit and stops at the last
   `sent_at`. CPU is user+sys from /proc, counted from just before the commit: the workers,
   the fake, PostgreSQL (postmaster, its children and the children it reaped).
2. Limits on (configured rates; workers restarted): Telegram messages to distinct chats, then
   SMS (every fourth message two segments), ~`--limited-seconds` of traffic each. From the
   fake's wall-clock arrival times: the rate from first to last arrival as a % of the
   configured one (target >= 90 %), and the most units in any sliding 1-second window, which
   must never exceed the rate: over the whole run ("cold", includes each worker's first send)
   and over windows starting 2 s after the first arrival ("warm"). A message of u segments
   counts as u arrivals 1/rate apart, as the limiter books it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from channels.base import Outgoing  # noqa: E402
from channels.fakes import __main__ as fakes  # noqa: E402
from liaison.database import Database, migrate, start_embedded, stop_embedded  # noqa: E402
from liaison.outbox import enqueue  # noqa: E402
from liaison.settings import load_config  # noqa: E402

PGDATA = ROOT / "var" / "bench-delivery-postgres"
WORK = ROOT / "var" / "bench-delivery"
TICK = os.sysconf("SC_CLK_TCK")
RUNNING: list[subprocess.Popen[bytes]] = []
Plan = list[tuple[str, str, list[Outgoing]]]  # (channel, address, messages), one per contact


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu(pid: int, *, reaped: bool = False) -> float:
    """user+sys seconds of `pid` (plus its reaped children's with `reaped`)."""
    return sum(int(f) for f in _stat(pid)[11 : 15 if reaped else 13]) / TICK


def postgres_cpu(pgdata: Path | None) -> float | None:
    if pgdata is None or not (pgdata / "postmaster.pid").exists():
        return None
    master = int((pgdata / "postmaster.pid").read_text().split()[0])
    total = cpu(master, reaped=True)
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(_stat(int(entry.name))[1]) == master:
                total += cpu(int(entry.name), reaped=True)
        except OSError:  # gone meanwhile
            pass
    return total


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    RUNNING.append(process)
    return process


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process in RUNNING:
            RUNNING.remove(process)


def fetch(url: str, method: str = "GET") -> Any:
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as r:
        return json.loads(r.read())


async def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(sql, params)
        return await cursor.fetchall() if cursor.description else []


def one(url: str, sql: str, params: Any = None) -> Any:
    return asyncio.run(query(url, sql, params))[0][0]


def start_workers(
    args: argparse.Namespace, env: dict[str, str], limits: bool
) -> list[subprocess.Popen[bytes]]:
    """`--workers` workers on a copy of config.yml; returns once all are registered."""
    raw = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    section = raw.setdefault("liaison", {})
    section.setdefault("delivery", {})["rate_limits"] = limits
    section.setdefault("sms", {})["segments_per_second"] = args.sms_rate
    section.setdefault("telegram", {})["messages_per_second"] = args.telegram_rate
    tag = "limited" if limits else "lifted"
    config = WORK / f"config-{tag}.yml"
    config.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    url = env["DATABASE_URL"]
    known = one(url, "SELECT max(id) FROM procrastinate_workers")
    command = [sys.executable, "-m", "liaison", "worker", "--concurrency", str(args.concurrency)]
    env = {**env, "LIAISON_CONFIG_FILE": str(config)}
    workers = [spawn(command, WORK / f"{tag}-worker-{i}.log", env) for i in range(args.workers)]
    deadline = time.monotonic() + 120
    sql = "SELECT count(*) FROM procrastinate_workers WHERE id > %s"
    while one(url, sql, (known or 0,)) < args.workers:
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit(f"workers did not start; see {WORK}/{tag}-worker-*.log")
        time.sleep(0.2)
    time.sleep(0.5)
    return workers


async def run_batch(
    url: str, plan: Plan, probe: Callable[[], Any] = lambda: None
) -> tuple[int, float, float, Any]:
    """Enqueue `plan` in one transaction; returns (first message id, seconds, commit wall
    time, what `probe` returned just before the commit)."""
    ids: dict[tuple[str, str], int] = {}
    for channel in ("sms", "telegram"):
        rows = await query(
            url,
            "INSERT INTO contact (channel, address, created_at, last_seen_at) "
            "SELECT %s, a, now(), now() FROM unnest(%s::text[]) AS a ON CONFLICT "
            "(channel, address) DO UPDATE SET opted_out_at = NULL RETURNING address, id",
            (channel, [a for c, a, _ in plan if c == channel]),
        )
        ids |= {(channel, address): contact_id for address, contact_id in rows}
    first = (await query(url, "SELECT coalesce(max(id), 0) + 1 FROM outbound_message"))[0][0]
    async with await psycopg.AsyncConnection.connect(url) as connection:
        began = time.perf_counter()
        for channel, address, messages in plan:
            await enqueue(
                connection,
                contact_id=ids[channel, address],
                channel=channel,
                address=address,
                messages=messages,
                kind="bulk",
                now=datetime.now(UTC),
            )
        probed = probe()
        await connection.commit()
        return first, time.perf_counter() - began, time.time(), probed


OUTBOX = """SELECT status, count(*), sum(attempts - 1), extract(epoch FROM max(sent_at))
FROM outbound_message WHERE id >= %s GROUP BY status"""


def wait_sent(url: str, first: int, stall: float = 120) -> tuple[float, dict[str, int]]:
    """Wait until no delivery job is pending (successful jobs are deleted); returns the last
    `sent_at` and the outbox's counts by status, plus attempts beyond the first."""
    pending = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
    progress, seen = time.monotonic(), -1
    while (left := one(url, pending)) > 0:
        if left != seen:
            progress, seen = time.monotonic(), left
        elif time.monotonic() - progress > stall:
            raise SystemExit(f"no progress for {stall:.0f} s, {left} jobs pending")
        time.sleep(0.5)
    rows = asyncio.run(query(url, OUTBOX, (first,)))
    counts = {row[0]: int(row[1]) for row in rows} | {"retries": sum(int(r[2]) for r in rows)}
    return float(max(row[3] or 0 for row in rows)), counts


def log_problems(tag: str) -> str:
    lines = [
        line.strip()
        for log in sorted(WORK.glob(f"{tag}-worker-*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if " ERROR " in line or " WARNING " in line or line.startswith("Traceback")
    ]
    return f"{len(lines)} warning/error lines" + (f", first: {lines[0][:150]}" if lines else "")


def window_max(times: list[float]) -> int:
    best, j = 0, 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] < start + 1.0:
            j += 1
        best = max(best, j - i)
    return best


def accuracy(arrivals: list[list[float]], rate: float, units: int) -> str:
    times = sorted(t + k / rate for t, u in arrivals for k in range(int(u)))
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    cold, warm = window_max(times), window_max([t for t in times if t >= times[0] + 2])
    missing = "" if len(times) == units else f", {units - len(times)} units MISSING"
    return (
        f"{len(arrivals)} messages, {len(times)} units in {span:.1f} s = {achieved:.2f}/s = "
        f"{achieved / rate * 100:.1f}% of {rate:g}/s\n  max units in a 1 s window: "
        f"{cold} cold ({'PASS' if cold <= rate else 'FAIL'}), {warm} warm "
        f"({'PASS' if warm <= rate else 'FAIL'}); gaps min {gaps[0] * 1000:.1f} ms, median "
        f"{gaps[len(gaps) // 2] * 1000:.1f} ms{missing}"
    )


def message(i: int, units: int = 1) -> Outgoing:
    """A plain GSM-7 text: 1 segment, or 2 with `units=2` (more than 160 characters)."""
    text = f"Liaison {i}: reunion parents-professeurs jeudi a 18 h, salle 12."
    return Outgoing(text + " Merci de confirmer." * 6 * (units - 1), units=units)


def lifted(args: argparse.Namespace, url: str, env: dict[str, str], fake: Any) -> list[str]:
    n, half = args.messages, max(1, args.contacts // 2)
    addresses = [("sms", f"+33612{c:06d}") for c in range(half)]
    addresses += [("telegram", str(700_000_000 + c)) for c in range(half)]
    plan: Plan = [
        (channel, address, [message(i) for i in range(c, n, len(addresses))])
        for c, (channel, address) in enumerate(addresses)
    ]
    workers = start_workers(args, env, limits=False)
    pgdata = None if os.environ.get("DATABASE_URL") else PGDATA

    def probe() -> tuple[float, float, float | None]:
        return sum(cpu(w.pid) for w in workers), cpu(fake.pid), postgres_cpu(pgdata)

    first, enqueue_s, committed, before = asyncio.run(run_batch(url, plan, probe))
    last_sent, counts = wait_sent(url, first)
    after = probe()
    stats = fetch(f"{env['LIAISON_TWILIO_API_URL']}/_stats")
    stop(workers)
    elapsed = last_sent - committed
    ms = [
        (a - b) * 1000 / n if a is not None and b is not None else math.nan
        for a, b in zip(after, before, strict=True)
    ]
    received = sum(len(stats[c]["arrivals"]) for c in ("sms", "telegram"))
    return [
        f"enqueue: {n} messages to {len(plan)} contacts in {enqueue_s:.2f} s = "
        f"{n / enqueue_s:,.0f} messages/s (one transaction, one enqueue() per contact)",
        f"limits lifted: {n} messages sent in {elapsed:.1f} s = {n / elapsed:,.0f} messages/s",
        f"CPU per message: workers {ms[0]:.2f} ms, PostgreSQL {ms[2]:.2f} ms, fake {ms[1]:.2f} ms",
        f"outbox: {counts}; fake accepted {received} ({sum(stats[c]['bodies'] for c in stats)} "
        f"distinct), refused {sum(stats[c]['refused'] for c in stats)}",
        f"worker logs: {log_problems('lifted')}",
    ]


def limited(args: argparse.Namespace, url: str, env: dict[str, str]) -> list[str]:
    report, fake_url = [], env["LIAISON_TWILIO_API_URL"]
    workers = start_workers(args, env, limits=True)
    for channel, rate in (("telegram", args.telegram_rate), ("sms", args.sms_rate)):
        per_message = 1.25 if channel == "sms" else 1.0  # SMS: one in four is 2 segments
        n = args.limited_messages or math.ceil(rate * args.limited_seconds / per_message)
        plan: Plan = [
            ("telegram", str(800_000_000 + i), [message(i)])
            if channel == "telegram"
            else ("sms", f"+33613{i:06d}", [message(i, 2 if i % 4 == 3 else 1)])
            for i in range(n)
        ]
        fetch(f"{fake_url}/_reset", "POST")
        first, _, committed, _ = asyncio.run(run_batch(url, plan))
        last_sent, counts = wait_sent(url, first)
        arrivals = fetch(f"{fake_url}/_stats")[channel]["arrivals"]
        units = sum(m.units for _, _, messages in plan for m in messages)
        report += [
            f"limits on, {channel}: {accuracy(arrivals, rate, units)}",
            f"  first arrival {min(a[0] for a in arrivals) - committed:.2f} s after the commit,"
            f" all sent in {last_sent - committed:.1f} s; outbox {counts}",
        ]
    stop(workers)
    return [*report, f"worker logs: {log_problems('limited')}"]


def start_fake() -> tuple[subprocess.Popen[bytes], str]:
    log = WORK / "fake.log"
    fake = spawn([sys.executable, str(ROOT / "bench" / "fake_stats.py")], log)
    deadline = time.monotonic() + 30
    while not log.read_text().startswith("PORT "):
        if fake.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the fake providers did not start; see {log}")
        time.sleep(0.1)
    return fake, f"http://127.0.0.1:{log.read_text().split()[1]}"


def main() -> None:
    config = load_config(ROOT / "config.yml")
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=2_000, help="half SMS, half Telegram")
    parser.add_argument("--workers", type=int, default=2, help="`liaison worker` processes")
    parser.add_argument("--concurrency", type=int, default=config.delivery.worker_concurrency)
    parser.add_argument("--sms-rate", type=float, default=config.sms.segments_per_second)
    parser.add_argument("--telegram-rate", type=float, default=config.telegram.messages_per_second)
    parser.add_argument("--limited-seconds", type=float, default=40, help="per channel")
    parser.add_argument("--limited-messages", type=int, default=None, help="per channel")
    parser.add_argument("--skip-lifted", action="store_true")
    parser.add_argument("--skip-limited", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the embedded PostgreSQL up")
    args = parser.parse_args()

    # Ctrl+C and kill both end in the `finally` below, which stops every subprocess.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    WORK.mkdir(parents=True, exist_ok=True)
    pgdata = None if os.environ.get("DATABASE_URL") else PGDATA
    load = Path("/proc/loadavg").read_text().split()[0]
    report = [f"command: .venv/bin/python bench/delivery_bench.py {shlex.join(sys.argv[1:])}"]
    began = time.monotonic()
    try:
        url = os.environ["DATABASE_URL"] if pgdata is None else start_embedded(pgdata).url
        migrate(Database(url=url, embedded=pgdata is not None))
        if pgdata is not None:  # our own database: start clean
            asyncio.run(
                query(
                    url,
                    "TRUNCATE outbound_message, contact, rate_limit, "
                    "procrastinate_jobs, procrastinate_workers CASCADE",
                )
            )
        elif one(url, "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'"):
            raise SystemExit("DATABASE_URL has pending jobs: the benchmark would send them too")
        fake, fake_url = start_fake()
        env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_REGION", "TWILIO_EDGE")}
        env |= {
            "DATABASE_URL": url,
            "LIAISON_LOG_LEVEL": "WARNING",
            "LIAISON_TWILIO_ACCOUNT_SID": fakes.DEFAULT_TWILIO_SID,
            "LIAISON_TWILIO_AUTH_TOKEN": fakes.DEFAULT_TWILIO_TOKEN,
            "LIAISON_TWILIO_FROM": "+33639980000",
            "LIAISON_TWILIO_API_URL": fake_url,
            "LIAISON_TELEGRAM_TOKEN": fakes.DEFAULT_TELEGRAM_TOKEN,
            "LIAISON_TELEGRAM_API_URL": fake_url,
        }
        if not args.skip_lifted:
            report += lifted(args, url, env, fake)
        if not args.skip_limited:
            report += limited(args, url, env)
    finally:
        stop(list(RUNNING))
        if pgdata is not None and not args.keep:
            stop_embedded(pgdata)
    report.insert(
        1,
        f"machine: {os.cpu_count()} CPUs, load average {load} before and "
        f"{Path('/proc/loadavg').read_text().split()[0]} after; {args.workers} worker "
        f"processes x {args.concurrency} jobs at once; {time.monotonic() - began:.0f} s in all",
    )
    print("\n".join(report))


if __name__ == "__main__":
    main()
