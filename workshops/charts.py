"""Charts for the staff pages, as SVG text: no script, no style sheet, no library.

Built for a phone 360 px wide: a `viewBox` 360 units wide drawn at `width="100%"` (give the
container a `max-width` on large screens), text of 14 units or more, every value written out
next to its bar or in the legend (colour is never the only carrier), one label per line.
Each chart is `role="img"` with a `<title>` and a `<desc>` that states every value, so screen
readers read the numbers. Only presentation attributes are used (no `style`), so charts show
under the pages' `style-src 'self'` policy, inline or as `<img src="data:image/svg+xml,...">`.

All text is XML-escaped (and stripped of characters XML cannot hold), so workshop titles are
safe whatever they contain. No data, or only zeros, gives a chart that says so (`NO_DATA`).

Two generic shapes, `bar_chart` (one bar per label) and `stacked_bar` (the parts of a whole),
and the charts of `workshops.figures` built on them. The words are arguments (`Labels`,
French by default) so the pages can pass translated ones later; numbers, percentages,
dates and language names are written by Babel in `locale`.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date
from babel.numbers import format_decimal, format_percent

from workshops.figures import UNKNOWN_LANGUAGE, Figures, PeriodFigures

WIDTH = 360
MARGIN = 8
FONT_SIZE = 14
TITLE_SIZE = 16
INK = "#1a1a1a"
MUTED = "#4d4d4d"
BAR = "#0072B2"
# Okabe-Ito: told apart by most colour-blind readers; the legend writes every value anyway.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999999")
FONT_FAMILY = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"
_CHAR = 0.6  # average glyph width in em, generous, to cut labels before they overflow
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Labels:
    """Every word the figure charts show (French; pass a translated copy later)."""

    no_data: str = "Pas encore de données"
    attendance: str = "Présence des parents"
    attended: str = "Venus (inscrits)"
    walk_ins: str = "Venus sans inscription"
    no_shows: str = "Absents"
    excused: str = "Excusés"
    not_recorded: str = "Non pointés"
    people: str = "Inscrits et présents (personnes)"
    enrolled_people: str = "Inscrits"
    waitlisted_people: str = "Liste d'attente"
    attended_people: str = "Présents"
    fill: str = "Remplissage"
    filled: str = "Places occupées"
    free: str = "Places libres"
    over: str = "Au-delà de la capacité"
    basis_present: str = "d'après les présents"
    basis_booked: str = "d'après les inscrits"
    basis_mixed: str = "présents des ateliers tenus, inscrits des autres"
    languages: str = "Langues des parents"
    unknown_language: str = "Langue inconnue"
    autonomy: str = "Autonomie à 7 jours (parents venus)"
    autonomy_yes: str = "Oui, seuls"
    autonomy_not_yet: str = "Pas encore"
    autonomy_no_answer: str = "Sans réponse"
    by_workshop: str = "Remplissage par atelier"
    seats: str = "places"


FRENCH = Labels()
NO_DATA = FRENCH.no_data


class Bar(NamedTuple):
    label: str
    value: float
    text: str | None = None  # what is written for the value; the number by default


# -- generic shapes ------------------------------------------------------------------------------


def bar_chart(
    title: str,
    bars: Sequence[Bar | tuple[str, float]],
    *,
    description: str = "",
    scale_max: float | None = None,
    locale: str = "fr",
    no_data: str = NO_DATA,
) -> str:
    """Horizontal bars, one per (label, value): the label on its own line (cut with "…" when
    too long; whole in the tooltip and `<desc>`), then the bar with its value written after
    it, lengths relative to the largest value or `scale_max` if larger. No bar above zero
    (negatives and NaN count as zero): the `no_data` chart."""
    rows = [Bar(*bar) for bar in bars]
    rows = [row._replace(value=_number(row.value)) for row in rows]
    if not rows or max(row.value for row in rows) <= 0:
        return empty_chart(title, description=description, no_data=no_data)
    top = max(*(row.value for row in rows), _number(scale_max or 0.0))
    rows = [row._replace(text=row.text or format_decimal(row.value, locale=locale)) for row in rows]
    row_height, head = 52, 36
    height = head + row_height * len(rows) + MARGIN
    inner = WIDTH - 2 * MARGIN
    # Every value fits after the longest bar: bars share what the widest value text leaves.
    track = inner - max(_width(row.text or "", FONT_SIZE) for row in rows) - 6
    parts, lines = [], []
    for index, (label, value, text) in enumerate(rows):
        text = text or ""
        y = head + index * row_height
        length = track * min(value / top, 1.0)
        lines.append(f"{label} : {text}")
        parts.append(
            f"<g><title>{_esc(label)} : {_esc(text)}</title>"
            f'<text x="{MARGIN}" y="{y + 14}" fill="{INK}">{_esc(_cut(label, inner))}</text>'
            f'<rect x="{MARGIN}" y="{y + 21}" width="{track:.1f}" height="18" fill="#e6e6e6"/>'
            f'<rect x="{MARGIN}" y="{y + 21}" width="{length:.1f}" height="18" fill="{BAR}"/>'
            f'<text x="{MARGIN + length + 6:.1f}" y="{y + 35}" font-weight="bold" '
            f'fill="{INK}">{_esc(text)}</text></g>'
        )
    summary = "; ".join(lines)
    return _svg(title, _sentence(description, summary), height, parts)


def stacked_bar(
    title: str,
    parts: Sequence[tuple[str, int]],
    *,
    description: str = "",
    whole: int | None = None,
    locale: str = "fr",
    no_data: str = NO_DATA,
) -> str:
    """One bar split into parts, then a legend line per part with its count and share
    ("Présents : 12 (60 %)"). Shares are of the sum of the parts, made to add up to 100 %,
    or of `whole` when given (seats: "2 (25 %)" beyond a capacity of 8). Nothing above zero:
    the `no_data` chart."""
    counts = [max(int(count), 0) for _, count in parts]
    drawn = sum(counts)
    if drawn <= 0:
        return empty_chart(title, description=description, no_data=no_data)
    if whole is None or whole <= 0:
        shares = _percentages(counts)
    else:
        shares = [round(100 * count / whole) for count in counts]
    inner = WIDTH - 2 * MARGIN
    body, x = [], float(MARGIN)
    for index, count in enumerate(counts):
        width = inner * count / drawn
        if width > 0:
            body.append(
                f'<rect x="{x:.1f}" y="36" width="{width:.1f}" height="28" '
                f'fill="{PALETTE[index % len(PALETTE)]}" stroke="#ffffff" stroke-width="2"/>'
            )
        x += width
    lines = []
    for index, ((label, _), count, share) in enumerate(zip(parts, counts, shares, strict=True)):
        y = 80 + index * 26
        text = (
            f"{format_decimal(count, locale=locale)} ({format_percent(share / 100, locale=locale)})"
        )
        lines.append(f"{label} : {text}")
        body.append(
            f'<g><rect x="{MARGIN}" y="{y}" width="16" height="16" '
            f'fill="{PALETTE[index % len(PALETTE)]}"/>'
            f'<text x="{MARGIN + 24}" y="{y + 13}" fill="{INK}">'
            f"{_esc(_cut(label + ' : ', inner - 24 - _width(text, FONT_SIZE)))}"
            f'<tspan font-weight="bold">{_esc(text)}</tspan></text></g>'
        )
    height = 80 + 26 * len(counts) + MARGIN
    return _svg(title, _sentence(description, "; ".join(lines)), height, body)


def empty_chart(title: str, *, description: str = "", no_data: str = NO_DATA) -> str:
    """The chart of nothing yet: its title and `no_data`, written."""
    body = [
        f'<rect x="{MARGIN}" y="34" width="{WIDTH - 2 * MARGIN}" height="36" fill="#f2f2f2"/>'
        f'<text x="{WIDTH / 2:.0f}" y="57" text-anchor="middle" fill="{MUTED}">'
        f"{_esc(no_data)}</text>"
    ]
    return _svg(title, _sentence(description, no_data), 80, body)


# -- the charts of the figures -------------------------------------------------------------------


def attendance_chart(figures: Figures, *, labels: Labels = FRENCH, locale: str = "fr") -> str:
    """Who came among the parents: enrolled and came, walk-ins, absent, excused, not marked."""
    parts = [
        (labels.attended, figures.attended_parents - figures.walk_ins),
        (labels.walk_ins, figures.walk_ins),
        (labels.no_shows, figures.no_shows),
        (labels.excused, figures.excused),
        (labels.not_recorded, figures.not_recorded),
    ]
    return stacked_bar(labels.attendance, parts, locale=locale, no_data=labels.no_data)


def people_chart(figures: Figures, *, labels: Labels = FRENCH, locale: str = "fr") -> str:
    """People enrolled, waiting, present."""
    bars = [
        Bar(labels.enrolled_people, figures.enrolled_people),
        Bar(labels.waitlisted_people, figures.waitlisted_people),
        Bar(labels.attended_people, figures.attended_people),
    ]
    return bar_chart(labels.people, bars, locale=locale, no_data=labels.no_data)


def fill_chart(figures: Figures, *, labels: Labels = FRENCH, locale: str = "fr") -> str:
    """Seats filled and free (and people beyond the capacity); the rate in the title."""
    rate = figures.fill_rate
    if rate is None:
        return empty_chart(labels.fill, no_data=labels.no_data)
    filled, capacity = figures.filled_people, figures.capacity
    parts = [(labels.filled, min(filled, capacity)), (labels.free, max(capacity - filled, 0))]
    if filled > capacity:
        parts.append((labels.over, filled - capacity))
    basis = {
        "present": labels.basis_present,
        "booked": labels.basis_booked,
        "mixed": labels.basis_mixed,
    }[figures.fill_basis]
    title = f"{labels.fill} : {format_percent(rate, locale=locale)}"
    seats = f"{filled} / {capacity} {labels.seats}, {basis}"
    return stacked_bar(
        title, parts, description=seats, whole=capacity, locale=locale, no_data=labels.no_data
    )


def languages_chart(figures: Figures, *, labels: Labels = FRENCH, locale: str = "fr") -> str:
    """Parents per language, named in `locale` ("arabe", "turc"...), most frequent first."""
    names = Locale.parse(locale).languages
    bars = [
        Bar(labels.unknown_language if code == UNKNOWN_LANGUAGE else names.get(code, code), n)
        for code, n in figures.languages.items()
    ]
    return bar_chart(labels.languages, bars, locale=locale, no_data=labels.no_data)


def autonomy_chart(figures: Figures, *, labels: Labels = FRENCH, locale: str = "fr") -> str:
    """The day-7 answers of the parents who came."""
    autonomy = figures.autonomy
    parts = [
        (labels.autonomy_yes, autonomy.yes),
        (labels.autonomy_not_yet, autonomy.not_yet),
        (labels.autonomy_no_answer, autonomy.no_answer),
    ]
    return stacked_bar(labels.autonomy, parts, locale=locale, no_data=labels.no_data)


def period_chart(period: PeriodFigures, *, labels: Labels = FRENCH, locale: str = "fr") -> str:
    """One bar per published workshop of the period: its date on the venue's clock, its
    title, and "people / capacity places (rate)"."""
    bars = []
    for row in period.workshops:
        rate = row.figures.fill_rate or 0.0
        day = format_date(row.starts_at.astimezone(ZoneInfo(row.timezone)), "d MMM", locale=locale)
        text = (
            f"{row.figures.filled_people} / {row.figures.capacity} "
            f"({format_percent(rate, locale=locale)})"
        )
        bars.append(Bar(f"{day} · {row.title}", rate, text))
    return bar_chart(labels.by_workshop, bars, scale_max=1.0, locale=locale, no_data=labels.no_data)


# -- drawing -------------------------------------------------------------------------------------


def _svg(title: str, description: str, height: int, body: list[str]) -> str:
    key = hashlib.sha256(f"{title}\n{description}".encode("utf-8", "replace")).hexdigest()[:10]
    title_id, desc_id = f"chart-{key}-title", f"chart-{key}-desc"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'role="img" aria-labelledby="{title_id} {desc_id}" font-family="{_esc(FONT_FAMILY)}" '
        f'font-size="{FONT_SIZE}">'
        f'<title id="{title_id}">{_esc(title)}</title>'
        f'<desc id="{desc_id}">{_esc(description)}</desc>'
        f'<text x="{MARGIN}" y="22" font-size="{TITLE_SIZE}" font-weight="bold" fill="{INK}">'
        f"{_esc(_cut(title, WIDTH - 2 * MARGIN, TITLE_SIZE))}</text>" + "".join(body) + "</svg>"
    )


def _esc(text: str) -> str:
    """Text safe in an element or a double- or single-quoted attribute."""
    text = _NOT_XML.sub("", text)
    for raw, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = text.replace(raw, entity)
    return text.replace("'", "&#39;")


def _width(text: str, size: int) -> float:
    return len(text) * size * _CHAR


def _cut(text: str, room: float, size: int = FONT_SIZE) -> str:
    """`text`, shortened with "…" to fit `room` units (its full form is in title and desc)."""
    fits = max(int(room / (size * _CHAR)), 1)
    return text if len(text) <= fits else text[: max(fits - 1, 0)].rstrip() + "…"


def _number(value: float) -> float:
    return float(value) if math.isfinite(value) and value > 0 else 0.0


def _percentages(counts: Sequence[int]) -> list[int]:
    """Whole percentages adding up to 100 (largest remainders get the rounding)."""
    whole = sum(counts)
    exact = [100 * count / whole for count in counts]
    shares = [math.floor(value) for value in exact]
    order = sorted(range(len(counts)), key=lambda i: exact[i] - shares[i], reverse=True)
    for index in order[: 100 - sum(shares)]:
        shares[index] += 1
    return shares


def _sentence(*parts: str) -> str:
    return ". ".join(part.rstrip(". ") for part in parts if part) + "."
