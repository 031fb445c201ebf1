"""Who may do what (RA-GUEST-001 §10.4–§10.6, NFR 2, NFR 8): every principal against every kind of data, in
the staff API and in the back office. The expectations are written from the spec's table and tenants/roles.py,
not from what the code answers:

  guest profile (name, phone, email)          frontdesk, manager, owner
  bookings and their lifecycle actions        frontdesk, manager, owner (amounts: owner only)
  tickets and incidents                       frontdesk, manager, owner
  guest communication log (a booking's msgs)  manager, owner
  guest reviews, consents, metrics            manager, owner (money metrics: owner only)
  guest financial data (coupons, payments,    owner
    lifetime value and spend)
  guest data export, anonymization            owner only
  another tenant's staff, the platform admin  nothing: their credentials do not exist in this tenant's schema
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.urls import reverse
from rest_framework.authtoken.models import Token

from tests.conftest import SchemaKeepingClient
from tests.factories import make_booking, make_guest, make_listing

UTC = dt.timezone.utc
HOST = "alpha.localhost"
STAFF = ("frontdesk", "manager", "owner")
OUTSIDERS = ("anonymous", "platform_admin", "other_tenant_owner")
PRINCIPALS = (*OUTSIDERS, *STAFF)
MONEY = ("total_amount", "discount_amount", "final_amount", "amount_received", "payment_status")

ALL = dict(frontdesk=True, manager=True, owner=True)
MANAGERS = dict(frontdesk=False, manager=True, owner=True)
OWNER = dict(frontdesk=False, manager=False, owner=True)


@pytest.fixture
def world(tenant):
    """One of each kind of row in tenant alpha."""
    from bookings.services import check_in_guest, record_payment
    from coupons.models import GuestCoupon
    from guests.models import GuestConsent
    from messaging.models import CommunicationLog
    from operations.models import Incident, MaintenanceTicket
    from reviews.models import GuestReview

    listing = make_listing()
    guest = make_guest(name="Meera Iyer", phone="+919876500111", email="meera@example.com")
    booking = make_booking(guest=guest, listing=listing, status="Confirmed", referral_code="")
    record_payment(booking, amount=1000)
    lead = make_booking(listing=listing, status="Lead", checkin_date=dt.date(2026, 4, 1))
    stay = make_booking(listing=listing, status="Confirmed", checkin_date=dt.date(2026, 5, 1))
    check_in_guest(stay)
    done = make_booking(guest=guest, listing=listing, status="Completed", checkin_date=dt.date(2026, 2, 1))
    CommunicationLog.objects.create(booking=booking, guest=guest, event_type="guest.welcome", channel="WHATSAPP",
                                    idempotency_key=f"{booking.pk}:guest.welcome:1")
    coupon = GuestCoupon.objects.create(guest=guest, coupon_code="ALPHA10-ROLES1", discount_value=Decimal("10"),
                                        min_booking_amount=Decimal("1000"),
                                        valid_from=dt.datetime(2026, 1, 1, tzinfo=UTC),
                                        valid_until=dt.datetime(2030, 1, 1, tzinfo=UTC))
    review = GuestReview.objects.create(booking=done, guest=guest, property=listing.property, overall_rating=5,
                                        comment="Lovely stay")
    consent = GuestConsent.objects.create(guest=guest, channel="EMAIL", status="GRANTED", source="BOOKING_FORM",
                                          granted_at=dt.datetime(2026, 1, 1, tzinfo=UTC))
    ticket = MaintenanceTicket.objects.create(listing=listing, booking=booking, ticket_type="WIFI", description="Slow",
                                              created_by=f"guest:{guest.pk}")
    incident = Incident.objects.create(listing=listing, incident_type="NOISE", description="Loud", created_by="staff:1")
    return dict(listing=listing, guest=guest, booking=booking, lead=lead, stay=stay, coupon=coupon, review=review,
                consent=consent, ticket=ticket, incident=incident, payment=booking.payments.first())


def _user(role: str, username: str) -> User:
    user = User.objects.create_user(username, is_staff=True)  # no password: hashing one costs ~0.1 s a test
    user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def principal(tenant, other_tenant):
    """principal(name) -> (API client with that principal's token, back-office client logged in as them)."""
    made = {}

    def make(name: str):
        if name in made:
            return made[name]
        api = SchemaKeepingClient(HTTP_HOST=HOST, keep=tenant)
        office = SchemaKeepingClient(HTTP_HOST=HOST, keep=tenant)
        if name in STAFF:
            user = _user(name, f"{name}-matrix")
            api.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=user).key}"
            office.force_login(user)
        elif name == "platform_admin":  # the Atlas admin lives in the public schema, with a session and a token
            connection.set_schema_to_public()
            root = User.objects.create_superuser("atlas-root", password=None)
            api.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=root).key}"
            office.force_login(root)
            connection.set_tenant(tenant)
        elif name == "other_tenant_owner":  # beta's owner, with beta's token and session, on alpha's domain
            connection.set_tenant(other_tenant)
            beta = _user("owner", "beta-owner-matrix")
            api.defaults["HTTP_AUTHORIZATION"] = f"Token {Token.objects.create(user=beta).key}"
            office.force_login(beta)
            connection.set_tenant(tenant)
        made[name] = (api, office)
        return made[name]

    return make


