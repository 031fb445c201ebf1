"""The engine's machinery: quiet hours across time zones, the outbox's retries, the wake-up index and the
poll's cost, and host alerts through the one messaging entry point."""
import datetime as dt

import pytest
from django.db import connection

from messaging import events as ev
from messaging.models import CommunicationLog, OutboxMessage, OutboxStatus, SandboxMessage
from messaging.outbox import MAX_ATTEMPTS, dispatch_outbox, handles, publish
from messaging.quiet_hours import next_send_time
from messaging.services import notify_host
from messaging.tasks import poll_due_tenants
from messaging.wakeups import due_schemas
from tenants.models import TenantWorkIndex
from tests.factories import make_listing, make_property

UTC = dt.timezone.utc
OPENS, CLOSES = dt.time(8, 0), dt.time(21, 0)


@pytest.mark.parametrize(
    ("due", "zone", "expected"),
    [
        # 02:00 UTC is 07:30 in India (quiet: wait for 08:00 IST = 02:30 UTC) ...
        (dt.datetime(2026, 3, 14, 2, 0, tzinfo=UTC), "Asia/Kolkata", dt.datetime(2026, 3, 14, 2, 30, tzinfo=UTC)),
        # ... but 22:00 the evening before in New York (quiet: wait for 08:00 EDT on the 14th = 12:00 UTC).
        (dt.datetime(2026, 3, 14, 2, 0, tzinfo=UTC), "America/New_York", dt.datetime(2026, 3, 14, 12, 0, tzinfo=UTC)),
        # 21:30 IST is after closing: the next morning.
        (dt.datetime(2026, 3, 14, 16, 0, tzinfo=UTC), "Asia/Kolkata", dt.datetime(2026, 3, 15, 2, 30, tzinfo=UTC)),
        # Inside the window: unchanged.
        (dt.datetime(2026, 3, 14, 9, 0, tzinfo=UTC), "Asia/Kolkata", dt.datetime(2026, 3, 14, 9, 0, tzinfo=UTC)),
        # Across the US clock change (8 Mar 2026): 23:00 EST on the 7th → 08:00 EDT on the 8th = 12:00 UTC.
        (dt.datetime(2026, 3, 8, 4, 0, tzinfo=UTC), "America/New_York", dt.datetime(2026, 3, 8, 12, 0, tzinfo=UTC)),
    ],
)
def test_quiet_hours_are_local_to_the_property(due, zone, expected):
    assert next_send_time(due, zone, OPENS, CLOSES) == expected


def test_quiet_hours_window_across_midnight():
    # allowed 20:00–02:00: 03:00 IST waits for 20:00 IST the same day
    due = dt.datetime(2026, 3, 14, 21, 30, tzinfo=UTC)  # 03:00 IST on the 15th
    assert next_send_time(due, "Asia/Kolkata", dt.time(20, 0), dt.time(2, 0)) == dt.datetime(2026, 3, 15, 14, 30, tzinfo=UTC)


def test_quiet_hours_defer_per_property_zone_in_the_scheduler(book, tick):
    india = book(listing=make_listing(make_property(time_zone="Asia/Kolkata")))
    new_york = book(listing=make_listing(make_property(time_zone="America/New_York")))
    at = dt.datetime(2026, 3, 1, 2, 0, tzinfo=UTC)  # 07:30 IST / 21:00 EST the evening before
    OutboxMessage.objects.update(available_at=at)
    tick(at)
    india_confirmation = india.schedules.get(event_type=ev.GUEST_BOOKING_CONFIRMED)
    ny_confirmation = new_york.schedules.get(event_type=ev.GUEST_BOOKING_CONFIRMED)
    assert (india_confirmation.status, india_confirmation.due_at) == ("Pending", dt.datetime(2026, 3, 1, 2, 30, tzinfo=UTC))
    assert (ny_confirmation.status, ny_confirmation.due_at) == ("Pending", dt.datetime(2026, 3, 1, 13, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 3, 1, 2, 30, tzinfo=UTC))
    assert SandboxMessage.objects.filter(booking=india).count() == 1
    assert SandboxMessage.objects.filter(booking=new_york).count() == 0


