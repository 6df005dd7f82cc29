"""Entities found by lookup and fuzzy matching: digital tools, languages, numbers.

Matching is per token window on folded text (no accents, lower case), so "educonect",
"Pro note" or "l'ENT" still match; positions refer to the original message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from bot.nlu.result import Entity
from bot.text import fold

TOOLS: dict[str, tuple[str, ...]] = {
    "ENT": ("ent", "espace numerique de travail", "espace numerique"),
    "Pronote": ("pronote", "pro note", "pronotes", "برونوت"),
    "ÉduConnect": (
        "educonnect",
        "edu connect",
        "educonect",
        "educonnexion",
        "اديكونيكت",
        "اديكونكت",
        "ايديكونكت",
    ),
    "École Directe": ("ecole directe", "ecoledirecte"),
    "Skolengo": ("skolengo", "kosmos"),
    "Mon Bureau Numérique": ("mon bureau numerique", "monbureaunumerique", "mbn"),
    "FranceConnect": ("franceconnect", "france connect"),
}

LANGUAGES: dict[str, tuple[str, ...]] = {
    "fr": (
        "francais",
        "french",
        "fransizca",
        "frances",
        "franses",
        "فرنسيه",
        "الفرنسيه",
        "فرنساوي",
        "بالفرنسيه",
    ),
    "en": (
        "anglais",
        "english",
        "ingles",
        "ingilizce",
        "انجليزيه",
        "الانجليزيه",
        "انجليزي",
        "بالانجليزيه",
        "الإنجليزية",
    ),
    "ar": (
        "arabe",
        "arabic",
        "arapca",
        "عربي",
        "العربيه",
        "عربيه",
        "العربي",
        "بالعربيه",
        "بالعربي",
    ),
    "tr": ("turc", "turque", "turkish", "turkce", "turco", "تركي", "التركيه", "بالتركيه"),
    "pt": ("portugais", "portuguese", "portugues", "portekizce", "برتغالي", "البرتغاليه"),
    "es": ("espagnol", "spanish", "espanol", "espanhol", "ispanyolca", "اسباني", "الاسبانيه"),
}

NUMBER_WORDS: dict[str, int] = {
    "un": 1,
    "une": 1,
    "deux": 2,
    "trois": 3,
    "quatre": 4,
    "cinq": 5,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "bir": 1,
    "iki": 2,
    "uc": 3,
    "dort": 4,
    "bes": 5,
    "um": 1,
    "uma": 1,
    "dois": 2,
    "duas": 2,
    "tres": 3,
    "quatro": 4,
    "cinco": 5,
    "uno": 1,
    "dos": 2,
    "cuatro": 4,
    "واحد": 1,
    "اثنان": 2,
    "اثنين": 2,
    "ثلاثه": 3,
    "اربعه": 4,
    "خمسه": 5,
}

_WORD = re.compile(r"\w+")
_DIGITS = re.compile(r"(?<![\w.])(\d{1,3})(?![\w])")


@dataclass(frozen=True)
class _Token:
    folded: str
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    out = []
    for match in _WORD.finditer(text):
        folded = fold(match.group(), expand=False)
        if folded:
            out.append(_Token(folded, match.start(), match.end()))
    return out


# A window is compared with the aliases within this many characters of its length.
_LENGTH_SLACK = 3


@dataclass(frozen=True)
class _Table:
    """Aliases folded once: exact forms (with and without spaces), and the fuzzy candidates
    grouped by the window lengths they are compared with."""

    exact: dict[str, str]
    # window length -> (aliases, their values) within `_LENGTH_SLACK` characters of it
    near: dict[int, tuple[list[str], list[str]]]

    @classmethod
    def of(cls, table: dict[str, tuple[str, ...]]) -> _Table:
        exact: dict[str, str] = {}
        fuzzy: list[tuple[str, str]] = []  # aliases long enough to fuzz
        for value, aliases in table.items():
            for alias in aliases:
                folded = fold(alias, expand=False)
                exact[folded] = value
                exact[folded.replace(" ", "")] = value
                if len(folded) >= 6:
                    fuzzy.append((folded, value))
        near: dict[int, tuple[list[str], list[str]]] = {}
        for size in range(max((len(a) for a, _ in fuzzy), default=0) + _LENGTH_SLACK + 1):
            close = [(a, v) for a, v in fuzzy if abs(len(a) - size) <= _LENGTH_SLACK]
            near[size] = ([a for a, _ in close], [v for _, v in close])
        return cls(exact, near)

    def closest(self, window: str) -> tuple[float, str] | None:
        """The best fuzzy match of `window` as (score, value), 86 or more; else None. The
        comparisons run in rapidfuzz's C loop (twice as fast on a sentence as one Python call
        per alias); on equal scores the first alias wins."""
        aliases, values = self.near.get(len(window), ([], []))
        match = process.extractOne(window, aliases, scorer=fuzz.ratio, score_cutoff=86)
        return None if match is None else (float(match[1]), values[match[2]])


def _lookup(tokens: list[_Token], table: _Table, entity: str) -> list[Entity]:
    found: list[Entity] = []
    used: set[int] = set()
    for size in (3, 2, 1):
        for i in range(len(tokens) - size + 1):
            if any(j in used for j in range(i, i + size)):
                continue
            window = " ".join(t.folded for t in tokens[i : i + size])
            best: tuple[float, str] | None = None
            value = table.exact.get(window) or table.exact.get(window.replace(" ", ""))
            if value is not None:
                best = (100.0, value)
            elif len(window) >= 5:
                best = table.closest(window)
            if best is not None:
                used.update(range(i, i + size))
                found.append(
                    Entity(
                        entity, best[1], tokens[i].start, tokens[i + size - 1].end, best[0] / 100
                    )
                )
    return found


_TOOLS = _Table.of(TOOLS)
_LANGUAGES = _Table.of(LANGUAGES)


def extract(text: str) -> list[Entity]:
    """Tools, languages and numbers in `text`, in order of appearance."""
    tokens = _tokens(text)
    entities = _lookup(tokens, _TOOLS, "tool") + _lookup(tokens, _LANGUAGES, "language")
    for match in _DIGITS.finditer(text):
        entities.append(Entity("number", match.group(1), match.start(1), match.end(1)))
    if len(tokens) == 1 and tokens[0].folded in NUMBER_WORDS:
        token = tokens[0]
        entities.append(Entity("number", str(NUMBER_WORDS[token.folded]), token.start, token.end))
    return sorted(entities, key=lambda e: e.start)
