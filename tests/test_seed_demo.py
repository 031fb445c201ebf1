"""`manage.py seed_demo`: the demo host Sunset Stays, its year of history in every lifecycle stage, its staff,
and a second run that changes nothing.

The seed creates a real tenant schema, so it runs once for the module outside the per-test transaction and
is dropped again at the end; each test then reads (or re-seeds) inside its own transaction.
"""
from __future__ import annotations

import datetime as dt
import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from tenants import demo

NOW = dt.datetime(2026, 11, 25, 6, 30, tzinfo=dt.timezone.utc)  # noon in India
SCHEMA = demo.DEMO_SLUG


def seed(now: dt.datetime = NOW) -> str:
    out = StringIO()
    call_command("seed_demo", "--now", now.isoformat().replace("+00:00", "Z"), stdout=out)
    return out.getvalue()


@pytest.fixture(scope="module")
def seeded(django_db_setup, django_db_blocker):
    """Seed once (committed: the schema is real DDL), yield the command's output, then drop the demo tenant
    and the platform admin again so the rest of the session sees only its own tenants."""
    from django.contrib.auth import get_user_model

    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        admin_existed = get_user_model().objects.filter(username=demo.ADMIN_USERNAME).exists()
        try:
            output = seed()
        except BaseException:
            drop_demo(keep_admin=admin_existed)
            raise
    yield output
    with django_db_blocker.unblock():
        drop_demo(keep_admin=admin_existed)


def drop_demo(*, keep_admin: bool) -> None:
    from django.contrib.auth import get_user_model

    from tenants import current
    from tenants.models import Tenant

    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(slug=demo.DEMO_SLUG).first()
    if tenant is not None:
        tenant.delete(force_drop=True)
    if not keep_admin:
        get_user_model().objects.filter(username=demo.ADMIN_USERNAME).delete()
    current._cache.pop(SCHEMA, None)  # it may hold the deleted tenant row for a minute


@pytest.fixture
def in_sunset(seeded, db):
    with schema_context(SCHEMA):
        yield
    connection.set_schema_to_public()


def stages_at(now: dt.datetime) -> dict[str, int]:
    from bookings.lifecycle import stage_of
    from bookings.models import Booking

    counts: dict[str, int] = {}
    for booking in Booking.objects.select_related("listing__property", "guest"):
        stage = stage_of(booking, now).value
        counts[stage] = counts.get(stage, 0) + 1
    return counts


def test_every_lifecycle_stage_has_bookings(in_sunset):
    stages = stages_at(NOW)
    for stage in ("PRE_BOOKING", "BOOKING_CONFIRMED", "PRE_ARRIVAL", "CHECK_IN", "IN_STAY", "CHECK_OUT", "POST_STAY",
                  "REPEAT", "CANCELLED"):
        assert stages.get(stage, 0) >= 1, f"no booking in {stage}: {stages}"


def test_catalogue_guests_and_bookings(in_sunset):
    from bookings.models import Booking, BookingSource, Listing, ListingAccessInfo, Property, PropertyRecommendation
    from guests.models import Guest
    from operations.models import InventoryItem, ListingConsumable

    assert Property.objects.count() == 2
    assert Listing.objects.count() == 6  # five with their history, one whose bookings come from its Airbnb calendar
    assert ListingAccessInfo.objects.count() == 6
    assert ListingAccessInfo.objects.filter(access_code="").count() == 1  # the "staff will meet you" fallback
    for prop in Property.objects.all():
        recommendations = PropertyRecommendation.objects.filter(property=prop)
        assert recommendations.count() >= 6
        assert recommendations.values("category").distinct().count() >= 5
    assert InventoryItem.objects.exists() and ListingConsumable.objects.exists()

    guests = list(Guest.objects.exclude(bookings__listing__name=demo.CALENDAR_LISTING.name))
    assert len(guests) == 30
    assert all(re.fullmatch(r"\+91987650\d{4}", g.phone) for g in guests)
    assert all(g.email == "" or g.email.endswith("@example.com") for g in guests)
    assert any(g.email == "" for g in guests)

    assert 55 <= Booking.objects.exclude(listing__name=demo.CALENDAR_LISTING.name).count() <= 65
    assert set(Booking.objects.values_list("source", flat=True)) >= {
        BookingSource.DIRECT, BookingSource.AIRBNB, BookingSource.BOOKING_COM
    }
    assert set(Booking.objects.values_list("guests_planned", flat=True)) <= {1, 2, 3, 4}
    assert set(Booking.objects.values_list("payment_status", flat=True)) >= {"Paid", "Partial", "Unpaid"}


