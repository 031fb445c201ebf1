"""Portal test set-up: bookings confirmed through the services with their portal link, a client on the
tenant's domain, and the clock frozen per request (the views read django.utils.timezone.now)."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from html import unescape

import pytest
import time_machine
from django.db import connection

from bookings.models import Booking
from tests.conftest import SchemaKeepingClient

UTC = dt.timezone.utc
CONFIRMED_AT = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
CHECKIN = dt.date(2026, 3, 15)  # 14:00 IST = 08:30 UTC; check-out 18 Mar 11:00 IST = 05:30 UTC
ARRIVED_AT = dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC)  # 14:30 IST
LEFT_AT = dt.datetime(2026, 3, 18, 5, 30, tzinfo=UTC)  # 11:00 IST


@dataclass
class Stay:
    booking: Booking
    token: str

    @property
    def url(self) -> str:
        return f"/guest/{self.token}"

    def refresh(self) -> Booking:
        self.booking.refresh_from_db()
        return self.booking


@pytest.fixture(autouse=True)
def no_task_queue(monkeypatch):
    """Lifecycle ticks are run explicitly where a test needs them; nothing is queued."""
    monkeypatch.setattr("messaging.tasks.request_tick", lambda schema: None)


@pytest.fixture
def stay(tenant):
    """Confirm a booking through the services and issue its portal link (as booking.confirmed does)."""
    from bookings.services import create_booking
    from portal.services import issue_portal_token
    from tests.factories import make_access_info, make_guest, make_listing, make_property

    def make(*, checkin: dt.date = CHECKIN, nights: int = 3, access: dict | None = None, listing: dict | None = None,
             prop: dict | None = None, **fields) -> Stay:
        place = make_listing(make_property(**(prop or {})), **(listing or {}))
        if access is not False:
            make_access_info(place, **(access or {}))
        booking = create_booking(
            guest=make_guest(), listing=place, checkin_date=checkin, checkout_date=checkin + dt.timedelta(days=nights),
            guests_planned=2, total_amount=8500, now=CONFIRMED_AT, **fields,
        )
        return Stay(booking, issue_portal_token(booking).token)

    return make


@pytest.fixture
def client(tenant):
    return SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant)


@pytest.fixture
def csrf_client(tenant):
    return SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant, enforce_csrf_checks=True)


@pytest.fixture
def tick(tenant):
    from messaging.tasks import run_tenant_tick

    def run(now: dt.datetime) -> dict:
        totals = run_tenant_tick(connection.schema_name, now)
        connection.set_tenant(tenant)
        return totals

    return run


class At:
    """Requests at a frozen instant: `at(moment).get(url)`."""

    def __init__(self, client, moment: dt.datetime):
        self.client, self.moment = client, moment

    def get(self, url: str, **kw):
        with time_machine.travel(self.moment, tick=False):
            return self.client.get(url, **kw)

    def post(self, url: str, data: dict | None = None, **kw):
        with time_machine.travel(self.moment, tick=False):
            return self.client.post(url, data or {}, **kw)


@pytest.fixture
def at(client):
    return lambda moment, other=None: At(other or client, moment)


def text_of(response) -> str:
    """The page's visible text, whitespace collapsed: what a guest reads."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
