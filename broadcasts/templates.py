"""Ready notices: a small library of texts with placeholders, translated in the catalogs.

Each template's words are one gettext message (French source, `N_()` here, translated in
`locales/`), written in short, simple sentences: many parents read with difficulty. A template
names the few placeholders it needs; `{date}` and `{heure}` are typed as a date and a time and
written in each reader's language by Babel, `{lieu}` and `{classe}` are written by staff and
sent as typed (a room or a class name reads the same in every language).

`text_for()` says what a language receives: the text staff wrote for it, else the template in
that language, else the French text (`fallback`), which the composer shows before sending.
Nothing is sent to an outside translation service.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from typing import Literal

from babel.dates import format_date, format_time

from liaison.i18n import N_, SOURCE_LANGUAGE, Catalogs, gettext

Source = Literal["staff", "template", "fallback", "missing"]
# What staff fill in, and how the form asks for it.
PLACEHOLDERS = {
    "date": "Date",
    "heure": "Heure",
    "lieu": "Lieu",
    "classe": "Classe",
}


class TemplateError(ValueError):
    """A placeholder missing or malformed for the chosen template."""


@dataclass(frozen=True)
class Template:
    key: str
    label: str  # for staff, in French
    message: str  # the gettext msgid (French)
    placeholders: tuple[str, ...]


LIBRARY: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "parent_meeting",
            "Réunion parents-professeurs",
            N_(
                "Bonjour. Réunion des parents avec les professeurs de la classe {classe}.\n"
                "Quand : {date} à {heure}.\nOù : {lieu}.\n"
                "Nous vous attendons. Une question ? Répondez à ce message."
            ),
            ("classe", "date", "heure", "lieu"),
        ),
        Template(
            "school_trip",
            "Sortie scolaire",
            N_(
                "Bonjour. La classe {classe} fait une sortie le {date}.\n"
                "Où : {lieu}.\nRetour à l'école à {heure}.\n"
                "Une question ? Répondez à ce message."
            ),
            ("classe", "date", "lieu", "heure"),
        ),
        Template(
            "strike",
            "Grève",
            N_(
                "Bonjour. Grève le {date}.\n"
                "L'école ne pourra peut-être pas accueillir votre enfant.\n"
                "Si vous pouvez, gardez votre enfant à la maison.\n"
                "Une question ? Répondez à ce message."
            ),
            ("date",),
        ),
        Template(
            "closure",
            "Fermeture de l'école",
            N_(
                "Bonjour. L'école est fermée le {date}.\n"
                "Gardez votre enfant à la maison.\n"
                "Une question ? Répondez à ce message."
            ),
            ("date",),
        ),
        Template(
            "ent_activation",
            "Rappel : activer son compte ENT",
            N_(
                "Bonjour. Votre compte ENT n'est pas encore activé.\n"
                "Avec l'ENT, vous voyez les notes, les devoirs et les messages de l'école.\n"
                "Besoin d'aide ? Répondez ENT à ce message."
            ),
            (),
        ),
        Template(
            "workshop_invitation",
            "Invitation à un atelier pour les parents",
            N_(
                "Bonjour. Atelier gratuit pour les parents : "
                "apprendre à utiliser l'ENT et Pronote.\n"
                "Quand : {date} à {heure}.\nOù : {lieu}.\n"
                "Pour vous inscrire, répondez ATELIER."
            ),
            ("date", "heure", "lieu"),
        ),
    )
}


def check_values(template: Template, values: Mapping[str, str]) -> dict[str, str]:
    """The template's placeholders from `values` (stripped), each present and well formed
    (`date` as YYYY-MM-DD, `heure` as HH:MM); raises `TemplateError` naming what is wrong."""
    checked = {}
    for name in template.placeholders:
        value = str(values.get(name, "")).strip()
        if not value:
            raise TemplateError(f"{PLACEHOLDERS[name]} : à remplir pour ce modèle.")
        try:
            if name == "date":
                date.fromisoformat(value)
            elif name == "heure":
                time.fromisoformat(value)
        except ValueError as exc:
            raise TemplateError(f"{PLACEHOLDERS[name]} : « {value} » n'est pas valide.") from exc
        checked[name] = value
    return checked


def fill(template: Template, values: Mapping[str, str], language: str, catalogs: Catalogs) -> str:
    """The template in `language`, its placeholders written for that reader."""
    formatted = {}
    for name in template.placeholders:
        value = str(values.get(name, ""))
        if name == "date":
            formatted[name] = format_date(date.fromisoformat(value), "EEEE d MMMM", locale=language)
        elif name == "heure":
            formatted[name] = format_time(time.fromisoformat(value), "short", locale=language)
        else:
            formatted[name] = value
    with catalogs.use(language):
        return gettext(template.message).format(**formatted)


@dataclass(frozen=True)
class Text:
    """What one language receives, and where it comes from."""

    language: str
    text: str
    source: Source


def text_for(
    language: str,
    *,
    texts: Mapping[str, str],
    template: str | None,
    placeholders: Mapping[str, str],
    catalogs: Catalogs,
) -> Text:
    """Staff's text for `language`, else the template in `language`, else the French text
    (`fallback`); `missing` when there is not even a French text."""
    written = str(texts.get(language, "")).strip()
    if written:
        return Text(language, written, "staff")
    chosen = LIBRARY.get(template or "")
    if chosen is not None:
        return Text(language, fill(chosen, placeholders, language, catalogs), "template")
    french = str(texts.get(SOURCE_LANGUAGE, "")).strip()
    if language != SOURCE_LANGUAGE and french:
        return Text(language, french, "fallback")
    return Text(language, "", "missing")
