"""NLU training time, parse latency and memory of the embedded engine.

.venv/bin/python bench/nlu_bench.py [--parses 3000]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.nlu.data import load_examples  # noqa: E402
from bot.nlu.embedded import EmbeddedEngine, train  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parses", type=int, default=3000)
    args = parser.parse_args()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    examples = load_examples(ROOT / "bot" / "data" / "nlu")
    started = time.perf_counter()
    model = train(examples)
    training = time.perf_counter() - started
    engine = EmbeddedEngine(model)
    messages = [e.text for e in load_examples(ROOT / "bot" / "data" / "tests")]
    for text in messages[:50]:
        engine.parse_sync(text)  # warm-up
    timings = []
    for i in range(args.parses):
        text = messages[i % len(messages)]
        began = time.perf_counter()
        engine.parse_sync(text)
        timings.append((time.perf_counter() - began) * 1000)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"training examples: {len(examples)}, intents: {len(engine.intent_names)}")
    print(f"training time: {training:.2f} s")
    print(
        f"parse latency over {args.parses} parses: p50 {percentile(timings, 0.5):.2f} ms, "
        f"p99 {percentile(timings, 0.99):.2f} ms, mean {statistics.mean(timings):.2f} ms"
    )
    print(f"peak RSS: {rss_after:.0f} MB (before loading data: {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
