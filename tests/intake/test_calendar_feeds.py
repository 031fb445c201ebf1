"""Issue 15 §1: a listing's OTA calendar links, read by the poll from a local server that answers as the OTAs'
export links do (feeds shaped as Airbnb's and Booking.com's exports, tests/intake/feeds/)."""
from __future__ import annotations

import datetime as dt

import pytest

from bookings.models import Booking, BookingSource, BookingStatus
from intake.models import CalendarEvent, CalendarFeed, EventKind, FeedSource
from intake.services import add_feed
from intake.sync import sync_due_feeds
from messaging.models import AutomationSchedule, OutboxMessage, Recipient, ScheduleStatus
from operations.models import HostNotification, NotificationKind
from portal.models import GuestPortalToken
from tests.factories import make_booking, make_listing
from tests.intake.conftest import NOW
from tests.intake.feedserver import Route, feed_file

MINUTE = dt.timedelta(minutes=1)


def later(minutes: int) -> dt.datetime:
    return NOW + minutes * MINUTE


def airbnb_feed(feeds, path="/airbnb/1.ics", body="airbnb.ics", **kw) -> CalendarFeed:
    url = feeds.serve(path, body=feed_file(body), **kw)
    return add_feed(make_listing(), source=FeedSource.AIRBNB, url=url, now=NOW)


def read(now: dt.datetime) -> CalendarFeed:
    sync_due_feeds(now)
    return CalendarFeed.objects.get()


def test_airbnb_reservation_becomes_a_contact_needed_booking_and_the_block_stays_a_block(tenant, feeds):
    feed = airbnb_feed(feeds)
    feed = read(NOW)

    assert feed.last_error == "" and feed.last_success_at == NOW
    assert (feed.reservations_count, feed.blocks_count, feed.bookings_created) == (1, 1, 1)
    booking = Booking.objects.get()
    assert booking.source == BookingSource.AIRBNB and booking.status == BookingStatus.CONFIRMED
    assert booking.external_reference == "HMQ4XKZ2TB"  # the reservation code, not the UID
    assert (booking.checkin_date, booking.checkout_date) == (dt.date(2026, 12, 10), dt.date(2026, 12, 14))
    assert booking.contact_needed and booking.guest.phone == "" and booking.guest.email == ""
    assert booking.guest.name == "Airbnb guest · HMQ4XKZ2TB"
    assert GuestPortalToken.objects.filter(booking=booking).exists()  # the link exists at once
    reservation = CalendarEvent.objects.get(kind=EventKind.RESERVATION)
    assert (reservation.booking_id, reservation.phone_last4) == (booking.pk, "0042")
    block = CalendarEvent.objects.get(kind=EventKind.BLOCK)
    assert (block.start_date, block.end_date, block.booking_id) == (dt.date(2026, 12, 19), dt.date(2026, 12, 22), None)
    assert OutboxMessage.objects.filter(event_type="booking.confirmed").count() == 1


def test_no_message_can_go_to_a_calendar_booking_before_the_guest_gives_a_contact(tenant, feeds):
    from messaging.tasks import run_tenant_tick

    airbnb_feed(feeds)
    read(NOW)
    run_tenant_tick(tenant.schema_name, NOW)  # the confirmation's handler plans the stay

    schedules = AutomationSchedule.objects.all()
    assert schedules.exists()
    assert not schedules.filter(recipient=Recipient.GUEST).exists()
    assert schedules.filter(recipient=Recipient.HOST, event_type="guest.not_checked_in").exists()
    assert schedules.filter(recipient=Recipient.SYSTEM, event_type="stay.auto_checkout_due").exists()


def test_reading_the_same_calendar_twice_changes_nothing(tenant, feeds):
    airbnb_feed(feeds, etag=False)  # no ETag: the body is parsed and reconciled again
    read(NOW)
    counts = (Booking.objects.count(), CalendarEvent.objects.count(), OutboxMessage.objects.count())

    feed = read(later(31))

    assert feed.last_success_at == later(31) and feed.last_error == ""
    assert (Booking.objects.count(), CalendarEvent.objects.count(), OutboxMessage.objects.count()) == counts


