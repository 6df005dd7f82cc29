"""Accuracy, macro-F1 and the most confused pairs of an engine on labelled examples."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sklearn.metrics import accuracy_score, f1_score

from bot.nlu.data import Example
from bot.nlu.result import NLUEngine


@dataclass(frozen=True)
class Evaluation:
    count: int
    accuracy: float
    macro_f1: float
    confused: list[tuple[str, str, int]]
    per_language: dict[str, float]

    def report(self) -> str:
        lines = [
            f"examples: {self.count}",
            f"accuracy: {self.accuracy:.4f}",
            f"macro-F1: {self.macro_f1:.4f}",
        ]
        if self.per_language:
            lines.append(
                "accuracy by language: "
                + ", ".join(
                    f"{code} {value:.3f}" for code, value in sorted(self.per_language.items())
                )
            )
        if self.confused:
            lines.append("most confused (expected -> predicted: count):")
            lines += [f"  {gold} -> {predicted}: {n}" for gold, predicted, n in self.confused]
        return "\n".join(lines)


async def evaluate(engine: NLUEngine, examples: list[Example], *, top: int = 10) -> Evaluation:
    gold = [e.intent for e in examples]
    predicted = [(await engine.parse(e.text)).intent for e in examples]
    pairs = Counter((g, p) for g, p in zip(gold, predicted, strict=True) if g != p)
    by_language: dict[str, list[bool]] = {}
    for example, guess in zip(examples, predicted, strict=True):
        if example.language:
            by_language.setdefault(example.language, []).append(guess == example.intent)
    return Evaluation(
        count=len(examples),
        accuracy=float(accuracy_score(gold, predicted)),
        macro_f1=float(
            f1_score(gold, predicted, average="macro", labels=sorted(set(gold)), zero_division=0)
        ),
        confused=[(g, p, n) for (g, p), n in pairs.most_common(top)],
        per_language={code: sum(v) / len(v) for code, v in by_language.items()},
    )
