"""(being written)"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from staff.site import StaffSite


def routes(site: StaffSite) -> list[BaseRoute]:
    return []
