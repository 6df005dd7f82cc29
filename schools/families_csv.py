"""The families file school staff import: one row per family and class.

    telephone;langue;ecole;niveau;classe;canal
    06 12 34 56 78;ar;0931234L;6e;6eB;sms
    06 12 34 56 78;ar;0931234L;4e;4eA;sms       <- the same family, a second child
    0690 12 34 56;Português;9710001Z;CM2;;telegram

Columns, French or English names, any order: `phone`/`telephone` (required), `language`/
`langue` (required: a code or a language's name, `fr`, `arabe`, `Türkçe`…), `school`/`ecole`/
`uai` (required: the school's UAI), `level`/`niveau`, `class`/`classe`, `channel`/`canal`
(`sms` or `telegram`; empty means sms). No names: Liaison keeps none, so any other column is
refused (the file is sent back rather than names stored by mistake). The report's own columns
(`ligne`, `motif`) are ignored, so a corrected report can be imported as it is.

Each row is checked on its own, and rows that are wrong are *rejected one by one* while the
others are imported: a school with 900 families and 3 typos wants the 897 in today. Why each
row was rejected (line number and reason, in French) goes in the report. A row is rejected for:
no or invalid phone number (normalised to E.164 by `channels.phone.to_e164`, French numbering
plan including the overseas departments); a number that cannot receive SMS (landline, 09 VoIP,
special rates: the number is the family's SMS channel, so a mobile is required); an unknown
language; an unknown UAI, or a school outside the importer's own; an unknown channel; a level or
class over 32 characters; more cells than columns; the same phone, school and class twice; the
same phone with another language or channel than on its first row. Problems with the file
itself (not UTF-8, empty, over 2 MB, a required column missing, an unknown column) import
nothing (`schools.csv_files.InvalidFile`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

import phonenumbers
from phonenumbers import PhoneNumberType

from channels.phone import InvalidPhoneNumber, to_e164
from liaison.i18n import LANGUAGE_NAMES
from schools import csv_files
from schools.csv_files import Row, fold

COLUMNS = {
    **dict.fromkeys(("phone", "telephone", "tel", "portable", "mobile", "numero"), "phone"),
    **dict.fromkeys(("language", "langue", "lang"), "language"),
    **dict.fromkeys(("school", "ecole", "uai", "etablissement"), "school"),
    **dict.fromkeys(("level", "niveau"), "level"),
    **dict.fromkeys(("class", "classe", "class_name"), "class"),
    **dict.fromkeys(("channel", "canal"), "channel"),
}
REQUIRED = ("phone", "language", "school")
LABELS = {"phone": "telephone", "language": "langue", "school": "ecole"}
REPORT_COLUMNS = frozenset({"ligne", "motif"})
CHANNELS = {"sms": "sms", "telegram": "telegram"}
MAX_CLASS = 32
# Language names school staff write, folded, besides the codes themselves.
_LANGUAGE_WORDS = {
    **{fold(name): code for code, name in LANGUAGE_NAMES.items()},
    **dict.fromkeys(("francais", "french"), "fr"),
    **dict.fromkeys(("anglais", "english"), "en"),
    **dict.fromkeys(("arabe", "arabic"), "ar"),
    **dict.fromkeys(("turc", "turkish"), "tr"),
    **dict.fromkeys(("portugais", "portuguese"), "pt"),
    **dict.fromkeys(("espagnol", "spanish"), "es"),
}
_SMS_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})


@dataclass(frozen=True)
class FamilyRow:
    """A valid row: one family in one class of one school."""

    line: int
    phone: str  # E.164
    language: str
    school_id: int
    level: str
    class_name: str
    channel: str


@dataclass(frozen=True)
class Rejected:
    line: int
    raw: dict[str, str]  # the row as written
    reasons: list[str]  # in French


@dataclass
class Checked:
    """What the file holds: the valid rows (imported) and the rejected ones (reported)."""

    header: list[str]
    rows: list[FamilyRow] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.rejected)


def read(
    data: bytes,
    *,
    schools: Mapping[str, int],
    known: Collection[str] = (),
    languages: Collection[str],
) -> Checked:
    """Check every row. `schools` are the UAIs (and ids) the importer may import into;
    `known` every UAI there is (to tell "unknown" from "not yours"); `languages` the
    deployment's. `csv_files.InvalidFile` when the file itself is wrong."""
    table = csv_files.read(
        data, columns=COLUMNS, required=REQUIRED, ignored=REPORT_COLUMNS, labels=LABELS
    )
    checked = Checked(header=[name for name in table.header if fold(name) not in REPORT_COLUMNS])
    first: dict[str, FamilyRow] = {}  # a phone's first valid row
    places: dict[tuple[str, int, str], int] = {}  # (phone, school, class) -> line
    for row in table.rows:
        reasons: list[str] = []
        phone = _phone(row.cells["phone"], reasons)
        language = _language(row.cells["language"], languages, reasons)
        school_id = _school(row.cells["school"], schools, known, reasons)
        level, class_name = row.cells.get("level", ""), " ".join(row.cells.get("class", "").split())
        for name, value in (("niveau", level), ("classe", class_name)):
            if len(value) > MAX_CLASS:
                reasons.append(f"{name} : {MAX_CLASS} caractères au plus")
        channel = CHANNELS.get(fold(row.cells.get("channel", "")) or "sms")
        if channel is None:
            reasons.append(f"canal inconnu « {row.cells['channel']} » (sms ou telegram)")
        if row.extra_cells:
            reasons.append("plus de cases que de colonnes")
        if not reasons and phone in first:
            earlier = first[phone]
            if earlier.language != language:
                reasons.append(f"langue différente de la ligne {earlier.line} pour ce numéro")
            if earlier.channel != channel:
                reasons.append(f"canal différent de la ligne {earlier.line} pour ce numéro")
        place = (phone, school_id or 0, class_name)
        if not reasons and place in places:
            reasons.append(f"même numéro, même école et même classe que la ligne {places[place]}")
        if reasons or school_id is None or channel is None:
            checked.rejected.append(_rejected(row, reasons))
            continue
        family = FamilyRow(row.line, phone, language, school_id, level, class_name, channel)
        first.setdefault(phone, family)
        places[place] = row.line
        checked.rows.append(family)
    return checked


