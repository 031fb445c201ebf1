"""The database keeps the domain's rules even when model validation is bypassed (`objects.create`,
`bulk_create`, `update()`: importers and raw SQL never call `full_clean`), and `full_clean()` explains the
same rules in words a host can act on.

Each IntegrityError is matched on the constraint's name, so a test passes only for the rule it is about.
"""
import datetime as dt
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F

from bookings.models import ActionSource, Booking, Property
from coupons.models import GuestCoupon
from guests.models import Guest
from messaging.models import AutomationSchedule, CommunicationLog, MessageTemplate
from operations.models import HousekeepingTask
from portal.models import GuestPortalToken
from reviews.models import GuestReview
from tenants.models import TenantGuestExperienceConfig
from tests.factories import make_booking, make_guest, make_listing, make_property

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


@contextmanager
def violates(constraint: str):
    """The block must fail on `constraint` (a name, or `Key (column)` for a unique column); its savepoint is
    rolled back so the test's transaction lives on."""
    with pytest.raises(IntegrityError, match=constraint):
        with transaction.atomic():
            yield


def booking_fields(**kw) -> dict:
    fields = {
        "guest": make_guest(),
        "listing": make_listing(),
        "status": "Confirmed",
        "checkin_date": dt.date(2026, 3, 15),
        "checkout_date": dt.date(2026, 3, 18),
        "guests_planned": 2,
        "total_amount": Decimal("8500"),
        "discount_amount": Decimal("0"),
        "final_amount": Decimal("8500"),
    }
    fields.update(kw)
    return fields


