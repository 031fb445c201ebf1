"""The staff API (DRF): roles, filters, actions through the services, errors as JSON per field, tokens,
cross-tenant isolation (NFR 2) and the OpenAPI schema."""
import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.authtoken.models import Token

from coupons.models import GuestCoupon
from operations.models import MaintenanceTicket
from tests.conftest import SchemaKeepingClient
from tests.factories import make_booking, make_guest, make_listing

UTC = dt.timezone.utc


@pytest.fixture
def as_role(tenant):
    made = {}

    def client(role):
        if role not in made:
            user = User.objects.create_user(f"{role}-api", password="pw", is_staff=True)
            user.groups.add(Group.objects.get(name=role))
            c = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
            c.force_login(user)
            made[role] = c
        return made[role]

    return client


def test_bookings_list_filters_and_hides_money_below_owner(as_role):
    lead = make_booking(status="Lead", source="Airbnb")
    make_booking(status="Confirmed")
    owner = as_role("owner").get("/api/bookings", {"status": "Lead"}).json()
    assert [b["id"] for b in owner["results"]] == [lead.pk] and owner["results"][0]["final_amount"] == "8500.00"
    frontdesk = as_role("frontdesk").get("/api/bookings").json()
    assert frontdesk["count"] == 2 and "final_amount" not in frontdesk["results"][0]
    assert frontdesk["results"][0]["stage"] in ("PRE_BOOKING", "BOOKING_CONFIRMED", "PRE_ARRIVAL", "POST_STAY", "DORMANT")


def test_create_booking_validates_per_field_and_goes_through_the_service(as_role):
    guest, listing = make_guest(), make_listing()
    client = as_role("frontdesk")
    bad = client.post("/api/bookings", {"guest": guest.pk, "listing": listing.pk, "checkin_date": "2026-12-10",
                                        "checkout_date": "2026-12-08", "guests_planned": 2, "total_amount": "5000"},
                      content_type="application/json")
    assert bad.status_code == 400 and bad.json() == {"checkout_date": ["Check-out must be after check-in."]}
    unknown = client.post("/api/bookings", {"guest": 999999, "listing": listing.pk, "checkin_date": "2026-12-10",
                                            "checkout_date": "2026-12-12", "guests_planned": 2, "total_amount": "5000"},
                          content_type="application/json")
    assert unknown.status_code == 400 and "guest" in unknown.json()
    ok = client.post("/api/bookings", {"guest": guest.pk, "listing": listing.pk, "checkin_date": "2026-12-10",
                                       "checkout_date": "2026-12-12", "guests_planned": 2, "total_amount": "5000"},
                     content_type="application/json")
    assert ok.status_code == 201 and ok.json()["status"] == "Confirmed"
    from messaging.models import OutboxMessage

    assert OutboxMessage.objects.filter(booking_id=ok.json()["id"], event_type="booking.confirmed").count() == 1


def test_lifecycle_actions_and_their_refusals(as_role):
    booking = make_booking(status="Lead")
    client = as_role("frontdesk")
    assert client.post(f"/api/bookings/{booking.pk}/confirm").json()["status"] == "Confirmed"
    refused = client.post(f"/api/bookings/{booking.pk}/check-out")
    assert refused.status_code == 400 and "has not checked in yet" in str(refused.json())
    assert client.post(f"/api/bookings/{booking.pk}/check-in").json()["checked_in_at"]
    assert client.post(f"/api/bookings/{booking.pk}/check-out").json()["status"] == "Completed"
    other = make_booking(status="Confirmed")
    assert client.post(f"/api/bookings/{other.pk}/cancel").json()["status"] == "Cancelled"


def test_booking_messages_are_for_managers(as_role):
    booking = make_booking()
    assert as_role("frontdesk").get(f"/api/bookings/{booking.pk}/messages").status_code == 403
    assert as_role("manager").get(f"/api/bookings/{booking.pk}/messages").status_code == 200


def test_guests_search_and_phone_validation(as_role):
    make_guest(name="Anita Desai")
    client = as_role("frontdesk")
    assert [g["name"] for g in client.get("/api/guests", {"q": "anita"}).json()["results"]] == ["Anita Desai"]
    bad = client.post("/api/guests", {"name": "X", "phone": "12345"}, content_type="application/json")
    assert bad.status_code == 400 and "+91 98765 01234" in bad.json()["phone"][0]
    good = client.post("/api/guests", {"name": "Ravi", "phone": "098765 00456"}, content_type="application/json")
    assert good.status_code == 201 and good.json()["phone"] == "+919876500456"


