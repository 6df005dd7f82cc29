"""The links a message may give a parent: the workshop's calendar event and their check-in
code page, on this deployment's public address (`LIAISON_PUBLIC_URL`)."""

from __future__ import annotations

from dataclasses import dataclass

from channels.calendar_page import calendar_link
from channels.checkin_page import code_link
from liaison.signing import Signer

# Channels whose parents can open a link (an SMS on a basic phone often cannot).
LINK_CHANNELS = frozenset({"web", "telegram"})


@dataclass(frozen=True)
class PublicLinks:
    public_url: str
    signer: Signer

    def opened_on(self, channel: str) -> bool:
        return channel in LINK_CHANNELS

    def calendar(self, ref: str) -> str:
        return calendar_link(self.public_url, ref)

    def checkin_code(self, enrolment_id: int, workshop_id: int) -> str:
        return code_link(self.public_url, self.signer, enrolment_id, workshop_id)
