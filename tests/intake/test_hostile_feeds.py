"""Hostile calendars: whatever bytes a link returns, reading it ends in events or a FeedError in words, never an
exception of the parser; and a calendar link's secret never reaches the logs."""
from __future__ import annotations

import logging
import zoneinfo

from hypothesis import given, settings, strategies as st

from intake.errors import FeedError
from intake.ical import parse_calendar
from tests.intake.feedserver import feed_file

KOLKATA = zoneinfo.ZoneInfo("Asia/Kolkata")
LINES = st.sampled_from([
    "BEGIN:VEVENT", "END:VEVENT", "DTSTART;VALUE=DATE:20261210", "DTEND;VALUE=DATE:20261209", "DTSTART:2026121",
    "DTEND;TZID=Mars/Olympus:20261212T100000", "DTSTART;TZID=Asia/Kolkata:20261210T140000", "UID:x@airbnb.com",
    "SUMMARY:Reserved", "SUMMARY:CLOSED - Not available", "DURATION:P3D", "DURATION:-P1D", "STATUS:CANCELLED",
    "DESCRIPTION:Phone Number (Last 4 Digits): 12", "RRULE:FREQ=DAILY;COUNT=1000000", "BEGIN:VTIMEZONE",
    "END:VTIMEZONE", " folded continuation", "X-WR-CALNAME:\u202e\u0000evil", "BEGIN:VCALENDAR", "END:VCALENDAR",
])


def _read(data: bytes):
    try:
        return parse_calendar(data, KOLKATA)
    except FeedError as exc:
        assert exc.message and len(exc.message) < 300
        return None


@settings(max_examples=150, deadline=None)
@given(st.lists(LINES, max_size=40))
def test_any_mix_of_calendar_lines_is_read_or_refused_in_words(lines):
    parsed = _read(("\r\n".join(["BEGIN:VCALENDAR", *lines, "END:VCALENDAR"]) + "\r\n").encode())
    if parsed is not None:
        assert all(event.end > event.start for event in parsed.events)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_are_read_or_refused_in_words(data):
    _read(data)
    _read(b"BEGIN:VCALENDAR\r\n" + data)


def test_utf16_and_latin1_feeds_are_refused_or_read_not_crashed():
    body = feed_file("airbnb.ics")
    assert _read(body.decode().encode("utf-16")) is None
    assert _read(body.replace(b"Reserved", "Réservé".encode("cp1252"))).events


def test_a_calendar_links_secret_is_not_logged(tenant, feeds, caplog):
    from intake.models import FeedSource
    from intake.services import add_feed
    from intake.sync import sync_due_feeds
    from tests.factories import make_listing
    from tests.intake.conftest import NOW

    url = feeds.serve("/calendar/ical/4242.ics", body=feed_file("airbnb.ics")) + "?s=0123456789abcdefsecret"
    add_feed(make_listing(), source=FeedSource.AIRBNB, url=url, now=NOW)
    handler_filter = logging.getLogger().handlers[0].filters if logging.getLogger().handlers else []
    with caplog.at_level(logging.INFO, logger="httpx"):
        for f in handler_filter:
            caplog.handler.addFilter(f)
        sync_due_feeds(NOW)

    lines = [caplog.handler.format(record) for record in caplog.records if record.name == "httpx"]
    assert lines and all("secret" not in line and "?<hidden>" in line for line in lines)
