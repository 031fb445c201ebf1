"""The listing's own calendar, exported as iCal for the OTAs to import (the usual two-way iCal set-up): every
stay booked here or on another OTA, and every block, as all-day "Reserved" / "Not available" events. No
guest's name or phone leaves: the OTAs only need to know the dates are taken."""
from __future__ import annotations

import datetime as dt

from icalendar import Calendar, Event

from bookings.models import Booking, BookingStatus, Listing
from intake.models import CalendarEvent, EventKind

HISTORY_DAYS = 30  # past stays kept in the export, as Airbnb's own export keeps recent ones


def listing_calendar(listing: Listing, *, domain: str, now: dt.datetime, exclude_source: str = "") -> bytes:
    """`exclude_source`: leave out what came from that OTA (its own reservations and blocks), for the link
    given to that OTA, so it does not import its own stays back as blocks."""
    since = now.astimezone(listing.property.tz).date() - dt.timedelta(days=HISTORY_DAYS)
    calendar = Calendar()
    calendar.add("prodid", "-//Atlas Guest//Listing calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", listing.name)
    bookings = (Booking.objects.filter(listing=listing, checkout_date__gte=since)
                .exclude(status__in=[BookingStatus.CANCELLED, BookingStatus.LEAD]).order_by("checkin_date", "pk"))
    blocks = (CalendarEvent.objects.filter(feed__listing=listing, kind=EventKind.BLOCK, removed_at__isnull=True,
                                           end_date__gte=since).order_by("start_date", "pk"))
    if exclude_source:
        bookings = bookings.exclude(source=exclude_source)
        blocks = blocks.exclude(feed__source=exclude_source)
    for booking in bookings.only("pk", "checkin_date", "checkout_date", "created_at"):
        calendar.add_component(_event(f"booking-{booking.pk}@{domain}", "Reserved", booking.checkin_date,
                                      booking.checkout_date, booking.created_at))
    for block in blocks.only("pk", "start_date", "end_date", "first_seen_at"):
        calendar.add_component(_event(f"block-{block.pk}@{domain}", "Not available", block.start_date, block.end_date,
                                      block.first_seen_at))
    return calendar.to_ical()


def _event(uid: str, summary: str, start: dt.date, end: dt.date, stamp: dt.datetime) -> Event:
    event = Event()
    event.add("uid", uid)
    event.add("dtstamp", stamp.astimezone(dt.timezone.utc))
    event.add("dtstart", start)
    event.add("dtend", end)
    event.add("summary", summary)
    event.add("transp", "OPAQUE")
    return event
