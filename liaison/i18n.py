"""gettext catalogs (Babel) and the current reader's locale.

Catalogs live in `locales/<lang>/LC_MESSAGES/messages.po`; French is the source language (its
msgids are the French text). `Catalogs.load()` reads every language at start-up, from the `.mo`
when it is newer than the `.po`, else by compiling the `.po` in memory, so a fresh clone needs
no build step. The locale of the message being handled sits in a ContextVar (as in aiogram),
so `_()` anywhere in the turn translates for the right reader.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from liaison.errors import CatalogError
from liaison.settings import ROOT

LOCALES = ROOT / "locales"
DOMAIN = "messages"
SOURCE_LANGUAGE = "fr"
LANGUAGE_NAMES = {
    "fr": "Français",
    "en": "English",
    "ar": "العربية",
    "tr": "Türkçe",
    "pt": "Português",
    "es": "Español",
}
RTL_LANGUAGES = frozenset({"ar"})


@dataclass
class Catalogs:
    """Every language's translations, loaded once."""

    translations: dict[str, _gettext.NullTranslations] = field(default_factory=dict)

    @classmethod
    def load(cls, languages: list[str], directory: Path = LOCALES) -> Catalogs:
        catalogs = cls()
        for code in languages:
            if code == SOURCE_LANGUAGE:
                catalogs.translations[code] = _gettext.NullTranslations()
                continue
            catalogs.translations[code] = _read(directory, code)
        return catalogs

    def get(self, code: str) -> _gettext.NullTranslations:
        return self.translations.get(code) or _gettext.NullTranslations()

    @contextmanager
    def use(self, code: str) -> Iterator[None]:
        """Translate `_()` calls for `code` inside the block."""
        token = _current.set(self.get(code))
        catalogs_token = _catalogs.set(self)
        language_token = _language.set(code)
        try:
            yield
        finally:
            _language.reset(language_token)
            _catalogs.reset(catalogs_token)
            _current.reset(token)


def _read(directory: Path, code: str) -> _gettext.NullTranslations:
    folder = directory / code / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    try:
        if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
            with mo.open("rb") as handle:
                return _gettext.GNUTranslations(handle)
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=code)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        return _gettext.GNUTranslations(buffer)
    except FileNotFoundError as exc:
        raise CatalogError(f"no catalog for {code!r} in {folder}; run `make i18n`") from exc
    except Exception as exc:
        raise CatalogError(f"catalog for {code!r} in {folder} is unreadable: {exc}") from exc


_SOURCE = _gettext.NullTranslations()
_current: ContextVar[_gettext.NullTranslations | None] = ContextVar(
    "liaison_translations", default=None
)


_catalogs: ContextVar[Catalogs | None] = ContextVar("liaison_catalogs", default=None)


_language: ContextVar[str] = ContextVar("liaison_language", default=SOURCE_LANGUAGE)


def current_language() -> str:
    """The language code of the reader of the current turn (for Babel's formatting)."""
    return _language.get()


def current_catalogs() -> Catalogs:
    """The catalogs of the turn being handled (to switch language mid-turn)."""
    return _catalogs.get() or Catalogs()


def gettext(message: str) -> str:
    """Translate `message` (French source) for the reader of the current turn."""
    return (_current.get() or _SOURCE).gettext(message) if message else message


def ngettext(singular: str, plural: str, n: int) -> str:
    return (_current.get() or _SOURCE).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now."""
    return message


_ = gettext