def test_staff_alerts_and_p0_guest_messages_ignore_quiet_hours_but_guest_messages_wait(book, tick):
    from messaging.services import send_touchpoint

    booking = book()
    tick(dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
    night = dt.datetime(2026, 3, 16, 20, 0, tzinfo=UTC)  # 01:30 IST
    notify_host(booking, ev.GUEST_ISSUE_REPORTED, sequence=1, now=night,
                variables={"category": "WiFi", "description": "No signal in the room"})
    send_touchpoint(booking, ev.GUEST_ISSUE_RESOLVED, sequence=1, now=night, variables={"category": "WiFi"})
    send_touchpoint(booking, ev.GUEST_ISSUE_RESOLVED, sequence=2, priority="P0", now=night, variables={"category": "Safety"})
    tick(night)
    alert = CommunicationLog.objects.get(idempotency_key=f"{booking.pk}:guest.issue_reported:1")
    assert "WiFi — No signal in the room" in SandboxMessage.objects.get(log=alert).body
    assert CommunicationLog.objects.filter(idempotency_key=f"{booking.pk}:guest.issue_resolved:2", status="SENT").exists()
    waiting = booking.schedules.get(idempotency_key=f"{booking.pk}:guest.issue_resolved:1")
    assert (waiting.status, waiting.due_at) == ("Pending", dt.datetime(2026, 3, 17, 2, 30, tzinfo=UTC))  # 08:00 IST


def test_failing_handler_retries_with_backoff_then_goes_dead(tenant, monkeypatch):
    calls = []

    @handles("test.explodes")
    def explode(rows, now):
        calls.append(now)
        raise RuntimeError("boom")

    event = publish("test.explodes", now=dt.datetime(2026, 3, 1, tzinfo=UTC))
    moment = dt.datetime(2026, 3, 1, tzinfo=UTC)
    for _ in range(MAX_ATTEMPTS):
        event.refresh_from_db()
        moment = max(moment, event.available_at)
        dispatch_outbox(moment)
    event.refresh_from_db()
    assert (event.status, event.attempts) == (OutboxStatus.DEAD, MAX_ATTEMPTS)
    assert "RuntimeError: boom" in event.last_error
    assert len(calls) == MAX_ATTEMPTS
    assert calls[1] - calls[0] == dt.timedelta(seconds=30)  # backed off, not hammered


def test_one_failing_event_does_not_hold_back_the_batch(book, tick, monkeypatch):
    @handles("test.explodes.too")
    def explode(rows, now):
        raise RuntimeError("boom")

    at = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    publish("test.explodes.too", now=at)
    booking = book(now=at)
    tick(at)
    assert SandboxMessage.objects.filter(booking=booking).count() == 1


def test_wake_up_index_tracks_the_next_due_work(book, tick, tenant):
    booking = book()
    index = TenantWorkIndex.objects.get(tenant=tenant)
    assert index.next_due_at == dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)  # the event, due now
    tick(dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
    index.refresh_from_db()
    assert index.next_due_at == booking.schedules.filter(status="Pending").order_by("due_at").first().due_at
    assert index.next_due_at == dt.datetime(2026, 3, 8, 8, 30, tzinfo=UTC)  # the welcome


def test_poll_costs_one_query_whatever_the_number_of_tenants(tenant, django_assert_num_queries, no_task_queue):
    assert TenantWorkIndex.objects.count() >= 2  # several tenants, still one query
    TenantWorkIndex.objects.update(next_due_at=None)
    connection.set_schema_to_public()
    poll_due_tenants()  # the first query on a fresh schema also sets the search path
    with django_assert_num_queries(1):
        assert poll_due_tenants() == 0
    assert no_task_queue == []


def test_poll_requests_a_tick_for_each_due_tenant_only(tenant, other_tenant, no_task_queue):
    now = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
    TenantWorkIndex.objects.update(next_due_at=None)
    TenantWorkIndex.objects.filter(tenant=other_tenant).update(next_due_at=now - dt.timedelta(seconds=1))
    assert due_schemas(now) == [other_tenant.schema_name]
    poll_due_tenants()
    assert no_task_queue == [other_tenant.schema_name]
