"""The Rasa NLU engine: intents from a Rasa Open Source server's `POST /model/parse`.

Rasa runs as its own process (its own Python 3.10 virtualenv, `make rasa`; `liaison rasa serve`)
because its pinned dependencies cannot share Liaison's. This adapter sends the text and keeps
only the intent and its ranking; the language and the entities stay Liaison's own (the embedded
engine's language model and `bot.nlu.entities`), so both engines answer in the same shape.

Any failure (connection refused, timeout, a non-200 status, a body that is not the JSON Rasa
sends) raises `RasaUnavailable`; `bot.nlu.fallback.FallbackEngine` turns that into an answer
from the embedded engine.
"""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any, Protocol

import httpx

from bot.nlu import entities
from bot.nlu.result import ParseResult
from bot.text import fold
from liaison.errors import NLUError

# Rasa's own catch-all from its FallbackClassifier; Liaison applies its own threshold instead.
RASA_FALLBACK_INTENT = "nlu_fallback"
EMPTY_INTENT = "out_of_scope"


class RasaUnavailable(NLUError):
    """The Rasa server could not give an answer: down, too slow, or an unusable response.

    `reason` is a short phrase for the logs ("timed out after 1.0 s", "HTTP 500").
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"Rasa NLU at {url}: {reason}")
        self.url = url
        self.reason = reason


class LanguageDetector(Protocol):
    """What the adapter needs for the language: the embedded engine is one."""

    def detect_language(self, text: str) -> tuple[str, float]: ...


class RasaEngine:
    """`NLUEngine` over a Rasa server's HTTP API.

    One HTTP client per event loop, kept alive between messages (a parse is a few ms, a new
    connection or client would be a sizeable share of it); `aclose()` closes it.
    """

    name = "rasa"

    def __init__(
        self,
        url: str,
        *,
        languages: LanguageDetector,
        timeout: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._languages = languages
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def parse(self, text: str) -> ParseResult:
        ranking = await self._rank(text) if fold(text) else [(EMPTY_INTENT, 0.0)]
        language, language_confidence = self._languages.detect_language(text)
        intent, confidence = ranking[0]
        return ParseResult(
            text=text,
            intent=intent,
            confidence=confidence,
            ranking=ranking,
            entities=entities.extract(text),
            language=language,
            language_confidence=language_confidence,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client, self._loop = self._client, None, None
            await client.aclose()

    async def _rank(self, text: str) -> list[tuple[str, float]]:
        try:
            response = await self._http().post("/model/parse", json={"text": text})
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(self.url, f"timed out after {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(self.url, f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise RasaUnavailable(self.url, f"HTTP {response.status_code}")
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RasaUnavailable(self.url, "the answer is not JSON") from exc
        return _ranking(body, self.url)

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            # A client's pooled connections belong to the loop that opened them.
            self._client = httpx.AsyncClient(
                base_url=self.url,
                timeout=httpx.Timeout(self.timeout),
                transport=self._transport,
                trust_env=False,  # a proxy from the environment never sits before 127.0.0.1
            )
            self._loop = loop
        return self._client


def _ranking(body: Any, url: str) -> list[tuple[str, float]]:
    """The intent ranking of a `/model/parse` answer, best first, without `nlu_fallback`."""
    if not isinstance(body, dict):
        raise RasaUnavailable(url, "the answer is not a JSON object")
    if not isinstance(body.get("intent"), dict):
        raise RasaUnavailable(url, "the answer has no `intent`")
    raw = body.get("intent_ranking") or [body["intent"]]
    if not isinstance(raw, list):
        raise RasaUnavailable(url, "`intent_ranking` is not a list")
    ranking: list[tuple[str, float]] = []
    for item in raw:
        name = item.get("name") if isinstance(item, dict) else None
        confidence = item.get("confidence") if isinstance(item, dict) else None
        if name is None and confidence in (None, 0, 0.0):
            continue  # Rasa's answer for a text without any known feature
        if (
            not isinstance(name, str)
            or isinstance(confidence, bool)
            or not isinstance(confidence, int | float)
            or not math.isfinite(confidence)
        ):
            raise RasaUnavailable(url, f"unexpected intent in the answer: {item!r:.80}")
        if name != RASA_FALLBACK_INTENT:
            ranking.append((name, float(confidence)))
    ranking.sort(key=lambda pair: pair[1], reverse=True)
    return ranking or [(EMPTY_INTENT, 0.0)]
