"""Where a conversation stands, as the dialogue sees it (loaded from and saved to PostgreSQL)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ConversationState:
    language: str | None = None
    opted_out: bool = False
    welcomed: bool = False
    active_form: str | None = None
    requested_slot: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    last_intents: list[str] = field(default_factory=list)
    offered_buttons: list[dict[str, str]] = field(default_factory=list)
    fallback_count: int = 0
    handover_requested: bool = False

    def remember_intent(self, intent: str, keep: int = 5) -> None:
        self.last_intents = [*self.last_intents, intent][-keep:]
