"""§11.1 metrics on a known history: each named query gives the number worked out by hand."""
import datetime as dt
from decimal import Decimal

import pytest

from coupons.models import GuestCoupon
from insights import metrics
from messaging.models import CommunicationLog
from operations.models import Incident, MaintenanceTicket
from reviews.models import GuestReview
from tests.factories import make_booking, make_guest, make_listing

UTC = dt.timezone.utc
START, END = dt.datetime(2026, 3, 1, tzinfo=UTC), dt.datetime(2026, 4, 1, tzinfo=UTC)
IN = dt.datetime(2026, 3, 10, tzinfo=UTC)
BEFORE = dt.datetime(2026, 2, 10, tzinfo=UTC)


def stay(guest, *, out=IN, via="STAFF", source="Direct", referral="", amount=Decimal("5000")):
    return make_booking(guest=guest, status="Completed", source=source, confirmed_at=out - dt.timedelta(days=3),
                        checked_in_at=out - dt.timedelta(days=2), checked_in_via=via, checked_out_at=out,
                        checked_out_via="STAFF", referral_code=referral or None, total_amount=amount,
                        created_at=out - dt.timedelta(days=20))


@pytest.fixture
def history(tenant):
    a, b, c = make_guest(), make_guest(), make_guest()
    b1 = stay(a, via="PORTAL", source="Airbnb", out=BEFORE)  # before the period
    b2 = stay(a, via="PORTAL", referral="x1-abcd", amount=Decimal("7000"))  # a returns, direct, referred
    b3 = stay(b, via="STAFF", source="Booking.com")
    b4 = stay(c, via="PORTAL")
    GuestReview.objects.create(booking=b2, guest=a, property=b2.listing.property, overall_rating=5, submitted_at=IN)
    GuestReview.objects.create(booking=b3, guest=b, property=b3.listing.property, overall_rating=3, submitted_at=IN)
    for n, status in enumerate(["DELIVERED", "READ", "SENT", "FAILED"]):
        CommunicationLog.objects.create(booking=b2, event_type="guest.welcome", channel="WHATSAPP", status=status,
                                        idempotency_key=f"m{n}", created_at=IN)
    CommunicationLog.objects.create(booking=b2, event_type="guest.review_request", channel="WHATSAPP", status="READ",
                                    idempotency_key="not-pre-arrival", created_at=IN)
    listing = make_listing()
    MaintenanceTicket.objects.create(listing=listing, ticket_type="WIFI", description="x", created_by=f"guest:{a.pk}",
                                     created_at=IN, resolved_at=IN + dt.timedelta(hours=2))
    Incident.objects.create(listing=listing, incident_type="NOISE", description="x", created_by=f"guest:{b.pk}",
                            created_at=IN, resolved_at=IN + dt.timedelta(hours=6))
    MaintenanceTicket.objects.create(listing=listing, ticket_type="WIFI", description="staff", created_by="user:1",
                                     created_at=IN, resolved_at=IN + dt.timedelta(hours=50))
    for n, status in enumerate(["USED", "ACTIVE", "ACTIVE", "EXPIRED"]):
        GuestCoupon.objects.create(guest=a, coupon_code=f"ALPHA10-AAAA{n}A", discount_value=10, status=status,
                                   valid_from=IN - dt.timedelta(days=1), valid_until=IN + dt.timedelta(days=100),
                                   times_used=1 if status == "USED" else 0, created_at=IN)
    return a, b, c, b1


def value(name):
    return metrics.TENANT_METRICS[name][1](START, END).value


def test_each_tenant_metric_on_a_known_history(history):
    assert value("pre_arrival_response_rate") == 50.0  # 2 of 4 pre-arrival messages delivered or read
    assert value("issue_resolution_time") == 4.0  # (2 h + 6 h) / 2; the staff ticket is not a guest's
    assert value("guest_satisfaction") == 4.0  # (5 + 3) / 2
    assert value("review_response_rate") == round(2 * 100 / 3, 1)  # 2 of 3 check-outs in March
    assert value("repeat_booking_rate") == round(1 * 100 / 3, 1)  # a of a, b, c has 2 stays
    assert value("direct_booking_share") == round(2 * 100 / 3, 1)  # b2, b4 of b2, b3, b4
    converted = metrics.ota_to_direct_conversions(START, END)
    assert (converted.value, converted.detail) == (1, {"percent_of_direct_bookers": 50.0})  # a, of a and c
    assert value("coupon_redemption_rate") == 25.0
    referred = metrics.referral_bookings(START, END)
    assert (referred.value, referred.detail) == (1, {"revenue": "7000.00"})
    assert value("self_check_in_rate") == round(2 * 100 / 3, 1)  # b2, b4 by portal; b3 by staff


def test_an_empty_period_measures_nothing_rather_than_zero(tenant):
    assert value("pre_arrival_response_rate") is None and value("guest_satisfaction") is None


def test_weekly_trend_is_the_same_query_per_week(history):
    trend = metrics.weekly_trend("guest_satisfaction", END, weeks=5)
    assert len(trend) == 5 and trend[0][0] == END - dt.timedelta(weeks=5)
    assert [v.value for _, v in trend] == [None, 4.0, None, None, None]  # both reviews on 10 March


def test_dashboard_page_shows_every_metric_with_its_trend(history):
    from django.contrib.auth.models import Group, User

    from tests.conftest import SchemaKeepingClient

    def client(role):
        user = User.objects.create_user(f"{role}-dash", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        c = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
        c.force_login(user)
        return c

    from django.db import connection

    tenant = connection.tenant
    owner = client("owner")
    page = owner.get("/admin/dashboard/")
    assert page.status_code == 200
    html = page.content.decode()
    for _name, (label, _f) in metrics.TENANT_METRICS.items():
        assert label.replace("&", "&amp;") in html, label
    assert "<polyline" in html and "Messages sent" in html
    assert 'href="/admin/dashboard/"' in owner.get("/admin/").content.decode()
    manager = client("manager")
    manager_html = manager.get("/admin/dashboard/").content.decode()
    assert "Referral bookings" not in manager_html and "Guest satisfaction rating" in manager_html
    frontdesk = client("frontdesk")
    assert frontdesk.get("/admin/dashboard/").status_code == 403


def test_platform_admin_index_still_renders(tenant):
    from django.contrib.auth.models import User
    from django.db import connection

    from tests.conftest import SchemaKeepingClient

    connection.set_schema_to_public()
    root = User.objects.create_superuser("root-dash", password="pw")
    client = SchemaKeepingClient(HTTP_HOST="localhost", keep=tenant)
    client.force_login(root)
    page = client.get("/admin/")
    assert page.status_code == 200 and "Guest experience dashboard" not in page.content.decode()
