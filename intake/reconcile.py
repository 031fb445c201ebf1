"""What a calendar read changes (issue 15): new reservations become bookings, moved ones move, one that has
gone from two reads in a row while still ahead is cancelled (EC-02), blocks are kept for the exported
calendar. The caller holds the feed's row lock and one transaction: a read lands whole or not at all, and
reading the same calendar twice changes nothing."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError

from bookings.models import Booking, BookingStatus, PaymentStatus
from bookings.services import DuplicateBooking, cancel_booking, change_booking_dates, create_booking, existing_external_booking
from guests.models import Guest
from intake.ical import ParsedCalendar, ParsedEvent
from intake.models import CalendarEvent, CalendarFeed, EventKind
from operations.models import HostNotification, NotificationKind

MISSED_READS_TO_CANCEL = 2  # a reservation gone from one read may be a glitch of the OTA; from two, it is gone


@dataclass
class Outcome:
    created: int = 0
    moved: int = 0
    cancelled: int = 0
    unchanged: int = 0
    reservations: int = 0
    blocks: int = 0
    problems: list[str] = field(default_factory=list)


def reconcile(feed: CalendarFeed, parsed: ParsedCalendar, now: dt.datetime) -> Outcome:
    listing = feed.listing
    today = now.astimezone(listing.property.tz).date()
    outcome = Outcome(problems=list(parsed.problems))
    rows = {row.uid: row for row in feed.events.select_related("booking")}
    touched: list[Booking] = []
    for event in parsed.events:
        row = rows.get(event.uid)
        if event.is_reservation:
            outcome.reservations += 1
            booking = _reservation(feed, event, row, now, today, outcome)
            if booking is not None:
                touched.append(booking)
        else:
            outcome.blocks += 1
            _block(feed, event, row, now)
    if parsed.vevents == 0:
        if any(row.removed_at is None for row in rows.values()):
            outcome.problems.append("The calendar came back empty: nothing was cancelled. If every booking and "
                                    "block really has gone, cancel the bookings by hand.")
    else:
        seen = {event.uid for event in parsed.events} | parsed.unreadable_uids
        for uid, row in rows.items():
            if uid not in seen and row.removed_at is None:
                _missing(feed, row, now, outcome)
    if parsed.events:
        feed.events.filter(uid__in=[event.uid for event in parsed.events]).update(last_seen_at=now)
    for booking in touched:
        _warn_overlaps(booking, outcome, now)
    return outcome


def reconcile_unchanged(feed: CalendarFeed, now: dt.datetime) -> Outcome:
    """A 304: the calendar is the one read last time, so what it lacked then it lacks again (a reservation
    missed once is missed a second time); what it had is seen again as of the feed's last_success_at."""
    outcome = Outcome()
    for row in feed.events.select_related("booking").filter(missed_reads__gte=1, removed_at__isnull=True).order_by():
        _missing(feed, row, now, outcome)
    return outcome


def _reservation(feed: CalendarFeed, event: ParsedEvent, row: CalendarEvent | None, now: dt.datetime,
                 today: dt.date, outcome: Outcome) -> Booking | None:
    """The booking of a reservation event, made or moved as needed; None when nothing changed."""
    if row is not None and row.kind == EventKind.RESERVATION and row.booking_id is not None:
        booking = row.booking
        came_back = row.removed_at is not None
        _seen(row, event, now)
        if came_back and booking.status == BookingStatus.CANCELLED:
            outcome.problems.append(f"The reservation of {_dates(event)} is back in the calendar, but booking "
                                    f"#{booking.pk} was cancelled when it disappeared. Create it again if it stands.")
            return None
        if booking.status != BookingStatus.CONFIRMED or (booking.checkin_date, booking.checkout_date) == (
                event.start, event.end):  # a stay over, or one the host cancelled, is theirs now
            outcome.unchanged += 1
            return None
        try:
            booking, moved = change_booking_dates(booking, checkin_date=event.start, checkout_date=event.end, now=now)
        except ValidationError as exc:
            outcome.problems.append(f"Booking #{booking.pk} moved to {_dates(event)} in the calendar but was not "
                                    f"changed here: {' '.join(exc.messages)}")
            return None
        outcome.moved += int(moved)
        return booking if moved else None
    if event.end < today:  # a stay already over when first seen: history, not a booking to start now
        _keep(feed, event, row, None, now)
        return None
    if event.from_closed_dates and _echo_of_a_booking(feed, event):
        outcome.reservations -= 1
        outcome.blocks += 1
        _keep(feed, _as_block(event), row, None, now)
        return None
    booking = _book(feed, event, now, outcome)
    _keep(feed, event, row, booking, now)
    return booking


def _book(feed: CalendarFeed, event: ParsedEvent, now: dt.datetime, outcome: Outcome) -> Booking | None:
    reference = (event.reservation_code or event.uid)[:200]
    existing = existing_external_booking(feed.booking_source, reference, feed.listing_id)
    if existing is not None:  # imported before from a file or the API, or by another link of the listing
        outcome.unchanged += 1
        return None
    guest = Guest.objects.create(name=_placeholder_name(feed, event), created_at=now)
    try:
        booking = create_booking(
            guest=guest, listing=feed.listing, source=feed.booking_source, checkin_date=event.start,
            checkout_date=event.end, guests_planned=1, external_reference=reference, contact_needed=True,
            payment_status=PaymentStatus.PAID,  # the OTA collected it; an iCal feed carries no amount
            notes=f"From the {feed.get_source_display()} calendar", now=now,
        )
    except DuplicateBooking:  # written by a concurrent import between the check and the insert
        guest.delete()
        outcome.unchanged += 1
        return None
    from portal.services import issue_portal_token

    issue_portal_token(booking)  # the link the host sends is there at once, not after the next tick
    outcome.created += 1
    feed.bookings_created += 1
    return booking


