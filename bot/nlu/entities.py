"""Entities found by lookup and fuzzy matching: digital tools, languages, numbers.

Matching is per token window on folded text (no accents, lower case), so "educonect",
"Pro note" or "l'ENT" still match; positions refer to the original message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
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

# Folding is the dearest step per word, and messages keep using the same few thousand words:
# their folded forms are remembered, up to this many (then all forgotten).
_FOLDED_WORDS_SIZE = 20_000
_folded_words: dict[str, str] = {}


class _Token(NamedTuple):
    folded: str
    start: int
    end: int


def _fold_word(word: str) -> str:
    folded = _folded_words.get(word)
    if folded is None:
        folded = fold(word, expand=False)
        if len(_folded_words) >= _FOLDED_WORDS_SIZE:
            _folded_words.clear()
        _folded_words[word] = folded
    return folded


def _tokens(text: str) -> list[_Token]:
    out = []
    for match in _WORD.finditer(text):
        folded = _fold_word(match.group())
        if folded:
            out.append(_Token(folded, match.start(), match.end()))
    return out


def _windows(tokens: list[_Token]) -> list[tuple[int, int, str]]:
    """(first token, tokens, folded text) of the windows of 3, 2 and 1 tokens, in the order
    they are tried: the longest first, then left to right."""
    words = [t.folded for t in tokens]
    return [
        (i, size, " ".join(words[i : i + size]))
        for size in (3, 2, 1)
        for i in range(len(words) - size + 1)
    ]


# A window is compared with the aliases within this many characters of its length.
_LENGTH_SLACK = 3
_FUZZY_CUTOFF = 86


@dataclass(frozen=True)
class _Table:
    """Aliases folded once: exact forms (with and without spaces), and the fuzzy candidates
    grouped by the window lengths they are compared with."""

    exact: dict[str, str]
    fuzzy: list[str]  # the aliases long enough to fuzz
    # window length -> (aliases, their values) within `_LENGTH_SLACK` characters of it
    near: dict[int, tuple[list[str], list[str]]]

    @classmethod
    def of(cls, table: dict[str, tuple[str, ...]]) -> _Table:
        exact: dict[str, str] = {}
        fuzzy: list[tuple[str, str]] = []
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
        return cls(exact, [a for a, _ in fuzzy], near)

    def closest(self, window: str) -> tuple[float, str] | None:
        """The best fuzzy match of `window` as (score, value), 86 or more; else None. The
        comparisons run in rapidfuzz's C loop (twice as fast on a sentence as one Python call
        per alias); on equal scores the first alias wins."""
        aliases, values = self.near.get(len(window), ([], []))
        match = process.extractOne(window, aliases, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF)
        return None if match is None else (float(match[1]), values[match[2]])


def _lookup(
    tokens: list[_Token],
    windows: list[tuple[int, int, str]],
    fuzzy: set[str],
    table: _Table,
    entity: str,
) -> list[Entity]:
    """Each window's exact value, or failing that, when it is in `fuzzy`, its closest value,
    the longest windows first; a token belongs to one match at most."""
    found: list[Entity] = []
    used = [False] * len(tokens)
    for i, size, window in windows:
        if True in used[i : i + size]:
            continue
        best: tuple[float, str] | None = None
        value = table.exact.get(window) or table.exact.get(window.replace(" ", ""))
        if value is not None:
            best = (100.0, value)
        elif window in fuzzy:
            best = table.closest(window)
        if best is not None:
            used[i : i + size] = [True] * size
            found.append(
                Entity(entity, best[1], tokens[i].start, tokens[i + size - 1].end, best[0] / 100)
            )
    return found


_TOOLS = _Table.of(TOOLS)
_LANGUAGES = _Table.of(LANGUAGES)
_FUZZY = _TOOLS.fuzzy + _LANGUAGES.fuzzy
# The window lengths with aliases to fuzz: from 5 characters (shorter ones match exactly only).
_FUZZY_LENGTHS = frozenset(
    size
    for table in (_TOOLS, _LANGUAGES)
    for size, (aliases, _) in table.near.items()
    if aliases and size >= 5
)


def _reachable(windows: list[tuple[int, int, str]]) -> set[str]:
    """The windows `_Table.closest` may match in either table: those of a length with aliases
    to fuzz, and, when there are more than two, only those scoring at least one point below
    the cutoff against some alias (the point of margin keeps the test safe from the rounding
    of the scores to integers). Most windows match nothing, and one rapidfuzz call over all
    of a message's windows costs about as much as three calls for one window each."""
    candidates = [w for _, _, w in windows if len(w) in _FUZZY_LENGTHS]
    if len(candidates) <= 2:
        return set(candidates)
    scores = process.cdist(
        candidates, _FUZZY, scorer=fuzz.ratio, score_cutoff=_FUZZY_CUTOFF - 1, dtype=np.uint8
    )
    return {candidates[i] for i in scores.nonzero()[0].tolist()}


def extract(text: str) -> list[Entity]:
    """Tools, languages and numbers in `text`, in order of appearance."""
    tokens = _tokens(text)
    windows = _windows(tokens)
    fuzzy = _reachable(windows)
    entities = _lookup(tokens, windows, fuzzy, _TOOLS, "tool")
    entities += _lookup(tokens, windows, fuzzy, _LANGUAGES, "language")
    for match in _DIGITS.finditer(text):
        entities.append(Entity("number", match.group(1), match.start(1), match.end(1)))
    if len(tokens) == 1 and tokens[0].folded in NUMBER_WORDS:
        token = tokens[0]
        entities.append(Entity("number", str(NUMBER_WORDS[token.folded]), token.start, token.end))
    return sorted(entities, key=lambda e: e.start)
