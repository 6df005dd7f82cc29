"""The notice as each language and channel will receive it: the messages exactly as they will
be queued (SMS through `channels.sms.outgoing_sms`, Telegram through `render_telegram`), the
SMS segments they cost, and how many families each (language, channel) reaches.

`render()` is what `broadcasts.sending` queues too, so the preview cannot differ from what
is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.replies import Reply
from broadcasts.audience import Counts
from broadcasts.records import CHANNELS, Broadcast
from broadcasts.templates import Text, text_for
from channels.base import Outgoing, Renderer
from liaison.i18n import SOURCE_LANGUAGE, Catalogs


@dataclass(frozen=True)
class Rendering:
    """One (language, channel): its text's origin, its messages, its cost and its reach."""

    language: str
    channel: str
    text: Text
    messages: tuple[Outgoing, ...]
    recipients: int

    @property
    def segments(self) -> int:
        """SMS segments per family (Telegram messages count one each)."""
        return sum(message.units for message in self.messages)


def texts(broadcast: Broadcast, languages: Iterable[str], catalogs: Catalogs) -> dict[str, Text]:
    """What each language receives (French always included)."""
    wanted = sorted({SOURCE_LANGUAGE, *languages})
    return {
        language: text_for(
            language,
            texts=broadcast.texts,
            template=broadcast.template,
            placeholders=broadcast.placeholders,
            catalogs=catalogs,
        )
        for language in wanted
    }


def render(
    text: Text, channel: str, renderers: Mapping[str, Renderer], catalogs: Catalogs
) -> tuple[Outgoing, ...]:
    """The messages of `text` on `channel`, in the reader's locale (a fallback to French is
    rendered as French)."""
    locale = SOURCE_LANGUAGE if text.source == "fallback" else text.language
    with catalogs.use(locale):
        return tuple(renderers[channel]([Reply(text.text)])) if text.text else ()


def preview(
    broadcast: Broadcast,
    counts: Counts,
    *,
    renderers: Mapping[str, Renderer],
    catalogs: Catalogs,
) -> list[Rendering]:
    """Every (language, channel) the audience reaches, plus French on each channel (what a
    language without text falls back to), by language then channel."""
    languages = counts.languages()
    by_language = texts(broadcast, languages, catalogs)
    renderings = []
    for language, text in by_language.items():
        for channel in CHANNELS:
            reach = counts.reached.get((language, channel), 0)
            if not reach and language != SOURCE_LANGUAGE:
                continue
            renderings.append(
                Rendering(
                    language, channel, text, render(text, channel, renderers, catalogs), reach
                )
            )
    return renderings


def fallbacks(renderings: Iterable[Rendering]) -> list[str]:
    """Languages that will receive the French text, for want of their own."""
    return sorted({r.language for r in renderings if r.text.source == "fallback" and r.recipients})


def problems(renderings: Iterable[Rendering]) -> list[str]:
    """What stops the notice from being sent (in French, for staff)."""
    found = []
    renderings = list(renderings)
    if not any(r.recipients for r in renderings):
        found.append("Aucune famille ne recevra cette annonce : élargissez le public.")
    if any(r.text.source == "missing" for r in renderings):
        found.append("Il manque le texte en français (ou un modèle).")
    return found
