"""What the assistant does about workshops: list the next ones, enrol, cancel, show a parent's
enrolments. These actions read and change the database through `tracker.bookings` (the turn's
own transaction), so they are asynchronous.

Each step of enrolling is a button whose payload carries everything chosen so far
(`/workshop_enrol{"workshop": "demo-pronote", "people": "2", "confirm": "yes"}`), so the steps
work the same on the web, on Telegram and by numbers over SMS, and nothing half-chosen needs
keeping between messages. A typed "oui" takes the confirmation button when one is offered.

Answers to a follow-up (`workshops.followups`, "did you manage without help? 1 Yes 2 Not yet")
come back as yes and no carrying what they answer: `/affirm{"followup": "autonomy",
"enrolment": "42", "confirm": "yes"}` and `/deny{...}`. They are payloads of the catalogue's
own `affirm` and `deny` (no new intent to train): a number, a button, a typed "oui" (the
confirmation) or a typed "non" right after the question answer it. Anything else said yes or
no to does what it always did.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod

from babel.dates import format_skeleton, format_time

from bot.actions import ActionAffirm, ActionDeny, ActionFaq, Links, Tracker, topic_buttons
from bot.domain import Domain
from bot.replies import Button, Dispatcher, payload
from liaison.i18n import _, current_language
from workshops import followups
from workshops.bookings import Booking
from workshops.records import Workshop
from workshops.wording import describe, place, when

SHOWN = 3


class AsyncAction(ABC):
    name: str

    @abstractmethod
    async def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None: ...


def ranked(tracker: Tracker) -> list[Workshop]:
    """Upcoming workshops, the most relevant first: in the parent's time zone, on the tool they
    asked about, in their language, then the soonest."""
    language = current_language()
    tool = tracker.message.entity("tool") or tracker.state.slots.get("tool")
    return sorted(
        tracker.workshops,
        key=lambda w: (
            w.timezone != tracker.timezone,
            tool not in w.topics,
            language not in w.languages,
            w.starts_at,
        ),
    )


def _choice(workshop: Workshop) -> str:
    start = workshop.local(workshop.starts_at)
    day = format_skeleton("MMMd", start, locale=current_language())
    return f"{workshop.title}, {day} {format_time(start, 'short', locale=current_language())}"


def _nothing_planned(dispatcher: Dispatcher) -> None:
    dispatcher.utter_message(
        _("Pas d'atelier prévu pour le moment."),
        [Button(_("Parler à une personne"), "/human_handover"), Button(_("Menu"), "/help")],
    )


def _number(booking: Booking) -> str:
    """The number organisers find the parent by at the door (we keep no names)."""
    return _("Votre numéro d'inscription : {number}").format(number=booking.id)


def _links(booking: Booking, links: Links) -> list[str]:
    """The check-in code to show at the door and the calendar event."""
    code = links.checkin_code(booking.id, booking.workshop_id)
    return [
        _("Votre code à montrer à l'accueil : {link}").format(link=code),
        _("Ajouter à mon agenda : {link}").format(link=links.calendar(booking.workshop.ref)),
    ]


class ActionWorkshopInfo(AsyncAction):
    name = "action_workshop_info"

    async def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        chosen = ranked(tracker)[:SHOWN]
        if chosen:
            lines = [_("Les prochains ateliers :")] + ["\n" + describe(w) for w in chosen]
            dispatcher.utter_message("\n".join(lines))
        else:
            dispatcher.utter_message(_("Pas d'atelier prévu pour le moment."))
        ActionFaq().run(dispatcher, tracker, domain)


class ActionWorkshopEnrol(AsyncAction):
    """Which workshop, how many people, confirm; then confirmed or on the waiting list."""

    name = "action_workshop_enrol"

    async def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        message, bookings = tracker.message, tracker.bookings
        known = {w.ref: w for w in tracker.workshops}
        if bookings is None or not known:
            _nothing_planned(dispatcher)
            return
        ref = message.entity("workshop")
        if ref not in known:
            chosen = ranked(tracker)[:SHOWN]
            text = "\n\n".join([_("Pour quel atelier ?"), *(describe(w) for w in chosen)])
            buttons = [Button(_choice(w), payload(self.intent, workshop=w.ref)) for w in chosen]
            dispatcher.utter_message(text, buttons)
            return
        workshop = known[ref]
        people = message.entity("people") or ""
        if not (people.isdigit() and 1 <= int(people) <= 10):
            dispatcher.utter_message(
                _("Combien de personnes viendront, vous compris ?"),
                [
                    Button(str(n), payload(self.intent, workshop=ref, people=str(n)))
                    for n in range(1, 5)
                ],
            )
            return
        count = int(people)
        if message.entity("confirm") != "yes":
            # Said without plurals: "Personnes : 2" reads well in every language we speak.
            question = _("Je vous inscris à « {title} », {when}. Personnes : {people}. D'accord ?")
            confirm = payload(self.intent, workshop=ref, people=people, confirm="yes")
            dispatcher.utter_message(
                question.format(title=workshop.title, when=when(workshop), people=count),
                [Button(_("Oui"), confirm), Button(_("Non"), "/deny")],
            )
            return
        status = await bookings.enrol(ref, count)
        tracker.events.append(f"enrolment:{status}")
        if status is None:
            dispatcher.utter_message(_("Cet atelier n'est plus ouvert aux inscriptions."))
        elif status == "confirmed":
            done = _("C'est fait : votre place à « {title} », {when}, est réservée.")
            lines = [done.format(title=workshop.title, when=when(workshop)), place(workshop)]
            booking = next((b for b in await bookings.mine() if b.workshop.ref == ref), None)
            if booking is not None:
                lines.append(_number(booking))
            lines.append(_("Pour annuler, écrivez « annuler mon inscription »."))
            if booking is not None and tracker.links is not None:
                lines += _links(booking, tracker.links)
            dispatcher.utter_message("\n".join(lines))
        else:
            dispatcher.utter_message(
                _(
                    "L'atelier est complet : vous êtes sur la liste d'attente. "
                    "Si une place se libère, nous vous écrirons."
                )
            )

    intent = "workshop_enrol"


class ActionWorkshopCancel(AsyncAction):
    name = "action_workshop_cancel"
    intent = "workshop_cancel"

    async def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        bookings = tracker.bookings
        mine = await bookings.mine() if bookings is not None else []
        if bookings is None or not mine:
            dispatcher.utter_message(
                _("Vous n'avez pas d'inscription à un atelier."), topic_buttons(tracker.faq)
            )
            return
        by_ref = {b.workshop.ref: b for b in mine}
        ref = tracker.message.entity("workshop")
        if ref not in by_ref:
            if len(mine) > 1:
                dispatcher.utter_message(
                    _("Quelle inscription annuler ?"),
                    [
                        Button(_choice(b.workshop), payload(self.intent, workshop=b.workshop.ref))
                        for b in mine
                    ],
                )
                return
            ref = mine[0].workshop.ref
        workshop = by_ref[ref].workshop
        if tracker.message.entity("confirm") != "yes":
            question = _("Annuler votre inscription à « {title} », {when} ?")
            dispatcher.utter_message(
                question.format(title=workshop.title, when=when(workshop)),
                [
                    Button(_("Oui, annuler"), payload(self.intent, workshop=ref, confirm="yes")),
                    Button(_("Non"), "/deny"),
                ],
            )
            return
        cancelled = await bookings.cancel(ref)
        tracker.events.append(f"cancelled:{cancelled}")
        dispatcher.utter_message(
            _("Votre inscription à « {title} » est annulée.").format(title=workshop.title),
            topic_buttons(tracker.faq),
        )


class ActionMyEnrolments(AsyncAction):
    name = "action_my_enrolments"

    async def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        mine = await tracker.bookings.mine() if tracker.bookings is not None else []
        if not mine:
            dispatcher.utter_message(
                _("Vous n'avez pas d'inscription à un atelier."),
                [Button(_("Les prochains ateliers"), "/workshop_info")],
            )
            return
        states = {
            "confirmed": _("Inscription confirmée"),
            "waitlisted": _("Sur liste d'attente"),
            "offered": _("Une place vous est proposée"),
        }
        lines = [_("Vos inscriptions :")]
        for booking in mine:
            people = _("Personnes : {people}").format(people=booking.people)
            parts = ["", describe(booking.workshop), f"{states[booking.status]} – {people}"]
            if booking.status == "confirmed":
                parts.append(_number(booking))
                if tracker.links is not None:
                    parts += _links(booking, tracker.links)
            lines.append("\n".join(parts))
        dispatcher.utter_message(
            "\n".join(lines),
            [Button(_("Annuler une inscription"), "/workshop_cancel"), Button(_("Menu"), "/help")],
        )


def _answered(tracker: Tracker) -> dict[str, str] | None:
    """What a yes or a no answers: the follow-up its payload names, or, for a typed "non", the
    follow-up whose "not yet" button was just offered."""
    message = tracker.message
    followup, enrolment = message.entity("followup"), message.entity("enrolment")
    if followup is not None:
        return {"followup": followup, "enrolment": enrolment or ""}
    if message.intent != "deny":
        return None  # a typed "oui" was given the offered confirmation already
    for button in tracker.state.offered_buttons:
        text = str(button["payload"])
        if text.startswith("/deny{"):
            try:
                values = json.loads(text[len("/deny") :])
            except ValueError:
                continue
            if isinstance(values, dict) and "followup" in values:
                return {
                    "followup": str(values["followup"]),
                    "enrolment": str(values.get("enrolment", "")),
                }
    return None


class ActionWorkshopFollowup(AsyncAction):
    """Yes or no: the answer to a workshop follow-up when it is one, recorded as an outcome in
    the turn's transaction; otherwise what yes and no always do."""

    name = "action_workshop_followup"

    async def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        intent, answered, bookings = tracker.message.intent, _answered(tracker), tracker.bookings
        if answered is None:
            (ActionAffirm() if intent == "affirm" else ActionDeny()).run(
                dispatcher, tracker, domain
            )
            return
        answer, enrolment = followups.ANSWERS.get(intent), answered["enrolment"]
        workshop = None
        if (
            bookings is not None
            and answer is not None
            and answered["followup"] == followups.AUTONOMY
            and enrolment.isascii()
            and enrolment.isdigit()
            and len(enrolment) <= 18
        ):
            workshop = await bookings.record_outcome(int(enrolment), followups.AUTONOMY, answer)
        if bookings is None or workshop is None:  # another parent's enrolment (forged), no database
            tracker.events.append("outcome:unknown")
            dispatcher.utter_message(
                _("Désolé, je ne trouve pas cet atelier dans vos inscriptions."),
                topic_buttons(tracker.faq),
            )
            return
        tracker.events.append(f"outcome:{followups.AUTONOMY}:{answer}")
        if answer == "yes":
            dispatcher.utter_message(_("Bravo ! Si vous avez une autre question, écrivez-moi."))
            return
        booked = [b.workshop.ref for b in await bookings.mine()]
        sessions = followups.later_sessions(workshop, tracker.workshops, exclude=booked)
        reply = followups.another_session(_("Pas de souci, cela prend parfois du temps."), sessions)
        dispatcher.utter_message(reply.text, reply.buttons)


def async_registry() -> dict[str, AsyncAction]:
    actions: list[AsyncAction] = [
        ActionWorkshopInfo(),
        ActionWorkshopEnrol(),
        ActionWorkshopCancel(),
        ActionMyEnrolments(),
        ActionWorkshopFollowup(),
    ]
    return {action.name: action for action in actions}
