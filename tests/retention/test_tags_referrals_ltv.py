"""Guest tags (§7.4, GX-PS-003, GX-T07, EC-14), referrals (§7.7) and lifetime value (§7.5)."""
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from bookings.services import check_in_guest, check_out_guest
from coupons.models import GuestCoupon
from guests.models import GuestTag
from guests.selectors import lifetime_value
from guests.tags import apply_tag, on_review_submitted
from operations.services import report_guest_issue
from reviews.models import GuestReview
from tests.factories import make_booking, make_guest, make_listing, make_property

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def tags_of(guest) -> set[str]:
    return set(GuestTag.objects.filter(guest=guest).values_list("tag", flat=True))


def completed(guest, **kw):
    return make_booking(guest=guest, status="Completed", checked_in_at=NOW - dt.timedelta(days=90),
                        checked_in_via="STAFF", checked_out_at=NOW - dt.timedelta(days=87), checked_out_via="STAFF",
                        created_at=kw.pop("created_at", NOW - dt.timedelta(days=120)), **kw)


def test_gx_t07_second_booking_tags_returning_guest_once(book, tick):
    guest = make_guest()
    first_stay = book(guest=guest, now=NOW)
    tick(NOW)
    assert "RETURNING_GUEST" not in tags_of(guest)  # a first booking is not a return
    completed(guest, checkin_date=dt.date(2025, 11, 1))
    book(guest=guest, checkin=dt.date(2026, 5, 1), now=NOW + dt.timedelta(hours=1))
    book(guest=guest, checkin=dt.date(2026, 6, 1), now=NOW + dt.timedelta(hours=2))
    tick(NOW + dt.timedelta(hours=2))
    assert GuestTag.objects.filter(guest=guest, tag="RETURNING_GUEST").count() == 1
    del first_stay


def test_direct_booker_and_ota_converted(book, tick):
    ota_first, direct_only, ota_only = make_guest(), make_guest(), make_guest()
    completed(ota_first, source="Airbnb", checkin_date=dt.date(2025, 10, 1))
    book(guest=ota_first, source="Direct", now=NOW)
    book(guest=direct_only, source="Direct", now=NOW)
    book(guest=ota_only, source="Booking.com", now=NOW)
    tick(NOW)
    assert {"DIRECT_BOOKER", "OTA_CONVERTED", "RETURNING_GUEST"} <= tags_of(ota_first)
    assert tags_of(direct_only) == {"DIRECT_BOOKER"}
    assert tags_of(ota_only) == set()


def test_vip_on_fifth_stay_or_big_spend_at_checkout(book, tick):
    loyal, big = make_guest(), make_guest()
    for n in range(4):
        completed(loyal, checkin_date=dt.date(2025, 1 + n, 1), total_amount=Decimal("1000"))
    completed(big, checkin_date=dt.date(2025, 1, 1), total_amount=Decimal("45000"))
    stays = [book(guest=g, total_amount=Decimal("6000"), now=NOW) for g in (loyal, big)]
    tick(NOW)
    assert "VIP" not in tags_of(loyal) | tags_of(big)
    for booking in stays:
        check_in_guest(booking, now=dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC))
        check_out_guest(booking, now=dt.datetime(2026, 3, 18, 5, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 3, 18, 5, 0, tzinfo=UTC))
    assert "VIP" in tags_of(loyal)  # fifth completed stay
    assert "VIP" in tags_of(big)  # ₹51,000 spent


def test_high_rated_needs_every_review_at_4_or_more_and_is_never_removed(tenant):
    guest = make_guest()
    first, second = completed(guest, checkin_date=dt.date(2025, 1, 1)), completed(guest, checkin_date=dt.date(2025, 2, 1))
    GuestReview.objects.create(booking=first, guest=guest, property=first.listing.property, overall_rating=5)
    assert on_review_submitted(guest.pk, NOW) == ["HIGH_RATED"]
    GuestReview.objects.create(booking=second, guest=guest, property=second.listing.property, overall_rating=2)
    assert on_review_submitted(guest.pk, NOW) == []
    assert "HIGH_RATED" in tags_of(guest)  # additive: a later low rating does not remove it (GX-PS-003)


def test_issue_reporter_on_the_second_report_across_stays(book, tick):
    guest = make_guest()
    one = book(guest=guest, now=NOW)
    two = book(guest=guest, checkin=dt.date(2026, 4, 1), listing=make_listing(make_property()), now=NOW)
    tick(NOW)
    check_in_guest(one, now=dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC))
    report_guest_issue(one, category="wifi", urgency="urgent", description="Slow", now=dt.datetime(2026, 3, 15, 10, 0, tzinfo=UTC))
    assert "ISSUE_REPORTER" not in tags_of(guest)
    check_in_guest(two, now=dt.datetime(2026, 4, 1, 9, 0, tzinfo=UTC))
    report_guest_issue(two, category="noise", urgency="urgent", description="Loud", now=dt.datetime(2026, 4, 1, 10, 0, tzinfo=UTC))
    assert "ISSUE_REPORTER" in tags_of(guest)  # EC-14: counted across the tenant's properties


