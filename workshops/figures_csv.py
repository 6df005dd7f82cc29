"""The figures as a CSV file for organisers and funders: one row per workshop, every figure.

Made to be opened by double-click in a French spreadsheet (Excel, LibreOffice), where the
organisers and funders read it: UTF-8 with a BOM (without one Excel reads UTF-8 as Windows-1252
and breaks every accent), `;` between cells (French Excel's list separator: with `,` it shows
one column), percentages with a decimal comma (`33,3`). `workshops.csv_io` reads either
separator and either encoding form, so the same choices would import there too; its own
export keeps `,` because that file goes back into the import and other tools, while this one
is only read. Column names are the same kind of stable snake_case names as `csv_io`'s (the
`ref`, `title`, `starts_at`... of both files match), dates on the venue's clock as there.

No totals row: the file stays one row per workshop, so it can be sorted, filtered and pivoted
without a total being counted twice (the staff page shows the totals). Cancelled workshops, when
given, come after the published ones with `status` = `cancelled`: filter on `status` before
summing. Rates are empty when undefined (no attendance recorded). Cells starting with `=`,
`+`, `-`, `@` get a leading `'` so a title is never run as a spreadsheet formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import timedelta
from zoneinfo import ZoneInfo

from liaison.settings import SUPPORTED_LANGUAGES
from liaison.spreadsheet import safe_cell
from workshops.figures import UNKNOWN_LANGUAGE, PeriodFigures, WorkshopFigures

MEDIA_TYPE = "text/csv; charset=utf-8"
LANGUAGE_COLUMNS = (
    *(f"lang_{code}" for code in SUPPORTED_LANGUAGES),
    "lang_other",
    "lang_unknown",
)
COLUMNS = (
    "ref",
    "title",
    "status",
    "starts_at",
    "ends_at",
    "timezone",
    "territory",
    "capacity",
    "enrolled_parents",
    "enrolled_people",
    "waitlisted_parents",
    "waitlisted_people",
    "attended_parents",
    "attended_people",
    "walk_ins",
    "walk_in_people",
    "no_shows",
    "excused",
    "not_recorded",
    "no_show_rate_pct",
    "filled_people",
    "fill_basis",
    "fill_rate_pct",
    *LANGUAGE_COLUMNS,
    "autonomy_yes",
    "autonomy_not_yet",
    "autonomy_no_answer",
)
_COUNTS = COLUMNS[COLUMNS.index("capacity") : COLUMNS.index("no_show_rate_pct")]


def write(rows: Iterable[WorkshopFigures]) -> bytes:
    """The CSV file (UTF-8 with BOM, `;`-separated, header first) of these workshops."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(_row(row))
    return out.getvalue().encode("utf-8-sig")


def for_period(period: PeriodFigures, *, cancelled: bool = True) -> bytes:
    """The period's published workshops, then (unless `cancelled=False`) its cancelled ones."""
    return write([*period.workshops, *(period.cancelled if cancelled else ())])


def filename(period: PeriodFigures) -> str:
    """`ateliers-chiffres-<start>-<end>.csv` (the end day is the last one included)."""
    last = (period.end - timedelta(microseconds=1)).date()
    return f"ateliers-chiffres-{period.start.date().isoformat()}-{last.isoformat()}.csv"


def _row(row: WorkshopFigures) -> dict[str, str]:
    figures = row.figures
    zone = ZoneInfo(row.timezone)
    cells = {
        "ref": _text(row.ref),
        "title": _text(row.title),
        "status": row.status,
        "starts_at": row.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "ends_at": row.ends_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
        "timezone": row.timezone,
        "territory": _text(row.territory),
        **{name: str(getattr(figures, name)) for name in _COUNTS},
        "no_show_rate_pct": _percent(figures.no_show_rate),
        "filled_people": str(figures.filled_people),
        "fill_basis": figures.fill_basis,
        "fill_rate_pct": _percent(figures.fill_rate),
        "autonomy_yes": str(figures.autonomy.yes),
        "autonomy_not_yet": str(figures.autonomy.not_yet),
        "autonomy_no_answer": str(figures.autonomy.no_answer),
    }
    languages = dict.fromkeys(LANGUAGE_COLUMNS, 0)
    for code, parents in figures.languages.items():
        if code == UNKNOWN_LANGUAGE:
            languages["lang_unknown"] += parents
        elif code in SUPPORTED_LANGUAGES:
            languages[f"lang_{code}"] += parents
        else:
            languages["lang_other"] += parents
    cells.update({name: str(count) for name, count in languages.items()})
    return cells


def _percent(rate: float | None) -> str:
    return "" if rate is None else f"{rate * 100:.1f}".replace(".", ",")


def _text(value: str) -> str:
    return safe_cell(value)