def _coupon_body(w):
    return {"code": w["coupon"].coupon_code, "guest": w["guest"].pk, "total": "5000"}


def _booking_body(w):
    return {"guest": w["guest"].pk, "listing": w["listing"].pk, "checkin_date": "2026-12-10",
            "checkout_date": "2026-12-12", "guests_planned": 2, "total_amount": "5000"}


# (kind of data, method, path from the world, body from the world, who may, status when allowed)
ENDPOINTS = [
    ("bookings list", "get", lambda w: "/api/bookings", None, ALL, 200),
    ("booking detail", "get", lambda w: f"/api/bookings/{w['booking'].pk}", None, ALL, 200),
    ("booking create", "post", lambda w: "/api/bookings", _booking_body, ALL, 201),
    ("booking confirm", "post", lambda w: f"/api/bookings/{w['lead'].pk}/confirm", None, ALL, 200),
    ("booking cancel", "post", lambda w: f"/api/bookings/{w['booking'].pk}/cancel", None, ALL, 200),
    ("booking check-in", "post", lambda w: f"/api/bookings/{w['booking'].pk}/check-in", None, ALL, 200),
    ("booking check-out", "post", lambda w: f"/api/bookings/{w['stay'].pk}/check-out", None, ALL, 200),
    ("booking messages", "get", lambda w: f"/api/bookings/{w['booking'].pk}/messages", None, MANAGERS, 200),
    ("guests list", "get", lambda w: "/api/guests", None, ALL, 200),
    ("guest detail", "get", lambda w: f"/api/guests/{w['guest'].pk}", None, ALL, 200),
    ("guest create", "post", lambda w: "/api/guests", lambda w: {"name": "Ravi Kumar", "phone": "+919876500222"},
     ALL, 201),
    ("guest update", "patch", lambda w: f"/api/guests/{w['guest'].pk}", lambda w: {"name": "Meera R. Iyer"}, ALL, 200),
    ("guest lifetime value", "get", lambda w: f"/api/guests/{w['guest'].pk}/lifetime-value", None, OWNER, 200),
    ("guest export", "get", lambda w: f"/api/guests/{w['guest'].pk}/export", None, OWNER, 200),
    ("guest anonymize", "post", lambda w: f"/api/guests/{w['guest'].pk}/anonymize", None, OWNER, 200),
    ("tickets list", "get", lambda w: "/api/tickets", None, ALL, 200),
    ("ticket detail", "get", lambda w: f"/api/tickets/{w['ticket'].pk}", None, ALL, 200),
    ("ticket acknowledge", "post", lambda w: f"/api/tickets/{w['ticket'].pk}/acknowledge", None, ALL, 200),
    ("ticket resolve", "post", lambda w: f"/api/tickets/{w['ticket'].pk}/resolve", None, ALL, 200),
    ("incidents list", "get", lambda w: "/api/incidents", None, ALL, 200),
    ("incident detail", "get", lambda w: f"/api/incidents/{w['incident'].pk}", None, ALL, 200),
    ("incident resolve", "post", lambda w: f"/api/incidents/{w['incident'].pk}/resolve", None, ALL, 200),
    ("coupon validation", "post", lambda w: "/api/coupons/validate", _coupon_body, OWNER, 200),
    ("metrics", "get", lambda w: "/api/metrics", None, MANAGERS, 200),
    ("semantic metrics list", "get", lambda w: "/api/semantic/metrics", None, MANAGERS, 200),
    ("semantic metric", "get", lambda w: "/api/semantic/metrics/bookings", None, MANAGERS, 200),
    ("semantic revenue", "get", lambda w: "/api/semantic/metrics/revenue", None, OWNER, 200),
    ("personalization profile", "get", lambda w: f"/api/personalization/guests/{w['guest'].pk}", None, MANAGERS, 200),
    ("personalization import", "post", lambda w: "/api/personalization/import/guest_profiles",
     lambda w: {"source_system": "pms", "records": [{"guest_id": "G-1", "name": "Asha Rao"}]}, MANAGERS, 200),
    ("direct-booking quote", "get", lambda w: f"/api/personalization/quote?guest={w['guest'].pk}&amount=5000", None,
     ALL, 200),
]


