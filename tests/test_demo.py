"""The demo data `make run` adds: upcoming and past workshops with parents, a waiting list,
attendance, walk-ins and day-7 answers; added once."""

from __future__ import annotations

from datetime import UTC, date, datetime

from workshops import figures
from workshops.demo import DEMO_ENROLMENTS, add_demo, past_demo_workshops


async def test_demo_data_is_added_once_with_a_full_workshop_and_a_history(pool) -> None:
    today, now = date.today(), datetime.now(UTC)
    async with pool.connection() as connection:
        await connection.execute("DELETE FROM workshop WHERE ref LIKE 'demo-%%'")
        assert await add_demo(connection, today, now) == 7
        assert await add_demo(connection, today, now) == 7  # refreshed, parents not doubled
        cursor = await connection.execute(
            "SELECT w.ref, e.status, sum(e.people), count(*) FROM enrolment e "
            "JOIN workshop w ON w.id = e.workshop_id WHERE w.ref LIKE 'demo-%%' "
            "GROUP BY w.ref, e.status"
        )
        rows = {
            (ref, status): (int(people), count)
            for ref, status, people, count in await cursor.fetchall()
        }
        assert sum(count for _, count in rows.values()) == len(DEMO_ENROLMENTS)
        assert rows[("demo-educonnect", "confirmed")][0] == 10  # every seat taken
        assert rows[("demo-educonnect", "waitlisted")][1] == 2
        cursor = await connection.execute("SELECT id FROM workshop WHERE ref = 'demo-past-pronote'")
        past = await figures.for_workshop(connection, (await cursor.fetchone())[0])
        # Other tests enrol in the demo workshops: leave them without the demo parents.
        await connection.execute(
            "DELETE FROM enrolment WHERE workshop_id IN "
            "(SELECT id FROM workshop WHERE ref LIKE 'demo-%%')"
        )
    assert past.figures.attended_parents == 6  # five enrolled and one walk-in
    assert past.figures.no_shows == 2 and past.figures.excused == 1
    assert (past.figures.autonomy.yes, past.figures.autonomy.not_yet) == (3, 1)
    for workshop in past_demo_workshops(today):
        assert workshop.local(workshop.ends_at).date() < today
