"""Workshops in and out as CSV, the format organisers already keep their sessions in.

One row per workshop, the columns of `COLUMNS` (UTF-8, comma or semicolon separated; a header
row is required, columns in any order, unknown columns refused). Lists (`topics`, `languages`,
`schools`) are separated by `;` inside their cell. Dates are on the venue's clock:
`2026-12-05 14:00` (or `05/12/2026 14:00`). Reading checks every row and reports every
problem with its line number; nothing is imported unless the whole file is right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from workshops.records import FIELDS, LIST_FIELDS, InvalidWorkshop, Workshop, build

COLUMNS = FIELDS
REQUIRED = ("ref", "title", "starts_at", "ends_at", "capacity")
MAX_ROWS = 5000


class InvalidFile(ValueError):
    """The file cannot be imported; `problems` are "line N: field: what is wrong"."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{len(problems)} problem(s): " + "; ".join(problems[:5]))
        self.problems = problems


def read(data: bytes) -> list[Workshop]:
    """The workshops of a CSV file, all valid, or InvalidFile with every problem."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidFile(["the file is not UTF-8: save it as « CSV UTF-8 »"]) from exc
    if not text.strip():
        raise InvalidFile(["the file is empty"])
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [name.strip() for name in reader.fieldnames or []]
    unknown = [name for name in header if name not in COLUMNS]
    missing = [
        name for name in ("ref", "title", "starts_at", "ends_at", "capacity") if name not in header
    ]
    if unknown or missing:
        problems = [f"line 1: unknown column {name!r}" for name in unknown]
        problems += [f"line 1: missing column {name!r}" for name in missing]
        raise InvalidFile(problems)
    reader.fieldnames = header
    workshops: list[Workshop] = []
    problems = []
    refs: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        if line - 1 > MAX_ROWS:
            raise InvalidFile([f"more than {MAX_ROWS} workshops in one file"])
        if None in row:  # more cells than columns
            problems.append(f"line {line}: more cells than columns")
            continue
        try:
            workshop = build({key: value or "" for key, value in row.items()})
        except InvalidWorkshop as exc:
            problems += [f"line {line}: {problem}" for problem in exc.problems]
            continue
        if workshop.ref in refs:
            problems.append(
                f"line {line}: ref {workshop.ref!r} already on line {refs[workshop.ref]}"
            )
            continue
        refs[workshop.ref] = line
        workshops.append(workshop)
    if problems:
        raise InvalidFile(problems)
    return workshops


def write(workshops: Iterable[Workshop]) -> str:
    """CSV text that `read` takes back unchanged."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for workshop in workshops:
        writer.writerow({name: _cell(workshop, name) for name in COLUMNS})
    return out.getvalue()


def _cell(workshop: Workshop, name: str) -> str:
    value = getattr(workshop, name)
    if name in LIST_FIELDS:
        return ";".join(value)
    if name in ("starts_at", "ends_at"):  # on the venue's clock, as organisers wrote it
        return str(workshop.local(value).strftime("%Y-%m-%d %H:%M"))
    return str(value)