def _call(client, method, path, body):
    if body is None:
        return getattr(client, method)(path)
    return getattr(client, method)(path, body, content_type="application/json")


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("kind,method,path,body,allowed,ok", ENDPOINTS, ids=[e[0] for e in ENDPOINTS])
def test_api_role_matrix(world, principal, who, kind, method, path, body, allowed, ok):
    api, _ = principal(who)
    response = _call(api, method, path(world), body(world) if body else None)
    if who in OUTSIDERS:
        # No credentials this tenant knows: 401 with the token challenge, never data.
        assert response.status_code == 401, (kind, who, response.content[:300])
        assert response["WWW-Authenticate"].startswith("Token")
    elif allowed[who]:
        assert response.status_code == ok, (kind, who, response.content[:300])
    else:
        assert response.status_code == 403, (kind, who, response.content[:300])
        assert set(response.json()) == {"detail"}  # the refusal, and nothing of the data


@pytest.mark.parametrize("who", PRINCIPALS)
def test_the_api_schema_and_docs_are_public_and_unknown_api_urls_are_json_404s(world, principal, who):
    api, _ = principal(who)
    # Public to read without credentials; a token this tenant does not know is refused even here.
    expected = 401 if who in ("platform_admin", "other_tenant_owner") else 200
    assert api.get("/api/schema/").status_code == expected
    assert api.get("/api/docs/").status_code == expected
    missing = api.get("/api/no-such-thing")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert missing.json() == {"detail": "Not found."}


@pytest.mark.parametrize("who,sees_money", [("frontdesk", False), ("manager", False), ("owner", True)])
def test_booking_amounts_are_the_owners(world, principal, who, sees_money):
    api, _ = principal(who)
    detail = api.get(f"/api/bookings/{world['booking'].pk}").json()
    listed = api.get("/api/bookings").json()["results"]
    created = api.post("/api/bookings", _booking_body(world), content_type="application/json").json()
    confirmed = api.post(f"/api/bookings/{world['lead'].pk}/confirm").json()
    for shown in (detail, *listed, created, confirmed):
        assert all((field in shown) is sees_money for field in MONEY), (who, shown)
    if sees_money:
        assert (detail["final_amount"], detail["amount_received"]) == ("8500.00", "1000.00")


@pytest.mark.parametrize("who", STAFF)
def test_every_staff_role_sees_the_guest_profile_with_contacts(world, principal, who):
    """§10.6: the guest profile, phone and email included, is for frontdesk, managers and owners alike."""
    api, _ = principal(who)
    guest = api.get(f"/api/guests/{world['guest'].pk}").json()
    assert (guest["name"], guest["phone"], guest["email"]) == ("Meera Iyer", "+919876500111", "meera@example.com")
    found = api.get("/api/guests", {"q": "meera"}).json()["results"]
    assert [g["email"] for g in found] == ["meera@example.com"]


@pytest.mark.parametrize("who,sees_money", [("manager", False), ("owner", True)])
def test_money_metrics_are_the_owners(world, principal, who, sees_money):
    api, _ = principal(who)
    metrics = api.get("/api/metrics").json()["metrics"]
    assert "guest_satisfaction" in metrics
    assert ("referral_bookings" in metrics, "coupon_redemption_rate" in metrics) == (sees_money, sees_money)


@pytest.mark.parametrize("who,sees_money", [("manager", False), ("owner", True)])
def test_personalization_profile_hides_spend_below_the_owner(world, principal, who, sees_money, monkeypatch):
    from personalization import uses

    gold = {"guest_key": world["guest"].pk, "segment": "repeat", "lifetime_value": Decimal("17000.00"),
            "recent_spend_per_night": Decimal("2833.33"), "earlier_spend_per_night": None, "preferred_payment": "UPI"}
    monkeypatch.setattr(uses, "profile", lambda guest_id: dict(gold))  # the gold row as the refresh writes it
    api, _ = principal(who)
    profile = api.get(f"/api/personalization/guests/{world['guest'].pk}").json()["profile"]
    assert profile["segment"] == "repeat"
    money = {"lifetime_value", "recent_spend_per_night", "earlier_spend_per_night", "preferred_payment"}
    assert (money <= set(profile)) is sees_money and (money & set(profile) == set()) is not sees_money


def test_anonymize_through_the_api_keeps_the_bookings(world, principal):
    api, _ = principal("owner")
    guest = world["guest"]
    body = api.post(f"/api/guests/{guest.pk}/anonymize").json()
    assert body["name"] == "Deleted Guest"
    assert body["phone"].startswith("sha256:") and body["email"].startswith("sha256:")
    assert api.get("/api/bookings", {"guest": guest.pk}).json()["count"] == 2  # history stays for the totals
    from operations.models import AuditLog

    assert AuditLog.objects.filter(action="guest.anonymized", object_id=str(guest.pk)).count() == 1


