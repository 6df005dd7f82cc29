"""The report of rejected rows: a CSV school staff open in a spreadsheet, fix, and import again.

`;`-separated UTF-8 with a BOM (what French spreadsheets open without asking), the columns
`ligne` (the line in the file sent) and `motif` (every reason, in French), then the row as it
was written. The import ignores `ligne` and `motif`, so the corrected report goes back as is.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from schools.families_csv import Rejected


def write(header: Sequence[str], rejected: Sequence[Rejected]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["ligne", "motif", *header])
    for row in rejected:
        cells = [_safe(row.raw.get(name) or "") for name in header]
        writer.writerow([row.line, " ; ".join(row.reasons), *cells])
    return "\ufeff" + out.getvalue()


def _safe(cell: str) -> str:
    """A cell a spreadsheet will not run as a formula (CSV injection): "=1+1" is shown as text.
    Phone numbers starting with + are the exception: they are data, not formulas."""
    if cell[:1] in ("=", "@", "\t", "\r") or (cell[:1] in ("-", "+") and not _phone_like(cell)):
        return "'" + cell
    return cell


def _phone_like(cell: str) -> bool:
    return all(char.isdigit() or char in " +-.()/" for char in cell)
