"""`make run`'s demo: a parent answering the demo school notice (`broadcasts.demo`), so that
the staff inbox has a conversation waiting, with the notice attached.

The answer goes through the conversation like any SMS (`bot.store.Conversations`) and nothing
is sent: the demo has no SMS provider (no outbox here), and the number is in the range kept
for fiction.
"""

from __future__ import annotations

from bot.assistant import Inbound
from bot.store import Conversations

# Family 3 of Collège Jean Moulin (`schools.demo`: Arabic, SMS, two children), whose notice
# was delivered: "Yes, but I have no e-mail address". The assistant cannot place it, and it is
# the first message after the notice: the school's team gets it, with the notice.
REPLY = Inbound(channel="sms", address="+33639980203", text="نعم، لكن ليس لدي بريد إلكتروني")


async def answer_notice(conversations: Conversations, inbound: Inbound = REPLY) -> bool:
    """The parent answers the notice; True when it reached the inbox as a reply to it."""
    outcome = await conversations.handle(inbound)
    return "handover:notice_reply" in outcome.events
