"""Text hygiene and folding.

`clean()` makes an inbound message safe to store and process (no control characters, no
runaway whitespace). `fold()` maps a message to the form the NLU compares: lower case, no
accents, Arabic without diacritics or letter variants, Turkish dotless i, repeated letters
squeezed, punctuation as spaces, and common SMS spellings expanded.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_SPACES = re.compile(r"[ \t]+")
# In a Python string, a surrogate code point is always a lone one (JSON's "\ud800" escape): it
# is not text and cannot be written as UTF-8.
_SURROGATES = re.compile("[\ud800-\udfff]")
_BLANK_LINES = re.compile(r"\n{3,}")
# Arabic diacritics and tatweel dropped, letter variants unified: one `str.translate` pass.
_ARABIC = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ؤ": "و", "ئ": "ي"}
    | dict.fromkeys(
        [
            *map(chr, range(0x0610, 0x061B)),
            *map(chr, range(0x064B, 0x0660)),
            "\u0670",
            *map(chr, range(0x06D6, 0x06EE)),
            "\u0640",
        ]
    )
)
_REPEATS = re.compile(r"(.)\1\1+")
_WORD = re.compile(r"[^\W_]+")
# Runs rather than single characters: fewer match objects, same count.
_ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]+")
_LETTERS = re.compile(r"[^\W\d_]+")

# SMS and chat spellings seen in parents' messages, expanded next to the original token so
# that both forms feed the classifier. Keys are folded tokens.
SMS_SPELLINGS: dict[str, str] = {
    "mdp": "mot de passe",
    "bjr": "bonjour",
    "bsr": "bonsoir",
    "slt": "salut",
    "stp": "s il te plait",
    "svp": "s il vous plait",
    "jsp": "je sais pas",
    "pk": "pourquoi",
    "pq": "pourquoi",
    "koi": "quoi",
    "kan": "quand",
    "qd": "quand",
    "bcp": "beaucoup",
    "pb": "probleme",
    "pr": "pour",
    "ds": "dans",
    "dc": "donc",
    "tt": "tout",
    "jai": "j ai",
    "jarrive": "j arrive",
    "jarrivepas": "j arrive pas",
    "cv": "ca va",
    "mrc": "merci",
    "educonect": "educonnect",
    "educonet": "educonnect",
    "educonnet": "educonnect",
    "edukonekt": "educonnect",
    "pronot": "pronote",
    "pronotte": "pronote",
    "thx": "thanks",
    "ty": "thank you",
    "pls": "please",
    "plz": "please",
    "u": "you",
    "r": "are",
    "cant": "can not",
    "slm": "selam",
    "mrb": "merhaba",
    "tsk": "tesekkurler",
    "tskler": "tesekkurler",
    "sfr": "sifre",
    "obg": "obrigado",
    "vc": "voce",
    "xq": "porque",
    "porfa": "por favor",
    # Tool names written in Arabic script.
    "اديكونيكت": "educonnect",
    "اديكونكت": "educonnect",
    "ايديكونكت": "educonnect",
    "ايديكونيكت": "educonnect",
    "ادوكونكت": "educonnect",
    "برونوت": "pronote",
    "بغونوت": "pronote",
}


def scalar_values(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (the replacement character)."""
    return _SURROGATES.sub("\ufffd", text)


def clean(text: str) -> str:
    """Remove control and bidi-override characters, replace lone surrogates, normalise Unicode
    and whitespace."""
    text = unicodedata.normalize("NFC", scalar_values(text))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


class _Unaccented(dict[int, int | None]):
    """A `str.translate` table dropping combining marks: one C pass per text instead of a
    Python test per character. Filled as characters are first seen, as asking
    `unicodedata.combining` of every code point would add 0.15 s to start-up."""

    def __missing__(self, code: int) -> int | None:
        kept = None if unicodedata.combining(chr(code)) else code
        self[code] = kept
        return kept


_UNACCENTED = _Unaccented()


def strip_accents(text: str) -> str:
    return unicodedata.normalize("NFKD", text).translate(_UNACCENTED)


def fold(text: str, *, expand: bool = True) -> str:
    """The comparison form of a message (see module docstring)."""
    text = unicodedata.normalize("NFKC", text).replace("İ", "i").lower().replace("ı", "i")
    text = strip_accents(text.translate(_ARABIC))
    if _REPEATS.search(text):  # rare: searching is half the cost of substituting
        text = _REPEATS.sub(r"\1\1", text)
    tokens: list[str] = _WORD.findall(text)  # runs of letters and digits
    if expand:
        expanded: list[str] = []
        for token in tokens:
            expanded.append(token)
            if token in SMS_SPELLINGS:
                expanded.append(SMS_SPELLINGS[token])
        tokens = expanded
    return " ".join(tokens)


def letters(text: str) -> int:
    """How many letters (any script) a message has."""
    return sum(map(len, _LETTERS.findall(text)))


def arabic_letters(text: str) -> int:
    """How many characters of a message are Arabic script."""
    return sum(map(len, _ARABIC_SCRIPT.findall(text)))


def is_arabic_script(text: str, *, letter_count: int | None = None) -> bool:
    """True when most letters are Arabic script (`letter_count`: `letters(text)`, if the caller
    has it already)."""
    total = letters(text) if letter_count is None else letter_count
    return total > 0 and arabic_letters(text) * 2 > total
