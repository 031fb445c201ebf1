"""Issue 15 in the back office: calendar links on the listing's page (saved through the services), the text and
links for the OTAs, how each link's last read went, "Read now", and the bookings that wait for a contact."""
from __future__ import annotations

import datetime as dt

import time_machine

from bookings.models import Booking
from intake.models import CalendarFeed, FeedSource
from intake.services import add_feed, links_of
from tenants.models import TenantFeedIndex
from tests.factories import make_listing
from tests.intake.conftest import NOW
from tests.intake.feedserver import Route, feed_file
from tests.test_admin_backoffice import client_for, staff, url


def test_the_listing_page_gives_the_ota_message_and_the_export_links(tenant):
    listing = make_listing(name="Garden Loft")
    page = client_for(staff("manager"), tenant).get(url(type(listing), "change", listing.pk)).content.decode()
    links = links_of(listing)

    assert "Message for Airbnb / Booking.com" in page
    assert f"/stay/{links.stay_token}" in page and "Please complete your check-in here" in page
    assert f"/calendar/{links.calendar_token}.ics?for=airbnb" in page


def test_a_link_added_on_the_listing_page_is_due_at_once(tenant):
    listing = make_listing()
    client = client_for(staff("manager"), tenant)
    form = client.get(url(type(listing), "change", listing.pk)).context["adminform"].form
    data = {name: ("" if value is None else value) for name, value in form.initial.items() if name != "id"}
    data.update({"property": listing.property_id, "checkin_time": "14:00", "checkout_time": "11:00"})
    for prefix in ("access_info", "consumables", "calendar_feeds"):
        data.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    data.update({"calendar_feeds-TOTAL_FORMS": "1", "calendar_feeds-0-source": "Airbnb",
                 "calendar_feeds-0-url": "https://www.airbnb.com/calendar/ical/123.ics?s=abc",
                 "calendar_feeds-0-is_active": "on"})
    with time_machine.travel(NOW, tick=False):
        answer = client.post(url(type(listing), "change", listing.pk), data)

    assert answer.status_code == 302, answer.context["errors"] if answer.context else answer
    feed = CalendarFeed.objects.get(listing=listing)
    assert feed.next_fetch_at == NOW
    assert TenantFeedIndex.objects.get(tenant=tenant).next_poll_at == NOW


def test_the_feed_page_shows_the_last_read_and_read_now_reads_it(tenant, feeds):
    url_404 = feeds.serve("/gone.ics", Route(status=404, body=b""))
    feed = add_feed(make_listing(), source=FeedSource.AIRBNB, url=url_404, now=NOW)
    client = client_for(staff("manager"), tenant)

    answer = client.post(url(CalendarFeed), {"action": "read_selected_now", "_selected_action": [feed.pk]}, follow=True)
    text = answer.content.decode()
    assert "HTTP 404: the link no longer works — copy it again from Airbnb › Calendar › Export." in text
    feeds.serve("/gone.ics", Route(body=feed_file("airbnb.ics")))
    client.post(url(CalendarFeed), {"action": "read_selected_now", "_selected_action": [feed.pk]})
    page = client.get(url(CalendarFeed, "change", feed.pk)).content.decode()
    assert "✓ Read" in page and Booking.objects.filter(contact_needed=True).count() == 1


def test_bookings_waiting_for_a_contact_are_listed_with_their_link(tenant, feeds):
    feeds.serve("/a.ics", Route(body=feed_file("airbnb.ics")))
    add_feed(make_listing(), source=FeedSource.AIRBNB, url=feeds.url + "/a.ics", now=NOW)
    from intake.sync import sync_due_feeds

    sync_due_feeds(NOW)
    booking = Booking.objects.get()
    client = client_for(staff("frontdesk"), tenant)

    listed = client.get(url(Booking) + "?contact_needed__exact=1").content.decode()
    assert "Airbnb guest · HMQ4XKZ2TB" in listed
    page = client.get(url(Booking, "change", booking.pk)).content.decode()
    token = booking.portal_tokens.get().token
    assert f"/guest/{token}" in page and "the guest has not completed their contact yet" in page


def test_the_host_starts_the_messages_from_the_booking_list(tenant):
    from tests.intake.test_contact import calendar_booking

    booking, _ = calendar_booking()
    client = client_for(staff("frontdesk"), tenant)
    refused = client.post(url(Booking), {"action": "start_messages", "_selected_action": [booking.pk]}, follow=True)
    assert "Enter the guest&#x27;s mobile number or email" in refused.content.decode()
    booking.guest.email = "guest@example.com"
    booking.guest.save()
    client.post(url(Booking), {"action": "start_messages", "_selected_action": [booking.pk]})
    booking.refresh_from_db()
    assert not booking.contact_needed
    assert booking.outbox_messages.filter(event_type="booking.contact_completed").exists()


def test_frontdesk_sees_calendar_links_but_cannot_change_them(tenant):
    feed = add_feed(make_listing(), source=FeedSource.AIRBNB, url="https://www.airbnb.com/calendar/ical/1.ics",
                    now=NOW - dt.timedelta(days=1))
    client = client_for(staff("frontdesk"), tenant)
    assert client.get(url(CalendarFeed)).status_code == 200
    assert client.post(url(CalendarFeed, "change", feed.pk), {"url": "https://example.com/x.ics"}).status_code == 403


def test_the_front_page_counts_bookings_waiting_for_a_contact_and_failing_links(tenant, feeds):
    from tests.intake.test_contact import calendar_booking

    calendar_booking()
    feed = add_feed(make_listing(), source=FeedSource.AIRBNB, url=feeds.serve("/x.ics", Route(status=404)), now=NOW)
    from intake.services import read_now

    read_now([feed], NOW)
    page = client_for(staff("frontdesk"), tenant).get("/admin/").content.decode()
    assert "1 calendar booking waits for the guest's contact" in page
    assert "1 calendar link failing" in page
