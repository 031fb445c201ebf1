"""Issue 15, part 4: `POST /api/bookings` with an `Idempotency-Key` (Stripe's semantics) and a unique
(source, external reference), so a channel manager or PMS retrying a request or a webhook creates one booking."""
from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import time_machine
from django.contrib.auth.models import Group, User
from django.db import connection, connections
from django.test import Client
from django_tenants.utils import schema_context
from rest_framework.authtoken.models import Token

from bookings.models import Booking
from guests.models import Guest
from intake.models import IdempotencyRecord
from messaging.models import AutomationSchedule, CommunicationLog, OutboxMessage
from portal.models import GuestPortalToken
from tests.conftest import SchemaKeepingClient
from tests.factories import make_guest, make_listing

UTC = dt.timezone.utc


@pytest.fixture
def api(tenant):
    user = User.objects.create_user("channel-manager", is_staff=True)
    user.groups.add(Group.objects.get(name="frontdesk"))
    client = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
    client.force_login(user)

    def post(body, key=None, **headers):
        if key is not None:
            headers["HTTP_IDEMPOTENCY_KEY"] = key
        return client.post("/api/bookings", body, content_type="application/json", **headers)

    post.client = client
    return post


@pytest.fixture
def listing(tenant):
    return make_listing()


def stay(listing, **fields):
    return {"listing": listing.pk, "checkin_date": "2026-12-20", "checkout_date": "2026-12-23", "guests_planned": 2,
            "total_amount": "9000", "guest_name": "Asha Rao", "guest_phone": "+91 98765 01001", **fields}


def test_the_same_key_and_body_replay_the_first_answer(api, listing):
    first = api(stay(listing), key="order-7781")
    again = api(stay(listing), key="order-7781")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first and first["Idempotency-Key"] == "order-7781"
    assert Booking.objects.count() == 1 and Guest.objects.count() == 1
    assert OutboxMessage.objects.filter(event_type="booking.confirmed").count() == 1


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(api, listing):
    assert api(stay(listing), key="order-7782").status_code == 201
    other = api(stay(listing, checkout_date="2026-12-25"), key="order-7782")
    assert other.status_code == 422
    assert "already used for a different request" in other.json()["detail"]
    assert Booking.objects.get().checkout_date == dt.date(2026, 12, 23)


def test_a_refused_request_stores_nothing_so_the_corrected_one_may_use_its_key(api, listing):
    bad = api(stay(listing, checkout_date="2026-12-19"), key="order-7783")
    assert bad.status_code == 400 and bad.json() == {"checkout_date": ["Check-out must be after check-in."]}
    assert not IdempotencyRecord.objects.exists() and not Guest.objects.exists()  # the inline guest rolled back
    fixed = api(stay(listing), key="order-7783")
    assert fixed.status_code == 201 and "Idempotent-Replayed" not in fixed


def test_a_key_is_free_again_after_a_day_and_the_retention_job_deletes_it(api, listing):
    from guests.privacy import apply_retention

    with time_machine.travel(dt.datetime(2026, 12, 5, 9, 0, tzinfo=UTC), tick=False):
        assert api(stay(listing), key="order-7784").status_code == 201
    with time_machine.travel(dt.datetime(2026, 12, 6, 8, 59, tzinfo=UTC), tick=False):  # within the day: refused
        assert api(stay(listing, external_reference="PMS-2"), key="order-7784").status_code == 422
        assert apply_retention()["idempotency_keys"] == 0
    with time_machine.travel(dt.datetime(2026, 12, 6, 9, 1, tzinfo=UTC), tick=False):
        assert apply_retention()["idempotency_keys"] == 1
        assert not IdempotencyRecord.objects.exists()
        assert api(stay(listing, external_reference="PMS-2"), key="order-7784").status_code == 201
    assert Booking.objects.count() == 2


