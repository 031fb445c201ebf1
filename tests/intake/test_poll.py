"""Issue 15 §1: one repeating django-q2 Schedule, one query to find the tenants with a calendar link due, one
task per tenant that reads all of its due links (1,000 listings are one tick, not 1,000 schedules)."""
from __future__ import annotations

import datetime as dt

from django.db import connection

from bookings.models import Booking, Listing
from intake.models import CalendarFeed, FeedSource
from intake.services import add_feed
from intake.sync import claim_due_feeds, due_feed_schemas, recompute_feed_due, sync_due_feeds
from tenants.models import TenantFeedIndex
from tests.factories import make_listing, make_property
from tests.intake.conftest import NOW
from tests.intake.feedserver import feed_file


def airbnb_body(n: int) -> bytes:
    start = dt.date(2026, 12, 10) + dt.timedelta(days=n % 20)
    end = start + dt.timedelta(days=2)
    return (
        "BEGIN:VCALENDAR\r\nPRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN\r\nCALSCALE:GREGORIAN\r\nVERSION:2.0\r\n"
        f"BEGIN:VEVENT\r\nDTEND;VALUE=DATE:{end:%Y%m%d}\r\nDTSTART;VALUE=DATE:{start:%Y%m%d}\r\n"
        f"UID:bench-{n}@airbnb.com\r\nDESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/"
        f"details/HMT{n:07d}\\nPhone Number (Last 4 Digits): {n % 10000:04d}\r\nSUMMARY:Reserved\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()


def test_a_new_link_makes_its_tenant_due_and_the_poll_finds_it_in_one_query(tenant, feeds, django_assert_num_queries):
    url = feeds.serve("/a.ics", body=feed_file("airbnb.ics"))
    add_feed(make_listing(), source=FeedSource.AIRBNB, url=url, now=NOW)
    assert TenantFeedIndex.objects.get(tenant=tenant).next_poll_at == NOW

    with django_assert_num_queries(1):
        due = due_feed_schemas(NOW)
    assert tenant.schema_name in due
    assert tenant.schema_name not in due_feed_schemas(NOW - dt.timedelta(seconds=1))


def test_after_a_tick_the_tenant_is_due_again_at_its_next_feed(tenant, feeds):
    url = feeds.serve("/a.ics", body=feed_file("airbnb.ics"))
    add_feed(make_listing(), source=FeedSource.AIRBNB, url=url, now=NOW)
    sync_due_feeds(NOW)

    assert TenantFeedIndex.objects.get(tenant=tenant).next_poll_at == NOW + dt.timedelta(minutes=30)


def test_the_tenants_interval_setting_spaces_the_reads(tenant, feeds):
    config = tenant.guest_experience_config
    config.calendar_poll_minutes = 120
    config.save()
    url = feeds.serve("/a.ics", body=feed_file("airbnb.ics"))
    feed = add_feed(make_listing(), source=FeedSource.AIRBNB, url=url, now=NOW)
    sync_due_feeds(NOW)

    feed.refresh_from_db()
    assert feed.next_fetch_at == NOW + dt.timedelta(minutes=120)


def test_the_poll_task_enqueues_one_sync_per_due_tenant(tenant, feeds, monkeypatch):
    from intake import tasks

    queued = []
    monkeypatch.setattr(tasks, "request_feed_sync", queued.append)
    url = feeds.serve("/a.ics", body=feed_file("airbnb.ics"))
    add_feed(make_listing(), source=FeedSource.AIRBNB, url=url, now=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))
    add_feed(make_listing(), source=FeedSource.AIRBNB, url=url + "?2", now=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))

    tasks.poll_due_feed_tenants()

    assert queued.count(tenant.schema_name) == 1


def test_the_sync_task_runs_in_the_tenants_schema(tenant, feeds):
    from intake.tasks import sync_tenant_feeds

    url = feeds.serve("/a.ics", body=feed_file("airbnb.ics"))
    add_feed(make_listing(), source=FeedSource.AIRBNB, url=url, now=NOW)
    connection.set_schema_to_public()  # a worker may be left anywhere
    totals = sync_tenant_feeds(tenant.schema_name, NOW)
    connection.set_tenant(tenant)

    assert (totals["feeds"], totals["created"], totals["failed"]) == (1, 1, 0)


def test_a_claimed_feed_is_not_claimed_by_a_second_worker(tenant, feeds):
    url = feeds.serve("/a.ics", body=feed_file("airbnb.ics"))
    feed = add_feed(make_listing(), source=FeedSource.AIRBNB, url=url, now=NOW)

    assert [f.pk for f in claim_due_feeds(NOW)] == [feed.pk]
    assert claim_due_feeds(NOW) == []  # its lease moved its next read ahead
    assert [f.pk for f in claim_due_feeds(NOW + dt.timedelta(minutes=6))] == [feed.pk]  # a crashed reader's lease ends


def test_the_schedule_exists_after_migrate(db):
    from django_q.models import Schedule

    from intake.tasks import FEED_POLL_SCHEDULE

    schedule = Schedule.objects.get(name=FEED_POLL_SCHEDULE)
    assert (schedule.func, schedule.schedule_type, schedule.minutes) == (
        "intake.tasks.poll_due_feed_tenants", Schedule.MINUTES, 1)


def test_1000_listings_feeds_are_read_in_one_tick(tenant, feeds):
    prop = make_property()
    listings = Listing.objects.bulk_create([Listing(property=prop, name=f"Room {n}") for n in range(1000)])
    CalendarFeed.objects.bulk_create([
        CalendarFeed(listing=listing, source=FeedSource.AIRBNB, url=feeds.serve(f"/l/{n}.ics", body=airbnb_body(n)),
                     next_fetch_at=NOW)
        for n, listing in enumerate(listings)
    ])
    recompute_feed_due()

    totals = sync_due_feeds(NOW, budget_s=600)  # one tick, however long this machine takes (the bench times it)

    assert (totals.feeds, totals.created, totals.failed) == (1000, 1000, 0)
    assert Booking.objects.filter(listing__property=prop, contact_needed=True).count() == 1000
    assert sorted(feeds.hits.values()) == [1] * 1000  # each link read once
    assert not CalendarFeed.objects.filter(next_fetch_at__lte=NOW).exists()
