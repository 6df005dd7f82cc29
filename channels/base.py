"""What a channel is: its routes, how it renders replies, and how its messages are sent.

Inbound, a channel authenticates and decodes a provider's request and hands an `Inbound` to the
conversation store. Outbound, replies become `Outgoing` messages (rendered in the channel's own
form: numbered choices for SMS, an inline keyboard for Telegram), stored in the outbox, and sent
later by a worker through the channel's `Sender`. A sender raises `RetryableSendError` or
`PermanentSendError`, never a provider's own exception, so the delivery pipeline treats every
provider alike.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.routing import BaseRoute

from bot.replies import Reply


class Channel(ABC):
    """A way parents reach the assistant. Registered in the app's explicit channel list."""

    name: str

    @abstractmethod
    def routes(self) -> list[BaseRoute]:
        """The HTTP routes this channel serves (webhooks, pages)."""

    @abstractmethod
    def render(self, recipient: str, replies: list[Reply]) -> Any:
        """The replies in this channel's own form."""

    async def close(self) -> None:  # noqa: B027 - most channels hold nothing to close
        """Release what the channel holds (HTTP sessions); called when the app stops."""


@dataclass(frozen=True)
class Outgoing:
    """One message ready for its channel: the body, buttons where the channel shows them, and
    its cost in provider units (SMS segments; 1 elsewhere)."""

    body: str
    buttons: list[dict[str, str]] = field(default_factory=list)
    units: int = 1


class Renderer(Protocol):
    """Turns one turn's replies into the messages a channel sends, in the current locale."""

    def __call__(self, replies: list[Reply]) -> list[Outgoing]: ...


@dataclass(frozen=True)
class SendResult:
    provider_id: str
    status: str = "sent"


class SendError(Exception):
    """A send failed; `code` is the provider's error code (as text), when it gave one."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class RetryableSendError(SendError):
    """Try again later: timeout, network error, 5xx, 429. `retry_after` (seconds) when the
    provider said how long to wait."""

    def __init__(
        self, message: str, *, code: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentSendError(SendError):
    """Never retry: invalid number, unknown chat. With `opted_out`, the recipient refused our
    messages (Twilio 21610, Telegram "bot was blocked") and the contact is marked opted out."""

    def __init__(self, message: str, *, code: str | None = None, opted_out: bool = False) -> None:
        super().__init__(message, code=code)
        self.opted_out = opted_out


class Sender(Protocol):
    """Sends one stored message through a provider."""

    channel: str

    def rate_keys(self, address: str, units: int) -> list[tuple[str, float]]:
        """The shared rate limits one message uses: (key, seconds it occupies) pairs."""
        ...

    async def start(self) -> None:
        """Get ready before the first send (open sessions, load the SDK's modules), so that the
        first send is as quick as the others and leaves in its rate-limit slot."""
        ...

    async def send(self, address: str, message: Outgoing, *, message_id: int) -> SendResult:
        """Send, or raise RetryableSendError / PermanentSendError."""
        ...

    async def close(self) -> None: ...
