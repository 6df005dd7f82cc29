"""Keywords handled before any NLU, whatever the language: STOP, START, HELP and their variants.

Matched on the whole message, case and accent insensitive ("Arrêt", "stop.", " STOP ").

Joining a school (`join_request`) is a keyword and a code: "REJOINDRE 7FQ2", "join 7fq2",
"KATIL 7FQ2", "unirse 7FQ2", "aderir 7FQ2", "انضمام 7FQ2" (the word's language is the parent's
on a first contact), or the payload `/join_school{"code": "7FQ2"}` that the Telegram link
`?start=join_7FQ2` and the web link `/?ecole=7FQ2` send. Codes are 4 to 6 letters and digits
with at least one of each (`schools.codes`), so "rejoindre la classe" is no join request.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from bot.text import fold
from schools.codes import normalise_code

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


JOIN_PAYLOAD = "/join_school"
_JOIN_WORDS = {
    fold(word, expand=False): language
    for language, words in {
        "fr": ("rejoindre", "adherer"),
        "en": ("join",),
        "tr": ("katil", "katıl"),
        "pt": ("aderir",),
        "es": ("unirse", "unirme", "unir"),
        "ar": ("انضمام", "انضم"),
    }.items()
    for word in words
}
_SEPARATORS = re.compile(r"[\s:;,.!?()«»\"'-]+")


@dataclass(frozen=True)
class JoinRequest:
    code: str  # in capitals, shaped like a code (which school has it is looked up later)
    language: str | None  # the language of the word used, None for a link's payload


def join_request(text: str) -> JoinRequest | None:
    """The join request the whole message is, or None."""
    if text.startswith(JOIN_PAYLOAD + "{"):
        try:
            values = json.loads(text[len(JOIN_PAYLOAD) :])
        except ValueError:
            return None
        code = normalise_code(str(values.get("code", ""))) if isinstance(values, dict) else None
        return JoinRequest(code, None) if code else None
    words = [word for word in _SEPARATORS.split(text) if word]
    if len(words) != 2:
        return None
    for keyword, candidate in (words, words[::-1]):
        language = _JOIN_WORDS.get(fold(keyword, expand=False))
        code = normalise_code(candidate)
        if language is not None and code is not None:
            return JoinRequest(code, language)
    return None
