import datetime as dt

import pytest
from django.db import connection

UTC = dt.timezone.utc


@pytest.fixture
def tick(tenant):
    """Run the tenant's lifecycle tick at a given instant, as the scheduler would."""
    from messaging.tasks import run_tenant_tick

    def run(now: dt.datetime) -> dict:
        totals = run_tenant_tick(connection.schema_name, now)
        connection.set_tenant(tenant)  # schema_context restores the schema; keep the tenant object set
        return totals

    return run


@pytest.fixture(autouse=True)
def no_task_queue(monkeypatch):
    """Ticks are run explicitly in these tests; requests to enqueue one are recorded, not queued."""
    requested: list[str] = []
    monkeypatch.setattr("messaging.tasks.request_tick", requested.append)
    return requested


IST_PROPERTY = {"time_zone": "Asia/Kolkata"}


@pytest.fixture
def book(tenant):
    """Confirm a booking through the services, at a given instant (default 2026-03-01 11:30 IST)."""
    from bookings.services import create_booking
    from tests.factories import make_access_info, make_guest, make_listing

    def make(*, checkin=dt.date(2026, 3, 15), nights=3, now=dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC), guest=None,
             listing=None, confirm=True, **fields):
        if listing is None:
            listing = make_listing()
            make_access_info(listing)
        return create_booking(
            guest=guest or make_guest(),
            listing=listing,
            checkin_date=checkin,
            checkout_date=checkin + dt.timedelta(days=nights),
            guests_planned=fields.pop("guests_planned", 2),
            total_amount=fields.pop("total_amount", 8500),
            confirm=confirm,
            now=now,
            **fields,
        )

    return make


def schedules_of(booking) -> dict[str, "AutomationSchedule"]:  # noqa: F821
    from messaging.models import AutomationSchedule

    return {s.idempotency_key.split(":", 1)[1]: s for s in AutomationSchedule.objects.filter(booking=booking)}
