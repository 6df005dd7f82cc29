"""Answers to the frequent questions, read from `content/faq.yml` (French source).

Each entry has a button `title`, a short `answer` (fits two SMS segments), 2–5 `steps`, an
official `link` and `if_it_fails`. Every text is a gettext msgid, translated in `locales/`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from liaison.errors import TrainingDataError
from liaison.settings import ROOT

CONTENT_DIR = ROOT / "content"


@dataclass(frozen=True)
class FaqEntry:
    intent: str
    title: str
    answer: str
    steps: tuple[str, ...]
    link: str
    if_it_fails: str


def load_faq(path: Path = CONTENT_DIR / "faq.yml") -> dict[str, FaqEntry]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TrainingDataError(f"{path}: cannot read: {exc}") from exc
    entries = {}
    for intent, spec in (raw or {}).items():
        try:
            entries[intent] = FaqEntry(
                intent=intent,
                title=str(spec["title"]),
                answer=str(spec["answer"]),
                steps=tuple(str(s) for s in spec.get("steps") or ()),
                link=str(spec.get("link") or ""),
                if_it_fails=str(spec.get("if_it_fails") or ""),
            )
        except (KeyError, TypeError) as exc:
            raise TrainingDataError(f"{path}: entry {intent!r} lacks {exc}") from exc
    return entries
