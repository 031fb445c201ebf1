"""The medallion's rules, layer by layer: bronze feed, identity, silver derivations, gold aggregates and scores,
idempotency, incremental refresh, consent gating, and the semantic layer."""
from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import pytest

from bookings.models import AddonRequest, AddonRequestStatus, BookingSource, BookingStatus
from personalization.ingest import import_records
from personalization.models import BronzeBookingHistory, BronzeGuestProfiles
from tests.factories import make_booking, make_guest, make_listing, make_property
from tests.personalization.conftest import AS_OF, one, rows, set_personalization

UTC = dt.timezone.utc
ALL_TABLES = ("silver_guest_keys", "silver_guests_standardized", "silver_bookings_enriched", "silver_stays_processed",
              "silver_preference_values", "silver_preferences_consolidated", "silver_social_activity",
              "silver_engagement_metrics", "silver_reviews", "silver_satisfaction_scores", "silver_loyalty",
              "silver_payment_methods", "silver_special_requests", "gold_guest_facts", "gold_recommendation_features",
              "gold_business_metrics", "gold_guest_360_view", "gold_personalization_scores", "gold_predictive_features")


def stay(guest, listing, checkin: dt.date, nights: int = 3, amount: str = "9000", **kw):
    """A completed stay through our own tables (checked in and out)."""
    at = dt.datetime.combine(checkin, dt.time(9), tzinfo=UTC)
    return make_booking(guest=guest, listing=listing, checkin_date=checkin, checkout_date=checkin + dt.timedelta(days=nights),
                        status=BookingStatus.COMPLETED, total_amount=Decimal(amount), checked_in_at=at,
                        checked_in_via="HOST", checked_out_at=at + dt.timedelta(days=nights), checked_out_via="HOST",
                        confirmed_at=at - dt.timedelta(days=10), **kw)


def snapshot() -> dict:
    return {table: rows(table) for table in ALL_TABLES}


def history(tenant):
    """Three guests, a few stays, imports in every source."""
    listing = make_listing()
    asha = make_guest(name="Asha Rao", phone="+919876500201", email="asha@example.com")
    ravi = make_guest(name="Ravi Iyer", phone="+919876500202", email="ravi@example.com")
    set_personalization(asha)
    set_personalization(ravi)
    stay(asha, listing, dt.date(2026, 1, 9))
    stay(asha, listing, dt.date(2026, 3, 6), nights=2, amount="6000")
    stay(ravi, listing, dt.date(2026, 3, 20), source=BookingSource.AIRBNB)
    import_records("room_preferences", [{"phone": "098765 00201", "temperature": 21, "pillow": "firm"}], source_system="pms")
    import_records("service_preferences", [{"email": "RAVI@example.com", "dining": "vegetarian"}], source_system="crm")
    import_records("social_media_activity", [
        {"phone": "+919876500201", "activity_id": "s1", "platform": "instagram", "activity_type": "post",
         "topic": "food", "sentiment": "0.8"}], source_system="social")
    import_records("loyalty_program", [{"phone": "+919876500202", "member_id": "m2", "tier": "gold", "points": 4200}],
                   source_system="pms")
    return listing, asha, ravi


def test_bronze_feed_appends_only_what_changed(tenant, config, run_refresh):
    from personalization.feed import feed_own_records

    guest = make_guest()
    booking = make_booking(guest=guest)
    first = feed_own_records(dt.datetime(2026, 6, 1, tzinfo=UTC))
    assert first["guest_profiles"] == 1 and first["booking_history"] == 1
    assert sum(feed_own_records(dt.datetime(2026, 6, 1, tzinfo=UTC)).values()) == 0  # nothing changed: nothing appended
    booking.total_amount = booking.final_amount = Decimal("9999")
    booking.save()
    again = feed_own_records(dt.datetime(2026, 6, 2, tzinfo=UTC))
    assert again["booking_history"] == 1 and again["guest_profiles"] == 0
    versions = list(BronzeBookingHistory.objects.filter(record_key=str(booking.pk)).order_by("id"))
    assert [v.record["amount"] for v in versions] == [8500.0, 9999.0]  # append-only: both versions kept
    assert {v.source_system for v in versions} == {"atlas"}
    assert all(v.batch_id and v.ingested_at for v in versions)


