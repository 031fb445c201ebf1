"""Coupons (RA-GUEST-001 §7.3): generation rules (GX-PS-002), redemption (GX-T08, EC-09, EC-10) and its
refusals, atomicity under concurrency on real PostgreSQL, expiry and retention."""
import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections
from django_tenants.utils import schema_context

from bookings.services import check_in_guest, check_out_guest
from coupons.models import CouponRedemption, GuestCoupon
from coupons.redemption import check_coupon, clean_up_coupons, expire_coupons, redeem_coupon
from reviews.models import GuestReview
from tests.factories import make_booking, make_guest

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def coupon(guest, **kw) -> GuestCoupon:
    fields = dict(guest=guest, coupon_code="ALPHA10-X7K9M2", discount_type="PERCENT", discount_value=Decimal("10"),
                  valid_from=NOW - dt.timedelta(days=1), valid_until=NOW + dt.timedelta(days=180), max_uses=1)
    fields.update(kw)
    return GuestCoupon.objects.create(**fields)


def test_gx_t08_coupon_applied_on_a_direct_booking(tenant):
    guest = make_guest()
    c1 = coupon(guest)
    b3 = make_booking(guest=guest, source="Direct", total_amount=Decimal("10000"))
    redeem_coupon(b3, "ATLAS10-X7K9M2".replace("ATLAS", "ALPHA"), now=NOW)
    b3.refresh_from_db()
    c1.refresh_from_db()
    assert (b3.discount_amount, b3.final_amount) == (Decimal("1000.00"), Decimal("9000.00"))
    assert (c1.times_used, c1.status) == (1, "USED")
    assert CouponRedemption.objects.get(coupon=c1).booking_id == b3.pk


def test_flat_coupon_never_exceeds_the_total(tenant):
    guest = make_guest()
    coupon(guest, discount_type="FLAT", discount_value=Decimal("500"))
    quote = check_coupon("alpha10-x7k9m2", guest_id=guest.pk, total=Decimal("400"), source="Direct", now=NOW)
    assert (quote.discount, quote.final) == (Decimal("400"), Decimal("0"))


@pytest.mark.parametrize(("setup", "booking_kw", "message"), [
    ({"min_booking_amount": Decimal("5000")}, {"total_amount": Decimal("4000")}, "Minimum booking amount ₹5,000 required for this coupon"),
    ({"valid_until": NOW - dt.timedelta(seconds=1)}, {}, "This coupon has expired"),
    ({"status": "EXPIRED"}, {}, "This coupon has expired"),
    ({"status": "USED", "times_used": 1}, {}, "already been used"),
    ({"status": "REVOKED"}, {}, "withdrawn by the host"),
    ({}, {"source": "Airbnb"}, "direct bookings only"),
])
def test_refusals_in_words_a_guest_understands(tenant, setup, booking_kw, message):
    guest = make_guest()
    coupon(guest, **setup)
    booking = make_booking(guest=guest, **{"source": "Direct", "total_amount": Decimal("8000"), **booking_kw})
    with pytest.raises(ValidationError, match=message):
        redeem_coupon(booking, "ALPHA10-X7K9M2", now=NOW)
    booking.refresh_from_db()
    assert (booking.discount_amount, booking.applied_coupon_id) == (Decimal("0"), None)  # nothing half-written


def test_ec_09_and_ec_10_exact_words(tenant):
    guest = make_guest()
    coupon(guest, min_booking_amount=Decimal("5000"))
    with pytest.raises(ValidationError) as below:
        check_coupon("ALPHA10-X7K9M2", guest_id=guest.pk, total=Decimal("100"), source="Direct", now=NOW)
    assert below.value.message_dict["coupon_code"] == ["Minimum booking amount ₹5,000 required for this coupon"]
    with pytest.raises(ValidationError) as expired:
        check_coupon("ALPHA10-X7K9M2", guest_id=guest.pk, total=Decimal("9000"), source="Direct",
                     now=NOW + dt.timedelta(days=400))
    assert expired.value.message_dict["coupon_code"] == ["This coupon has expired"]


def test_another_guests_and_another_tenants_codes_are_refused(tenant):
    owner, other = make_guest(), make_guest()
    coupon(owner)
    with pytest.raises(ValidationError, match="belongs to another guest"):
        check_coupon("ALPHA10-X7K9M2", guest_id=other.pk, total=Decimal("9000"), source="Direct", now=NOW)
    with pytest.raises(ValidationError, match="for a different host"):
        check_coupon("BETA10-X7K9M2", guest_id=owner.pk, total=Decimal("9000"), source="Direct", now=NOW)
    with pytest.raises(ValidationError, match="don't recognise"):
        check_coupon("ALPHA10-ZZZZZZ", guest_id=owner.pk, total=Decimal("9000"), source="Direct", now=NOW)