def test_an_unchanged_calendar_answers_304_to_its_etag(tenant, feeds):
    airbnb_feed(feeds)
    read(NOW)
    feed = read(later(31))

    assert feeds.conditional["/airbnb/1.ics"] == 1  # If-None-Match / If-Modified-Since sent back
    assert feed.last_success_at == later(31) and Booking.objects.count() == 1


def test_the_poll_reads_a_feed_again_only_when_due(tenant, feeds):
    airbnb_feed(feeds)
    read(NOW)
    read(later(29))  # every 30 minutes by default
    assert feeds.hits["/airbnb/1.ics"] == 1
    read(later(30))
    assert feeds.hits["/airbnb/1.ics"] == 2


def _complete(booking: Booking, now: dt.datetime) -> Booking:
    from intake.contact import Choices, Contact, complete_contact

    return complete_contact(booking.pk, Contact(name="Asha Rao", phone="+919876500042"), Choices(), now=now)


def test_moved_dates_move_the_booking_and_its_pending_touchpoints(tenant, feeds):
    from messaging.tasks import run_tenant_tick

    feed = airbnb_feed(feeds)
    read(NOW)
    booking = _complete(Booking.objects.get(), NOW)
    run_tenant_tick(tenant.schema_name, NOW)
    welcome = AutomationSchedule.objects.get(booking=booking, event_type="guest.checkin_instructions")
    old_due = welcome.due_at

    feeds.serve("/airbnb/1.ics", body=feed_file("airbnb_moved.ics"))
    read(later(31))
    run_tenant_tick(tenant.schema_name, later(31))

    booking.refresh_from_db()
    assert (booking.checkin_date, booking.checkout_date) == (dt.date(2026, 12, 12), dt.date(2026, 12, 16))
    welcome.refresh_from_db()
    assert welcome.status == ScheduleStatus.PENDING and welcome.due_at == old_due + dt.timedelta(days=2)
    token = GuestPortalToken.objects.get(booking=booking)
    assert token.expires_at == booking.local_checkout_at() + dt.timedelta(days=30)
    assert OutboxMessage.objects.filter(event_type="booking.dates_changed").count() == 1
    assert CalendarFeed.objects.get(pk=feed.pk).bookings_created == 1  # moved, not booked again


def test_a_removed_reservation_is_cancelled_after_two_reads_without_it(tenant, feeds):
    from messaging.tasks import run_tenant_tick

    airbnb_feed(feeds)
    read(NOW)
    run_tenant_tick(tenant.schema_name, NOW)
    booking = Booking.objects.get()
    feeds.serve("/airbnb/1.ics", body=feed_file("airbnb_removed.ics"))

    feed = read(later(31))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CONFIRMED  # one read without it may be the OTA's glitch
    assert any("is missing from this read" in w for w in feed.last_warnings)

    read(later(62))
    run_tenant_tick(tenant.schema_name, later(62))
    booking.refresh_from_db()
    assert booking.status == BookingStatus.CANCELLED
    # EC-02: every pending touchpoint of the booking is cancelled.
    assert not AutomationSchedule.objects.filter(booking=booking, status=ScheduleStatus.PENDING).exists()
    assert AutomationSchedule.objects.filter(booking=booking, status=ScheduleStatus.CANCELLED).exists()


def test_a_reservation_back_after_one_miss_is_not_cancelled(tenant, feeds):
    airbnb_feed(feeds)
    read(NOW)
    feeds.serve("/airbnb/1.ics", body=feed_file("airbnb_removed.ics"))
    read(later(31))
    feeds.serve("/airbnb/1.ics", body=feed_file("airbnb.ics"))
    read(later(62))
    feeds.serve("/airbnb/1.ics", body=feed_file("airbnb_removed.ics"))
    read(later(93))  # one miss again: the count started over

    assert Booking.objects.get().status == BookingStatus.CONFIRMED


@pytest.mark.parametrize("failure", [
    Route(status=500, body=b"oops"), Route(status=404, body=b"gone"), Route(body=feed_file("empty.ics")),
    Route(body=feed_file("login_page.html"), content_type="text/html"),
])
def test_a_failed_or_empty_read_never_cancels_anything(tenant, feeds, failure):
    airbnb_feed(feeds)
    read(NOW)
    for minutes in (31, 62, 93):
        feeds.serve("/airbnb/1.ics", failure)
        read(later(minutes))

    assert Booking.objects.get().status == BookingStatus.CONFIRMED
    assert CalendarEvent.objects.get(kind=EventKind.RESERVATION).missed_reads == 0


