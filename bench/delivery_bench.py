"""The delivery pipeline: throughput with limits lifted, and the accuracy of the rate limits.

    .venv/bin/python bench/delivery_bench.py [--messages 20000] [--workers 2] [--concurrency 8]

Everything runs on 127.0.0.1 in subprocesses: an embedded PostgreSQL under
var/bench-delivery-postgres (or DATABASE_URL), the fake providers (`bench/fake_stats.py`, the
fakes of `python -m channels.fakes` plus a `/_stats` route) and `liaison worker` processes.

1. Limits lifted (`delivery.rate_limits: false`): N bulk messages, half SMS and half Telegram,
   over `--contacts` contacts, are enqueued with `liaison.outbox.enqueue` in one transaction
   (timed); the workers are already up, so the clock starts at the commit and stops at the last
   `sent_at`. CPU is user+sys from /proc: the workers, the fake, and PostgreSQL (postmaster,
   its children, and its reaped children).
2. Limits on: the workers restart with the configured rates; Telegram messages to distinct
   chats, then SMS (every fourth message two segments), ~`--limited-seconds` of traffic each.
   From the fake's arrival times (wall clock): the rate from first to last arrival as a % of
   the configured one (target >= 90 %), and the most units in any sliding 1-second window
   (must never exceed the rate). A message of u segments counts as u arrivals 1/rate apart,
   which is how the limiter books it.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import shlex
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
from channels.fakes.__main__ import (  # noqa: E402
    DEFAULT_TELEGRAM_TOKEN,
    DEFAULT_TWILIO_SID,
    DEFAULT_TWILIO_TOKEN,
)
from liaison.outbox import enqueue  # noqa: E402

PGDATA = ROOT / "var" / "bench-delivery-postgres"
WORK = ROOT / "var" / "bench-delivery"
TICK = os.sysconf("SC_CLK_TCK")
SMS_FROM = "+33639980000"
RUNNING: list[subprocess.Popen[bytes]] = []


def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu(pid: int, *, reaped: bool = False) -> float:
    """user+sys seconds of `pid` (plus its waited-for children's with `reaped`)."""
    fields = _stat(pid)  # fields[11:15] = utime stime cutime cstime
    return sum(int(f) for f in fields[11 : 15 if reaped else 13]) / TICK


def postgres_cpu(pgdata: Path | None) -> float | None:
    pidfile = pgdata / "postmaster.pid" if pgdata else None
    if pidfile is None or not pidfile.exists():
        return None
    master = int(pidfile.read_text().split()[0])
    total = cpu(master, reaped=True)
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and int(_stat(int(entry.name))[1]) == master:
                total += cpu(int(entry.name), reaped=True)
        except OSError:  # gone meanwhile
            pass
    return total


def spawn(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
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


def write_config(name: str, *, limits: bool, sms_rate: float, telegram_rate: float) -> Path:
    raw = yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))
    section = raw.setdefault("liaison", {})
    section.setdefault("delivery", {})["rate_limits"] = limits
    section.setdefault("sms", {})["segments_per_second"] = sms_rate
    section.setdefault("telegram", {})["messages_per_second"] = telegram_rate
    path = WORK / f"config-{name}.yml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