def validation_errors(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


# --- bookings --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("checkout", [dt.date(2026, 3, 15), dt.date(2026, 3, 14)], ids=["same-day", "before"])
def test_db_refuses_a_booking_that_checks_out_on_or_before_checkin(tenant, checkout):
    with violates("booking_checkout_after_checkin"):
        Booking.objects.create(**booking_fields(checkout_date=checkout))


def test_db_refuses_moving_checkout_before_checkin_with_update(tenant):
    booking = make_booking(checkin_date=dt.date(2026, 3, 15))
    with violates("booking_checkout_after_checkin"):
        Booking.objects.filter(pk=booking.pk).update(checkout_date=F("checkin_date"))


def test_db_refuses_a_booking_for_no_guests(tenant):
    with violates("booking_guests_at_least_1"):
        Booking.objects.bulk_create([Booking(**booking_fields(guests_planned=0))])


@pytest.mark.parametrize(
    ("fields", "constraint"),
    [
        # A negative total also breaks "discount ≤ total" (the discount is ≥ 0): either rule may report it.
        (
            {"total_amount": Decimal("-1"), "final_amount": Decimal("-1")},
            "booking_total_gte_0|booking_discount_lte_total",
        ),
        (
            {"total_amount": Decimal("100"), "discount_amount": Decimal("-1"), "final_amount": Decimal("101")},
            "booking_discount_gte_0",
        ),
        ({"amount_received": Decimal("-0.01")}, "booking_received_gte_0"),
    ],
    ids=["total", "discount", "received"],
)
def test_db_refuses_negative_amounts(tenant, fields, constraint):
    with violates(constraint):
        Booking.objects.create(**booking_fields(**fields))


def test_db_refuses_a_discount_above_the_total(tenant):
    # final = total − discount holds, so only the discount rule can object.
    with violates("booking_discount_lte_total"):
        Booking.objects.create(
            **booking_fields(total_amount=Decimal("100"), discount_amount=Decimal("150"), final_amount=Decimal("-50"))
        )


def test_db_requires_final_amount_to_be_total_less_discount(tenant):
    with violates("booking_final_is_total_less_discount"):
        Booking.objects.create(
            **booking_fields(total_amount=Decimal("8500"), discount_amount=Decimal("850"), final_amount=Decimal("8500"))
        )
    booking = make_booking(total_amount=Decimal("8500"), discount_amount=Decimal("850"))
    assert booking.final_amount == Decimal("7650")
    with violates("booking_final_is_total_less_discount"):
        Booking.objects.filter(pk=booking.pk).update(discount_amount=Decimal("1000"))


def test_db_refuses_a_checkout_without_a_checkin(tenant):
    with violates("booking_checkout_needs_checkin"):
        Booking.objects.create(**booking_fields(checked_out_at=NOW, checked_out_via=ActionSource.STAFF))
    booking = make_booking()
    with violates("booking_checkout_needs_checkin"):
        Booking.objects.filter(pk=booking.pk).update(checked_out_at=NOW, checked_out_via=ActionSource.STAFF)


def test_full_clean_explains_booking_mistakes_in_the_hosts_words(tenant):
    listing, guest = make_listing(), make_guest()

    def booking(**kw):
        return Booking(**booking_fields(guest=guest, listing=listing, **kw))

    assert validation_errors(booking(checkout_date=dt.date(2026, 3, 15)))["checkout_date"] == [
        "Check-out must be after check-in."
    ]
    assert validation_errors(booking(guests_planned=0))["guests_planned"] == ["A booking needs at least 1 guest."]
    for field in ("total_amount", "discount_amount", "amount_received"):
        assert "Amounts cannot be negative." in validation_errors(booking(**{field: Decimal("-5")}))[field]
    assert validation_errors(booking(total_amount=Decimal("100"), discount_amount=Decimal("150")))[
        "discount_amount"
    ] == ["The discount cannot exceed the total."]


def test_full_clean_derives_the_final_amount_from_total_and_discount(tenant):
    booking = Booking(**booking_fields(total_amount=Decimal("8500"), discount_amount=Decimal("850"), final_amount=0))
    booking.full_clean()
    assert booking.final_amount == Decimal("7650")


# --- guests and properties -------------------------------------------------------------------------------------


def test_db_allows_one_guest_per_phone_within_a_tenant(tenant):
    Guest.objects.create(name="Asha Rao", phone="+919812300001")
    with violates("guest_phone_unique"):
        Guest.objects.create(name="Asha R.", phone="+919812300001")


def test_the_same_phone_may_belong_to_a_guest_of_another_tenant(tenant, activate):
    Guest.objects.create(name="Asha Rao", phone="+919812300001")
    activate("beta")
    Guest.objects.create(name="Asha Rao", phone="+919812300001")
    assert Guest.objects.filter(phone="+919812300001").count() == 1


def test_many_guests_may_have_no_phone(tenant):
    Guest.objects.bulk_create([Guest(name="Walk-in one"), Guest(name="Walk-in two")])
    assert Guest.objects.filter(phone="").count() == 2


@pytest.mark.parametrize("raw", ["098765 00123", "+91 98765 00123", "98765-00123", " +919876500123 "])
def test_full_clean_stores_guest_phones_in_e164(tenant, raw):
    guest = Guest(name="Asha Rao", phone=raw, email="Asha@Example.com")
    guest.full_clean()
    assert guest.phone == "+919876500123"
    assert guest.email == "asha@example.com"


@pytest.mark.parametrize("raw", ["call me maybe", "12345"], ids=["not-a-number", "too-short"])
def test_full_clean_rejects_a_garbage_phone_showing_the_expected_format(tenant, raw):
    messages = validation_errors(Guest(name="Asha Rao", phone=raw))["phone"]
    assert any(raw in message and "+91 98765 01234" in message for message in messages), messages


def test_full_clean_stores_property_phones_in_e164_and_rejects_a_bad_one(tenant):
    prop = Property(name="Sea Breeze", address="1 Beach Road, Goa", contact_phone="098765 00123",
                    emergency_phone="+91 98765 00124")
    prop.full_clean()
    assert (prop.contact_phone, prop.emergency_phone) == ("+919876500123", "+919876500124")
    prop.contact_phone = "ring the bell"
    assert "+91 98765 01234" in " ".join(validation_errors(prop)["contact_phone"])


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "IST", "asia/kolkata", ""])
def test_full_clean_rejects_a_time_zone_that_is_not_an_iana_name(tenant, zone):
    prop = Property(name="Sea Breeze", address="1 Beach Road, Goa", contact_phone="+919876500123", time_zone=zone)
    assert "time_zone" in validation_errors(prop)


def test_full_clean_accepts_iana_time_zones(tenant):
    for zone in ("Asia/Kolkata", "America/New_York", "Europe/London"):
        prop = Property(name="Sea Breeze", address="1 Beach Road, Goa", contact_phone="+919876500123", time_zone=zone)
        prop.full_clean()


