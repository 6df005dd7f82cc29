"""Channel-neutral replies. The core collects them; each channel renders them at its edge."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Button:
    """A quick reply: what the parent sees, and the payload it sends back (`/intent`)."""

    title: str
    payload: str


def payload(intent: str, **entities: str) -> str:
    """A button payload in Rasa's form: `/workshop_enrol{"workshop": "demo-pronote"}`."""
    return f"/{intent}{json.dumps(entities, ensure_ascii=False)}" if entities else f"/{intent}"


@dataclass(frozen=True)
class Reply:
    """One message from the assistant: text (links inline) and optional quick replies."""

    text: str
    buttons: tuple[Button, ...] = ()


@dataclass
class Dispatcher:
    """Collects what actions say during one turn (as rasa-sdk's CollectingDispatcher)."""

    replies: list[Reply] = field(default_factory=list)

    def utter_message(self, text: str, buttons: list[Button] | tuple[Button, ...] = ()) -> None:
        self.replies.append(Reply(text=text, buttons=tuple(buttons)))

    @property
    def last_buttons(self) -> tuple[Button, ...]:
        """Buttons of the last reply that offered some (what a reply "2" refers to)."""
        for reply in reversed(self.replies):
            if reply.buttons:
                return reply.buttons
        return ()
