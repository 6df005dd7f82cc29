"""Every parent-facing word is in the catalogs, translated in all six languages."""

from __future__ import annotations

from bot.content import load_faq
from bot.domain import load_domain
from liaison import catalogs
from liaison.i18n import Catalogs, gettext
from liaison.settings import SUPPORTED_LANGUAGES


def test_catalogs_are_complete_and_fresh() -> None:
    assert catalogs.check(list(SUPPORTED_LANGUAGES)) == []


def test_every_response_and_answer_is_translated() -> None:
    loaded = Catalogs.load(list(SUPPORTED_LANGUAGES))
    sources = [r.text for r in load_domain().responses.values()]
    sources += [entry.answer for entry in load_faq().values()]
    for code in SUPPORTED_LANGUAGES:
        if code == "fr":
            continue
        with loaded.use(code):
            untranslated = [text for text in sources if gettext(text) == text]
        assert untranslated == [], code


def test_first_faq_message_fits_two_sms_segments() -> None:
    # UCS-2 (French accents) allows 67 characters per segment of a long message.
    for entry in load_faq().values():
        assert len(entry.answer) <= 134, entry.intent