def test_bookings_never_overlap_on_a_listing(in_sunset):
    from bookings.models import Booking

    for listing_id in Booking.objects.values_list("listing_id", flat=True).distinct():
        stays = list(Booking.objects.filter(listing_id=listing_id).order_by("checkin_date"))
        for before, after in zip(stays, stays[1:]):
            assert after.checkin_date >= before.checkout_date, (before.notes, after.notes)


def test_the_engine_caught_up_with_the_history(in_sunset):
    from bookings.models import Booking
    from coupons.models import GuestCoupon
    from messaging.models import CommunicationLog, OutboxMessage, SandboxMessage
    from operations.models import HousekeepingTask
    from portal.models import GuestPortalToken

    assert SandboxMessage.objects.count() > 100
    assert not OutboxMessage.objects.filter(status="PENDING", available_at__lte=NOW).exists()
    # Messages went out over the year, not all at the moment of seeding.
    sent = CommunicationLog.objects.filter(status="SENT")
    assert sent.filter(sent_at__lt=NOW - dt.timedelta(days=200)).exists()
    assert not sent.filter(sent_at__gt=NOW).exists()
    confirmed = Booking.objects.filter(status="Confirmed")
    assert GuestPortalToken.objects.filter(booking__in=confirmed).count() == confirmed.count()
    assert GuestCoupon.objects.filter(coupon_code__startswith="SUNSET10-").exists()
    completed = Booking.objects.filter(status="Completed")
    assert HousekeepingTask.objects.filter(cleaning_type="TURNOVER", booking__in=completed).count() == completed.count()
    # The host forgot one check-out; the engine did it an hour after check-out time (GX-CO-001).
    forgotten = [demo.MARKER.format(n=plan.n) for plan in demo.PLAN if plan.kind == "forgotten"]
    assert Booking.objects.filter(notes__in=forgotten, checked_out_via="AUTO").count() == len(forgotten) >= 1


def test_role_users_are_staff_in_their_groups(in_sunset):
    from django.contrib.auth import get_user_model

    for username, _first, _last, password in demo.ROLE_USERS:
        user = get_user_model().objects.get(username=username)
        assert user.is_staff
        assert user.check_password(password)
        assert list(user.groups.values_list("name", flat=True)) == [username]


def test_the_summary_tells_a_person_where_to_go(seeded):
    assert "http://sunset.localhost:8000/admin/" in seeded
    assert "http://localhost:8000/admin/" in seeded
    for username, _first, _last, password in demo.ROLE_USERS:
        assert re.search(rf"{username}\s+{username}\s+{password}", seeded)
    assert re.search(r"http://sunset\.localhost:8000/guest/[0-9a-f]{32}", seeded)
    assert re.search(r"PRE_BOOKING \d+ · BOOKING_CONFIRMED \d+ · PRE_ARRIVAL \d+", seeded)


def test_a_second_run_changes_no_row_count(seeded, db):
    before, history = row_counts(), booking_history()
    output = seed()
    assert row_counts() == before
    assert booking_history() == history  # nothing moved either
    assert re.search(r"Bookings: all \d+ already there", output)
    assert "Tenant Sunset Stays (schema 'sunset'): already there" in output


def booking_history() -> list[tuple]:
    from bookings.models import Booking

    with schema_context(SCHEMA):
        return list(
            Booking.objects.order_by("notes", "checkin_date").values_list(
                "notes", "status", "checkin_date", "created_at", "confirmed_at", "checked_in_at", "checked_out_at",
                "amount_received",
            )
        )


def row_counts() -> dict[str, int]:
    """Every table of the public and the demo schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_schema IN ('public', %s) AND table_type = 'BASE TABLE'",
            [SCHEMA],
        )
        tables = cursor.fetchall()
        counts = {}
        for schema, table in tables:
            cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            counts[f"{schema}.{table}"] = cursor.fetchone()[0]
    assert any(name.startswith(f"{SCHEMA}.") for name in counts)
    return counts


@pytest.mark.parametrize("hour", range(0, 24, 3))
def test_the_plan_holds_at_any_hour(hour):
    """No overlaps, nothing dated after now, and each booking's steps in order, whenever the seed runs."""
    now = NOW.replace(hour=hour, minute=10)
    for booking in demo.resolve_plan(now):
        times = [step.at for step in booking.steps]
        assert times == sorted(times), booking.marker
        assert all(at <= now for at in times), booking.marker
        assert booking.steps[0].action == "book"
