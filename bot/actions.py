"""Custom actions, as in rasa-sdk: a `name` and `run(dispatcher, tracker, domain)`.

Actions only collect replies and change the tracker's state; they never send anything.
The registry maps the names used in `domain.yml` and `rules.yml` to these classes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.content import FaqEntry
from bot.domain import Domain, ResponseTemplate
from bot.nlu.result import ParseResult
from bot.replies import Button, Dispatcher
from bot.state import ConversationState
from liaison.i18n import LANGUAGE_NAMES, _
from schools.memberships import Memberships
from workshops.bookings import Bookings
from workshops.records import Workshop

# The topics offered as buttons by the menu and the fallback, in this order.
MAIN_TOPICS = (
    "faq_educonnect",
    "faq_password_reset",
    "faq_ent_login",
    "faq_pronote_grades",
    "faq_homework",
    "faq_absence",
    "workshop_info",
)


@dataclass
class Tracker:
    """The conversation and the message being handled, as actions see them."""

    state: ConversationState
    message: ParseResult
    faq: dict[str, FaqEntry]
    languages: list[str]
    events: list[str] = field(default_factory=list)  # what happened, for logs and tests
    # Upcoming published workshops (a snapshot the store refreshes), soonest first.
    workshops: Sequence[Workshop] = ()
    timezone: str = "Europe/Paris"  # where the parent most likely lives
    # The parent's enrolments, in the turn's transaction (None where there is no database).
    bookings: Bookings | None = None
    channel: str = "web"
    # Links to pages for parents (calendar event, check-in code); None where the channel
    # cannot open them.
    links: Links | None = None
    # The staff inbox, in the turn's transaction (None where there is no database).
    inbox: Inbox | None = None
    # Why the conversation goes to a person this turn ("handover", "fallbacks",
    # "notice_reply"), set by the actions; the assistant then opens it in the inbox and says
    # when a person will answer.
    handover: str | None = None
    # The school notice a "notice_reply" answers.
    notice_id: int | None = None
    # The parent's schools (joining one), in the turn's transaction (None: no database).
    memberships: Memberships | None = None


class Links(Protocol):
    """Addresses of the pages a parent may open from a message."""

    def opened_on(self, channel: str) -> bool:
        """Whether parents on `channel` can open links."""
        ...

    def calendar(self, ref: str) -> str: ...

    def checkin_code(self, enrolment_id: int, workshop_id: int) -> str: ...


@dataclass(frozen=True)
class Opening:
    """A parent's conversation handed to a person (`staff.inbox`)."""

    handover_id: int
    created: bool  # False: it was open already
    opened_at: datetime  # now, for the words "today", "tomorrow"
    answers_at: datetime | None  # when a person will answer (opened_at: now); None: unknown
    timezone: str  # the team's clock


class Inbox(Protocol):
    """The staff inbox of the parent being answered, bound to the turn's transaction."""

    async def open(self, reason: str, *, broadcast_id: int | None = None) -> Opening:
        """Open the parent's conversation with a person (or keep the one open)."""
        ...

    async def answered_notice(self) -> int | None:
        """The school notice this message answers (the parent's first message since one reached
        them, lately), or None."""
        ...


class Action(ABC):
    name: str

    @abstractmethod
    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None: ...


def render(template: ResponseTemplate, **values: str) -> tuple[str, list[Button]]:
    """Translate a domain response for the current reader."""
    text = _(template.text)
    if values:
        text = text.format(**values)
    return text, [Button(_(title), payload) for title, payload in template.buttons]


def utter(
    dispatcher: Dispatcher, domain: Domain, name: str, *, buttons: list[Button] | None = None
) -> None:
    text, own_buttons = render(domain.responses[name])
    dispatcher.utter_message(text, buttons if buttons is not None else own_buttons)


def topic_buttons(faq: dict[str, FaqEntry], *, with_person: bool = True) -> list[Button]:
    buttons = [Button(_(faq[i].title), f"/{i}") for i in MAIN_TOPICS if i in faq]
    if with_person:
        buttons.append(Button(_("Parler à une personne"), "/human_handover"))
    return buttons


def language_buttons(languages: list[str]) -> list[Button]:
    return [
        Button(LANGUAGE_NAMES[code], f'/change_language{{"language": "{code}"}}')
        for code in languages
    ]