def test_an_unknown_time_zone_is_explained(tenant):
    prop = Property(name="Sea Breeze", address="1 Beach Road, Goa", contact_phone="+919876500123",
                    time_zone="Mars/Olympus_Mons")
    assert validation_errors(prop)["time_zone"] == [
        "“Mars/Olympus_Mons” is not a time zone. Use an IANA name such as Asia/Kolkata."
    ]


# --- reviews ---------------------------------------------------------------------------------------------------


def review(booking, **kw) -> GuestReview:
    fields = {"booking": booking, "guest": booking.guest, "property": booking.listing.property, "overall_rating": 5}
    fields.update(kw)
    return GuestReview(**fields)


def test_db_allows_one_review_per_booking(tenant):
    booking = make_booking()
    review(booking).save()
    with violates(r"Key \(booking_id\)"):
        review(booking, overall_rating=2).save()


@pytest.mark.parametrize("field", ["overall_rating", "cleanliness_rating", "communication_rating",
                                   "location_rating", "value_rating"])
@pytest.mark.parametrize("rating", [0, 6])
def test_db_keeps_ratings_between_1_and_5(tenant, field, rating):
    with violates(f"review_{field}_1_to_5"):
        review(make_booking(), **{field: rating}).save()


def test_optional_ratings_may_be_left_out_and_full_clean_explains_the_range(tenant):
    saved = review(make_booking(), overall_rating=1)
    saved.save()
    assert saved.cleanliness_rating is None
    assert validation_errors(review(make_booking(), overall_rating=6))["overall_rating"] == [
        "Ratings go from 1 to 5 stars."
    ]


# --- coupons ---------------------------------------------------------------------------------------------------


def coupon(**kw) -> GuestCoupon:
    fields = {
        "guest": kw.pop("guest", None) or make_guest(),
        "coupon_code": "ALPHA10-X7K9M2",
        "discount_type": "PERCENT",
        "discount_value": Decimal("10"),
        "valid_from": NOW,
        "valid_until": NOW + dt.timedelta(days=180),
    }
    fields.update(kw)
    return GuestCoupon.objects.create(**fields)


def test_db_keeps_coupon_codes_unique(tenant):
    coupon(coupon_code="ALPHA10-X7K9M2")
    with violates(r"Key \(coupon_code\)"):
        coupon(coupon_code="ALPHA10-X7K9M2")


def test_db_refuses_using_a_coupon_more_often_than_allowed(tenant):
    used_up = coupon(max_uses=1, times_used=1)
    with violates("coupon_uses_within_max"):
        GuestCoupon.objects.filter(pk=used_up.pk).update(times_used=F("times_used") + 1)
    with violates("coupon_uses_within_max"):
        coupon(coupon_code="ALPHA10-AAAAAA", max_uses=2, times_used=3)


def test_db_caps_a_percent_discount_at_100_but_not_a_flat_one(tenant):
    with violates("coupon_percent_max_100"):
        coupon(discount_type="PERCENT", discount_value=Decimal("100.01"))
    assert coupon(discount_type="FLAT", discount_value=Decimal("500")).discount_value == Decimal("500")


# --- messaging, portal, operations: the keys that make retries idempotent ---------------------------------------


def test_db_keeps_automation_schedule_keys_unique(tenant):
    booking = make_booking()
    key = f"{booking.pk}:guest.welcome:1"
    AutomationSchedule.objects.create(booking=booking, event_type="guest.welcome", due_at=NOW, idempotency_key=key)
    with violates(r"Key \(idempotency_key\)"):
        AutomationSchedule.objects.create(booking=booking, event_type="guest.welcome", due_at=NOW, idempotency_key=key)


def test_db_keeps_communication_log_keys_unique(tenant):
    key = "42:guest.welcome:1"
    CommunicationLog.objects.create(event_type="guest.welcome", channel="WHATSAPP", idempotency_key=key)
    with violates(r"Key \(idempotency_key\)"):
        CommunicationLog.objects.create(event_type="guest.welcome", channel="SMS", idempotency_key=key)


def portal_token(booking, **kw) -> GuestPortalToken:
    fields = {"booking": booking, "guest": booking.guest, "expires_at": NOW + dt.timedelta(days=30)}
    fields.update(kw)
    return GuestPortalToken.objects.create(**fields)


def test_db_keeps_portal_tokens_and_their_hashes_unique(tenant):
    portal_token(make_booking(), token="a" * 32, token_hash="h" * 64)
    with violates(r"Key \(token\)"):
        portal_token(make_booking(), token="a" * 32, token_hash="i" * 64)
    with violates(r"Key \(token_hash\)"):
        portal_token(make_booking(), token="b" * 32, token_hash="h" * 64)