def test_full_refresh_twice_gives_the_same_rows(tenant, config, run_refresh):
    history(tenant)
    run_refresh(full=True)
    first = snapshot()
    assert first["gold_guest_facts"]  # something to compare
    run_refresh(full=True)
    assert snapshot() == first


def test_incremental_refresh_touches_only_changed_guests_and_equals_a_full_one(tenant, config, run_refresh):
    listing, asha, ravi = history(tenant)
    run_refresh(full=True)
    assert run_refresh().guests_refreshed == 0  # a re-run with nothing new recomputes nobody
    stay(ravi, listing, dt.date(2026, 4, 10), nights=4, amount="12000")
    import_records("room_preferences", [{"phone": "+919876500202", "view": "sea"}], source_system="pms")
    result = run_refresh()
    assert result.guests_refreshed == 1  # Ravi only
    incremental = snapshot()
    run_refresh(full=True)
    assert snapshot() == incremental


def test_imports_are_matched_to_guests_by_phone_or_email_in_any_format(tenant, config, run_refresh):
    _listing, asha, ravi = history(tenant)
    run_refresh(full=True)
    prefs = {(r[0], r[1], r[2]): r[3] for r in rows("silver_preference_values")}
    assert prefs[(asha.pk, "room", "temperature")] == "21"  # "098765 00201" → +919876500201 → Asha
    assert prefs[(ravi.pk, "service", "dining")] == "vegetarian"  # "RAVI@example.com" → ravi@example.com
    guests = {r[0]: r for r in rows("silver_guests_standardized")}
    assert guests[asha.pk][3:5] == ("+919876500201", "asha@example.com")


def test_an_unmatched_import_waits_for_its_guest(tenant, config, run_refresh):
    import_records("loyalty_program", [{"phone": "+919876500299", "tier": "silver", "points": 10}], source_system="pms")
    first = run_refresh(full=True)
    assert first.unmatched == 1 and rows("silver_loyalty") == []  # kept, not dropped
    guest = make_guest(phone="+919876500299")
    second = run_refresh()
    assert second.unmatched == 0
    assert [r[0] for r in rows("silver_loyalty")] == [guest.pk]


def test_bookings_are_enriched(tenant, config, run_refresh):
    guest = make_guest()
    listing = make_listing()
    friday = dt.date(2026, 3, 6)
    stay(guest, listing, friday, nights=2, amount="7000")  # booked 10 days ahead, Fri-Sun
    make_booking(guest=guest, listing=listing, checkin_date=dt.date(2026, 3, 10), checkout_date=dt.date(2026, 3, 11),
                 status=BookingStatus.CANCELLED, cancelled_at=dt.datetime(2026, 3, 1, tzinfo=UTC),
                 confirmed_at=dt.datetime(2026, 3, 1, tzinfo=UTC), source=BookingSource.BOOKING_COM)
    run_refresh(full=True)
    enriched = {r["checkin"]: r for r in (one("SELECT * FROM silver_bookings_enriched WHERE checkin = %s", [d])
                                         for d in (friday, dt.date(2026, 3, 10)))}
    weekend = enriched[friday]
    assert (weekend["nights"], weekend["adr"], weekend["lead_days"], weekend["lead_bucket"]) == (2, Decimal("3500.00"), 10, "8-30")
    assert (weekend["stay_bucket"], weekend["is_weekend"], weekend["is_direct"], weekend["is_cancelled"]) == ("2-3", True, True, False)
    tuesday = enriched[dt.date(2026, 3, 10)]
    assert (tuesday["is_weekend"], tuesday["is_cancelled"], tuesday["channel"], tuesday["lead_bucket"]) == (
        False, True, "BOOKING.COM", "8-30")
    facts = one("SELECT * FROM gold_guest_facts WHERE guest_key = %s", [guest.pk])
    assert (facts["bookings"], facts["cancellations"], facts["stays"]) == (2, 1, 1)


