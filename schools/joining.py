"""The parent's side of joining a school: "REJOINDRE 7FQ2" (or JOIN, KATIL, UNIRSE, ADERIR,
انضمام — `bot.keywords.join_request`), the Telegram link `?start=join_7FQ2` or the web link
`/?ecole=7FQ2`. The action links the parent through `tracker.memberships` (the turn's
transaction) and answers in the parent's language.
"""

from __future__ import annotations

from bot.actions import Tracker
from bot.domain import Domain
from bot.replies import Dispatcher
from liaison.i18n import _, current_language

ENTITY = "join_code"


class ActionJoinSchool:
    name = "action_join_school"

    async def run(self, dispatcher: Dispatcher, tracker: Tracker, domain: Domain) -> None:
        code = tracker.message.entity(ENTITY) or ""
        memberships = tracker.memberships
        joined = None
        if memberships is not None:  # the family's language: the one being answered in
            joined = await memberships.join(code, current_language())
        if joined is None:
            tracker.events.append("join:unknown")
            dispatcher.utter_message(
                _(
                    "Je ne trouve pas d'école avec le code {code}. Vérifiez le code donné par "
                    "l'école et envoyez-le à nouveau."
                ).format(code=code)
            )
            return
        tracker.events.append(f"join:{'already' if joined.already else 'joined'}")
        dispatcher.utter_message(
            _(
                "Vous êtes maintenant relié(e) à l'école {name}. Vous recevrez ses messages ici."
            ).format(name=joined.school.name)
        )
