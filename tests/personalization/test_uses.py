"""The five uses, through the product's own paths (lifecycle ticks, coupons, the portal), each switchable,
each gated on the PERSONALIZATION consent, each explained by a stored decision."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bookings.models import AddonRequest, AddonRequestStatus, BookingStatus
from bookings.services import check_in_guest
from guests.models import ConsentChannel, ConsentSource, ConsentStatus
from guests.services import set_consent
from messaging import events as ev
from messaging.models import AutomationSchedule, CommunicationLog
from operations.models import CleaningType, HousekeepingTask
from personalization.ingest import import_records
from personalization.models import PersonalizationDecision
from personalization.uses import coupon_value, direct_quote, rank_recommendations
from tests.factories import make_access_info, make_booking, make_guest, make_listing
from tests.personalization.conftest import set_personalization

UTC = dt.timezone.utc
CONFIRM_AT = dt.datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
CHECKIN = dt.date(2026, 5, 20)  # 14:00 IST = 08:30 UTC
DAY_BEFORE = dt.datetime(2026, 5, 19, 9, 0, tzinfo=UTC)


def past_stay(guest, listing, checkin: dt.date, *, addons=(), tickets=(), nights=2):
    from operations.models import MaintenanceTicket

    at = dt.datetime.combine(checkin, dt.time(9), tzinfo=UTC)
    booking = make_booking(guest=guest, listing=listing, checkin_date=checkin,
                           checkout_date=checkin + dt.timedelta(days=nights), status=BookingStatus.COMPLETED,
                           checked_in_at=at, checked_in_via="HOST", checked_out_at=at + dt.timedelta(days=nights),
                           checked_out_via="HOST")
    for code in addons:
        AddonRequest.objects.create(booking=booking, code=code, status=AddonRequestStatus.CONFIRMED,
                                    quoted_price=Decimal("500"))
    for kind in tickets:
        MaintenanceTicket.objects.create(listing=listing, booking=booking, ticket_type=kind, description="No signal",
                                         created_by=f"guest:{guest.pk}")
    return booking


@pytest.fixture
def regular(tenant, config, run_refresh):
    """A consenting guest with two past stays, preferences on file, and a refreshed medallion."""
    listing = make_listing(late_checkout_price=Decimal("900"), extra_cleaning_price=Decimal("400"),
                           supports_early_checkin=True, early_checkin_price=Decimal("700"))
    make_access_info(listing)
    guest = make_guest(phone="+919876500301")
    set_personalization(guest)
    set_consent(guest.pk, ConsentChannel.WHATSAPP, ConsentStatus.GRANTED, source=ConsentSource.BOOKING_FORM,
                marketing=True)  # the offers are marketing messages
    past_stay(guest, listing, dt.date(2026, 1, 10), addons=["EXTRA_CLEANING"], tickets=["WIFI"])
    past_stay(guest, listing, dt.date(2026, 3, 10), addons=["EXTRA_CLEANING"])
    import_records("room_preferences", [{"phone": guest.phone, "temperature": 22, "pillow": "firm"}], source_system="pms")
    import_records("service_preferences", [{"phone": guest.phone, "dietary": "no nuts"}], source_system="pms")
    run_refresh(full=True)
    return guest, listing


def test_room_setup_task_the_day_before_arrival(regular, book, tick):
    guest, listing = regular
    booking = book(guest=guest, listing=listing, checkin=CHECKIN, now=CONFIRM_AT)
    tick(CONFIRM_AT)
    tick(DAY_BEFORE)
    task = HousekeepingTask.objects.get(booking=booking, cleaning_type=CleaningType.PREP)
    assert task.details["setup"] == {"temperature": "22", "pillow": "firm", "dietary_notes": "no nuts"}
    assert "pillow: firm" in task.notes and task.created_by == "personalization"
    decision = PersonalizationDecision.objects.get(booking=booking, use="room_setup")
    assert decision.factors["setup"]["temperature"] == "22"  # explainable: the factors are stored
    tick(DAY_BEFORE + dt.timedelta(minutes=5))  # a second look changes nothing
    assert HousekeepingTask.objects.filter(booking=booking, cleaning_type=CleaningType.PREP).count() == 1


def test_no_room_setup_without_consent_or_with_the_use_switched_off(regular, config, book, tick):
    guest, listing = regular
    set_personalization(guest, granted=False)
    revoked = book(guest=guest, listing=listing, checkin=CHECKIN, now=CONFIRM_AT)
    tick(CONFIRM_AT)
    tick(DAY_BEFORE)
    assert not HousekeepingTask.objects.filter(booking=revoked, cleaning_type=CleaningType.PREP).exists()

    set_personalization(guest, granted=True)
    config.personalize_room_setup = config.personalize_proactive = False
    config.save()
    other = book(guest=guest, listing=listing, checkin=CHECKIN + dt.timedelta(days=10), now=CONFIRM_AT)
    tick(CONFIRM_AT)
    assert not AutomationSchedule.objects.filter(booking=other, event_type=ev.STAY_PREPARE_ARRIVAL).exists()


def test_day_two_offer_names_the_add_on_the_guest_is_most_likely_to_want(regular, book, tick):
    guest, listing = regular
    booking = book(guest=guest, listing=listing, checkin=CHECKIN, nights=4, now=CONFIRM_AT)
    tick(CONFIRM_AT)
    check_in_guest(booking, now=dt.datetime(2026, 5, 20, 9, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 5, 20, 9, 1, tzinfo=UTC))
    offer = AutomationSchedule.objects.get(booking=booking, event_type=ev.GUEST_ADDON_OFFER)
    assert offer.payload["template_key"] == "ADDON_OFFER_PERSONAL_WA"
    assert offer.payload["variables"] == {"offer_name": "an extra cleaning", "offer_price": "₹400"}
    decision = PersonalizationDecision.objects.get(booking=booking, key="addon_offer")
    # extra cleaning taken twice in two stays: (2 + 2 requests... + 1) / 7 beats late check-out's prior
    assert decision.choice == "EXTRA_CLEANING"
    assert decision.factors["propensity"]["EXTRA_CLEANING"] > decision.factors["propensity"]["LATE_CHECKOUT"]
    tick(dt.datetime(2026, 5, 21, 5, 0, tzinfo=UTC))  # day 2, 10:30 IST: the offer goes out with its template
    log = CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_ADDON_OFFER)
    assert log.template_key == "ADDON_OFFER_PERSONAL_WA"


def test_a_guest_without_consent_gets_the_standard_offers(regular, book, tick):
    _guest, listing = regular
    stranger = make_guest(phone="+919876500302")  # no consent, no history
    booking = book(guest=stranger, listing=listing, checkin=CHECKIN, nights=4, now=CONFIRM_AT)
    tick(CONFIRM_AT)
    assert AutomationSchedule.objects.filter(booking=booking, event_type=ev.GUEST_EARLY_CHECKIN_OFFER).exists()
    check_in_guest(booking, now=dt.datetime(2026, 5, 20, 9, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 5, 20, 9, 1, tzinfo=UTC))
    offer = AutomationSchedule.objects.get(booking=booking, event_type=ev.GUEST_ADDON_OFFER)
    assert "template_key" not in offer.payload
    assert not PersonalizationDecision.objects.filter(booking=booking).exists()


def test_early_check_in_offer_left_out_when_the_history_says_no(regular, book, tick):
    guest, listing = regular  # two stays, never an early check-in: propensity 1/7 = 14 < 15
    booking = book(guest=guest, listing=listing, checkin=CHECKIN, now=CONFIRM_AT)
    tick(CONFIRM_AT)
    assert not AutomationSchedule.objects.filter(booking=booking, event_type=ev.GUEST_EARLY_CHECKIN_OFFER).exists()
    decision = PersonalizationDecision.objects.get(booking=booking, key="early_checkin_offer")
    assert (decision.choice, decision.factors["propensity"]) == ("not offered", 14)


def test_proactive_touches_from_history(regular, run_refresh, book, tick):
    guest, listing = regular  # one past WiFi complaint
    past_stay(guest, listing, dt.date(2026, 4, 1), addons=["LATE_CHECKOUT"])
    past_stay(guest, listing, dt.date(2026, 4, 10), addons=["LATE_CHECKOUT"])
    run_refresh()
    booking = book(guest=guest, listing=listing, checkin=CHECKIN, nights=3, now=CONFIRM_AT)
    tick(CONFIRM_AT)
    tick(DAY_BEFORE)
    wifi = AutomationSchedule.objects.get(booking=booking, event_type=ev.GUEST_PROACTIVE_WIFI)
    assert wifi.due_at == dt.datetime(2026, 5, 20, 8, 30, tzinfo=UTC)  # check-in time
    late = AutomationSchedule.objects.get(booking=booking, event_type=ev.GUEST_PROACTIVE_LATE_CHECKOUT)
    assert late.due_at == dt.datetime(2026, 5, 22, 12, 30, tzinfo=UTC)  # 18:00 IST the evening before check-out
    assert late.payload["variables"] == {"offer_price": "₹900"}
    keys = set(PersonalizationDecision.objects.filter(booking=booking, use="proactive").values_list("key", flat=True))
    assert keys == {"wifi_first", "late_checkout_first"}
    check_in_guest(booking, now=dt.datetime(2026, 5, 20, 8, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 5, 20, 8, 31, tzinfo=UTC))
    assert CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_PROACTIVE_WIFI).template_key == "PROACTIVE_WIFI_WA"


def test_recommendations_ranked_by_the_guests_affinity(regular, run_refresh):
    from bookings.models import PropertyRecommendation

    guest, listing = regular
    import_records("service_preferences", [{"phone": guest.phone, "shopping": "markets"}], source_system="pms")
    run_refresh()
    recs = [PropertyRecommendation.objects.create(property=listing.property, category=c, name=n, sort_order=i)
            for i, (c, n) in enumerate([("CAFE", "Blue Tokai"), ("SHOPPING", "Mapusa Market"), ("MEDICAL", "Clinic")])]
    booking = make_booking(guest=guest, listing=listing)
    ranked = rank_recommendations(booking, recs, dt.datetime(2026, 5, 20, tzinfo=UTC))
    assert [r.name for r in ranked] == ["Mapusa Market", "Blue Tokai", "Clinic"]  # shopping first, then host order
    assert PersonalizationDecision.objects.get(booking=booking, use="recommendations").choice == "SHOPPING"
    stranger = make_booking(guest=make_guest(), listing=listing)
    assert rank_recommendations(stranger, recs, dt.datetime(2026, 5, 20, tzinfo=UTC)) == recs


def test_coupon_value_stays_within_the_hosts_bounds(regular, config):
    guest, listing = regular
    booking = make_booking(guest=guest, listing=listing)
    base = config.coupon_discount_value
    assert coupon_value(booking, base, config, CONFIRM_AT) == base  # no bounds set: the host's value
    config.personalized_coupon_min_value, config.personalized_coupon_max_value = Decimal("5"), Decimal("15")
    config.save()
    value = coupon_value(booking, base, config, CONFIRM_AT)
    assert Decimal("5") <= value <= Decimal("15")
    decision = PersonalizationDecision.objects.get(booking=booking, key="coupon_value")
    weight = Decimal(decision.factors["loyalty"] + decision.factors["churn_probability"]) / 200
    assert value == (Decimal("5") + 10 * weight).quantize(Decimal("1"))
    config.personalize_pricing = False
    config.save()
    assert coupon_value(make_booking(guest=guest, listing=listing), base, config, CONFIRM_AT) == base


def test_coupon_issued_at_check_out_uses_the_personalized_value(regular, config, book, tick):
    from bookings.services import check_out_guest
    from coupons.models import GuestCoupon

    guest, listing = regular
    config.personalized_coupon_min_value, config.personalized_coupon_max_value = Decimal("12"), Decimal("12")
    config.save()
    booking = book(guest=guest, listing=listing, checkin=CHECKIN, now=CONFIRM_AT)
    check_in_guest(booking, now=dt.datetime(2026, 5, 20, 9, 0, tzinfo=UTC))
    check_out_guest(booking, now=dt.datetime(2026, 5, 23, 5, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 5, 23, 5, 1, tzinfo=UTC))
    assert GuestCoupon.objects.get(source_booking=booking).discount_value == Decimal("12")  # host default is 10


def test_direct_quote_discount_is_bounded_by_the_host(regular, config):
    guest, _listing = regular
    assert Decimal(direct_quote(guest.pk, Decimal("10000"), config)["quoted"]) == 10000  # max discount 0 by default
    config.direct_quote_max_discount_percent = Decimal("10")
    config.save()
    quote = direct_quote(guest.pk, Decimal("10000"), config)
    percent = Decimal(quote["discount_percent"])
    assert Decimal("0") < percent <= Decimal("10")
    assert Decimal(quote["quoted"]) == (Decimal("10000") * (100 - percent) / 100).quantize(Decimal("0.01"))
    stranger = make_guest()
    assert direct_quote(stranger.pk, Decimal("10000"), config)["discount_percent"] == "0"




def test_a_reader_does_not_wait_for_a_full_refresh(tenant, config):
    """A full refresh holds the gold tables exclusively for its whole transaction: a portal page or a lifecycle
    handler gets the standard behaviour at once instead of waiting (lock timeout), and its own settings are
    left as they were."""
    import psycopg
    from django.db import connection

    from personalization.uses import profile
    from tests.portal.live import session_database_url

    guest = make_guest()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = '5s'")  # without the lock timeout: an error, not a hang
    with psycopg.connect(session_database_url()) as other:
        other.execute(f'SET search_path TO "{connection.schema_name}", public')
        other.execute("LOCK TABLE gold_guest_facts IN ACCESS EXCLUSIVE MODE")
        assert profile(guest.pk) is None
        other.rollback()
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        assert cursor.fetchone()[0] == "0"


def test_the_host_edits_the_uses_and_bounds_in_the_config_page(tenant, config):
    from django.contrib.auth.models import Group, User

    from tests.conftest import SchemaKeepingClient

    owner = User.objects.create_user("owner-pz-config", password="pw", is_staff=True)
    owner.groups.add(Group.objects.get(name="owner"))
    client = SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant)
    client.force_login(owner)
    page = client.get(f"/admin/tenants/tenantguestexperienceconfig/{config.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    for field in ("personalize_room_setup", "personalized_coupon_max_value", "direct_quote_max_discount_percent"):
        assert f'name="{field}"' in html


def test_pricing_bounds_must_be_ordered(config):
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError, transaction

    config.personalized_coupon_min_value, config.personalized_coupon_max_value = Decimal("20"), Decimal("5")
    with pytest.raises(ValidationError, match="must not be below the lowest"):
        config.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        config.save()  # and the database says no too
