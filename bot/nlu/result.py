"""What an NLU engine returns, and its public Rasa-compatible JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int
    confidence: float = 1.0
    extractor: str = "LiaisonEntityMatcher"

    def to_rasa(self) -> dict[str, Any]:
        return {
            "entity": self.entity,
            "value": self.value,
            "start": self.start,
            "end": self.end,
            "confidence_entity": round(self.confidence, 4),
            "extractor": self.extractor,
        }


@dataclass(frozen=True)
class ParseResult:
    text: str
    intent: str
    confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    language: str = "fr"
    language_confidence: float = 0.0

    def entity(self, name: str) -> str | None:
        for entity in self.entities:
            if entity.entity == name:
                return entity.value
        return None

    def to_rasa(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "intent": {"name": self.intent, "confidence": round(self.confidence, 4)},
            "intent_ranking": [
                {"name": name, "confidence": round(score, 4)} for name, score in self.ranking
            ],
            "entities": [entity.to_rasa() for entity in self.entities],
            "language": {"code": self.language, "confidence": round(self.language_confidence, 4)},
        }


class NLUEngine(Protocol):
    """What the dialogue needs from an engine."""

    name: str

    async def parse(self, text: str) -> ParseResult: ...
