"""The embedded engine and Rasa Open Source side by side, in one run, on the same data.

    .venv/bin/python bench/engines_bench.py [--parses 2000] [--rasa-model PATH]

For each engine: accuracy and macro-F1 on the held-out split (bot/data/tests), training time
from scratch on bot/data/nlu, parse latency p50/p99 as Liaison sees it (the Rasa figure is the
HTTP round trip to 127.0.0.1 plus our language and entities, which both engines add), and the
resident memory of what serves the parses: the embedded engine in this process, the Rasa
server's own process. Rasa trains with config.yml's own pipeline (`liaison rasa train`'s
settings) into a temporary folder, unless --rasa-model gives an already trained model (then its
training time is not measured). Needs `make rasa` (.venv-rasa). Other work on the machine moves
every figure: the load average before the run is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu.data import load_examples  # noqa: E402
from bot.nlu.embedded import EmbeddedEngine, train  # noqa: E402
from bot.nlu.evaluate import Evaluation, evaluate  # noqa: E402
from bot.nlu.rasa import RasaEngine  # noqa: E402
from bot.nlu.result import NLUEngine  # noqa: E402
from liaison import rasa_server  # noqa: E402

TRAIN = ROOT / "bot" / "data" / "nlu"
TESTS = ROOT / "bot" / "data" / "tests"


@dataclass
class Figures:
    engine: str
    evaluation: Evaluation
    training_seconds: float | None
    p50_ms: float
    p99_ms: float
    rss_mb: float
    note: str = ""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rss_mb(pid: int | None = None) -> float:
    """Current resident memory of a process (this one by default) and its children."""
    total = 0
    pids = [str(pid or os.getpid())]
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except FileNotFoundError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line[:6] == "VmRSS:")
        pids += children
    return total / 1024


async def latencies(engine: NLUEngine, texts: list[str], count: int) -> list[float]:
    for text in texts[:50]:
        await engine.parse(text)  # warm-up
    timings = []
    for i in range(count):
        began = time.perf_counter()
        await engine.parse(texts[i % len(texts)])
        timings.append((time.perf_counter() - began) * 1000)
    return timings


async def measure(engine: NLUEngine, parses: int) -> tuple[Evaluation, list[float]]:
    examples = load_examples(TESTS)
    evaluation = await evaluate(engine, examples)
    return evaluation, await latencies(engine, [e.text for e in examples], parses)


def bench_embedded(parses: int) -> tuple[Figures, EmbeddedEngine]:
    before = rss_mb()
    started = time.perf_counter()
    engine = EmbeddedEngine(train(load_examples(TRAIN)))
    training = time.perf_counter() - started
    evaluation, timings = asyncio.run(measure(engine, parses))
    figures = Figures(
        "embedded",
        evaluation,
        training,
        percentile(timings, 0.5),
        percentile(timings, 0.99),
        rss_mb(),
        note=f"the whole benchmark process; {before:.0f} MB before the model",
    )
    return figures, engine


def bench_rasa(parses: int, embedded: EmbeddedEngine, model: Path | None) -> Figures:
    training: float | None = None
    with tempfile.TemporaryDirectory(prefix="liaison-rasa-bench-") as folder:
        if model is None:
            trained = rasa_server.train(ROOT / "config.yml", TRAIN, Path(folder))
            model, training = trained.path, trained.seconds
            # Kept where `liaison rasa train` would have put it: no second training after.
            cache = ROOT / "var" / "rasa" / "models"
            cache.mkdir(parents=True, exist_ok=True)
            if not (cache / model.name).exists():
                shutil.copyfile(model, cache / f".{model.name}")
                (cache / f".{model.name}").replace(cache / model.name)
        started = time.perf_counter()
        with rasa_server.running(model, log_file=Path(folder) / "server.log") as (url, server):
            ready = time.perf_counter() - started
            engine = RasaEngine(url, languages=embedded, timeout=30.0)

            async def run() -> tuple[Evaluation, list[float]]:
                try:
                    return await measure(engine, parses)
                finally:
                    await engine.aclose()

            evaluation, timings = asyncio.run(run())
            memory = rss_mb(server.pid)
    return Figures(
        "rasa",
        evaluation,
        training,
        percentile(timings, 0.5),
        percentile(timings, 0.99),
        memory,
        note=f"the Rasa server process; it took {ready:.0f} s to start",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parses", type=int, default=2000)
    parser.add_argument("--rasa-model", type=Path, default=None, help="skip Rasa's training")
    args = parser.parse_args()
    print("load average before the run: " + ", ".join(f"{v:.1f}" for v in os.getloadavg()))
    embedded, engine = bench_embedded(args.parses)
    print(f"embedded done: accuracy {embedded.evaluation.accuracy:.3f}", flush=True)
    rasa = bench_rasa(args.parses, engine, args.rasa_model)
    languages = sorted(embedded.evaluation.per_language)
    print(f"\nheld-out: {embedded.evaluation.count} messages; {args.parses} timed parses each\n")
    print(
        "| engine | accuracy | macro-F1 | "
        + " | ".join(languages)
        + " | training | parse p50 | parse p99 | RSS |"
    )
    print("|---" * (7 + len(languages)) + "|")
    for figures in (embedded, rasa):
        result = figures.evaluation
        training = "—" if figures.training_seconds is None else f"{figures.training_seconds:.1f} s"
        print(
            f"| {figures.engine} | {result.accuracy:.3f} | {result.macro_f1:.3f} | "
            + " | ".join(f"{result.per_language[code]:.3f}" for code in languages)
            + f" | {training} | {figures.p50_ms:.2f} ms | {figures.p99_ms:.2f} ms"
            f" | {figures.rss_mb:.0f} MB |"
        )
    for figures in (embedded, rasa):
        print(f"\n{figures.engine}: RSS is {figures.note}")
        print(figures.evaluation.report())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"\npeak RSS of a child process (Rasa's training or server): {peak:.0f} MB")


if __name__ == "__main__":
    main()
