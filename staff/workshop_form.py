"""The workshop form of the staff pages: its fields and choices, the text fields
`workshops.records.build` validates (the one validation), a new workshop's ref, and
`build`'s problems told in French next to the field they concern.

Checkboxes have one name each (`topic-0`, `lang-fr`): the staff site keeps the last value of
a repeated field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from bot.nlu.entities import TOOLS
from liaison.i18n import LANGUAGE_NAMES
from liaison.settings import SUPPORTED_LANGUAGES
from workshops.records import Workshop

# The time zones of France's schools, mainland and overseas (IANA name, what organisers read).
TIMEZONES = {
    "Europe/Paris": "Métropole, Corse (Paris)",
    "America/Guadeloupe": "Guadeloupe",
    "America/Martinique": "Martinique",
    "America/Cayenne": "Guyane",
    "Indian/Reunion": "La Réunion",
    "Indian/Mayotte": "Mayotte",
    "America/Miquelon": "Saint-Pierre-et-Miquelon",
    "America/St_Barthelemy": "Saint-Barthélemy",
    "America/Marigot": "Saint-Martin",
    "Pacific/Noumea": "Nouvelle-Calédonie",
    "Pacific/Tahiti": "Polynésie française (Tahiti)",
    "Pacific/Marquesas": "Polynésie française (Marquises)",
    "Pacific/Gambier": "Polynésie française (Gambier)",
    "Pacific/Wallis": "Wallis-et-Futuna",
}
TOPICS = tuple(TOOLS)
LANGUAGES = {code: LANGUAGE_NAMES.get(code, code) for code in SUPPORTED_LANGUAGES}
STATUS_LABELS = {"draft": "Brouillon", "published": "Publié", "cancelled": "Annulé"}
LABELS = {
    "ref": "Référence",
    "title": "Titre",
    "status": "État",
    "starts_at": "Début",
    "ends_at": "Fin",
    "timezone": "Fuseau horaire",
    "capacity": "Places",
    "topics": "Outils abordés",
    "languages": "Langues parlées",
    "venue_name": "Lieu",
    "venue_address": "Adresse",
    "online_url": "Lien en ligne",
    "description": "Description",
    "accessibility": "Accessibilité",
    "childcare": "Garde d'enfants",
    "organiser": "Organisateur",
    "territory": "Territoire",
    "schools": "Écoles",
}
_TEXT_FIELDS = (
    "title",
    "description",
    "starts_at",
    "ends_at",
    "timezone",
    "capacity",
    "venue_name",
    "venue_address",
    "online_url",
    "accessibility",
    "childcare",
    "organiser",
    "territory",
)
_LOCAL = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> shows and sends

# `build`'s words (English, for the command line) as organisers read them on the pages.
_FRENCH = [
    (r"required", "à remplir"),
    (r"longer than (\d+) characters", r"trop long (\1 caractères au plus)"),
    (r".* is not a time zone such as Europe/Paris", "fuseau horaire inconnu"),
    (r".* is not a date and time like .*", "une date et une heure, comme 05/12/2026 14:00"),
    (r"must be after starts_at", "la fin doit venir après le début"),
    (r"a number of seats from 1 to 1000", "un nombre de places, de 1 à 1000"),
    (r"one of .*", "draft (brouillon), published (publié) ou cancelled (annulé)"),
    (r"unknown tool (.*); known: (.*)", r"outil inconnu \1 (outils connus : \2)"),
    (r"\[(.*)\] not among (.*)", r"langue inconnue \1 (langues connues : \2)"),
    (r"must start with https://", "doit commencer par https://"),
    (r"a place \(name and address\) or an online_url", "un lieu (nom et adresse) ou un lien"),
    (
        r"letters without accents, digits, '-', '_' and '.' only.*",
        "lettres sans accents, chiffres, « - », « _ » et « . » seulement (elle va dans les liens)",
    ),
    (
        r"(.*) is a reserved word, choose another",
        r"\1 est un mot réservé : choisissez-en une autre",
    ),
    (r"the file is not UTF-8.*", "le fichier n'est pas en UTF-8 : enregistrez-le en « CSV UTF-8 »"),
    (r"the file is empty", "le fichier est vide"),
    (r"unknown column (.*)", r"colonne inconnue \1"),
    (r"missing column (.*)", r"colonne manquante \1"),
    (r"more cells than columns", "plus de cases que de colonnes"),
    (r"ref (.*) already on line (\d+)", r"référence \1 déjà utilisée ligne \2"),
    (r"more than (\d+) workshops in one file", r"plus de \1 ateliers dans un seul fichier"),
]


@dataclass(frozen=True)
class Problem:
    field: str  # a form field ("" when it concerns the whole form or file)
    message: str  # in French


def values_of(workshop: Workshop) -> dict[str, Any]:
    """The form's values for an existing workshop."""
    values: dict[str, Any] = {name: str(getattr(workshop, name)) for name in _TEXT_FIELDS}
    values["starts_at"] = workshop.local(workshop.starts_at).strftime(_LOCAL)
    values["ends_at"] = workshop.local(workshop.ends_at).strftime(_LOCAL)
    values["topics"] = list(workshop.topics)
    values["languages"] = list(workshop.languages)
    values["schools"] = "\n".join(workshop.schools)
    return values