def test_tickets_acknowledge_through_the_service(as_role):
    ticket = MaintenanceTicket.objects.create(listing=make_listing(), ticket_type="WIFI", description="Slow", created_by="guest:1")
    client = as_role("frontdesk")
    assert client.get("/api/tickets").json()["count"] == 1
    assert client.post(f"/api/tickets/{ticket.pk}/acknowledge").json()["status"] == "ACKNOWLEDGED"


def test_coupon_validation_is_for_the_owner_with_the_specs_words(as_role):
    guest = make_guest()
    GuestCoupon.objects.create(guest=guest, coupon_code="ALPHA10-QWERTY", discount_value=Decimal("10"),
                               min_booking_amount=Decimal("5000"), valid_from=dt.datetime(2026, 1, 1, tzinfo=UTC),
                               valid_until=dt.datetime(2030, 1, 1, tzinfo=UTC))
    body = {"code": "ALPHA10-QWERTY", "guest": guest.pk, "total": "10000"}
    assert as_role("manager").post("/api/coupons/validate", body, content_type="application/json").status_code == 403
    quote = as_role("owner").post("/api/coupons/validate", body, content_type="application/json").json()
    assert (quote["discount"], quote["final"]) == ("1000.00", "9000.00")
    low = as_role("owner").post("/api/coupons/validate", {**body, "total": "100"}, content_type="application/json")
    assert low.status_code == 400 and low.json() == {"coupon_code": ["Minimum booking amount ₹5,000 required for this coupon"]}


def test_metrics_for_managers_without_money_and_bad_period(as_role):
    manager = as_role("manager").get("/api/metrics").json()["metrics"]
    assert "guest_satisfaction" in manager and "referral_bookings" not in manager
    assert "referral_bookings" in as_role("owner").get("/api/metrics").json()["metrics"]
    assert as_role("frontdesk").get("/api/metrics").status_code == 403
    assert as_role("owner").get("/api/metrics", {"days": "0"}).status_code == 400


def test_token_auth_and_cross_tenant_isolation(tenant, other_tenant, activate):
    alpha_booking = make_booking()
    user = User.objects.create_user("alpha-token", password="pw")
    user.groups.add(Group.objects.get(name="owner"))
    alpha_token = Token.objects.create(user=user).key
    activate("beta")
    beta_user = User.objects.create_user("beta-token", password="pw")
    beta_user.groups.add(Group.objects.get(name="owner"))
    beta_token = Token.objects.create(user=beta_user).key
    alpha = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
    beta = SchemaKeepingClient(HTTP_HOST="beta.localhost", keep=other_tenant)
    assert alpha.get("/api/bookings", HTTP_AUTHORIZATION=f"Token {alpha_token}").json()["count"] == 1
    refused = alpha.get("/api/bookings", HTTP_AUTHORIZATION=f"Token {beta_token}")
    assert refused.status_code in (401, 403)  # beta's key is unknown in alpha's schema
    assert beta.get(f"/api/bookings/{alpha_booking.pk}", HTTP_AUTHORIZATION=f"Token {beta_token}").status_code == 404
    assert beta.get("/api/bookings", HTTP_AUTHORIZATION=f"Token {beta_token}").json()["count"] == 0


def test_openapi_schema_and_docs(tenant_client):
    schema = tenant_client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/bookings/{id}/check-in" in schema.content
    assert tenant_client.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("perms, allowed", [({"view_booking", "change_booking"}, True),
                                            ({"view_booking", "add_booking"}, False)])
def test_an_action_on_a_booking_needs_the_change_permission_not_add(tenant, perms, allowed):
    """Checking in, confirming or cancelling changes a booking that exists: a user who may only add bookings
    may not; one who may change them but not add any may."""
    from django.contrib.auth.models import Permission

    user = User.objects.create_user("custom-api", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="bookings", codename__in=perms))
    client = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
    client.force_login(user)
    booking = make_booking(status="Lead")
    for action in ("confirm", "check-in", "check-out"):
        response = client.post(f"/api/bookings/{booking.pk}/{action}")
        assert response.status_code == (200 if allowed else 403), (action, response.content)
    booking.refresh_from_db()
    assert (booking.status == "Completed") == allowed
