"""Writes on calendar links and the listing's own links (issue 15)."""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from bookings.models import Booking, Listing
from intake import fetch as fetching
from intake.models import CalendarFeed, ListingLinks
from intake.sync import note_feed_due, read_feed, record_read
from portal.services import tenant_url

READ_NOW_MAX = 20  # feeds read inside one admin request; more wait for the poll


def _checked(feed: CalendarFeed) -> CalendarFeed:
    feed.url = feed.url.strip()
    feed.full_clean(validate_constraints=False)
    return feed


@transaction.atomic
def add_feed(listing: Listing, *, source: str, url: str, unavailable_is_reservation: bool = False,
             now: dt.datetime | None = None) -> CalendarFeed:
    """A listing's new calendar link, read at the next poll (within a minute)."""
    now = now or timezone.now()
    if CalendarFeed.objects.filter(listing=listing, url=url.strip()).exists():
        raise ValidationError({"url": "This listing already has this calendar link."})
    feed = _checked(CalendarFeed(listing=listing, source=source, url=url, next_fetch_at=now, created_at=now,
                                 unavailable_is_reservation=unavailable_is_reservation))
    feed.save()
    note_feed_due(now)
    return feed


@transaction.atomic
def feed_changed(feed: CalendarFeed, *, url_changed: bool, now: dt.datetime | None = None) -> CalendarFeed:
    """After an edit in the back office: a new link is read from scratch, at once."""
    now = now or timezone.now()
    if url_changed:
        feed.etag, feed.last_modified, feed.consecutive_failures, feed.last_error = "", "", 0, ""
        feed.next_fetch_at = now
    feed.save()
    if feed.is_active:
        note_feed_due(feed.next_fetch_at)
    return feed


def read_now(feeds: list[CalendarFeed], now: dt.datetime | None = None) -> list[CalendarFeed]:
    """Read these feeds in this request (the back office's "Read now"), as the poll would."""
    done = []
    with fetching.new_client() as client:
        for feed in feeds[:READ_NOW_MAX]:
            feed = CalendarFeed.objects.select_related("listing__property").get(pk=feed.pk)
            recorded = record_read(read_feed(client, feed), now or timezone.now())
            if recorded is not None:
                done.append(recorded)
    return done


def links_of(listing: Listing) -> ListingLinks:
    links, _ = ListingLinks.objects.get_or_create(listing=listing)
    return links


def calendar_export_url(listing: Listing, for_source: str = "") -> str:
    suffix = f"?for={for_source.lower()}" if for_source else ""
    return tenant_url(f"/calendar/{links_of(listing).calendar_token}.ics{suffix}")


def stay_url(listing: Listing) -> str:
    return tenant_url(f"/stay/{links_of(listing).stay_token}")


def ota_message_text(listing: Listing, host_name: str) -> str:
    """What the host pastes into Airbnb's / Booking.com's scheduled message (sent on booking): one link per
    listing, where the guest finds their stay and completes their check-in."""
    return (f"Hello, and thank you for booking {listing.name}! Please complete your check-in here, it takes a "
            f"minute: {stay_url(listing)}\n"
            "You will need your check-in date and your reservation code. We then send your check-in instructions, "
            f"WiFi and directions on WhatsApp before you arrive.\n— {host_name}")


def booking_link(booking: Booking) -> str:
    from portal.services import issue_portal_token, portal_url

    token = issue_portal_token(booking).token
    return portal_url(token) if token else ""
