"""Booking intake: the OTA calendar feeds of each listing and what they last said, the listing's own links
(its exported calendar, the guests' "find my booking" page), and the staff API's idempotency keys."""
from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from bookings.models import Booking, BookingSource, Listing


class FeedSource(models.TextChoices):
    AIRBNB = "Airbnb", "Airbnb"
    BOOKING_COM = "Booking.com", "Booking.com"
    AGODA = "Agoda", "Agoda"
    MAKEMYTRIP = "MakeMyTrip", "MakeMyTrip / Goibibo"
    OTHER = "Other", "Other"


BOOKING_SOURCE_OF = {  # a feed's bookings carry the feed's source
    FeedSource.AIRBNB: BookingSource.AIRBNB,
    FeedSource.BOOKING_COM: BookingSource.BOOKING_COM,
    FeedSource.AGODA: BookingSource.AGODA,
    FeedSource.MAKEMYTRIP: BookingSource.MAKEMYTRIP,
    FeedSource.OTHER: BookingSource.OTHER,
}


class CalendarFeed(models.Model):
    """One iCal (RFC 5545) export link of a listing on an OTA, read every few minutes (intake.sync)."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="calendar_feeds")
    source = models.CharField(max_length=20, choices=FeedSource.choices)
    url = models.URLField("calendar link", max_length=2000,
                          help_text="The listing's iCal export link, e.g. Airbnb › Calendar › Availability › Export calendar.")
    is_active = models.BooleanField(default=True)
    # Booking.com and Agoda export every reservation as "CLOSED - Not available", like a date the host closed.
    unavailable_is_reservation = models.BooleanField(
        "treat unavailable dates as reservations", default=False,
        help_text="Tick when this calendar shows guests' stays as 'Not available' (Booking.com, Agoda): each such "
                  "period then becomes a booking whose guest completes their contact on the portal.",
    )
    # HTTP caching: the next read sends these back (If-None-Match / If-Modified-Since) and a 304 costs nothing.
    etag = models.CharField(max_length=500, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    next_fetch_at = models.DateTimeField(default=timezone.now)
    last_fetch_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    last_warnings = models.JSONField(default=list, blank=True)
    consecutive_failures = models.PositiveSmallIntegerField(default=0)
    # What the last successful read held.
    reservations_count = models.PositiveIntegerField(default=0)
    blocks_count = models.PositiveIntegerField(default=0)
    bookings_created = models.PositiveIntegerField(default=0, help_text="Bookings this link has created, all reads.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["listing__name", "source"]
        constraints = [models.UniqueConstraint(fields=["listing", "url"], name="calendar_feed_unique_per_listing")]
        indexes = [models.Index(fields=["next_fetch_at"], condition=Q(is_active=True), name="calendar_feed_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_source_display()} calendar of {self.listing.name}"

    @property
    def booking_source(self) -> str:
        return BOOKING_SOURCE_OF[self.source]


class EventKind(models.TextChoices):
    RESERVATION = "RESERVATION", "Reservation"
    BLOCK = "BLOCK", "Blocked dates"


class CalendarEvent(models.Model):
    """A VEVENT of a feed as last read: a reservation (linked to the booking it made) or a block (dates the
    host closed; kept for the listing's exported calendar, never a stay, never a message)."""

    feed = models.ForeignKey(CalendarFeed, on_delete=models.CASCADE, related_name="events")
    uid = models.CharField(max_length=500)
    kind = models.CharField(max_length=12, choices=EventKind.choices)
    start_date = models.DateField()
    end_date = models.DateField()
    reservation_code = models.CharField(max_length=40, blank=True)
    phone_last4 = models.CharField(max_length=4, blank=True)  # Airbnb's DESCRIPTION: the guest's phone, last 4 digits
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="calendar_events")
    # Reads in a row that did not have it; a future reservation is cancelled after two (a glitch is not a cancellation).
    missed_reads = models.PositiveSmallIntegerField(default=0)
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["start_date", "id"]
        constraints = [
            models.UniqueConstraint(fields=["feed", "uid"], name="calendar_event_uid_unique_per_feed"),
            models.CheckConstraint(condition=Q(end_date__gt=models.F("start_date")), name="calendar_event_end_after_start"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.start_date:%d %b}–{self.end_date:%d %b %Y}"


def new_link_token() -> str:
    return secrets.token_urlsafe(24)


class ListingLinks(models.Model):
    """The listing's two public links, each its own secret: the exported calendar the OTAs read, and the page
    where a calendar booking's guest finds their booking (the one link the host pastes into the OTA's message)."""

    listing = models.OneToOneField(Listing, on_delete=models.CASCADE, related_name="links")
    calendar_token = models.CharField(max_length=64, unique=True, default=new_link_token)
    stay_token = models.CharField(max_length=64, unique=True, default=new_link_token)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "listing links"
        verbose_name_plural = "listing links"

    def __str__(self) -> str:
        return f"Links of {self.listing}"


class IdempotencyRecord(models.Model):
    """The first answer to a staff API request made with an `Idempotency-Key` (Stripe's semantics): the same key
    and body get it again, the same key with another body is refused. Kept for a day (IDEMPOTENCY_TTL)."""

    key = models.CharField(max_length=255, unique=True)
    fingerprint = models.CharField(max_length=64)  # SHA-256 of method, path and body
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"Idempotency key {self.key}"