def test_preferences_latest_wins_by_source_precedence_and_completeness(tenant, config, run_refresh):
    guest = make_guest(phone="+919876500211")
    set_personalization(guest)
    early, late = "2026-05-01T10:00:00+05:30", "2026-05-20T10:00:00+05:30"
    import_records("room_preferences", [{"phone": guest.phone, "pillow": "firm", "observed_at": late}], source_system="pms")
    import_records("room_preferences", [{"phone": guest.phone, "pillow": "soft", "observed_at": late,
                                         "lighting": "dim"}], source_system="survey")  # lower precedence than pms
    import_records("room_preferences", [{"phone": guest.phone, "lighting": "bright", "observed_at": early}], source_system="survey")
    run_refresh(full=True)
    consolidated = one("SELECT * FROM silver_preferences_consolidated WHERE guest_key = %s", [guest.pk])
    assert consolidated["room"] == {"pillow": "firm", "lighting": "dim"}  # pms beats survey; newer beats older
    assert consolidated["completeness"] == round(100 * 2 / 15)


def test_preference_and_social_data_need_the_personalization_consent(tenant, config, run_refresh):
    guest = make_guest(phone="+919876500212")
    import_records("room_preferences", [{"phone": guest.phone, "pillow": "firm"}], source_system="pms")
    import_records("social_media_activity", [{"phone": guest.phone, "activity_id": "a", "platform": "x",
                                              "activity_type": "post", "topic": "food", "sentiment": 1}], source_system="s")
    run_refresh(full=True)
    assert one("SELECT * FROM silver_preferences_consolidated WHERE guest_key = %s", [guest.pk]) is None
    engagement = one("SELECT * FROM silver_engagement_metrics WHERE guest_key = %s", [guest.pk])
    assert engagement is None or engagement["social_events"] == 0
    assert one("SELECT readiness FROM gold_personalization_scores WHERE guest_key = %s", [guest.pk])["readiness"] == 0

    set_personalization(guest, granted=True)
    run_refresh()
    assert one("SELECT room FROM silver_preferences_consolidated WHERE guest_key = %s", [guest.pk])["room"] == {"pillow": "firm"}
    assert one("SELECT social_events FROM silver_engagement_metrics WHERE guest_key = %s", [guest.pk])["social_events"] == 1

    set_personalization(guest, granted=False)  # revoked: gone from silver and gold at the next refresh
    run_refresh()
    assert one("SELECT * FROM silver_preferences_consolidated WHERE guest_key = %s", [guest.pk]) is None
    assert one("SELECT room_preferences FROM gold_guest_facts WHERE guest_key = %s", [guest.pk])["room_preferences"] == {}


def test_gold_aggregates_each_source_before_joining(tenant, config, run_refresh):
    """3 stays and 4 reviews are 3 stays and 4 reviews, not 12 of each (no fan-out)."""
    guest = make_guest(phone="+919876500213")
    listing = make_listing()
    for month in (1, 2, 3):
        stay(guest, listing, dt.date(2026, month, 12), nights=2, amount="5000")
    import_records("feedback_reviews", [{"phone": guest.phone, "review_ref": f"r{i}", "rating": rating}
                                        for i, rating in enumerate((5, 4, 2, 5))], source_system="ota")
    run_refresh(full=True)
    facts = one("SELECT * FROM gold_guest_facts WHERE guest_key = %s", [guest.pk])
    assert (facts["stays"], facts["nights"], facts["lifetime_value"]) == (3, 6, Decimal("15000.00"))
    assert (facts["reviews"], facts["avg_rating"], facts["low_ratings"]) == (4, Decimal("4.00"), 1)


