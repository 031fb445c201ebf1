"""Issue 15 §1: the listing's own calendar as iCal (`/calendar/<token>.ics`), for the OTAs to import."""
from __future__ import annotations

import datetime as dt

import time_machine
from urllib.parse import urlsplit
from icalendar import Calendar

from bookings.models import BookingSource, BookingStatus
from intake.models import CalendarEvent, CalendarFeed, EventKind, FeedSource
from intake.services import calendar_export_url, links_of
from tests.factories import make_booking, make_guest, make_listing
from tests.intake.conftest import NOW


def events_of(response) -> list[tuple[str, dt.date, dt.date]]:
    calendar = Calendar.from_ical(response.content)
    return sorted((str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND")) for e in calendar.walk("VEVENT"))


def test_the_export_has_every_stay_and_block_and_no_guest_details(tenant, client):
    listing = make_listing(name="Sea View Room")
    guest = make_guest(name="Meera Iyer", phone="+919876500077")
    make_booking(listing=listing, guest=guest, checkin_date=dt.date(2026, 12, 5), checkout_date=dt.date(2026, 12, 8))
    make_booking(listing=listing, source=BookingSource.AIRBNB, checkin_date=dt.date(2026, 12, 20),
                 checkout_date=dt.date(2026, 12, 23))
    make_booking(listing=listing, status=BookingStatus.CANCELLED, checkin_date=dt.date(2026, 12, 14),
                 checkout_date=dt.date(2026, 12, 16))
    feed = CalendarFeed.objects.create(listing=listing, source=FeedSource.BOOKING_COM, url="https://example.com/b.ics")
    CalendarEvent.objects.create(feed=feed, uid="b1", kind=EventKind.BLOCK, start_date=dt.date(2026, 12, 24),
                                 end_date=dt.date(2026, 12, 27))

    with time_machine.travel(NOW, tick=False):
        response = client.get(f"/calendar/{links_of(listing).calendar_token}.ics")

    assert response.status_code == 200 and response["Content-Type"] == "text/calendar; charset=utf-8"
    assert events_of(response) == [
        ("Not available", dt.date(2026, 12, 24), dt.date(2026, 12, 27)),
        ("Reserved", dt.date(2026, 12, 5), dt.date(2026, 12, 8)),
        ("Reserved", dt.date(2026, 12, 20), dt.date(2026, 12, 23)),
    ]
    body = response.content.decode()
    assert "Meera" not in body and "98765" not in body


def test_the_link_for_one_ota_leaves_out_its_own_stays_and_blocks(tenant, client):
    listing = make_listing()
    make_booking(listing=listing, source=BookingSource.AIRBNB, checkin_date=dt.date(2026, 12, 20),
                 checkout_date=dt.date(2026, 12, 23))
    make_booking(listing=listing, checkin_date=dt.date(2026, 12, 5), checkout_date=dt.date(2026, 12, 8))

    with time_machine.travel(NOW, tick=False):
        link = urlsplit(calendar_export_url(listing, "Airbnb"))
        response = client.get(f"{link.path}?{link.query}")

    assert events_of(response) == [("Reserved", dt.date(2026, 12, 5), dt.date(2026, 12, 8))]


def test_an_unchanged_export_answers_304_and_an_unknown_token_404(tenant, client):
    listing = make_listing()
    path = f"/calendar/{links_of(listing).calendar_token}.ics"
    first = client.get(path)
    again = client.get(path, HTTP_IF_NONE_MATCH=first["ETag"])

    assert again.status_code == 304
    assert client.get("/calendar/not-a-token.ics").status_code == 404
