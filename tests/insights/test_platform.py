"""§11.2: the seven platform metrics across tenants (one statement each), anonymized, for the Atlas admin only."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.db import connection

from bookings.models import BookingSource, BookingStatus
from insights.platform import PLATFORM_METRICS, platform_metrics
from tests.factories import make_booking, make_guest, make_listing

UTC = dt.timezone.utc
START, END = dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC)
IN_PERIOD = dt.datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _stay(guest, listing, checkin: dt.date, **kw):
    at = dt.datetime.combine(checkin, dt.time(9), tzinfo=UTC)
    return make_booking(guest=guest, listing=listing, checkin_date=checkin, checkout_date=checkin + dt.timedelta(days=2),
                        status=BookingStatus.COMPLETED, checked_in_at=at, checked_in_via="HOST",
                        checked_out_at=at + dt.timedelta(days=2), checked_out_via="HOST", confirmed_at=at - dt.timedelta(days=5),
                        **kw)


@pytest.fixture
def two_tenants(activate, db):
    """Alpha: a 5-star review, a delivered and a failed WhatsApp message, a guest who came back within 3 months.
    Beta: a 3-star review, a delivered email, a one-time guest, a re-engagement that led to a booking."""
    from messaging.models import CommunicationLog
    from reviews.models import GuestReview

    activate("alpha")
    listing = make_listing()
    regular = make_guest(name="Asha Alpha")
    first = _stay(regular, listing, dt.date(2026, 3, 5))
    _stay(regular, listing, dt.date(2026, 5, 1))
    GuestReview.objects.create(booking=first, guest=regular, property=listing.property, overall_rating=5, submitted_at=IN_PERIOD)
    for n, status in enumerate(("DELIVERED", "FAILED")):
        CommunicationLog.objects.create(booking=first, guest=regular, event_type="guest.welcome", channel="WHATSAPP",
                                        status=status, idempotency_key=f"pl-a-{n}", created_at=IN_PERIOD)

    activate("beta")
    listing = make_listing()
    once = make_guest(name="Bala Beta")
    stay = _stay(once, listing, dt.date(2026, 3, 12), source=BookingSource.AIRBNB)
    GuestReview.objects.create(booking=stay, guest=once, property=listing.property, overall_rating=3, submitted_at=IN_PERIOD)
    CommunicationLog.objects.create(booking=stay, guest=once, event_type="guest.welcome", channel="EMAIL",
                                    status="READ", idempotency_key="pl-b-0", created_at=IN_PERIOD)
    CommunicationLog.objects.create(booking=stay, guest=once, event_type="guest.reengagement", channel="WHATSAPP",
                                    status="DELIVERED", idempotency_key="pl-b-1", created_at=IN_PERIOD, sent_at=IN_PERIOD)
    make_booking(guest=once, listing=listing, checkin_date=dt.date(2026, 6, 1), confirmed_at=IN_PERIOD + dt.timedelta(days=3),
                 created_at=IN_PERIOD + dt.timedelta(days=3))
    connection.set_schema_to_public()
    return regular, once


def test_the_seven_metrics_across_tenants(two_tenants):
    metrics = platform_metrics(START, END)
    assert set(metrics) == set(PLATFORM_METRICS) and len(metrics) == 7
    assert metrics["platform_guest_satisfaction"]["value"] == 4.0  # (5 + 3) / 2, one review in each tenant
    health = metrics["message_delivery_health"]
    # WhatsApp: delivered, failed (alpha), delivered (beta); email: read (beta)
    assert health["value"] == 75.0 and health["detail"]["by_channel"] == {"EMAIL": 100.0, "WHATSAPP": round(200 / 3, 1)}
    with time_machine.travel(dt.datetime(2027, 4, 1, tzinfo=UTC)):  # a year after both first stays ended
        cohort = platform_metrics(START, END)["guest_retention_cohort"]["detail"]
    assert (cohort["cohort"], cohort["within_3_months"], cohort["within_12_months"]) == (2, 50.0, 50.0)
    assert metrics["reengagement_effectiveness"]["value"] == 100.0


def test_retention_counts_only_guests_whose_horizon_has_elapsed(two_tenants):
    """Stays ended on 7 and 14 March 2026; Asha came back on 1 May. In mid-July the 3-month horizon has passed
    for both guests, the 6- and 12-month ones for neither: those are unknown, not 0 %."""
    from insights.platform import guest_retention_cohort

    with time_machine.travel(dt.datetime(2026, 7, 15, tzinfo=UTC)):
        value = guest_retention_cohort(START, END)
    assert value.value is None
    assert value.detail["within_3_months"] == 50.0 and value.detail["reached_3_months"] == 2
    assert value.detail["within_6_months"] is None and value.detail["reached_6_months"] == 0
    with time_machine.travel(dt.datetime(2026, 9, 10, tzinfo=UTC)):  # Asha's 6 months passed, not Bala's
        value = guest_retention_cohort(START, END)
    assert (value.detail["reached_6_months"], value.detail["within_6_months"]) == (1, 100.0)


def test_one_statement_per_metric_whatever_the_number_of_tenants(two_tenants, django_assert_max_num_queries):
    from insights.platform import message_delivery_health

    with django_assert_max_num_queries(3):  # the tenant list, the search path, one UNION ALL over every schema
        message_delivery_health(START, END)


def test_nothing_names_a_tenant_or_a_guest(two_tenants):
    regular, once = two_tenants
    text = json.dumps(platform_metrics(START, END), default=str)
    for secret in ("alpha", "beta", "Alpha", "Beta", regular.name, once.name, regular.phone, once.phone):
        assert secret not in text


def test_coupon_roi_and_direct_growth(activate, db):
    from coupons.models import GuestCoupon

    activate("alpha")
    listing = make_listing()
    guest = make_guest()
    first = _stay(guest, listing, dt.date(2026, 1, 5))
    coupon = GuestCoupon.objects.create(guest=guest, source_booking=first, coupon_code="ALPHA10", discount_type="PERCENT",
                                        discount_value=Decimal("10"), valid_from=dt.datetime(2026, 1, 8, tzinfo=UTC),
                                        valid_until=END + dt.timedelta(days=90))
    make_booking(guest=guest, listing=listing, checkin_date=dt.date(2026, 4, 10), total_amount=Decimal("10000"),
                 discount_amount=Decimal("1000"), applied_coupon=coupon, confirmed_at=IN_PERIOD)
    make_booking(guest=make_guest(), listing=listing, checkin_date=dt.date(2026, 4, 20), confirmed_at=IN_PERIOD,
                 source=BookingSource.AIRBNB)
    make_booking(guest=make_guest(), listing=listing, checkin_date=dt.date(2026, 4, 25),
                 confirmed_at=IN_PERIOD - dt.timedelta(days=35), source=BookingSource.AIRBNB)
    connection.set_schema_to_public()
    metrics = platform_metrics(START, END)
    assert metrics["coupon_roi"]["value"] == 9.0  # ₹9,000 of revenue for ₹1,000 of discount
    # this month: 1 direct of 2 (50 %); the month before: 0 of 1 → +50 points
    assert metrics["direct_booking_growth"]["value"] == 50.0


def test_page_and_api_for_the_platform_admin_only(tenant, two_tenants):
    from django.contrib.auth.models import User

    from tests.conftest import SchemaKeepingClient

    connection.set_schema_to_public()
    root = User.objects.create_superuser("root-platform", password="pw")
    staff = User.objects.create_user("staff-platform", password="pw", is_staff=True)
    client = SchemaKeepingClient(HTTP_HOST="localhost", keep=tenant)
    client.force_login(root)
    with time_machine.travel(END, tick=False):  # the page's periods end now: the history's month is the latest
        page = client.get("/admin/platform-metrics/")
    assert page.status_code == 200
    html = page.content.decode()
    assert html.count('id="metric-') == 7 and "<polyline" in html
    api = client.get("/api/platform/metrics?days=400")
    assert api.status_code == 400 and "between 1 and 366" in api.json()["days"][0]
    assert client.get("/api/platform/metrics").json()["metrics"]["platform_guest_satisfaction"]["label"]
    connection.set_schema_to_public()  # the platform's users live in public
    client.force_login(staff)
    assert client.get("/admin/platform-metrics/").status_code == 403
    assert client.get("/api/platform/metrics").status_code == 403