async def query(url: str, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as connection:
        cursor = await connection.execute(sql, params)
        return await cursor.fetchall() if cursor.description else []


def start_workers(
    args: argparse.Namespace, env: dict[str, str], config: Path, tag: str
) -> list[subprocess.Popen[bytes]]:
    sql = "SELECT coalesce(max(id), 0) FROM procrastinate_workers"
    known = asyncio.run(query(env["DATABASE_URL"], sql))[0][0]
    command = [sys.executable, "-m", "liaison", "worker", "--concurrency", str(args.concurrency)]
    workers = [
        spawn(command, WORK / f"{tag}-worker-{i}.log", {**env, "LIAISON_CONFIG_FILE": str(config)})
        for i in range(args.workers)
    ]
    deadline = time.monotonic() + 120
    sql = "SELECT count(*) FROM procrastinate_workers WHERE id > %s"
    while asyncio.run(query(env["DATABASE_URL"], sql, (known,)))[0][0] < args.workers:
        if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
            raise SystemExit(f"workers did not start; see {WORK}/{tag}-worker-*.log")
        time.sleep(0.2)
    time.sleep(0.5)
    return workers


async def contacts(url: str, channel: str, addresses: list[str]) -> dict[str, int]:
    rows = await query(
        url,
        "INSERT INTO contact (channel, address, created_at, last_seen_at) "
        "SELECT %s, a, now(), now() FROM unnest(%s::text[]) AS a "
        "ON CONFLICT (channel, address) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
        "opted_out_at = NULL RETURNING address, id",
        (channel, addresses),
    )
    return {address: contact_id for address, contact_id in rows}


Plan = list[tuple[str, str, list[Outgoing]]]  # (channel, address, messages), one per contact


async def run_batch(
    url: str, plan: Plan, probe: Callable[[], Any] = lambda: None
) -> tuple[int, float, float, Any]:
    """Enqueue `plan` in one transaction; returns (first message id, seconds, commit time,
    what `probe` returned just before the commit)."""
    ids: dict[tuple[str, str], int] = {}
    for channel in ("sms", "telegram"):
        found = await contacts(url, channel, [a for c, a, _ in plan if c == channel])
        ids.update({(channel, address): i for address, i in found.items()})
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


async def wait_sent(url: str, first: int, total: int, stall: float) -> tuple[float, dict[str, Any]]:
    """Poll until every message is final; returns (last sent_at, per-status counts)."""
    sql = (
        "SELECT status, count(*), sum(attempts), extract(epoch FROM max(sent_at)) "
        "FROM outbound_message WHERE id >= %s GROUP BY status"
    )
    progress, seen = time.monotonic(), -1
    while True:
        rows = await query(url, sql, (first,))
        counts = {row[0]: int(row[1]) for row in rows}
        final = sum(counts.get(s, 0) for s in ("sent", "failed", "cancelled"))
        if final >= total:
            counts["retried"] = sum(int(row[2]) for row in rows) - sum(counts.values())
            return float(max(row[3] or 0 for row in rows)), counts
        if final != seen:
            progress, seen = time.monotonic(), final
        elif time.monotonic() - progress > stall:
            raise SystemExit(f"no progress for {stall:.0f} s: {counts} of {total}")
        await asyncio.sleep(0.2)


def log_problems(tag: str) -> str:
    lines = [
        line.strip()
        for log in sorted(WORK.glob(f"{tag}-worker-*.log"))
        for line in log.read_text(errors="replace").splitlines()
        if " ERROR " in line or " WARNING " in line or line.startswith("Traceback")
    ]
    return f"{len(lines)} warning/error lines" + (f" (first: {lines[0][:160]})" if lines else "")


def window_max(times: list[float]) -> int:
    best, j = 0, 0
    for i, start in enumerate(times):
        while j < len(times) and times[j] < start + 1.0:
            j += 1
        best = max(best, j - i)
    return best


def accuracy(arrivals: list[list[float]], rate: float, units_total: int) -> str:
    arrivals.sort()
    times = sorted(t + k / rate for t, units in arrivals for k in range(int(units)))
    span = times[-1] - times[0]
    achieved = (len(times) - 1) / span if span > 0 else float("nan")
    gaps = sorted(b - a for a, b in itertools.pairwise(times))
    peak = window_max(times)
    verdict = "PASS" if peak <= rate + 1e-9 else "FAIL"
    lost = "" if len(times) == units_total else f", {units_total - len(times)} units MISSING"
    return (
        f"{len(arrivals)} messages / {len(times)} units in {span:.1f} s: "
        f"{achieved:.2f}/s = {achieved / rate * 100:.1f}% of {rate:g}/s; "
        f"max in any 1 s window {peak} ({verdict} never above); "
        f"gap min {gaps[0] * 1000:.1f} ms, median {gaps[len(gaps) // 2] * 1000:.1f} ms{lost}"
    )


def sms_body(i: int, tag: str, long: bool) -> Outgoing:
    text = f"Liaison {tag} {i}: reunion parents-professeurs jeudi a 18 h, salle 12."
    return Outgoing(body=text + " Merci de confirmer." * 8, units=2) if long else Outgoing(text)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=2_000, help="half SMS, half Telegram")
    parser.add_argument("--workers", type=int, default=2, help="`liaison worker` processes")
    parser.add_argument("--concurrency", type=int, default=None, help="config: delivery")
    parser.add_argument("--sms-rate", type=float, default=None, help="segments/s (config)")
    parser.add_argument("--telegram-rate", type=float, default=None, help="msg/s (config)")
    parser.add_argument("--limited-seconds", type=float, default=40)
    parser.add_argument("--limited-messages", type=int, default=None, help="per channel")
    parser.add_argument("--skip-lifted", action="store_true")
    parser.add_argument("--skip-limited", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the embedded PostgreSQL up")
    args = parser.parse_args()

    from liaison.database import migrate, start_embedded, stop_embedded
    from liaison.settings import load_config

    config = load_config(ROOT / "config.yml")
    args.concurrency = args.concurrency or config.delivery.worker_concurrency
    sms_rate = args.sms_rate or config.sms.segments_per_second
    telegram_rate = args.telegram_rate or config.telegram.messages_per_second
    WORK.mkdir(parents=True, exist_ok=True)
    pgdata = None if os.environ.get("DATABASE_URL") else PGDATA
    report = [f"command: .venv/bin/python bench/{Path(__file__).name} {shlex.join(sys.argv[1:])}"]
    report.append(f"machine: {os.cpu_count()} CPUs; {args.workers} workers x {args.concurrency}")
    try:
        url = os.environ["DATABASE_URL"] if pgdata is None else start_embedded(pgdata).url
        from liaison.database import Database

        migrate(Database(url=url, embedded=pgdata is not None))
        pending = "SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
        if pgdata is not None:  # our own database: start clean
            asyncio.run(
                query(
                    url,
                    "TRUNCATE outbound_message, contact, rate_limit, "
                    "procrastinate_jobs, procrastinate_workers CASCADE",
                )
            )
        elif asyncio.run(query(url, pending))[0][0]:
            raise SystemExit("DATABASE_URL has pending jobs: the bench would send them too")
        with (WORK / "fake.log").open("wb") as log:
            fake = subprocess.Popen(
                [sys.executable, str(ROOT / "bench" / "fake_stats.py")],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=log,
            )
        RUNNING.append(fake)
        assert fake.stdout is not None
        fake_url = f"http://127.0.0.1:{fake.stdout.readline().split()[1].decode()}"
        env = {k: v for k, v in os.environ.items() if k not in ("TWILIO_REGION", "TWILIO_EDGE")}
        env |= {
            "DATABASE_URL": url,
            "LIAISON_LOG_LEVEL": "WARNING",
            "LIAISON_TWILIO_ACCOUNT_SID": DEFAULT_TWILIO_SID,
            "LIAISON_TWILIO_AUTH_TOKEN": DEFAULT_TWILIO_TOKEN,
            "LIAISON_TWILIO_FROM": SMS_FROM,
            "LIAISON_TWILIO_API_URL": fake_url,
            "LIAISON_TELEGRAM_TOKEN": DEFAULT_TELEGRAM_TOKEN,
            "LIAISON_TELEGRAM_API_URL": fake_url,
        }

        if not args.skip_lifted:
            n, half = args.messages, max(1, args.contacts // 2)
            addresses = [("sms", f"+33612{c:06d}") for c in range(half)]
            addresses += [("telegram", str(700_000_000 + c)) for c in range(half)]
            plan: Plan = [
                (
                    channel,
                    address,
                    [
                        Outgoing(f"Liaison lifted {i}: reunion jeudi 18 h.")
                        for i in range(c, n, len(addresses))
                    ],
                )
                for c, (channel, address) in enumerate(addresses)
            ]
            lifted = write_config(
                "lifted", limits=False, sms_rate=sms_rate, telegram_rate=telegram_rate
            )
            workers = start_workers(args, env, lifted, "lifted")

            def probe() -> tuple[list[float], float, float | None]:
                return [cpu(w.pid) for w in workers], cpu(fake.pid), postgres_cpu(pgdata)

            first, enqueue_s, committed, before = asyncio.run(run_batch(url, plan, probe))
            last_sent, counts = asyncio.run(wait_sent(url, first, n, 120))
            after = probe()
            stats = fetch(f"{fake_url}/_stats")
            stop(workers)
            elapsed = last_sent - committed
            received = sum(len(stats[c]["arrivals"]) for c in ("sms", "telegram"))
            bodies = sum(stats[c]["bodies"] for c in ("sms", "telegram"))
            worker_ms = (sum(after[0]) - sum(before[0])) * 1000 / n
            pg = f"{(after[2] - before[2]) * 1000 / n:.2f}" if before[2] is not None else "n/a"
            report += [
                f"enqueue: {n} messages to {len(plan)} contacts in {enqueue_s:.2f} s = "
                f"{n / enqueue_s:.0f} messages/s (one transaction)",
                f"limits lifted: {n} messages in {elapsed:.2f} s = {n / elapsed:.0f} messages/s",
                f"CPU per message: workers {worker_ms:.2f} ms, PostgreSQL {pg} ms, fake "
                f"{(after[1] - before[1]) * 1000 / n:.2f} ms",
                f"outbox: {counts}; fake received {received} ({bodies} distinct), refused "
                f"{stats['sms']['refused'] + stats['telegram']['refused']}",
                f"worker logs: {log_problems('lifted')}",
            ]

        if not args.skip_limited:
            limited = write_config(
                "limited", limits=True, sms_rate=sms_rate, telegram_rate=telegram_rate
            )
            workers = start_workers(args, env, limited, "limited")
            for channel, rate in (("telegram", telegram_rate), ("sms", sms_rate)):
                per_unit = 1.25 if channel == "sms" else 1.0
                n = args.limited_messages or math.ceil(rate * args.limited_seconds / per_unit)
                if channel == "telegram":
                    plan = [
                        ("telegram", str(800_000_000 + i), [Outgoing(f"Liaison limited {i}")])
                        for i in range(n)
                    ]
                else:
                    plan = [
                        ("sms", f"+33613{i:06d}", [sms_body(i, "limited", i % 4 == 3)])
                        for i in range(n)
                    ]
                units = sum(m.units for _, _, ms in plan for m in ms)
                fetch(f"{fake_url}/_reset", "POST")
                first, _, committed, _ = asyncio.run(run_batch(url, plan))
                last_sent, counts = asyncio.run(wait_sent(url, first, n, 120))
                arrivals = fetch(f"{fake_url}/_stats")[channel]["arrivals"]
                report.append(
                    f"limits on, {channel}: {accuracy(arrivals, rate, units)}; first arrival "
                    f"{min(a[0] for a in arrivals) - committed:.2f} s after commit, all sent in "
                    f"{last_sent - committed:.1f} s; outbox {counts}"
                )
            stop(workers)
            report.append(f"worker logs: {log_problems('limited')}")
    finally:
        stop(list(RUNNING))
        if pgdata is not None and not args.keep:
            stop_embedded(pgdata)
    print("\n".join(report))


if __name__ == "__main__":
    main()
