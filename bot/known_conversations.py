"""What the web process remembers of recent conversations, for the short way of a turn.

A turn normally costs two round trips to PostgreSQL: one to lock the contact and read its
state, one to save (`bot.store`). The state a save returns is also what the next turn of the
same parent would read, unless something changed it meanwhile (another web process, a person
of the school, a job). So the web process keeps the state of its recent conversations, runs the
next turn on it without reading, and saves with one statement that first checks the stored
state is still the one expected (`liaison_save_known_turn`, migration 0010). A parent it has
not met is expected to be new (`new_contact`). When the stored state is not the one expected,
nothing of the turn is written and the turn is run again the long way, on what is stored.

Nothing here is trusted without that check, so a forgotten or stale entry only costs time.
The short way also cannot do anything that needs the turn's transaction (enrolments, the
school's inbox, joining a school): the assistant's helpers get an `Offline` connection, whose
first use stops the turn with `NeedsTransaction`, and the turn is run the long way instead.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

# Kept as compact JSON text: about 1 KB each with its key (3.9 KB as Python dicts), so at most
# ~10 MB for the parents who wrote most recently (measured with tracemalloc on 10,000 states).
DEFAULT_SIZE = 10_000


def new_contact() -> dict[str, Any]:
    """What `liaison_turn_state` reads for a contact with no language and no conversation yet:
    a parent the web process has not met is run on it, and saved only if that is what is
    stored."""
    return {
        "language": None,
        "opted_out": False,
        "conversation": False,
        "welcomed": False,
        "active_form": None,
        "requested_slot": None,
        "slots": {},
        "last_intents": [],
        "offered_buttons": [],
        "fallback_count": 0,
        "handover": False,
    }


class KnownConversations:
    """The state each recent conversation was last saved with, by (channel, address); the
    least recently used are forgotten beyond `size`."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self.size = size
        self._states: OrderedDict[tuple[str, str], tuple[int, str]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, channel: str, address: str) -> tuple[int, dict[str, Any]] | None:
        """The contact's id and its state as last saved (a copy of its own), or None."""
        key = (channel, address)
        known = self._states.get(key)
        if known is None:
            return None
        self._states.move_to_end(key)
        contact_id, state = known
        return contact_id, json.loads(state)

    def remember(self, channel: str, address: str, contact_id: int, state: dict[str, Any]) -> None:
        key = (channel, address)
        self._states[key] = (
            contact_id,
            json.dumps(state, ensure_ascii=False, separators=(",", ":")),
        )
        self._states.move_to_end(key)
        while len(self._states) > self.size:
            self._states.popitem(last=False)

    def forget(self, channel: str, address: str) -> None:
        self._states.pop((channel, address), None)


class NeedsTransaction(BaseException):
    """The turn wants the database (it is on the short way, which has no transaction).

    A BaseException, like `asyncio.CancelledError`, so that no `except Exception` on the way
    (an action that logs and goes on) can swallow it."""


class Offline:
    """Stands in for the turn's connection on the short way: any use stops the turn."""

    def __getattr__(self, name: str) -> Any:
        raise NeedsTransaction(name)
