"""Reading the CSV files school staff send: UTF-8 with or without BOM, `;` or `,` between
cells, a header row whose names may be French or English, with or without accents or capitals
(`Téléphone`, `telephone`, `phone`). Problems with the file as a whole (not UTF-8, empty, too
big, a column missing or unknown) are `InvalidFile`, in French, for the person who sent it.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000


class InvalidFile(ValueError):
    """The file cannot be read at all: nothing is imported. `problems` are in French."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Row:
    line: int  # in the file, the header being line 1
    cells: dict[str, str]  # by canonical column name, stripped
    raw: dict[str, str]  # as written, by the file's own header
    extra_cells: bool = False  # more cells than the header has columns


@dataclass(frozen=True)
class Table:
    header: list[str]  # as written in the file
    rows: list[Row]


def fold(name: str) -> str:
    """A header cell as compared: lower case, no accents, `_` between words."""
    decomposed = unicodedata.normalize("NFKD", name.strip().lower())
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return "_".join(plain.replace("-", " ").replace("_", " ").split())


def read(
    data: bytes,
    *,
    columns: Mapping[str, str],
    required: tuple[str, ...],
    ignored: frozenset[str] = frozenset(),
    labels: Mapping[str, str] | None = None,
) -> Table:
    """The rows of a CSV file. `columns` maps each accepted (folded) header name to its
    canonical one; `ignored` names are read and left out (the report's own columns);
    `labels` are the names problems give the canonical columns (French ones)."""
    if len(data) > MAX_BYTES:
        raise InvalidFile(["le fichier dépasse 2 Mo : coupez-le en plusieurs fichiers"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidFile(
            ["le fichier n'est pas en UTF-8 : enregistrez-le au format « CSV UTF-8 »"]
        ) from exc
    if not text.strip():
        raise InvalidFile(["le fichier est vide"])
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
            text.split("\n", 1)[0], delimiters=",;"
        )
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect=dialect)
    header = [cell.strip() for cell in next(reader)]
    names = [columns.get(fold(cell), "") for cell in header]
    problems = [
        f"ligne 1 : colonne inconnue « {cell} »"
        for cell, name in zip(header, names, strict=True)
        if not name and fold(cell) not in ignored and cell
    ]
    problems += [
        f"ligne 1 : colonne « {(labels or {}).get(n, n)} » manquante"
        for n in required
        if n not in names
    ]
    seen: set[str] = set()
    for cell, name in zip(header, names, strict=True):
        if name and name in seen:
            problems.append(f"ligne 1 : colonne « {cell} » en double")
        seen.add(name)
    if problems:
        raise InvalidFile(problems)
    rows: list[Row] = []
    for cells in reader:
        if not any(cell.strip() for cell in cells):
            continue  # blank lines, and the empty rows spreadsheets leave at the end
        if len(rows) == MAX_ROWS:
            raise InvalidFile([f"plus de {MAX_ROWS} lignes : coupez le fichier en plusieurs"])
        padded = (cells + [""] * len(header))[: len(header)]
        rows.append(
            Row(
                line=reader.line_num,
                cells={n: cell.strip() for n, cell in zip(names, padded, strict=True) if n},
                raw=dict(zip(header, padded, strict=True)),
                extra_cells=len(cells) > len(header),
            )
        )
    return Table(header, rows)
