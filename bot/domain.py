"""The Rasa-format project the dialogue runs on: `domain.yml` and `data/rules.yml`.

Read once at start-up into plain objects; malformed files raise `TrainingDataError` naming the
file and the entry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from liaison.errors import TrainingDataError

BOT_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class ResponseTemplate:
    text: str
    buttons: tuple[tuple[str, str], ...] = ()  # (title, payload), French source


@dataclass(frozen=True)
class Form:
    name: str
    required_slots: tuple[str, ...]


@dataclass
class Domain:
    intents: list[str]
    entities: list[str]
    responses: dict[str, ResponseTemplate]
    forms: dict[str, Form]
    slot_entities: dict[str, str]  # slot -> entity it is filled from
    actions: list[str]
    rules: dict[str, list[str]] = field(default_factory=dict)  # intent -> actions
    form_rules: dict[str, list[str]] = field(default_factory=dict)  # form -> actions when done

    def actions_for(self, intent: str) -> list[str]:
        return self.rules.get(intent, [])


def _read(path: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TrainingDataError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(document, dict):
        raise TrainingDataError(f"{path}: expected a mapping")
    return document


def load_domain(bot_dir: Path = BOT_DIR) -> Domain:
    domain_file = bot_dir / "domain.yml"
    raw = _read(domain_file)
    responses: dict[str, ResponseTemplate] = {}
    for name, variants in (raw.get("responses") or {}).items():
        if not variants or not isinstance(variants, list) or "text" not in variants[0]:
            raise TrainingDataError(f"{domain_file}: response {name!r} needs a `text`")
        first = variants[0]
        buttons = tuple((str(b["title"]), str(b["payload"])) for b in first.get("buttons") or [])
        responses[name] = ResponseTemplate(text=str(first["text"]), buttons=buttons)
    slot_entities = {}
    for slot, spec in (raw.get("slots") or {}).items():
        for mapping in spec.get("mappings") or []:
            if mapping.get("type") == "from_entity":
                slot_entities[slot] = str(mapping["entity"])
    forms = {
        name: Form(name, tuple(spec.get("required_slots") or []))
        for name, spec in (raw.get("forms") or {}).items()
    }
    domain = Domain(
        intents=[str(i) for i in raw.get("intents") or []],
        entities=[str(e) for e in raw.get("entities") or []],
        responses=responses,
        forms=forms,
        slot_entities=slot_entities,
        actions=[str(a) for a in raw.get("actions") or []],
    )
    _load_rules(bot_dir / "data" / "rules.yml", domain)
    return domain


def _load_rules(path: Path, domain: Domain) -> None:
    for rule in _read(path).get("rules") or []:
        name = rule.get("rule", "?")
        steps = rule.get("steps") or []
        condition = rule.get("condition") or []
        loops = [c["active_loop"] for c in condition if isinstance(c, dict) and "active_loop" in c]
        if loops:
            actions = [s["action"] for s in steps if "action" in s and s["action"] != loops[0]]
            domain.form_rules[loops[0]] = actions
            continue
        if not steps or "intent" not in steps[0]:
            raise TrainingDataError(f"{path}: rule {name!r} must start with an intent")
        intent = steps[0]["intent"]
        actions = [s["action"] for s in steps[1:] if "action" in s]
        known = set(domain.actions) | set(domain.responses) | set(domain.forms)
        unknown = [a for a in actions if a not in known]
        if intent not in domain.intents or unknown:
            raise TrainingDataError(
                f"{path}: rule {name!r} uses unknown intent or actions {unknown or intent}"
            )
        domain.rules[intent] = actions