def test_booking_com_closed_dates_are_blocks_unless_the_feed_says_they_are_stays(tenant, feeds):
    url = feeds.serve("/bdc/1.ics", body=feed_file("booking_com.ics"))
    closed = add_feed(make_listing(), source=FeedSource.BOOKING_COM, url=url, now=NOW)
    stays = add_feed(make_listing(), source=FeedSource.BOOKING_COM, url=url, now=NOW,
                     unavailable_is_reservation=True)
    sync_due_feeds(NOW)

    assert CalendarEvent.objects.get(feed=closed).kind == EventKind.BLOCK
    assert not Booking.objects.filter(listing=closed.listing).exists()
    booking = Booking.objects.get(listing=stays.listing)
    assert booking.source == BookingSource.BOOKING_COM and booking.contact_needed
    assert booking.external_reference == "b7d3b9c2e1a5f40e88c1a0f2d9e3b6a1@booking.com"  # no code: the UID
    assert (booking.checkin_date, booking.checkout_date) == (dt.date(2026, 12, 24), dt.date(2026, 12, 27))


def test_tzid_utc_and_floating_times_are_read_as_dates_in_the_listing_zone(tenant, feeds):
    url = feeds.serve("/pms/1.ics", body=feed_file("times.ics"))
    add_feed(make_listing(), source=FeedSource.OTHER, url=url, now=NOW)
    sync_due_feeds(NOW)

    dates = {b.external_reference: (b.checkin_date, b.checkout_date) for b in Booking.objects.all()}
    assert dates == {
        # 10:00 London is 15:30 in Kolkata; 22:00 London on the 17th is 03:30 on the 18th in Kolkata
        "pms-1001@example.com": (dt.date(2026, 12, 15), dt.date(2026, 12, 18)),
        "pms-1002@example.com": (dt.date(2026, 12, 20), dt.date(2026, 12, 22)),  # floating: the listing's time
        "pms-1003@example.com": (dt.date(2026, 12, 29), dt.date(2026, 12, 30)),  # UTC 20:00 is 01:30 next day
    }


def test_events_without_an_end_or_ending_before_they_start_are_reported_and_the_rest_imported(tenant, feeds):
    url = feeds.serve("/pms/bad.ics", body=feed_file("bad_events.ics"))
    add_feed(make_listing(), source=FeedSource.OTHER, url=url, now=NOW)
    feed = read(NOW)

    assert feed.last_error == ""
    assert feed.last_warnings == [
        "“Reserved” starting 11 Dec 2026 has no end date (DTEND): skipped. Ask the calendar's owner to fix it.",
        "“Reserved” starting 18 Dec 2026 ends on 15 Dec 2026, not after it starts: skipped.",
    ]
    assert list(Booking.objects.values_list("external_reference", flat=True)) == ["good-1@example.com"]


def test_overlapping_reservations_are_both_kept_and_the_host_told(tenant, feeds):
    feed = airbnb_feed(feeds)
    direct = make_booking(listing=feed.listing, checkin_date=dt.date(2026, 12, 12), checkout_date=dt.date(2026, 12, 15))
    feed = read(NOW)

    assert Booking.objects.filter(listing=feed.listing, status=BookingStatus.CONFIRMED).count() == 2
    airbnb = Booking.objects.get(source=BookingSource.AIRBNB)
    text = (f"Double booking on {feed.listing.name}: #{airbnb.pk} (Airbnb, 10 Dec–14 Dec) overlaps #{direct.pk} "
            "(Direct, 12 Dec–15 Dec). Move or cancel one of them.")
    assert text in feed.last_warnings
    assert HostNotification.objects.get(kind=NotificationKind.DOUBLE_BOOKING).title == text


def test_a_booking_made_before_by_a_file_or_the_api_is_not_booked_again(tenant, feeds):
    feed = airbnb_feed(feeds)
    make_booking(listing=feed.listing, source=BookingSource.AIRBNB, external_reference="HMQ4XKZ2TB",
                 checkin_date=dt.date(2026, 12, 10), checkout_date=dt.date(2026, 12, 14))
    read(NOW)

    assert Booking.objects.count() == 1


