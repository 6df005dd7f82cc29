"""Throughput and latency of the webhook under 50 concurrent senders, next to a bare endpoint.

    .venv/bin/python bench/webhook_bench.py [--senders 50] [--seconds 15] [--ramp 0]

Starts (in subprocesses, on 127.0.0.1) the Liaison app on an embedded PostgreSQL under
var/bench-postgres, and a bare Starlette app answering a constant JSON. The load generator is a
small keep-alive HTTP/1.1 client on asyncio streams: one connection per sender, each sender
asks its next question as soon as the previous answer arrives.

All senders start together, so the first requests are 50 first contacts arriving at once (50
connections opened, 50 contacts created). `--ramp S` leaves the requests begun in the first S
seconds out of the figures (steady state); by default every request counts.

On Linux it also prints the CPU time each side spent per webhook request (from /proc): the
Liaison web process(es), PostgreSQL (all its processes), and this load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

QUESTIONS = [
    "bonjour",
    "j'ai oublié mon mot de passe pronote",
    "comment activer educonnect",
    "كيف أرى نقاط ابني",
    "ödevleri nereden görebilirim",
    "como justificar uma falta",
    "merci",
]


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, body: bytes
) -> int:
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


async def _sender(
    port: int,
    path: str,
    record_from: float,
    deadline: float,
    latencies: list[float],
    errors: list[int],
) -> int:
    """Ask questions until `deadline`; the latencies of those begun from `record_from` are
    kept. Returns how many requests were made in all."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sender = f"bench-{uuid.uuid4()}"
    i = 0
    try:
        while time.perf_counter() < deadline:
            body = json.dumps({"sender": sender, "message": QUESTIONS[i % len(QUESTIONS)]}).encode()
            began = time.perf_counter()
            status = await _request(reader, writer, path, body)
            if began >= record_from:
                latencies.append((time.perf_counter() - began) * 1000)
            if status != 200:
                errors.append(status)
            i += 1
    finally:
        writer.close()
    return i


async def load(
    port: int, path: str, senders: int, seconds: float, ramp: float = 0.0
) -> dict[str, float]:
    latencies: list[float] = []
    errors: list[int] = []
    record_from = time.perf_counter() + ramp
    deadline = record_from + seconds
    made = await asyncio.gather(
        *(_sender(port, path, record_from, deadline, latencies, errors) for _ in range(senders))
    )
    elapsed = time.perf_counter() - record_from
    latencies.sort()
    return {
        "requests": len(latencies),
        "all_requests": sum(made),  # the ramp included
        "errors": len(errors),
        "rps": len(latencies) / elapsed,
        "p50": latencies[len(latencies) // 2],
        "p99": latencies[int(len(latencies) * 0.99)],
    }


def _cpu_seconds(roots: list[int]) -> float:
    """CPU time (user + system) of the processes `roots` and all their descendants."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, seconds)
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    wanted = set(roots)
    grew = True
    while grew:
        found = {pid for pid, (parent, _) in stats.items() if parent in wanted} - wanted
        wanted |= found
        grew = bool(found)
    return sum(seconds for pid, (_, seconds) in stats.items() if pid in wanted)


def _cpu(web: int, postgres: int) -> dict[str, float]:
    own = os.times()
    return {
        "web": _cpu_seconds([web]),
        "postgres": _cpu_seconds([postgres]),
        "load generator": own.user + own.system,
    }


def _wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on {port} exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"server on {port} did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=1, help="Liaison web processes")
    parser.add_argument(
        "--ramp", type=float, default=0.0, help="seconds left out at the start of each load"
    )
    args = parser.parse_args()

    from liaison.database import migrate, start_embedded

    database = start_embedded(ROOT / "var" / "bench-postgres")
    migrate(database)
    env = {**os.environ, "DATABASE_URL": database.url, "LIAISON_LOG_LEVEL": "WARNING"}
    python = sys.executable
    servers = {
        "bare": subprocess.Popen([python, str(ROOT / "bench" / "bare_app.py"), "8101"], env=env),
        "liaison": subprocess.Popen(
            [python, "-m", "liaison", "run", "--port", "8102", "--workers", str(args.workers)],
            env=env,
            stdout=subprocess.DEVNULL,
        ),
    }
    try:
        _wait_ready(8101, servers["bare"])
        _wait_ready(8102, servers["liaison"])
        asyncio.run(load(8102, "/webhooks/rest/webhook", 5, 2))  # warm-up
        bare = asyncio.run(load(8101, "/json", args.senders, args.seconds, args.ramp))
        measure_cpu = Path("/proc/self/stat").exists()
        pid_file = ROOT / "var" / "bench-postgres" / "postmaster.pid"
        postmaster = int(pid_file.read_text().split()[0])
        before = _cpu(servers["liaison"].pid, postmaster) if measure_cpu else {}
        webhook = asyncio.run(
            load(8102, "/webhooks/rest/webhook", args.senders, args.seconds, args.ramp)
        )
        after = _cpu(servers["liaison"].pid, postmaster) if measure_cpu else {}
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=20)
    for name, result in (("bare Starlette /json", bare), ("Liaison webhook", webhook)):
        print(
            f"{name}: {result['rps']:.0f} req/s, p50 {result['p50']:.1f} ms, "
            f"p99 {result['p99']:.1f} ms, {result['requests']:.0f} requests, "
            f"{result['errors']:.0f} errors"
        )
    print(f"webhook / bare requests per second: {webhook['rps'] / bare['rps'] * 100:.1f}%")
    if after:
        # Counted over the whole load, ramp included.
        requests = webhook["all_requests"]
        print(
            "CPU per webhook request: "
            + ", ".join(
                f"{name} {(after[name] - before[name]) / requests * 1000:.2f} ms" for name in after
            )
        )


if __name__ == "__main__":
    main()
