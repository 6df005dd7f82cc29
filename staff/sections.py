"""The sections of the staff site, each a function giving its routes for a `StaffSite`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from staff import (
    broadcast_pages,
    checkin_pages,
    figure_pages,
    grant_pages,
    inbox_pages,
    journal_pages,
    mediation_pages,
    school_pages,
    workshop_pages,
)

if TYPE_CHECKING:
    from staff.site import StaffSite

Section = Callable[["StaffSite"], list[BaseRoute]]
ALL: list[Section] = [
    workshop_pages.routes,
    checkin_pages.routes,
    figure_pages.routes,
    school_pages.routes,
    inbox_pages.routes,
    journal_pages.routes,
    broadcast_pages.routes,
    mediation_pages.routes,
    grant_pages.routes,
]
