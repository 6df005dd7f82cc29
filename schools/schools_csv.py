"""The schools file an administrator imports (`liaison schools import FILE`):

    uai;nom;fuseau;horaires
    0931234L;Collège Jean Moulin, Saint-Denis;;lun-ven 08:30-12:00,13:30-17:00
    9710001Z;Collège Courbaril, Pointe-à-Pitre;America/Guadeloupe;lun-ven 07:30-12:00

Columns (French or English names): `uai` and `name`/`nom` required, `timezone`/`fuseau`
(IANA, default Europe/Paris) and `opening_hours`/`horaires` (`schools.hours`) optional. A
school already known by its UAI is updated and keeps its join code. A file with any wrong row
imports nothing (a handful of schools: better all right than half done).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schools import csv_files, hours
from schools.codes import InvalidUai, check_uai
from schools.csv_files import InvalidFile
from schools.store import NewSchool

COLUMNS = {
    "uai": "uai",
    "rne": "uai",
    "name": "name",
    "nom": "name",
    "timezone": "timezone",
    "fuseau": "timezone",
    "fuseau_horaire": "timezone",
    "opening_hours": "opening_hours",
    "horaires": "opening_hours",
}
REQUIRED = ("uai", "name")

__all__ = ["InvalidFile", "read"]


def read(data: bytes) -> list[NewSchool]:
    """The schools of the file, all valid, or `InvalidFile` naming every wrong line."""
    table = csv_files.read(data, columns=COLUMNS, required=REQUIRED, labels={"name": "nom"})
    schools: list[NewSchool] = []
    problems: list[str] = []
    seen: dict[str, int] = {}
    for row in table.rows:
        found: list[str] = []
        try:
            uai = check_uai(row.cells["uai"])
        except InvalidUai as error:
            found.append(str(error))
            uai = ""
        name = row.cells["name"]
        if not name:
            found.append("le nom de l'école manque")
        timezone = row.cells.get("timezone") or "Europe/Paris"
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            found.append(f"fuseau horaire inconnu « {timezone} » (ex. America/Guadeloupe)")
        try:
            opening = hours.parse(row.cells.get("opening_hours", ""))
        except hours.InvalidHours as error:
            found.append(f"horaires : {error}")
            opening = {}
        if row.extra_cells:
            found.append("plus de cases que de colonnes")
        if uai in seen:
            found.append(f"UAI déjà sur la ligne {seen[uai]}")
        if found:
            problems += [f"ligne {row.line} : {problem}" for problem in found]
            continue
        seen[uai] = row.line
        schools.append(NewSchool(uai, name, timezone, opening))
    if problems:
        raise InvalidFile(problems)
    if not schools:
        raise InvalidFile(["aucune école dans le fichier"])
    return schools
