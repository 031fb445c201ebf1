"""Privacy (§10.3–§10.5): export for the owner, anonymization that keeps the totals, retention."""
import datetime as dt
from decimal import Decimal

from django.contrib.auth.models import Group, User

from guests.models import Guest
from guests.privacy import anonymize_guest, apply_retention, export_guest
from guests.selectors import lifetime_value
from messaging.models import CommunicationLog, SandboxMessage
from portal.models import GuestPortalToken
from reviews.models import GuestReview
from tests.conftest import SchemaKeepingClient
from tests.factories import make_booking, make_guest

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 25, 6, 0, tzinfo=UTC)


def history():
    guest = make_guest(name="Priya Rao", email="priya@example.com")
    booking = make_booking(guest=guest, status="Completed", total_amount=Decimal("9000"), checked_in_at=NOW - dt.timedelta(days=40),
                           checked_in_via="STAFF", checked_out_at=NOW - dt.timedelta(days=37), checked_out_via="STAFF")
    GuestReview.objects.create(booking=booking, guest=guest, property=booking.listing.property, overall_rating=5,
                               comment="Raj was a great host")
    log = CommunicationLog.objects.create(booking=booking, guest=guest, event_type="guest.welcome", channel="WHATSAPP",
                                          status="DELIVERED", idempotency_key=f"{booking.pk}:guest.welcome:1")
    SandboxMessage.objects.create(log=log, booking=booking, channel="WHATSAPP", event_type="guest.welcome", to=guest.phone,
                                  body="Hi Priya Rao, SECRET BODY TEXT")
    return guest, booking


def test_export_has_everything_of_10_4_and_no_message_body(tenant):
    guest, booking = history()
    data = export_guest(guest.pk)
    assert set(data) == {"guest", "bookings", "reviews", "tags", "coupons", "consents", "communication_log",
                         "personalization"}  # the personalization design: its data is part of the export
    assert data["guest"]["email"] == "priya@example.com"
    assert data["bookings"][0]["final_amount"] == "9000.00"
    assert data["communication_log"][0] == {**data["communication_log"][0], "event_type": "guest.welcome", "status": "DELIVERED"}
    assert "SECRET BODY TEXT" not in str(data) and "body" not in str(data["communication_log"])


def test_export_endpoint_is_owner_only(tenant):
    guest, _ = history()

    def client(role):
        user = User.objects.create_user(f"{role}-export", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        c = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
        c.force_login(user)
        return c

    response = client("owner").get(f"/api/guests/{guest.pk}/export")
    assert response.status_code == 200 and response.json()["guest"]["name"] == "Priya Rao"
    assert "attachment" in response["Content-Disposition"]
    assert client("manager").get(f"/api/guests/{guest.pk}/export").status_code == 403


def test_anonymize_keeps_totals_and_forgets_the_person(tenant):
    guest, _ = history()
    before = lifetime_value(guest.pk)
    anonymize_guest(guest.pk, actor="user:1", now=NOW)
    guest.refresh_from_db()
    assert guest.name == "Deleted Guest"
    assert guest.phone.startswith("sha256:") and guest.email.startswith("sha256:") and "priya" not in guest.email
    assert GuestReview.objects.get(guest=guest).comment == ""
    assert lifetime_value(guest.pk) == before  # stays, revenue, rating still count
    assert Guest.objects.filter(phone__startswith="+91", pk=guest.pk).count() == 0


def test_retention_deactivates_old_tokens_keeping_the_hash_and_deletes_old_logs(tenant):
    guest, booking = history()
    token = GuestPortalToken.objects.create(booking=booking, guest=guest, token="a" * 32, token_hash="h" * 64,
                                            expires_at=NOW - dt.timedelta(days=1))
    CommunicationLog.objects.filter(booking=booking).update(created_at=NOW - dt.timedelta(days=800))
    SandboxMessage.objects.update(created_at=NOW - dt.timedelta(days=800))
    fresh = CommunicationLog.objects.create(booking=booking, guest=guest, event_type="guest.coupon_issued",
                                            channel="WHATSAPP", idempotency_key="fresh", created_at=NOW)
    result = apply_retention(NOW)
    token.refresh_from_db()
    assert (token.is_active, token.token, token.token_hash) == (False, None, "h" * 64)
    assert list(CommunicationLog.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert result["tokens_deactivated"] == 1 and result["logs_deleted"] >= 1
    assert apply_retention(NOW)["tokens_deactivated"] == 0  # idempotent