def test_a_key_belongs_to_its_caller_and_must_be_printable(api, listing, tenant):
    assert api(stay(listing), key="shared-key").status_code == 201
    someone = User.objects.create_user("someone-else", is_staff=True)
    someone.groups.add(Group.objects.get(name="frontdesk"))
    other = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
    other.force_login(someone)
    reused = other.post("/api/bookings", stay(listing), content_type="application/json",
                        HTTP_IDEMPOTENCY_KEY="shared-key")
    assert reused.status_code == 422  # not another caller's booking handed back
    for key in ("has space", "x" * 256, ""):
        refused = api(stay(listing), key=key)
        assert refused.status_code == 400 and "Idempotency-Key" in refused.json()
    assert Booking.objects.count() == 1


def test_a_retry_without_a_key_finds_the_booking_of_its_reference(api, listing):
    first = api(stay(listing, source="Booking.com", external_reference="BDC-4411"))
    again = api(stay(listing, source="Booking.com", external_reference="BDC-4411"))
    assert first.status_code == 201 and again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert first.json()["external_reference"] == "BDC-4411"
    moved = api(stay(listing, source="Booking.com", external_reference="BDC-4411", checkin_date="2026-12-21"))
    assert moved.status_code == 409 and moved.json()["booking"] == first.json()["id"]
    assert "already has the Booking.com reference “BDC-4411”" in moved.json()["external_reference"][0]
    other_source = api(stay(listing, source="Airbnb", external_reference="HM4411", checkin_date="2027-01-05",
                            checkout_date="2027-01-07"))
    assert other_source.status_code == 201
    assert Booking.objects.count() == 2 and Guest.objects.count() == 1  # the returning guest, found by phone


def test_an_inline_guest_is_matched_by_phone_and_a_guest_without_contact_completes_it(api, listing):
    known = make_guest(name="Asha Rao", phone="+919876501001")
    booked = api(stay(listing, guest_phone="098765 01001"))  # the same mobile, written the Indian way
    assert booked.status_code == 201 and booked.json()["guest"] == known.pk
    assert booked.json()["contact_needed"] is False
    bare = api(stay(listing, guest_name="Walk-in from the OTA", guest_phone="", checkin_date="2027-02-01",
                    checkout_date="2027-02-03"))
    assert bare.status_code == 201 and bare.json()["contact_needed"] is True
    booking = Booking.objects.get(pk=bare.json()["id"])
    assert GuestPortalToken.objects.filter(booking=booking, is_active=True).exists()  # the link to send
    from messaging.tasks import run_tenant_tick

    run_tenant_tick(connection.schema_name, dt.datetime(2027, 1, 31, 9, 0, tzinfo=UTC))
    # The guest's touchpoints wait for the contact (planned when the guest completes it); nothing went out.
    assert not AutomationSchedule.objects.filter(booking=booking, recipient="GUEST").exists()
    assert not CommunicationLog.objects.filter(booking=booking, guest=booking.guest).exists()
    assert AutomationSchedule.objects.filter(booking=booked.json()["id"], recipient="GUEST").exists()


@pytest.mark.parametrize("body, field, words", [
    ({"guest_phone": "+91 80 2345 6789"}, "guest_phone", "is not a mobile number"),  # a Bengaluru landline
    ({"guest_phone": "12"}, "guest_phone", "phone number"),
    ({"guest": 1}, "guest", "not both"),
    ({"guest_name": None, "guest_phone": None}, "guest", "Give the guest's id, or their name"),
])
def test_bad_guest_details_are_clear_client_errors(api, listing, body, field, words):
    data = {k: v for k, v in {**stay(listing), **body}.items() if v is not None}
    refused = api(data, key="bad-guest")
    assert refused.status_code == 400 and words in str(refused.json()[field])
    assert not Booking.objects.exists() and not Guest.objects.exists() and not IdempotencyRecord.objects.exists()