def test_expired_portal_tokens_keep_only_their_hash(tenant):
    # §10.3: after expiry the token is cleared; many cleared tokens must not collide.
    portal_token(make_booking(), token=None, token_hash="h" * 64)
    portal_token(make_booking(), token=None, token_hash="i" * 64)
    assert GuestPortalToken.objects.filter(token__isnull=True).count() == 2


def template(**kw) -> MessageTemplate:
    fields = {
        "key": "test_welcome",
        "event_type": "guest.welcome",
        "channel": "WHATSAPP",
        "category": "INFORMATIONAL",
        "scope": "PLATFORM",
        "language": "en",
        "version": 1,
        "is_active": True,
        "body": "Hi {{guest_name}}!",
    }
    fields.update(kw)
    return MessageTemplate.objects.create(**fields)


def test_db_allows_one_active_template_version_per_key_scope_property_and_language(tenant):
    # Platform templates have no property: NULLs must count as equal here, or two actives would slip through.
    template(version=1)
    with violates("template_one_active_version"):
        template(version=2)
    prop = make_property()
    template(scope="PROPERTY", property=prop, version=1)
    with violates("template_one_active_version"):
        template(scope="PROPERTY", property=prop, version=2)


def test_inactive_template_versions_and_other_languages_or_properties_may_coexist(tenant):
    template(version=1)
    template(version=2, is_active=False)
    template(version=3, is_active=False)
    template(version=1, language="hi")
    template(scope="PROPERTY", property=make_property(), version=1)
    template(scope="PROPERTY", property=make_property(), version=1)
    assert MessageTemplate.objects.filter(key="test_welcome", is_active=True).count() == 4


def test_db_keeps_template_version_numbers_unique(tenant):
    template(version=1)
    with violates("template_version_unique"):
        template(version=1, is_active=False)


def housekeeping(booking, cleaning_type: str) -> HousekeepingTask:
    return HousekeepingTask.objects.create(
        listing=booking.listing, booking=booking, cleaning_type=cleaning_type, due_at=NOW
    )


def test_db_allows_one_turnover_per_booking(tenant):
    booking = make_booking()
    housekeeping(booking, "TURNOVER")
    with violates("housekeeping_one_per_booking"):
        housekeeping(booking, "TURNOVER")


def test_other_cleanings_may_repeat_for_a_booking(tenant):
    booking = make_booking()
    housekeeping(booking, "MID_STAY")
    housekeeping(booking, "MID_STAY")
    housekeeping(make_booking(), "TURNOVER")
    assert booking.housekeeping_tasks.count() == 2


# --- tenant configuration (RA-GUEST-001 §3.3) -----------------------------------------------------------------

OFFSETS = [
    ("welcome_offset_days", 14, "cfg_welcome_offset_range"),
    ("payment_reminder_offset_days", 7, "cfg_payment_offset_range"),
    ("checkin_instructions_offset_days", 3, "cfg_checkin_offset_range"),
    ("house_rules_offset_days", 5, "cfg_house_rules_offset_range"),
]


def alpha_config():
    return TenantGuestExperienceConfig.objects.filter(tenant__slug="alpha")


@pytest.mark.parametrize(("field", "high", "constraint"), OFFSETS)
def test_db_refuses_offsets_outside_the_spec_ranges(db, field, high, constraint):
    for value in (0, high + 1):
        with violates(constraint):
            alpha_config().update(**{field: value})
    for value in (1, high):
        alpha_config().update(**{field: value})
        assert getattr(alpha_config().get(), field) == value


@pytest.mark.parametrize(("field", "high", "constraint"), OFFSETS)
def test_full_clean_explains_the_offset_range(db, field, high, constraint):
    config = alpha_config().get()
    for value in (0, high + 1):
        setattr(config, field, value)
        assert validation_errors(config)[field] == [f"Must be between 1 and {high} days."]
    setattr(config, field, high)
    config.full_clean()


def test_full_clean_explains_a_welcome_offset_of_fifteen_days(db):
    config = alpha_config().get()
    config.welcome_offset_days = 15
    assert validation_errors(config) == {"welcome_offset_days": ["Must be between 1 and 14 days."]}
