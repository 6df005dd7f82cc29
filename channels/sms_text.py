"""SMS text: exact segment counting, rendering replies as numbered choices, reading "2" back.

Pure functions, no I/O and no words of any language: the SMS channel passes in the translated
prompt ("Répondez 1, 2 ou 3") and the configured maximum of segments.

Counting follows GSM 03.38 and what real splitters (Twilio, carriers) do: a text that fits one
SMS has 160 septets (GSM-7) or 70 UTF-16 units (UCS-2); a longer one is sent in parts of 153 or
67, because each part carries a 6-byte header. A part never ends in the middle of an
extension character's escape (GSM-7) or of a surrogate pair (UCS-2), so some texts need one part
more than a plain division says.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from bot.replies import Button, Reply

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 default alphabet, in code order. ESC (0x1B) is left out: it is not a character a
# text can contain but the prefix of the extension table below.
_GSM_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Extension table: each costs two septets (ESC + code).
_GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

_SINGLE = {"GSM-7": 160, "UCS-2": 70}
_MULTIPART = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SegmentCount:
    """How a text travels: its encoding, its size in units, and how many SMS it costs.

    `units` are septets for GSM-7 (extension characters count 2) and UTF-16 code units for
    UCS-2 (characters outside the BMP, such as emoji, count 2). `per_segment` is the capacity
    of each segment used: 160/70 for a single SMS, 153/67 for the parts of a long one.
    """

    encoding: Encoding
    units: int
    count: int
    per_segment: int


def encoding(text: str) -> Encoding:
    """GSM-7 when every character is in the GSM 03.38 alphabet or its extension, else UCS-2."""
    if all(char in _GSM_BASIC or char in _GSM_EXTENSION for char in text):
        return "GSM-7"
    return "UCS-2"


def _unit_costs(text: str, enc: Encoding) -> list[int]:
    if enc == "GSM-7":
        return [2 if char in _GSM_EXTENSION else 1 for char in text]
    # A Python str holds code points; UTF-16 needs a surrogate pair above the BMP.
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def segments(text: str) -> SegmentCount:
    """Count the SMS segments `text` costs, exactly as a real splitter sends it.

    The empty text is one segment of 0 units (an empty SMS is still one message).
    """
    enc = encoding(text)
    costs = _unit_costs(text, enc)
    units = sum(costs)
    if units <= _SINGLE[enc]:
        return SegmentCount(encoding=enc, units=units, count=1, per_segment=_SINGLE[enc])
    capacity = _MULTIPART[enc]
    count, used = 1, 0
    for cost in costs:
        # A two-unit character that does not fit moves whole to the next part.
        if used + cost > capacity:
            count, used = count + 1, 0
        used += cost
    return SegmentCount(encoding=enc, units=units, count=count, per_segment=capacity)


def render_sms(
    replies: list[Reply],
    *,
    choose_prompt: Callable[[list[str]], str],
    max_segments: int,
) -> list[str]:
    """The SMS bodies that carry `replies`, in order, each within `max_segments` segments.

    A reply's buttons become numbered lines ("1. Title") followed by `choose_prompt(["1", "2",
    ...])`, appended to that reply's text. A reply too long for one body is split at line
    boundaries first, then sentence boundaries, then between words, so a URL (which holds no
    space) is never cut; the numbered choices and the prompt always stay together in the last
    body of their reply, after the text's last lines or sentences that fit with them, or alone.
    Only a single word or URL longer than a whole body is cut, as a last resort, since no body
    may exceed the limit. Replies with no text and no buttons send nothing.

    Raises ValueError if `max_segments` < 1 or if the choices and prompt alone do not fit.
    """
    if max_segments < 1:
        raise ValueError(f"max_segments must be at least 1, got {max_segments}")

    def fits(body: str) -> bool:
        return segments(body).count <= max_segments

    bodies: list[str] = []
    for reply in replies:
        text = reply.text.strip()
        if not reply.buttons:
            if text:
                bodies.extend(_pack(text, fits))
            continue
        choices = _choices_block(reply.buttons, choose_prompt)
        if not fits(choices):
            raise ValueError(
                f"the {len(reply.buttons)} choices and their prompt need "
                f"{segments(choices).count} segments, more than max_segments={max_segments}"
            )
        bodies.extend(_with_choices(text, choices, fits))
    return bodies


def split_text(text: str, fits: Callable[[str], bool]) -> list[str]:
    """`text` in as few pieces as greedy packing gives, each passing `fits`, cut at line
    boundaries first, then sentence boundaries, then between words (as `render_sms` does)."""
    return _pack(text.strip(), fits)


def boundaries(text: str) -> list[int]:
    """Where `text` may be cut without cutting a sentence: the offsets of its line and sentence
    boundaries (as `render_sms` cuts), in order; `text[:i]` and `text[i:]` are the pieces."""
    cuts = {match.start() for match in _LINE.finditer(text)}
    cuts |= {match.start() for match in _SENTENCE_END.finditer(text)}
    return sorted(cut for cut in cuts if 0 < cut < len(text))


def choice_payload(text: str, offered: list[Button]) -> str | None:
    """The payload of the offered button a parent's reply selects, or None if it selects none.

    Accepts a number with optional spaces and a trailing "." or ")": "2", " 2 ", "2.", "2)".
    Full-width digits ("２") and Arabic-Indic digits ("٢") count, as phones in those scripts
    send them. Numbers start at 1; 0, out of range or any other text selects nothing.
    """
    match = _CHOICE.fullmatch(unicodedata.normalize("NFKC", text).strip())
    if match is None:
        return None
    index = int(match.group(1)) - 1
    if 0 <= index < len(offered):
        return offered[index].payload
    return None


_CHOICE = re.compile(r"(\d{1,3})\s*[.)]?")

# Whitespace after ., !, ? or … (French puts a space before ? and !, so only what follows counts),
# but not after a list number such as "1." or "12.", so "1. Ouvrez" stays whole.
_SENTENCE_END = re.compile(r"(?<=[.!?…])(?<!\b\d\.)(?<!\b\d\d\.)\s+")
_SPACE = re.compile(r"\s+")
_LINE = re.compile(r"\n")


def _choices_block(buttons: tuple[Button, ...], choose_prompt: Callable[[list[str]], str]) -> str:
    numbers = [str(n) for n in range(1, len(buttons) + 1)]
    lines = [f"{n}. {button.title}" for n, button in zip(numbers, buttons, strict=True)]
    return "\n".join([*lines, choose_prompt(numbers)])


def _with_choices(text: str, choices: str, fits: Callable[[str], bool]) -> list[str]:
    if not text:
        return [choices]
    *chunks, last = _pack(text, fits)
    if fits(f"{last}\n{choices}"):
        return [*chunks, f"{last}\n{choices}"]
    # Keep the end of the text (usually the question) with the choices: the longest tail that
    # starts at a line, else a sentence boundary and still fits with them. The head left behind
    # is a prefix of a body that fitted, so it fits too. A tail cut mid-sentence would read worse
    # than choices sent on their own, so word boundaries are not tried.
    for boundary in (_LINE, _SENTENCE_END):
        for match in boundary.finditer(last):
            head, tail = last[: match.start()].strip(), last[match.end() :].strip()
            if head and tail and fits(f"{tail}\n{choices}"):
                return [*chunks, head, f"{tail}\n{choices}"]
    return [*chunks, last, choices]


# Boundaries from the most to the least natural; a piece too long at one level is split at the
# next. Each entry: how to split, and the separator that joins pieces back in the same body.
_LEVELS: tuple[tuple[Callable[[str], list[str]], str], ...] = (
    (_LINE.split, "\n"),
    (_SENTENCE_END.split, " "),
    (_SPACE.split, " "),
)


def _pack(text: str, fits: Callable[[str], bool], level: int = 0) -> list[str]:
    """Split `text` into as few bodies as greedy packing gives, each one passing `fits`."""
    if fits(text):
        return [text]
    if level == len(_LEVELS):
        return _hard_split(text, fits)
    split, separator = _LEVELS[level]
    bodies: list[str] = []
    current = ""
    for piece in split(text):
        candidate = f"{current}{separator}{piece}" if current else piece
        if fits(candidate):
            current = candidate
            continue
        if current.strip():
            bodies.append(current.strip())
        if fits(piece):
            current = piece
        else:
            *done, current = _pack(piece, fits, level + 1)
            bodies.extend(done)
    if current.strip():
        bodies.append(current.strip())
    return bodies


def _hard_split(word: str, fits: Callable[[str], bool]) -> list[str]:
    # Code point by code point, so a surrogate pair or an escape is never cut either.
    bodies: list[str] = []
    current = ""
    for char in word:
        if current and not fits(current + char):
            bodies.append(current)
            current = ""
        current += char
    return [*bodies, current] if current else bodies