def test_ec_14_tags_aggregate_across_properties(book, tick):
    guest = make_guest()
    completed(guest, listing=make_listing(make_property(name="Goa House")), checkin_date=dt.date(2025, 12, 1))
    book(guest=guest, listing=make_listing(make_property(name="Coorg Cottage")), now=NOW)
    tick(NOW)
    assert "RETURNING_GUEST" in tags_of(guest)


def test_manual_tag_by_host_and_system_never_duplicates(tenant):
    guest = make_guest()
    assert apply_tag(guest.pk, "LIKES_QUIET_ROOMS", by="MANUAL", now=NOW)
    assert not apply_tag(guest.pk, "LIKES_QUIET_ROOMS", by="MANUAL", now=NOW)
    assert GuestTag.objects.get(guest=guest).applied_by == "MANUAL"


def test_referral_flow(book, tick, tenant):
    from tenants.models import TenantGuestExperienceConfig

    TenantGuestExperienceConfig.objects.filter(tenant=tenant).update(
        referral_discount_type="FLAT", referrer_discount_value=Decimal("500"), referee_discount_value=Decimal("300"))
    referrer = make_guest()
    stay = book(guest=referrer, now=NOW)
    tick(NOW)
    check_in_guest(stay, now=dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC))
    check_out_guest(stay, now=dt.datetime(2026, 3, 18, 5, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 3, 18, 5, 0, tzinfo=UTC))
    referrer.refresh_from_db()
    code = referrer.referral_code
    base36, _, rand = code.partition("-")
    assert int(base36, 36) == referrer.pk and len(rand) == 4

    with pytest.raises(ValidationError, match="your own referral code"):
        book(guest=referrer, referral_code=code, now=NOW)
    with pytest.raises(ValidationError, match="not valid"):
        book(referral_code="zz-none", now=NOW)

    friend = make_guest()
    referred = book(guest=friend, referral_code=code.upper(), now=dt.datetime(2026, 4, 1, 6, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 4, 1, 6, 0, tzinfo=UTC))
    referred.refresh_from_db()
    assert referred.referral_code == code
    rewards = {c.reason: (c.guest_id, c.discount_type, c.discount_value) for c in GuestCoupon.objects.filter(source_booking=referred)}
    assert rewards == {"referrer": (referrer.pk, "FLAT", Decimal("500.00")), "referee": (friend.pk, "FLAT", Decimal("300.00"))}


def test_lifetime_value_on_a_known_history(tenant):
    guest = make_guest()
    stays = [
        (dt.date(2025, 1, 10), 3, Decimal("9000"), "Direct", 5),
        (dt.date(2025, 6, 1), 2, Decimal("6000"), "Airbnb", 3),
        (dt.date(2025, 12, 20), 5, Decimal("15000"), "Direct", None),
    ]
    for checkin, nights, amount, source, rating in stays:
        booking = completed(guest, checkin_date=checkin, checkout_date=checkin + dt.timedelta(days=nights),
                            total_amount=amount, source=source)
        if rating:
            GuestReview.objects.create(booking=booking, guest=guest, property=booking.listing.property, overall_rating=rating)
    make_booking(guest=guest, status="Cancelled", source="Airbnb", checkin_date=dt.date(2026, 2, 1), total_amount=Decimal("99999"))
    make_booking(guest=guest, status="Confirmed", source="Direct", checkin_date=dt.date(2026, 4, 1))
    value = lifetime_value(guest.pk, today=dt.date(2026, 1, 4))
    assert value == {
        "total_stays": 3,
        "total_revenue": Decimal("30000.00"),
        "average_stay_nights": round((3 + 2 + 5) / 3, 2),
        "average_rating": 4.0,  # (5 + 3) / 2: two reviews, not one per booking row
        "first_stay": dt.date(2025, 1, 10),
        "last_stay": dt.date(2025, 12, 20),
        "days_since_last_stay": 10,  # last check-out 25 Dec 2025: 6 days of December + 4 of January
        "direct_percent": 75.0,  # 3 of 4 confirmed or completed bookings
        "ota_percent": 25.0,
    }


def test_lifetime_value_of_many_guests_is_one_query(tenant, django_assert_num_queries):
    from guests.models import Guest
    from guests.selectors import with_lifetime_value

    for _ in range(5):
        completed(make_guest(), checkin_date=dt.date(2025, 3, 1))
    with django_assert_num_queries(1):
        rows = list(with_lifetime_value(Guest.objects.all()))
    assert len(rows) >= 5 and all(r.total_stays == 1 for r in rows if r.total_stays)


def test_lifetime_value_in_the_staff_api_for_the_owner_only(tenant, other_tenant, activate):
    from django.contrib.auth.models import Group, User

    from tests.conftest import SchemaKeepingClient

    guest = make_guest()
    completed(guest, checkin_date=dt.date(2025, 5, 1), total_amount=Decimal("7000"))

    def client(role):
        user = User.objects.create_user(f"{role}-api", password="pw", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        c = SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant)
        c.force_login(user)
        return c

    path = f"/api/guests/{guest.pk}/lifetime-value"
    owner_client = client("owner")
    owner = owner_client.get(path)
    assert owner.status_code == 200
    assert (owner.json()["total_stays"], owner.json()["total_revenue"]) == (1, "7000.00")
    assert client("frontdesk").get(path).status_code == 403
    assert SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant).get(path).status_code == 401  # no credentials
    assert owner_client.get("/api/guests/999999/lifetime-value").status_code == 404
