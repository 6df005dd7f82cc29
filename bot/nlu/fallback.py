"""An engine that answers with another when it cannot: Rasa first, the embedded engine when
the Rasa server is down or slow.

After a failure the primary engine rests for `retry_after` seconds (every message in that time
goes straight to the backup instead of waiting for the timeout again), then the next message
tries it again. The switch to the backup is logged once, with the reason, and so is the
return: never once per message.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Protocol

from bot.nlu.result import ParseResult
from liaison.errors import NLUError

log = logging.getLogger(__name__)


class ClosableEngine(Protocol):
    name: str

    async def parse(self, text: str) -> ParseResult: ...

    async def aclose(self) -> None: ...


class BackupEngine(Protocol):
    name: str

    async def parse(self, text: str) -> ParseResult: ...


class FallbackEngine:
    """`NLUEngine`: `primary`, or `backup` while `primary` raises `NLUError`."""

    def __init__(
        self,
        primary: ClosableEngine,
        backup: BackupEngine,
        *,
        retry_after: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.primary = primary
        self.backup = backup
        self.name = primary.name
        self.retry_after = retry_after
        self._clock = clock
        self._down_since: float | None = None  # when the primary last failed, while it is out
        self._resting_until = 0.0

    @property
    def degraded(self) -> bool:
        """True while the backup answers in place of the primary."""
        return self._down_since is not None

    async def parse(self, text: str) -> ParseResult:
        if self._down_since is not None and self._clock() < self._resting_until:
            return await self.backup.parse(text)
        try:
            result = await self.primary.parse(text)
        except NLUError as error:
            now = self._clock()
            if self._down_since is None:
                self._down_since = now
                log.warning(
                    "%s NLU unavailable (%s): the %s engine answers until it is back",
                    self.primary.name,
                    error,
                    self.backup.name,
                )
            self._resting_until = now + self.retry_after
            return await self.backup.parse(text)
        if self._down_since is not None:
            log.warning(
                "%s NLU is back after %.0f s: it answers again",
                self.primary.name,
                self._clock() - self._down_since,
            )
            self._down_since = None
        return result

    async def aclose(self) -> None:
        await self.primary.aclose()