def _echo_of_a_booking(feed: CalendarFeed, event: ParsedEvent) -> bool:
    """Closed dates exactly those of a stay booked here or on another OTA: the OTA closed them because it imports
    this listing's exported calendar. Taking them for a second stay would book the listing twice."""
    return Booking.objects.filter(listing_id=feed.listing_id, status__in=[BookingStatus.CONFIRMED, BookingStatus.COMPLETED],
                                  checkin_date=event.start, checkout_date=event.end).exists()


def _as_block(event: ParsedEvent) -> ParsedEvent:
    from dataclasses import replace

    return replace(event, is_reservation=False)


def _placeholder_name(feed: CalendarFeed, event: ParsedEvent) -> str:
    source = feed.get_source_display().split(" /")[0]
    if event.reservation_code:
        return f"{source} guest · {event.reservation_code}"
    if event.phone_last4:
        return f"{source} guest · phone …{event.phone_last4}"
    return f"{source} guest · {event.start:%d %b %Y}"


def _keep(feed: CalendarFeed, event: ParsedEvent, row: CalendarEvent | None, booking: Booking | None,
          now: dt.datetime) -> None:
    if row is None:
        row = CalendarEvent(feed=feed, uid=event.uid, first_seen_at=now)
    _seen(row, event, now, kind=EventKind.RESERVATION if event.is_reservation else EventKind.BLOCK,
          booking=booking if event.is_reservation else None)


_TRACKED = ("kind", "booking_id", "start_date", "end_date", "reservation_code", "phone_last4", "missed_reads",
            "removed_at")


_KEEP = object()


def _seen(row: CalendarEvent, event: ParsedEvent, now: dt.datetime, *, kind: str | None = None, booking=_KEEP) -> None:
    """Written only when something changed: an unchanged event of an unchanged calendar costs no write (the
    read's `last_seen_at` is set for all seen events in one statement, `reconcile`)."""
    before = None if row.pk is None else tuple(getattr(row, name) for name in _TRACKED)
    if kind is not None:
        row.kind = kind
    if booking is not _KEEP:
        row.booking = booking
    row.start_date, row.end_date = event.start, event.end
    row.reservation_code, row.phone_last4 = event.reservation_code, event.phone_last4
    row.missed_reads, row.removed_at = 0, None
    if before is None or before != tuple(getattr(row, name) for name in _TRACKED):
        row.last_seen_at = now
        row.save()


def _block(feed: CalendarFeed, event: ParsedEvent, row: CalendarEvent | None, now: dt.datetime) -> None:
    if row is not None and row.kind == EventKind.RESERVATION and row.booking_id is not None:
        _seen(row, event, now)  # a booked stay that the OTA now shows as closed dates is still the stay
        return
    _keep(feed, event, row, None, now)


def _missing(feed: CalendarFeed, row: CalendarEvent, now: dt.datetime, outcome: Outcome) -> None:
    row.missed_reads += 1
    if row.kind == EventKind.BLOCK:
        row.delete()  # the dates are open again; a block starts nothing, so nothing waits for a second read
        return
    booking = row.booking
    ahead = (booking is not None and booking.status == BookingStatus.CONFIRMED and booking.checked_in_at is None
             and booking.local_checkin_at() > now)
    if not ahead:  # the OTA drops stays that are over; one under way is the host's to end
        row.removed_at = now
    elif row.missed_reads >= MISSED_READS_TO_CANCEL:
        cancel_booking(booking, reason=f"removed from the {feed.get_source_display()} calendar", now=now)
        outcome.cancelled += 1
        outcome.problems.append(f"Booking #{booking.pk} ({booking.checkin_date:%d %b}–{booking.checkout_date:%d %b}) "
                                "has gone from the calendar: it is cancelled and its messages stopped.")
        row.removed_at = now
    else:
        outcome.problems.append(f"Booking #{booking.pk} ({booking.checkin_date:%d %b}–{booking.checkout_date:%d %b}) "
                                "is missing from this read; it is cancelled if the next read does not have it either.")
    row.save(update_fields=["missed_reads", "removed_at"])


def _warn_overlaps(booking: Booking, outcome: Outcome, now: dt.datetime) -> None:
    """Two stays on one listing at once: both are kept (both guests booked), the host must move one."""
    others = (Booking.objects.filter(listing_id=booking.listing_id, status=BookingStatus.CONFIRMED,
                                     checkin_date__lt=booking.checkout_date, checkout_date__gt=booking.checkin_date)
              .exclude(pk=booking.pk).order_by("checkin_date"))
    for other in others:
        text = (f"Double booking on {booking.listing.name}: #{booking.pk} ({booking.source}, "
                f"{booking.checkin_date:%d %b}–{booking.checkout_date:%d %b}) overlaps #{other.pk} ({other.source}, "
                f"{other.checkin_date:%d %b}–{other.checkout_date:%d %b}). Move or cancel one of them.")
        outcome.problems.append(text)
        low, high = sorted((booking.pk, other.pk))
        HostNotification.objects.get_or_create(
            dedupe_key=f"double-booking:{low}:{high}",
            defaults={"kind": NotificationKind.DOUBLE_BOOKING, "title": text[:200], "booking": booking, "created_at": now},
        )


def _dates(event: ParsedEvent) -> str:
    return f"{event.start:%d %b}–{event.end:%d %b %Y}"