class ActionFaq(Action):
    """Answer a frequent question: short answer, the steps with the link, what if it fails."""

    name = "action_faq"

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        entry = tracker.faq[tracker.message.intent]
        dispatcher.utter_message(_(entry.answer))
        if entry.steps:
            lines = [f"{n}. {_(step)}" for n, step in enumerate(entry.steps, start=1)]
            if entry.link:
                lines.append(entry.link)
            dispatcher.utter_message("\n".join(lines))
        buttons = [Button(_("Parler à une personne"), "/human_handover")]
        if entry.intent != "workshop_info" and "workshop_info" in tracker.faq:
            buttons.insert(0, Button(_(tracker.faq["workshop_info"].title), "/workshop_info"))
        buttons.append(Button(_("Menu"), "/help"))
        if entry.if_it_fails:
            dispatcher.utter_message(_(entry.if_it_fails), buttons)


class ActionChangeLanguage(Action):
    """Switch to the language named, else to the language the parent writes in, else ask."""

    name = "action_change_language"

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        wanted = tracker.message.entity("language")
        message = tracker.message
        if (
            wanted is None
            and message.language != tracker.state.language
            and message.language_confidence >= 0.5
        ):
            wanted = message.language
        if wanted in tracker.languages:
            tracker.state.slots["language"] = wanted
            ActionSetLanguage().run(dispatcher, tracker, domain)
            return
        tracker.state.active_form = "language_form"
        tracker.state.requested_slot = "language"
        tracker.events.append("form:language_form")
        utter(dispatcher, domain, "utter_ask_language", buttons=language_buttons(tracker.languages))


class ActionSetLanguage(Action):
    """Apply the chosen language (slot `language`) and confirm in it."""

    name = "action_set_language"

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        from liaison.i18n import current_catalogs

        code = tracker.state.slots.get("language")
        if code not in tracker.languages:
            return
        tracker.state.language = code
        tracker.events.append(f"language:{code}")
        with current_catalogs().use(code):
            utter(dispatcher, domain, "utter_language_changed")


class ActionOptOut(Action):
    name = "action_opt_out"

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        tracker.state.opted_out = True
        tracker.events.append("opted_out")
        utter(dispatcher, domain, "utter_opted_out")


class ActionHumanHandover(Action):
    """Record that the parent wants a person; the staff inbox picks it up."""

    name = "action_human_handover"

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        if tracker.state.handover_requested and tracker.inbox is None:
            utter(dispatcher, domain, "utter_human_handover_already")
            return
        tracker.state.handover_requested = True
        tracker.state.fallback_count = 0
        tracker.events.append("handover")
        if tracker.inbox is not None:  # the assistant says when a person will answer
            tracker.handover = "handover"
            return
        utter(dispatcher, domain, "utter_human_handover")


class ActionAffirm(Action):
    """ "Yes" accepts what the last message offered (a person), else asks for the question."""

    name = "action_affirm"

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        offered = [b["payload"] for b in tracker.state.offered_buttons]
        if "/human_handover" in offered and len(offered) <= 2:
            ActionHumanHandover().run(dispatcher, tracker, domain)
        else:
            utter(dispatcher, domain, "utter_affirm")


class ActionDeny(Action):
    name = "action_deny"

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        utter(dispatcher, domain, "utter_deny", buttons=topic_buttons(tracker.faq))


class ActionDefaultFallback(Action):
    """Low confidence: show the topics and a person; twice in a row, hand the conversation to
    a person (without an inbox: offer one)."""

    name = "action_default_fallback"

    def __init__(self, fallbacks_before_handover: int = 2) -> None:
        self.limit = fallbacks_before_handover

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        tracker.state.fallback_count += 1
        if tracker.state.fallback_count >= self.limit and tracker.inbox is not None:
            # Not understood again: a person of the school takes the conversation.
            tracker.state.handover_requested = True
            tracker.state.fallback_count = 0
            tracker.events.append("handover:fallbacks")
            tracker.handover = "fallbacks"
        elif tracker.state.fallback_count >= self.limit:
            utter(dispatcher, domain, "utter_offer_person")
        else:
            utter(dispatcher, domain, "utter_default", buttons=topic_buttons(tracker.faq))


class ActionWelcome(Action):
    name = "action_welcome"

    def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        tracker.state.welcomed = True
        # CNIL guidance for chatbots: say it is automatic, that a person can take over, how to
        # stop messages and how to learn what is kept — in the first message.
        welcome, _buttons = render(domain.responses["utter_welcome"])
        privacy, _buttons = render(domain.responses["utter_welcome_privacy"])
        dispatcher.utter_message(f"{welcome}\n{privacy}")


def registry(fallbacks_before_handover: int) -> dict[str, Action]:
    actions: list[Action] = [
        ActionFaq(),
        ActionChangeLanguage(),
        ActionSetLanguage(),
        ActionOptOut(),
        ActionHumanHandover(),
        ActionAffirm(),
        ActionDeny(),
        ActionDefaultFallback(fallbacks_before_handover),
        ActionWelcome(),
    ]
    return {action.name: action for action in actions}
