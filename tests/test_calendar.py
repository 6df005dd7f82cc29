"""The workshop calendar event (RFC 5545) and its link."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from workshops import store
from workshops.calendar import event
from workshops.records import build

STAMP = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def _workshop(**fields: str):  # type: ignore[no-untyped-def]
    raw = {
        "ref": "cal-1",
        "title": "Pronote, pas à pas",
        "starts_at": "2026-10-24 14:00",  # the day before the clocks go back
        "ends_at": "2026-10-24 15:30",
        "capacity": "12",
        "status": "published",
        "venue_name": "Médiathèque; salle 2",
        "venue_address": "3 rue de la Paix, 75002 Paris",
        **fields,
    }
    return build(raw)


def _unfold(text: str) -> list[str]:
    assert text.endswith("\r\n")
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def test_event_has_utc_times_escaped_text_and_a_stable_uid() -> None:
    lines = _unfold(event(_workshop(), host="liaison.example.org", stamp=STAMP))
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert "UID:cal-1@liaison.example.org" in lines
    assert "DTSTART:20261024T120000Z" in lines  # 14:00 in Paris, summer time
    assert "DTEND:20261024T133000Z" in lines
    assert "SUMMARY:Pronote\\, pas à pas" in lines
    assert "LOCATION:Médiathèque\\; salle 2\\, 3 rue de la Paix\\, 75002 Paris" in lines
    assert "STATUS:CONFIRMED" in lines
    winter = _unfold(
        event(
            _workshop(starts_at="2026-10-26 14:00", ends_at="2026-10-26 15:00"),
            host="h",
            stamp=STAMP,
        )
    )
    assert "DTSTART:20261026T130000Z" in winter


def test_long_and_multibyte_lines_are_folded_at_75_octets() -> None:
    text = event(
        _workshop(
            title="ورشة " * 20,
            description="Ligne un\nLigne deux, avec une virgule; et un point-virgule " * 3,
        ),
        host="h",
        stamp=STAMP,
    )
    for line in text.split("\r\n"):
        assert len(line.encode()) <= 75
    unfolded = _unfold(text)
    assert any(line.startswith("SUMMARY:ورشة ورشة") for line in unfolded)
    description = next(line for line in unfolded if line.startswith("DESCRIPTION:"))
    assert "Ligne un\\nLigne deux\\, avec une virgule\\; et" in description


def test_online_and_cancelled_workshops() -> None:
    lines = _unfold(
        event(
            _workshop(
                venue_name="",
                venue_address="",
                online_url="https://visio.example.org/atelier",
                status="cancelled",
            ),
            host="h",
            stamp=STAMP,
        )
    )
    assert "STATUS:CANCELLED" in lines
    assert "URL:https://visio.example.org/atelier" in lines
    assert "LOCATION:https://visio.example.org/atelier" in lines


@pytest.mark.parametrize(("status", "expected"), [("published", 200), ("draft", 404)])
async def test_calendar_link(live_server_url, pool, status: str, expected: int) -> None:
    ref = f"cal-{status}"
    async with pool.connection() as connection:
        await store.save(
            connection,
            [
                _workshop(
                    ref=ref, starts_at="2030-01-10 18:00", ends_at="2030-01-10 19:30", status=status
                )
            ],
            STAMP,
        )
    async with httpx.AsyncClient(base_url=live_server_url) as client:
        answer = await client.get(f"/ateliers/{ref}.ics")
        assert answer.status_code == expected
        if expected == 200:
            assert answer.headers["content-type"] == "text/calendar; charset=utf-8"
            assert f"UID:{ref}@127.0.0.1" in answer.text
        for bad in ["/ateliers/nope.ics", "/ateliers/..%2Fetc.ics", f"/ateliers/{'x' * 80}.ics"]:
            assert (await client.get(bad)).status_code == 404
        # Said in the reader's language (their browser's), French otherwise.
        unknown = await client.get("/ateliers/nope.ics", headers={"Accept-Language": "tr,fr;q=0.5"})
        assert unknown.status_code == 404 and "atölye" in unknown.text.lower()
        assert "n'existe pas" in (await client.get("/ateliers/nope.ics")).text