def test_gx_ps_002_coupon_only_for_a_stay_rated_3_or_more_or_unrated(book, tick):
    def stay(rating=None):
        booking = book(now=NOW)
        tick(NOW)
        check_in_guest(booking, now=dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC))
        if rating:
            GuestReview.objects.create(booking=booking, guest=booking.guest, property=booking.listing.property, overall_rating=rating)
        check_out_guest(booking, now=dt.datetime(2026, 3, 18, 5, 30, tzinfo=UTC))
        tick(dt.datetime(2026, 3, 18, 5, 30, tzinfo=UTC))
        return booking

    unrated, liked, disliked = stay(), stay(3), stay(2)
    assert GuestCoupon.objects.filter(source_booking=unrated).count() == 1
    assert GuestCoupon.objects.filter(source_booking=liked).count() == 1
    assert not GuestCoupon.objects.filter(source_booking=disliked).exists()
    code = GuestCoupon.objects.get(source_booking=unrated).coupon_code
    assert code.startswith("ALPHA10-") and not set(code[-6:]) & set("01OIL")


def test_daily_expiry_and_retention(tenant):
    guest = make_guest()
    live = coupon(guest, coupon_code="ALPHA10-AAAAAA")
    stale = coupon(guest, coupon_code="ALPHA10-BBBBBB", valid_from=NOW - dt.timedelta(days=30), valid_until=NOW - dt.timedelta(days=1))
    old = coupon(guest, coupon_code="ALPHA10-CCCCCC", valid_from=NOW - dt.timedelta(days=600),
                 valid_until=NOW - dt.timedelta(days=200), status="EXPIRED")
    ancient = coupon(guest, coupon_code="ALPHA10-DDDDDD", valid_from=NOW - dt.timedelta(days=900),
                     valid_until=NOW - dt.timedelta(days=400), status="EXPIRED")
    assert expire_coupons(NOW) == 1
    soft, hard = clean_up_coupons(NOW)
    live.refresh_from_db()
    stale.refresh_from_db()
    old.refresh_from_db()
    assert (live.status, stale.status, stale.deleted_at) == ("ACTIVE", "EXPIRED", None)
    assert old.deleted_at == NOW  # 6 months after expiry: soft-deleted
    assert not GuestCoupon.objects.filter(pk=ancient.pk).exists()  # a year after: gone
    assert (soft, hard) == (2, 1)


def test_two_concurrent_redemptions_of_a_one_use_coupon_exactly_one_wins(django_db_setup, django_db_blocker):
    """Real commits and two connections: the coupon row lock decides."""
    with django_db_blocker.unblock(), schema_context("alpha"):
        guest = make_guest()
        coupon(guest, coupon_code="ALPHA10-RACE01")
        bookings = [make_booking(guest=guest, source="Direct", total_amount=Decimal("10000")) for _ in range(2)]
        results: list[str] = []
        start = threading.Barrier(2)

        def redeem(booking_id):
            try:
                with schema_context("alpha"):
                    start.wait()
                    redeem_coupon(booking_id, "ALPHA10-RACE01", now=NOW)
                    results.append("ok")
            except ValidationError as exc:
                results.append(exc.message_dict["coupon_code"][0])
            finally:
                connections.close_all()

        threads = [threading.Thread(target=redeem, args=(b.pk,)) for b in bookings]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        try:
            assert sorted(results) == sorted(["ok", "This coupon has already been used."])
            assert CouponRedemption.objects.filter(coupon__coupon_code="ALPHA10-RACE01").count() == 1
            assert GuestCoupon.objects.get(coupon_code="ALPHA10-RACE01").times_used == 1
        finally:
            CouponRedemption.objects.filter(coupon__coupon_code="ALPHA10-RACE01").delete()
            from bookings.models import Booking

            Booking.objects.filter(pk__in=[b.pk for b in bookings]).delete()
            GuestCoupon.objects.filter(coupon_code="ALPHA10-RACE01").delete()
            guest.delete()
            connection.set_schema_to_public()


def test_daily_job_is_a_django_q_schedule_and_runs_in_every_tenant(tenant):
    from django_q.models import Schedule

    from coupons.tasks import daily_coupon_jobs

    connection.set_schema_to_public()
    assert Schedule.objects.filter(name="coupons-daily", func="coupons.tasks.daily_coupon_jobs",
                                   schedule_type=Schedule.DAILY).exists()
    connection.set_tenant(tenant)
    coupon(make_guest(), coupon_code="ALPHA10-OLDOLD", valid_from=NOW - dt.timedelta(days=30), valid_until=NOW - dt.timedelta(days=1))
    result = daily_coupon_jobs()
    connection.set_tenant(tenant)
    assert result["alpha"][0] == 1 and "beta" in result
    assert GuestCoupon.objects.get(coupon_code="ALPHA10-OLDOLD").status == "EXPIRED"