def test_anonymizing_a_guest_deletes_the_stored_answers_naming_them(api, listing):
    from guests.privacy import anonymize_guest

    booked = api(stay(listing), key="order-7790").json()
    api(stay(listing, guest_name="Ravi K", guest_phone="+91 98765 01002", checkin_date="2027-03-01",
             checkout_date="2027-03-02"), key="order-7791")
    anonymize_guest(booked["guest"], actor="owner")
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["order-7791"]


def test_the_schema_documents_the_header_and_the_inline_guest(tenant):
    schema = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant).get("/api/schema/", {"format": "json"})
    create = schema.json()["paths"]["/api/bookings"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in create["parameters"])
    assert {"200", "201", "409", "422"} <= set(create["responses"])
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    body = schema.json()["components"]["schemas"][ref]["properties"]
    assert {"guest_name", "guest_phone", "guest_email", "external_reference"} <= set(body)


# Two callers at the same moment, on committed rows (other connections must see them): no django_db mark.
RACE = "idem"


@pytest.fixture
def race_tenant(django_db_setup, django_db_blocker, monkeypatch):
    from tenants.models import Tenant
    from tenants.services import create_tenant

    monkeypatch.setattr("messaging.tasks.request_tick", lambda schema: None)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        if Tenant.objects.filter(schema_name=RACE).exists():  # left by an interrupted run
            Tenant.objects.get(schema_name=RACE).delete(force_drop=True)
        tenant = create_tenant(slug=RACE, name="Idem Homestays")
        with schema_context(RACE):
            user = User.objects.create_user("race-api")
            user.groups.add(Group.objects.get(name="frontdesk"))
            token = Token.objects.create(user=user).key
            listing = make_listing()
        yield tenant, token, listing
        connection.set_schema_to_public()
        Tenant.objects.get(schema_name=RACE).delete(force_drop=True)


def _lock_waiters() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = "
                       "current_database()")
        return cursor.fetchone()[0]


def _race(tenant, token, body, headers, monkeypatch) -> list:
    """Two requests at once; the first holds its transaction open until the second waits on a lock (the key's
    or the reference's unique index), so the two really overlap."""
    from bookings import services

    create, first_in = services.create_booking, threading.Event()

    def held_create(**fields):
        booking = create(**fields)
        if not first_in.is_set():
            first_in.set()
            deadline = time.monotonic() + 20
            while _lock_waiters() == 0 and time.monotonic() < deadline:
                time.sleep(0.02)  # a condition to wait for, not a duration: the other request blocks on us
        return booking

    monkeypatch.setattr(services, "create_booking", held_create)
    answers, errors = [None, None], []

    def call(n):
        try:
            if n == 1:
                first_in.wait(20)
            client = Client(HTTP_HOST=tenant.get_primary_domain().domain, HTTP_AUTHORIZATION=f"Token {token}")
            answers[n] = client.post("/api/bookings", body, content_type="application/json", **headers)
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    return answers


def test_two_requests_with_one_key_at_once_make_one_booking(race_tenant, django_db_blocker, monkeypatch):
    tenant, token, listing = race_tenant
    with django_db_blocker.unblock():
        first, second = _race(tenant, token, stay(listing), {"HTTP_IDEMPOTENCY_KEY": "race-1"}, monkeypatch)
        assert (first.status_code, second.status_code) == (201, 201)
        assert second.json() == first.json() and second["Idempotent-Replayed"] == "true"
        with schema_context(RACE):
            assert Booking.objects.count() == 1 and Guest.objects.count() == 1


def test_two_deliveries_of_one_webhook_without_a_key_make_one_booking(race_tenant, django_db_blocker, monkeypatch):
    tenant, token, listing = race_tenant
    body = stay(listing, source="MakeMyTrip", external_reference="MMT-99120")
    with django_db_blocker.unblock():
        first, second = _race(tenant, token, body, {}, monkeypatch)
        assert sorted([first.status_code, second.status_code]) == [200, 201]
        assert first.json()["id"] == second.json()["id"]
        with schema_context(RACE):
            assert Booking.objects.count() == 1 and Guest.objects.count() == 1
