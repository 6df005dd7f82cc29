"""Keywords handled before any NLU, whatever the language: STOP, START, HELP and their variants.

Matched on the whole message, case and accent insensitive ("Arrêt", "stop.", " STOP ").
"""

from __future__ import annotations

from bot.text import fold

STOP = "stop"
START = "start"
HELP = "help"

_KEYWORDS: dict[str, str] = {
    **{
        word: STOP
        for word in ("stop", "stopall", "unsubscribe", "end", "quit", "cancel", "arret", "arreter")
    },
    **{word: START for word in ("start", "unstop", "yes start")},
    **{word: HELP for word in ("aide", "help", "info")},
}


def match(text: str) -> str | None:
    """The keyword the whole message is, or None."""
    return _KEYWORDS.get(fold(text, expand=False))
