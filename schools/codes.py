"""The two codes a school goes by: its UAI (the national number staff files name it by) and its
join code (what a parent types: "REJOINDRE 7FQ2").

A UAI is seven digits and a check letter: the remainder of the seven digits divided by 23,
as a letter of `UAI_LETTERS` (the alphabet without I, O and Q). "0750654D" is right,
"0750654E" a typo. Corsica's schools are numbered 620… and 720…, digits as well.

Join codes are 4 characters (6 once the 4-character ones run short) from `CODE_ALPHABET`: no
0/O, no 1/I/L, so a code read aloud or copied from a paper note is typed right. Every code has
at least one digit and one letter: an ordinary word after "rejoindre" ("rejoindre classe")
is never taken for a code.
"""

from __future__ import annotations

import re
import secrets

UAI_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_UAI = re.compile(r"^[0-9]{7}[A-Z]$")
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTHS = (4, 5, 6)
# What a parent's code looks like before it is looked up: 4 to 6 letters and digits with at
# least one digit and one letter (any letters: a code with an O or an I is answered "not found").
CODE_SHAPE = re.compile(r"^(?=[A-Z0-9]*[0-9])(?=[A-Z0-9]*[A-Z])[A-Z0-9]{4,6}$")


class InvalidUai(ValueError):
    """Not a UAI; the message says why, in French, for school staff."""


def check_uai(raw: str) -> str:
    """The UAI in capitals ("0750654D"), or `InvalidUai`."""
    uai = raw.strip().upper()
    if not _UAI.match(uai):
        raise InvalidUai("un UAI s'écrit avec 7 chiffres et une lettre (ex. 0750654D)")
    if UAI_LETTERS[int(uai[:7]) % 23] != uai[7]:
        raise InvalidUai("la lettre de contrôle de l'UAI ne correspond pas aux chiffres")
    return uai


def new_join_code(length: int = 4) -> str:
    """A random join code (see the module docstring)."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(length))
        if CODE_SHAPE.match(code):
            return code


def normalise_code(raw: str) -> str | None:
    """A code as a parent typed it ("7fq2"), in capitals, if it has the shape of one."""
    code = raw.strip().upper()
    return code if CODE_SHAPE.match(code) else None