def blank(organiser: str) -> dict[str, Any]:
    values: dict[str, Any] = dict.fromkeys(_TEXT_FIELDS, "")
    values.update(
        timezone="Europe/Paris", capacity="12", organiser=organiser, topics=[], languages=["fr"]
    )
    values["schools"] = ""
    return values


def values_from(form: Mapping[str, str]) -> dict[str, Any]:
    """The form as sent (shown again with the problems)."""
    values: dict[str, Any] = {name: form.get(name, "") for name in _TEXT_FIELDS}
    values["topics"] = [form[f"topic-{n}"] for n in range(len(TOPICS)) if form.get(f"topic-{n}")]
    values["languages"] = [code for code in LANGUAGES if form.get(f"lang-{code}")]
    values["schools"] = form.get("schools", "")
    return values


def raw(values: Mapping[str, Any], *, ref: str, status: str) -> dict[str, str]:
    """The text fields `workshops.records.build` takes."""
    fields = {name: str(values[name]) for name in _TEXT_FIELDS}
    fields["topics"] = ";".join(values["topics"])
    fields["languages"] = ";".join(values["languages"])
    schools = str(values["schools"]).replace(";", "\n").splitlines()
    fields["schools"] = ";".join(school.strip() for school in schools if school.strip())
    return {**fields, "ref": ref, "status": status}


def timezones_for(current: str) -> dict[str, str]:
    """The time zones to choose from, with the workshop's own if it is another (an import)."""
    return TIMEZONES if current in TIMEZONES or not current else {**TIMEZONES, current: current}


def problems(messages: list[str]) -> list[Problem]:
    """`build`'s problems ("field: what") in French, by form field."""
    found = []
    for message in messages:
        name, _colon, what = message.partition(": ")
        field = name.split(",")[0].strip()
        found.append(Problem(field, french(what)))
    return found


def file_problems(messages: list[str]) -> list[str]:
    """`csv_io.read`'s problems ("line N: field: what") in French."""
    found = []
    for message in messages:
        line = re.match(r"line (\d+): (.*)", message)
        if line is None:
            found.append(french(message))
            continue
        number, rest = line.groups()
        name, colon, what = rest.partition(": ")
        field = name.split(",")[0].strip()
        if colon and field in LABELS:
            found.append(f"ligne {number} : {LABELS[field]} ({name}) : {french(what)}")
        else:
            found.append(f"ligne {number} : {french(rest)}")
    return found


def french(message: str) -> str:
    for pattern, words in _FRENCH:
        if re.fullmatch(pattern, message):
            return re.sub(pattern, words, message)
    return message


def slug(title: str, day: str) -> str:
    """ "Pronote pas à pas", "2026-12-05" -> "pronote-pas-a-pas-2026-12-05"."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:40].strip("-")
    return f"{words or 'atelier'}-{day}"


async def new_ref(connection: AsyncConnection[Any], workshop: Workshop) -> str:
    """A ref nobody has, from the title and the day; call in the transaction that inserts
    the workshop (it takes a lock so that two organisers never get the same one)."""
    await connection.execute("SELECT pg_advisory_xact_lock(hashtext('liaison:workshop-ref'))")
    base = slug(workshop.title, workshop.local(workshop.starts_at).strftime("%Y-%m-%d"))
    cursor = await connection.execute(
        "SELECT ref FROM workshop WHERE ref = %s OR ref LIKE %s", (base, base + "-%")
    )
    taken = {row[0] for row in await cursor.fetchall()}
    ref, n = base, 1
    while ref in taken:
        n += 1
        ref = f"{base}-{n}"
    return ref