# --- failures, in words the host can act on ---------------------------------------------------------------------


def _failing(feeds, route: Route, source=FeedSource.AIRBNB) -> CalendarFeed:
    url = feeds.serve("/broken.ics", route)
    add_feed(make_listing(), source=source, url=url, now=NOW)
    return read(NOW)


def test_a_404_asks_the_host_to_copy_the_link_again_from_the_ota(tenant, feeds):
    feed = _failing(feeds, Route(status=404, body=b"Not found"))
    assert feed.last_error == "HTTP 404: the link no longer works — copy it again from Airbnb › Calendar › Export."
    assert feed.consecutive_failures == 1 and feed.last_success_at is None


def test_a_web_page_instead_of_a_calendar(tenant, feeds):
    feed = _failing(feeds, Route(body=feed_file("login_page.html"), content_type="text/html"))
    assert feed.last_error.startswith("The link returned a web page, not a calendar.")


def test_a_feed_over_the_size_cap_is_refused_without_reading_it_all(tenant, feeds):
    feed = _failing(feeds, Route(stream_bytes=50 * 1024 * 1024))  # 50 MB, chunked: no Content-Length to go by
    assert feed.last_error.startswith("The calendar is larger than 2.0 MB")


def test_a_redirect_loop_is_cut_at_the_cap(tenant, feeds):
    feed = _failing(feeds, Route(redirect_to="/broken.ics"))
    assert feed.last_error == ("The link redirects more than 5 times without reaching a calendar. "
                               "Copy it again from Airbnb › Calendar › Export.")


def test_a_server_that_never_answers_times_out(tenant, feeds, settings):
    settings.CALENDAR_FEED_TIMEOUT_SECONDS = 0.3
    feed = _failing(feeds, Route(hang=True))
    assert feed.last_error == "The calendar server did not answer within 0.3 s. We will try again at the next sync."


def test_three_failures_in_a_row_alert_the_host_once(tenant, feeds):
    url = feeds.serve("/gone.ics", status=410, body=b"")
    add_feed(make_listing(name="Garden Room"), source=FeedSource.BOOKING_COM, url=url, now=NOW)
    for minutes in (0, 31, 62, 93):
        read(later(minutes))

    alert = HostNotification.objects.get(kind=NotificationKind.CALENDAR_FAILING)
    assert alert.title.startswith("The Booking.com calendar of Garden Room failed 3 times: HTTP 410: the link no longer")
    assert CalendarFeed.objects.get().consecutive_failures == 4


def test_links_to_private_addresses_are_refused(tenant, feeds, settings):
    settings.CALENDAR_FEEDS_ALLOW_PRIVATE = False
    feed = _failing(feeds, Route(body=feed_file("airbnb.ics")))
    assert feed.last_error == ("The link points to a private network address (127.0.0.1). Use the OTA's public "
                               "calendar export link.")
    assert feeds.hits["/broken.ics"] == 0


def test_a_link_that_is_not_http_is_refused_when_saved(tenant):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as raised:
        add_feed(make_listing(), source=FeedSource.AIRBNB, url="webcal://www.airbnb.com/calendar/ical/1.ics", now=NOW)
    assert "url" in raised.value.message_dict


def test_closed_dates_that_echo_a_stay_booked_elsewhere_are_not_booked_twice(tenant, feeds):
    """Booking.com imports the listing's export and closes the dates of the Airbnb stay; with "closed dates are
    stays" ticked, those closed dates must not become a second booking."""
    listing = make_listing()
    make_booking(listing=listing, source=BookingSource.AIRBNB, checkin_date=dt.date(2026, 12, 24),
                 checkout_date=dt.date(2026, 12, 27))
    url = feeds.serve("/bdc/echo.ics", body=feed_file("booking_com.ics"))
    add_feed(listing, source=FeedSource.BOOKING_COM, url=url, now=NOW, unavailable_is_reservation=True)
    feed = read(NOW)

    assert Booking.objects.filter(listing=listing).count() == 1
    assert CalendarEvent.objects.get(feed=feed).kind == EventKind.BLOCK
    assert (feed.reservations_count, feed.blocks_count) == (0, 1)
    assert not HostNotification.objects.filter(kind=NotificationKind.DOUBLE_BOOKING).exists()
