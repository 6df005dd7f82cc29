"""Rasa NLU YAML training data: `- intent: x` blocks with `examples: |` lists, one file a language.

Also reads a TSV `intent<TAB>text` for evaluation files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from liaison.errors import TrainingDataError

_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)|\[([^\]]+)\]\{[^}]+\}")


@dataclass(frozen=True)
class Example:
    text: str
    intent: str
    language: str


def load_examples(path: Path) -> list[Example]:
    """Examples of a YAML or TSV file, or of every `*.yml` under a folder (sorted)."""
    if path.is_dir():
        files = (
            sorted(path.glob("*.yml")) + sorted(path.glob("*.yaml")) + sorted(path.glob("*.tsv"))
        )
        if not files:
            raise TrainingDataError(f"{path}: no .yml or .tsv files")
        return [example for file in files for example in load_examples(file)]
    if not path.exists():
        raise TrainingDataError(f"{path}: no such file")
    if path.suffix == ".tsv":
        return _load_tsv(path)
    return _load_yaml(path)


def _load_yaml(path: Path) -> list[Example]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise TrainingDataError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("nlu"), list):
        raise TrainingDataError(f"{path}: expected a mapping with an `nlu:` list")
    language = path.stem
    examples: list[Example] = []
    for block in document["nlu"]:
        if not isinstance(block, dict) or "intent" not in block:
            continue  # synonyms, lookups and regexes are Rasa's business
        raw = block.get("examples")
        if not isinstance(raw, str):
            raise TrainingDataError(f"{path}: intent {block['intent']!r} has no `examples: |`")
        for line in raw.splitlines():
            line = line.strip()
            if line.startswith("- "):
                text = _ANNOTATION.sub(lambda m: m.group(1) or m.group(2), line[2:].strip())
                if text:
                    examples.append(
                        Example(text=text, intent=str(block["intent"]), language=language)
                    )
    return examples


def _load_tsv(path: Path) -> list[Example]:
    examples = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        intent, sep, text = line.partition("\t")
        if not sep or not text.strip():
            raise TrainingDataError(f"{path}:{number}: expected `intent<TAB>text`")
        examples.append(Example(text=text.strip(), intent=intent.strip(), language=""))
    return examples


def fingerprint(paths: list[Path], *extra: str) -> str:
    """A hash of the training files' contents (and of `extra` strings such as a code version)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    for item in extra:
        digest.update(item.encode())
    return digest.hexdigest()[:16]