def test_business_metrics_count_guests_not_bookings(tenant, config, run_refresh):
    prop = make_property()
    rooms = [make_listing(property=prop) for _ in range(2)]
    regular, newcomer = make_guest(), make_guest()
    stay(regular, rooms[0], dt.date(2026, 2, 2), nights=2, amount="4000")  # earlier month: makes March a repeat
    stay(regular, rooms[0], dt.date(2026, 3, 2), nights=2, amount="4000")
    stay(regular, rooms[1], dt.date(2026, 3, 10), nights=3, amount="6000", source=BookingSource.AIRBNB)
    stay(newcomer, rooms[0], dt.date(2026, 3, 20), nights=1, amount="2500")
    run_refresh(full=True)
    march = one("SELECT * FROM gold_business_metrics WHERE property_id = %s AND month = %s", [prop.pk, dt.date(2026, 3, 1)])
    assert (march["bookings"], march["unique_guests"], march["nights"], march["revenue"]) == (3, 2, 6, Decimal("12500.00"))
    assert march["adr"] == Decimal("2083.33")
    assert march["occupancy"] == Decimal(str(round(6 / (2 * 31), 4)))
    assert march["repeat_rate"] == Decimal("0.5000")  # the regular came before March; the newcomer did not
    assert march["direct_share"] == Decimal(str(round(2 / 3, 4)))


def test_scores_on_a_known_history(tenant, config, run_refresh):
    listing = make_listing(late_checkout_price=Decimal("800"))
    guest = make_guest(phone="+919876500214")
    set_personalization(guest)
    first = stay(guest, listing, dt.date(2025, 11, 1), nights=2, amount="5000")
    second = stay(guest, listing, dt.date(2026, 2, 1), nights=2, amount="5000")  # last stay ends 2026-02-03
    AddonRequest.objects.create(booking=first, code="LATE_CHECKOUT", status=AddonRequestStatus.CONFIRMED,
                                quoted_price=Decimal("800"))
    AddonRequest.objects.create(booking=second, code="LATE_CHECKOUT", status=AddonRequestStatus.REQUESTED)
    import_records("loyalty_program", [{"phone": guest.phone, "tier": "silver", "points": 2500}], source_system="pms")
    import_records("room_preferences", [{"phone": guest.phone, "pillow": "firm", "bed": "king", "view": "sea"}],
                   source_system="pms")
    run_refresh(full=True)
    s = one("SELECT * FROM gold_personalization_scores WHERE guest_key = %s", [guest.pk])
    # upsell: (taken 1 + requested 2 (both requests are in special_requests) + 1) / (stays 2 + 5)
    assert s["upsell_late_checkout"] == round(100 * (1 + 2 + 1) / 7)
    assert s["upsell_extra_cleaning"] == round(100 * 1 / 7)
    assert s["loyalty"] == 12 * 2 + 10 + 2  # two stays, silver, 2,500 points
    recency = (AS_OF - dt.date(2026, 2, 3)).days
    assert s["churn_probability"] == round(100 * (1 - math.exp(-recency / (180 * 1.5))))
    assert s["readiness"] == round(40 * round(100 * 3 / 15) / 100 + 20 + 0 + 20)
    view = one("SELECT * FROM gold_guest_360_view WHERE guest_key = %s", [guest.pk])
    assert (view["segment"], view["churn_risk"], view["recency_days"]) == ("repeat", "low", recency)


def test_predictive_features_rank_guests_in_quartiles(tenant, config, run_refresh):
    listing = make_listing()
    guests = [make_guest() for _ in range(4)]
    for i, guest in enumerate(guests):  # guest i: i + 1 stays, the later ones more recent and richer
        for k in range(i + 1):
            stay(guest, listing, dt.date(2025, 1 + 2 * k, 5 + i), nights=1, amount=str(1000 * (i + 1)))
    run_refresh(full=True)
    features = {r["guest_key"]: r for r in (one("SELECT * FROM gold_predictive_features WHERE guest_key = %s", [g.pk])
                                            for g in guests)}
    assert [features[g.pk]["f_quartile"] for g in guests] == [1, 2, 3, 4]
    assert [features[g.pk]["m_quartile"] for g in guests] == [1, 2, 3, 4]
    assert [features[g.pk]["frequency"] for g in guests] == [1, 2, 3, 4]