def _rejected(row: Row, reasons: list[str]) -> Rejected:
    raw = {name: value for name, value in row.raw.items() if fold(name) not in REPORT_COLUMNS}
    return Rejected(row.line, raw, reasons)


def _phone(raw: str, reasons: list[str]) -> str:
    if not raw:
        reasons.append("numéro de téléphone manquant")
        return ""
    try:
        phone = to_e164(raw)
    except InvalidPhoneNumber:
        reasons.append("numéro de téléphone invalide (ex. 06 12 34 56 78 ou +33 6 12 34 56 78)")
        return ""
    kind = phonenumbers.number_type(phonenumbers.parse(phone))
    if kind == PhoneNumberType.FIXED_LINE:
        reasons.append("ligne fixe : les SMS n'y arrivent pas, donnez un portable")
    elif kind not in _SMS_TYPES:
        reasons.append(
            "ce numéro ne reçoit pas de SMS (box internet, numéro spécial) : un portable"
        )
    return phone


def _language(raw: str, languages: Collection[str], reasons: list[str]) -> str:
    words = fold(raw)
    code = _LANGUAGE_WORDS.get(words) or words.replace("_", "-").split("-")[0]
    if not raw:
        reasons.append(f"langue manquante ({', '.join(languages)})")
    elif code not in languages:
        reasons.append(f"langue inconnue « {raw} » ({', '.join(languages)})")
    return code


def _school(
    raw: str, schools: Mapping[str, int], known: Collection[str], reasons: list[str]
) -> int | None:
    uai = raw.strip().upper()
    if not uai:
        reasons.append("école (UAI) manquante")
    elif uai in schools:
        return schools[uai]
    elif uai in known:
        reasons.append(f"l'école {uai} n'est pas parmi les vôtres")
    else:
        reasons.append(f"école inconnue « {raw} » : vérifiez l'UAI")
    return None
