"""Mobile numbers for tests: valid French mobiles (+33 6 1x xx xx xx), never the same twice in
a test run, so tests that share a database never collide on a contact."""

from __future__ import annotations

import random

_given: set[str] = set()


def new_mobile() -> str:
    while True:
        number = f"+3361{random.randrange(10**7):07d}"
        if number not in _given:
            _given.add(number)
            return number