# ---- the back office (Django admin): changelist and change page per role and kind of data ----

def _admin_url(obj, page):
    meta = obj._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{page}", args=(obj.pk,) if page == "change" else ())


ADMIN = [  # (kind of data, the world's row, who may see it)
    ("booking", "booking", ALL),
    ("guest", "guest", ALL),
    ("ticket", "ticket", ALL),
    ("incident", "incident", ALL),
    ("communication log", "log", MANAGERS),
    ("review", "review", MANAGERS),
    ("consent", "consent", MANAGERS),
    ("coupon", "coupon", OWNER),
    ("payment", "payment", OWNER),
]


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("kind,row,allowed", ADMIN, ids=[a[0] for a in ADMIN])
@pytest.mark.parametrize("page", ["changelist", "change"])
def test_admin_role_matrix(world, principal, who, kind, row, allowed, page):
    from messaging.models import CommunicationLog

    obj = CommunicationLog.objects.get(booking=world["booking"]) if row == "log" else world[row]
    _, office = principal(who)
    response = office.get(_admin_url(obj, page))
    if who in OUTSIDERS:  # not logged in here at all: to the login page
        assert response.status_code == 302 and "/admin/login/" in response["Location"], (kind, who)
    else:
        assert response.status_code == (200 if allowed[who] else 403), (kind, who, page)


@pytest.mark.parametrize("who,sees_money", [("frontdesk", False), ("manager", False), ("owner", True)])
def test_admin_guest_and_booking_pages_hide_money_and_logs_by_role(world, principal, who, sees_money):
    _, office = principal(who)
    booking_page = office.get(_admin_url(world["booking"], "change")).content.decode()
    guest_page = office.get(_admin_url(world["guest"], "change")).content.decode()
    assert ("Final amount" in booking_page) is sees_money
    assert ("Lifetime value" in guest_page) is sees_money  # total revenue is guest financial data
    assert ("+919876500111" in guest_page) and ("meera@example.com" in guest_page)  # the profile: every role
    sees_logs = who != "frontdesk"
    assert ("Message timeline" in booking_page) is sees_logs
    assert ("guest.welcome" in guest_page) is sees_logs  # per-guest message history
    guests = office.get(reverse("admin:guests_guest_changelist")).content.decode()
    assert ('value="anonymize"' in guests) is (who == "owner")
    bookings = office.get(reverse("admin:bookings_booking_changelist"))
    assert ("By payment status" in bookings.content.decode()) is sees_money
    filtered = office.get(reverse("admin:bookings_booking_changelist"), {"payment_status": "Unpaid"})
    assert filtered.status_code == (200 if sees_money else 400)  # nor by a hand-made URL (DisallowedModelAdminLookup)


def test_unknown_api_urls_are_json_404s_on_the_platform_domain_too(public_client):
    missing = public_client.get("/api/no-such-thing")
    assert missing.status_code == 404 and missing.json() == {"detail": "Not found."}
    assert public_client.get("/no-such-page").headers["Content-Type"].startswith("text/html")  # pages stay pages


def test_filter_errors_name_their_field(world, principal):
    api, _ = principal("frontdesk")
    response = api.get("/api/bookings", {"checkin_from": "2026-13-45"})
    assert response.status_code == 400 and list(response.json()) == ["checkin_from"]
    lost = api.get("/api/tickets", {"status": "LOST"})
    assert lost.status_code == 400
    assert lost.json() == {"status": ["Use one of: OPEN, ACKNOWLEDGED, IN_PROGRESS, RESOLVED, CLOSED."]}


def test_platform_metrics_are_the_atlas_admins_alone(tenant, principal, public_client):
    """§11.2 lives on the platform's domain; a tenant's staff and tokens do not exist there."""
    api, _ = principal("owner")
    assert api.get("/api/platform/metrics").status_code == 404  # not served on a tenant's domain at all
    owner_token = api.defaults["HTTP_AUTHORIZATION"]
    assert public_client.get("/api/platform/metrics", HTTP_AUTHORIZATION=owner_token).status_code == 401
    assert public_client.get("/api/platform/metrics").status_code == 401
    connection.set_schema_to_public()  # users and sessions of the platform's domain live in public
    root = User.objects.create_superuser("atlas-metrics", password=None)
    staff_only = User.objects.create_user("atlas-staff", is_staff=True)  # public, without the superuser flag
    public_client.force_login(staff_only)
    assert public_client.get("/api/platform/metrics").status_code == 403
    connection.set_schema_to_public()
    public_client.force_login(root)
    assert public_client.get("/api/platform/metrics").status_code == 200
