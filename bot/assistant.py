"""The per-message pipeline: keywords -> language -> NLU -> dialogue -> actions -> replies.

`Assistant.respond()` is pure with respect to storage: it takes the conversation state and the
message, changes the state, and returns the replies and what it understood. `bot.store` loads
and saves the state around it in one transaction.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot import keywords
from bot.actions import Inbox, Links, Tracker, registry, topic_buttons, utter
from bot.content import FaqEntry
from bot.domain import Domain
from bot.handover import handover_message
from bot.nlu.result import Entity, NLUEngine, ParseResult
from bot.replies import Button, Dispatcher, Reply
from bot.state import ConversationState
from bot.text import clean, is_arabic_script, letters
from bot.workshop_actions import async_registry
from liaison.i18n import Catalogs, _
from liaison.settings import AssistantConfig
from schools.joining import ENTITY as JOIN_CODE
from schools.joining import ActionJoinSchool
from schools.memberships import Memberships
from workshops.bookings import Bookings
from workshops.records import Workshop

log = logging.getLogger(__name__)

_PAYLOAD = re.compile(r"^/(?P<intent>[a-z_]{2,64})(?P<entities>\{.*\})?$", re.DOTALL)
_CHOICE = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")
# Responses that end with the topic buttons, so a parent always sees where to go next.
_WITH_TOPICS = frozenset({"utter_greet", "utter_help", "utter_out_of_scope", "utter_thanks"})
# The button that brings the rest of an answer a small channel held back (see `Inbound.split`).
MORE_PAYLOAD = "/more"
# Right after a school notice, these answer the notice: a bare "yes" or "no", what is not about
# the digital tools, and "I can't come" from a parent with no workshop to cancel.
NOTICE_ANSWERS = frozenset({"affirm", "deny", "out_of_scope", "workshop_cancel"})

# How a channel that cannot take a long answer at once (SMS) splits one: the replies to send
# now and the ones to hold until the parent asks for the rest, or None if all fit.
Splitter = Callable[[list[Reply]], tuple[list[Reply], list[Reply]] | None]


@dataclass(frozen=True)
class Inbound:
    """A message from a parent, already authenticated and decoded by its channel."""

    channel: str
    address: str
    text: str
    language_hint: str | None = None  # the language the parent picked in the interface
    # The provider's id of this message (Twilio MessageSid, Telegram update_id): a message
    # delivered twice by the provider is handled once.
    message_id: str | None = None
    # For channels with little room per message: splits a long answer into what is sent now
    # (ending with a "1. More" choice) and what waits for the parent's "1".
    split: Splitter | None = None
    # Language the channel knows the parent uses (Telegram's language_code), for a first contact.
    language_guess: str | None = None
    # The time zone the parent most likely lives by, when the channel can tell (an SMS number's
    # region); else the deployment's `liaison.timezone`.
    timezone: str | None = None


@dataclass
class Outcome:
    """What one turn produced."""

    replies: list[Reply]
    text: str
    language: str
    intent: str | None
    confidence: float | None
    parse: ParseResult | None = None
    events: list[str] = field(default_factory=list)


class Assistant:
    def __init__(
        self,
        *,
        nlu: NLUEngine,
        domain: Domain,
        faq: dict[str, FaqEntry],
        catalogs: Catalogs,
        config: AssistantConfig,
        links: Links | None = None,
    ) -> None:
        self.links = links
        self.nlu = nlu
        self.domain = domain
        self.faq = faq
        self.catalogs = catalogs
        self.config = config
        self.actions = registry(config.nlu.fallbacks_before_handover)
        self.async_actions = async_registry()

    async def respond(
        self,
        state: ConversationState,
        inbound: Inbound,
        *,
        workshops: Sequence[Workshop] = (),
        bookings: Bookings | None = None,
        inbox: Inbox | None = None,
        memberships: Memberships | None = None,
    ) -> Outcome:
        text = clean(inbound.text)
        hint = inbound.language_hint if inbound.language_hint in self.config.languages else None
        if hint and state.slots.get("ui_language") != hint:
            # The parent picked a language in the interface: that is an explicit choice.
            state.slots["ui_language"] = hint
            state.language = hint
        if state.language is None and inbound.language_guess in self.config.languages:
            state.language = inbound.language_guess
        if len(text.encode("utf-8")) > self.config.messages.max_bytes:
            return self._simple(state, text, "utter_too_long", intent=None)

        keyword = keywords.match(text)
        if keyword is not None:
            return self._keyword(state, text, keyword)
        if state.opted_out:
            # STOP is honoured: nothing is sent until the parent writes START.
            return Outcome(
                [], text, self._language(state), None, None, events=["ignored:opted_out"]
            )
        held = state.slots.pop("held_replies", None)
        if held and self._selected_payload(state, text) == MORE_PAYLOAD:
            # "1. La suite" (even while a person has the conversation: what was held is the
            # assistant's last answer, the welcome for instance).
            return self._release(state, text, inbound, [_reply_from_json(r) for r in held])
        if inbox is not None and state.handover_requested:
            # A person of the school has the conversation (the staff inbox): the assistant
            # stays quiet until they close it; the message is kept as a turn for them.
            return Outcome([], text, self._language(state), None, None, events=["handover:quiet"])
        joining = keywords.join_request(text)
        if joining is not None:  # "REJOINDRE 7FQ2", or a join link's payload
            return await self._join(state, inbound, text, joining, memberships)
        if not text:
            return self._simple(state, text, "utter_empty", intent=None)

        selected = self._selected_button(state, text)
        parse = selected or await self.nlu.parse(text)
        if parse.intent == "affirm" and selected is None and not text.startswith("/"):
            # A typed "oui" takes the confirmation button offered, if there is one; a button
            # (its payload, or its number) already says what it answers.
            parse = self._selected_button(state, self._confirmation(state) or "") or parse
        self._update_language(state, parse, text)
        language = self._language(state)
        dispatcher = Dispatcher()
        tool = parse.entity("tool")
        if tool is not None:  # remembered: "Pronote?" then "je m'inscris" means Pronote
            state.slots["tool"] = tool
        tracker = Tracker(
            state=state,
            message=parse,
            faq=self.faq,
            languages=self.config.languages,
            workshops=workshops,
            timezone=inbound.timezone or self.config.timezone,
            bookings=bookings,
            inbox=inbox,
            channel=inbound.channel,
            links=self.links if self.links and self.links.opened_on(inbound.channel) else None,
        )
        with self.catalogs.use(language):
            if state.welcomed:
                await self._decide(dispatcher, tracker, parse, typed=selected is None)
            else:
                self.actions["action_welcome"].run(dispatcher, tracker, self.domain)
                if parse.intent == "greet" and parse.confidence >= 0.5:
                    # A first "bonjour" gets the welcome with the topics, not a second greeting.
                    welcome = dispatcher.replies.pop()
                    dispatcher.utter_message(welcome.text, topic_buttons(self.faq))
                else:
                    await self._decide(dispatcher, tracker, parse, typed=selected is None)
            if tracker.handover is not None and inbox is not None:
                opening = await inbox.open(tracker.handover, broadcast_id=tracker.notice_id)
                # First: on SMS what does not fit (a first contact's welcome) waits behind
                # "1. La suite".
                dispatcher.replies.insert(0, Reply(handover_message(tracker.handover, opening)))
        state.remember_intent(parse.intent)
        replies = self._fit(state, inbound, dispatcher.replies, language)
        return Outcome(
            replies=replies,
            text=text,
            language=self._language(state),
            intent=parse.intent,
            confidence=parse.confidence,
            parse=parse,
            events=tracker.events,
        )

    # -- steps ---------------------------------------------------------------------------

    async def _decide(
        self, dispatcher: Dispatcher, tracker: Tracker, parse: ParseResult, *, typed: bool
    ) -> None:
        state = tracker.state
        threshold = self.config.nlu.fallback_threshold
        if state.active_form is not None and await self._continue_form(dispatcher, tracker, parse):
            return
        actions = self.domain.actions_for(parse.intent)
        unplaced = parse.confidence < threshold or not actions
        answerable = unplaced or parse.intent in NOTICE_ANSWERS
        if typed and answerable and await self._answers_notice(tracker, parse.intent):
            return
        if unplaced:
            self.actions["action_default_fallback"].run(dispatcher, tracker, self.domain)
            return
        if parse.intent not in ("affirm", "deny"):
            state.fallback_count = 0
        for name in actions:
            await self._run(name, dispatcher, tracker)

    async def _answers_notice(self, tracker: Tracker, intent: str | None) -> bool:
        """A message the assistant cannot place, first after a school notice reached the
        parent, answers it: the school's team gets it with the notice (`broadcasts.replies`)."""
        if tracker.inbox is None:
            return False
        notice = await tracker.inbox.answered_notice()
        if notice is None:
            return False
        if intent == "workshop_cancel" and tracker.bookings and await tracker.bookings.mine():
            return False  # they have a workshop to cancel: the assistant does it
        tracker.state.handover_requested = True
        tracker.state.fallback_count = 0
        tracker.events.append("handover:notice_reply")
        tracker.handover, tracker.notice_id = "notice_reply", notice
        return True

    async def _continue_form(
        self, dispatcher: Dispatcher, tracker: Tracker, parse: ParseResult
    ) -> bool:
        """Fill the requested slot from the message; False hands the message back to the rules."""
        state = tracker.state
        form = self.domain.forms[state.active_form or ""]
        slot = state.requested_slot or form.required_slots[0]
        value = parse.entity(self.domain.slot_entities.get(slot, slot))
        if value is None:
            confident_elsewhere = parse.confidence >= self.config.nlu.fallback_threshold
            state.active_form = state.requested_slot = None
            if confident_elsewhere and parse.intent != "change_language":
                return False
            await self._run("utter_ask_" + slot, dispatcher, tracker)
            state.active_form, state.requested_slot = form.name, slot
            return True
        state.slots[slot] = value
        remaining = [
            s for s in form.required_slots if s not in state.slots or state.slots[s] is None
        ]
        if remaining:
            state.requested_slot = remaining[0]
            await self._run("utter_ask_" + remaining[0], dispatcher, tracker)
            return True
        state.active_form = state.requested_slot = None
        tracker.events.append(f"form_done:{form.name}")
        for name in self.domain.form_rules.get(form.name, []):
            await self._run(name, dispatcher, tracker)
        return True

    async def _run(self, name: str, dispatcher: Dispatcher, tracker: Tracker) -> None:
        if name in self.async_actions:
            await self.async_actions[name].run(dispatcher, tracker, self.domain)
        elif name in self.actions:
            self.actions[name].run(dispatcher, tracker, self.domain)
        elif name == "utter_ask_language":
            self.actions["action_change_language"].run(dispatcher, tracker, self.domain)
        elif name in self.domain.responses:
            buttons = topic_buttons(self.faq) if name in _WITH_TOPICS else None
            utter(dispatcher, self.domain, name, buttons=buttons)
        else:
            log.error("rule names unknown action %s", name)

    async def _join(
        self,
        state: ConversationState,
        inbound: Inbound,
        text: str,
        joining: keywords.JoinRequest,
        memberships: Memberships | None,
    ) -> Outcome:
        """Join a school (`schools.joining`); a first contact gets the welcome first, in the
        language of the word used ("KATIL" is Turkish) unless the interface chose one."""
        if state.language is None and joining.language in self.config.languages:
            state.language = joining.language
        language = self._language(state)
        code = Entity(JOIN_CODE, joining.code, 0, len(text), 1.0, "keyword")
        message = ParseResult(text, "join_school", 1.0, entities=[code], language=language)
        tracker = Tracker(
            state=state,
            message=message,
            faq=self.faq,
            languages=self.config.languages,
            channel=inbound.channel,
            memberships=memberships,
        )
        dispatcher = Dispatcher()
        with self.catalogs.use(language):
            if not state.welcomed:
                self.actions["action_welcome"].run(dispatcher, tracker, self.domain)
            await ActionJoinSchool().run(dispatcher, tracker, self.domain)
        replies = self._fit(state, inbound, dispatcher.replies, language)
        return Outcome(replies, text, language, None, None, events=tracker.events)

    def _keyword(self, state: ConversationState, text: str, keyword: str) -> Outcome:
        if keyword == keywords.STOP:
            already = state.opted_out
            state.opted_out = True
            if already:  # one confirmation only
                return Outcome(
                    [], text, self._language(state), "opt_out", 1.0, events=["keyword:stop"]
                )
            return self._simple(
                state, text, "utter_opted_out", intent="opt_out", event="keyword:stop"
            )
        if keyword == keywords.START:
            state.opted_out = False
            return self._simple(state, text, "utter_opted_in", intent=None, event="keyword:start")
        return self._simple(state, text, "utter_keyword_help", intent="help", event="keyword:help")

    def _simple(
        self,
        state: ConversationState,
        text: str,
        response: str,
        *,
        intent: str | None,
        event: str = "",
    ) -> Outcome:
        dispatcher = Dispatcher()
        language = self._language(state)
        with self.catalogs.use(language):
            buttons = topic_buttons(self.faq) if response == "utter_opted_in" else None
            utter(dispatcher, self.domain, response, buttons=buttons)
        state.offered_buttons = [
            {"title": b.title, "payload": b.payload} for b in dispatcher.last_buttons
        ]
        return Outcome(
            dispatcher.replies,
            text,
            language,
            intent,
            1.0 if intent else None,
            events=[event] if event else [],
        )

    def _fit(
        self, state: ConversationState, inbound: Inbound, replies: list[Reply], language: str
    ) -> list[Reply]:
        """What is sent now; on a small channel, the rest is held behind a "1. More" choice."""
        with self.catalogs.use(language):  # the channel measures the words it will send
            parts = inbound.split(replies) if inbound.split is not None and replies else None
            more = Button(_("La suite"), MORE_PAYLOAD)
        if parts is not None and parts[1]:
            now, later = parts
            last = now[-1]
            now = [*now[:-1], Reply(last.text, (more,))]
            state.slots["held_replies"] = [_reply_to_json(reply) for reply in later]
            replies = now
        state.offered_buttons = [
            {"title": b.title, "payload": b.payload}
            for b in Dispatcher(replies=list(replies)).last_buttons
        ]
        return replies

    def _release(
        self, state: ConversationState, text: str, inbound: Inbound, held: list[Reply]
    ) -> Outcome:
        language = self._language(state)
        return Outcome(
            replies=self._fit(state, inbound, held, language),
            text=text,
            language=language,
            intent=None,
            confidence=None,
            events=["more"],
        )

    @staticmethod
    def _confirmation(state: ConversationState) -> str | None:
        confirms = [
            b["payload"] for b in state.offered_buttons if '"confirm": "yes"' in b["payload"]
        ]
        return confirms[0] if confirms else None  # the affirmative button comes first

    def _selected_payload(self, state: ConversationState, text: str) -> str:
        """The payload a number ("2") picks among the offered buttons, else the text itself."""
        choice = _CHOICE.match(text)
        if choice and state.offered_buttons:
            index = int(choice.group(1)) - 1
            if 0 <= index < len(state.offered_buttons):
                return state.offered_buttons[index]["payload"]
        return text

    def _selected_button(self, state: ConversationState, text: str) -> ParseResult | None:
        """A payload (`/faq_homework`, `/change_language{"language": "ar"}`) or a number."""
        text = self._selected_payload(state, text)
        match = _PAYLOAD.match(text)
        if match is None or match.group("intent") not in self.domain.intents:
            return None
        entities: list[Entity] = []
        if match.group("entities"):
            try:
                values = json.loads(match.group("entities"))
            except ValueError:
                values = {}
            if isinstance(values, dict):
                entities = [Entity(str(k), str(v), 0, 0, 1.0, "payload") for k, v in values.items()]
        language = state.language or self.config.default_language
        return ParseResult(
            text=text,
            intent=match.group("intent"),
            confidence=1.0,
            ranking=[(match.group("intent"), 1.0)],
            entities=entities,
            language=language,
            language_confidence=0.0,
        )

    def _update_language(self, state: ConversationState, parse: ParseResult, text: str) -> None:
        detection = self.config.language_detection
        detected, confidence = parse.language, parse.language_confidence
        if detected not in self.config.languages or confidence == 0.0:
            return
        certain = is_arabic_script(text)
        if state.language is None:
            if certain or (confidence >= 0.5 and letters(text) >= 4):
                state.language = detected
            return
        if detected != state.language and (
            certain
            or (
                confidence >= detection.switch_confidence and letters(text) >= detection.min_letters
            )
        ):
            state.language = detected

    def _language(self, state: ConversationState) -> str:
        return state.language or self.config.default_language


def _reply_to_json(reply: Reply) -> dict[str, object]:
    return {"text": reply.text, "buttons": [[b.title, b.payload] for b in reply.buttons]}


def _reply_from_json(raw: dict[str, Any]) -> Reply:
    buttons = raw.get("buttons") or []
    return Reply(
        text=str(raw.get("text", "")), buttons=tuple(Button(str(t), str(p)) for t, p in buttons)
    )
