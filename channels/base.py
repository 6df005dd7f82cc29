"""What a channel is: a name, its routes, and how it renders replies."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

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