def test_recommendation_affinity_comes_from_what_the_guest_said_and_did(tenant, config, run_refresh):
    guest = make_guest(phone="+919876500215")
    set_personalization(guest)
    import_records("service_preferences", [{"phone": guest.phone, "dining": "fine dining"}], source_system="pms")
    import_records("social_media_activity", [
        {"phone": guest.phone, "activity_id": f"a{i}", "platform": "x", "activity_type": "post", "topic": "shopping"}
        for i in range(1)], source_system="s")
    run_refresh(full=True)
    features = one("SELECT * FROM gold_recommendation_features WHERE guest_key = %s", [guest.pk])
    assert features["affinity"] == {"RESTAURANT": 0.75, "SHOPPING": 0.25}
    assert features["top_category"] == "RESTAURANT"
    assert features["factors"]["weights"] == {"RESTAURANT": 3, "SHOPPING": 1}


def test_semantic_metrics_by_dimension(tenant, config, run_refresh):
    from personalization import semantic

    prop_a, prop_b = make_property(), make_property()
    guest = make_guest()
    stay(guest, make_listing(property=prop_a), dt.date(2026, 3, 2), nights=2, amount="4000")
    stay(guest, make_listing(property=prop_b), dt.date(2026, 4, 2), nights=1, amount="3000", source=BookingSource.AIRBNB)
    run_refresh(full=True)
    by_property = {r["property"]: r["value"] for r in semantic.query("revenue", ["property"])}
    assert by_property == {prop_a.pk: 4000.0, prop_b.pk: 3000.0}
    assert semantic.query("unique_guests") == [{"value": 1}]  # one guest, two bookings
    by_source = {r["source"]: r["value"] for r in semantic.query("bookings", ["source"])}
    assert by_source == {"DIRECT": 1, "AIRBNB": 1}
    assert semantic.query("bookings", ["month"], month_from=dt.date(2026, 4, 1)) == [{"month": dt.date(2026, 4, 1), "value": 1}]
    with pytest.raises(semantic.UnknownMetric, match="cannot be cut by"):
        semantic.query("guests", ["property"])
    with pytest.raises(semantic.UnknownMetric, match="Unknown metric"):
        semantic.query("revenue; DROP TABLE x", [])


def test_own_profiles_are_the_guest_key_source(tenant, config, run_refresh):
    """Every silver and gold row is keyed by our guest id; an anonymized guest keeps no identities."""
    _listing, asha, _ravi = history(tenant)
    run_refresh(full=True)
    keys = {r[0]: r[1] for r in rows("silver_guest_keys")}
    assert keys["phone:+919876500201"] == asha.pk and keys["email:asha@example.com"] == asha.pk
    assert BronzeGuestProfiles.objects.filter(record__guest_id=asha.pk).exists()


def test_satisfaction_counts_reviews_and_read_day_one_checks(tenant, config, run_refresh):
    from messaging.models import CommunicationLog

    guest = make_guest(phone="+919876500216")
    booking = make_booking(guest=guest)
    for n, status in enumerate(("READ", "DELIVERED")):
        CommunicationLog.objects.create(booking=booking, guest=guest, event_type="guest.satisfaction_check",
                                        channel="WHATSAPP", status=status, idempotency_key=f"pz-day1-{n}")
    import_records("feedback_reviews", [{"phone": guest.phone, "review_ref": "r", "rating": 4}], source_system="ota")
    run_refresh(full=True)
    scores = one("SELECT * FROM silver_satisfaction_scores WHERE guest_key = %s", [guest.pk])
    assert (scores["reviews"], scores["satisfaction"], scores["day1_checks"], scores["day1_checks_read"]) == (1, 75, 2, 1)
