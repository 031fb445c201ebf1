"""The five guest-facing uses of the personalization design, wired into the lifecycle, the portal and coupons.

Each acts only when the tenant has personalization and that use switched on, and the guest has given the
PERSONALIZATION consent (checked live, not from the last refresh). Each decision is stored with the factors
behind it (PersonalizationDecision), so a host can see why a guest got what they got. Without a gold row
(never refreshed, or a new guest) every use falls back to what the product does without personalization.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db import OperationalError, connection, transaction

from bookings.models import AddonCode, Booking
from guests.models import ConsentChannel, ConsentStatus, GuestConsent
from messaging.rendering import format_inr
from personalization.models import PersonalizationDecision, Use
from personalization.sql import fetch_dicts
from tenants.models import TenantGuestExperienceConfig

UPSELL_FIELD = {
    AddonCode.LATE_CHECKOUT: "upsell_late_checkout",
    AddonCode.EXTRA_CLEANING: "upsell_extra_cleaning",
    AddonCode.EARLY_CHECKIN: "upsell_early_checkin",
    AddonCode.AIRPORT_TRANSFER: "upsell_airport_transfer",
}
OFFER_NAME = {
    AddonCode.LATE_CHECKOUT: "a late check-out",
    AddonCode.EXTRA_CLEANING: "an extra cleaning",
}
PRICE_FIELD = {AddonCode.LATE_CHECKOUT: "late_checkout_price", AddonCode.EXTRA_CLEANING: "extra_cleaning_price"}
# Below this propensity the early check-in offer is not sent (the prior alone is 20; a guest with two
# stays who never asked for it scores 14).
EARLY_CHECKIN_MIN_PROPENSITY = 15
PROACTIVE_LATE_CHECKOUT_MIN = 2  # late check-outs asked for or taken before
PROACTIVE_LATE_CHECKOUT_LOCAL = dt.time(18, 0)  # the evening before check-out day


def current_config() -> TenantGuestExperienceConfig:
    return TenantGuestExperienceConfig.objects.get(tenant__schema_name=connection.schema_name)


def consents(guest_id: int) -> bool:
    return GuestConsent.objects.filter(
        guest_id=guest_id, channel=ConsentChannel.PERSONALIZATION, status=ConsentStatus.GRANTED, marketing=False
    ).exists()


# A full refresh replaces the gold tables under an exclusive lock for its whole transaction; a reader (a portal
# page, a lifecycle handler) must not wait for it: personalization is never worth a stalled page.
READ_LOCK_TIMEOUT = "200ms"


def profile(guest_id: int) -> dict | None:
    """The guest's gold row: 360 view, scores and recommendation features in one query. None if there is none,
    or if a refresh is rewriting the tables right now (the caller falls back to the standard behaviour)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
                           [READ_LOCK_TIMEOUT])
            previous = cursor.fetchone()[0]
            found = _profile_row(cursor, guest_id)
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])
            return found
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != "55P03":  # lock_not_available
            raise
        return None


def _profile_row(cursor, guest_id: int) -> dict | None:
    cursor.execute(
        """
        SELECT v.*, s.readiness, s.upsell_late_checkout, s.upsell_early_checkin, s.upsell_extra_cleaning,
          s.upsell_airport_transfer, s.loyalty, s.churn_probability, r.affinity, r.top_category
        FROM gold_guest_360_view v JOIN gold_personalization_scores s ON s.guest_key = v.guest_key
        LEFT JOIN gold_recommendation_features r ON r.guest_key = v.guest_key
        WHERE v.guest_key = %s
        """,
        [guest_id],
    )
    found = fetch_dicts(cursor)
    return found[0] if found else None


def _active_profile(booking: Booking, use: str, config: TenantGuestExperienceConfig | None = None) -> dict | None:
    config = config or current_config()
    if not config.personalizes(use) or not consents(booking.guest_id):
        return None
    return profile(booking.guest_id)


def _decide(booking: Booking, use: str, key: str, choice: str, factors: dict, now: dt.datetime) -> PersonalizationDecision:
    decision, _ = PersonalizationDecision.objects.get_or_create(
        booking=booking, use=use, key=key,
        defaults={"guest_id": booking.guest_id, "choice": choice[:200], "factors": factors, "created_at": now},
    )
    return decision


# --- 1. pre-arrival room setup and 5. proactive service (the day before arrival) --------------------------------

def prepare_arrival(booking: Booking, now: dt.datetime) -> dict:
    """At T-1 d: a PREP housekeeping task with the guest's setup, and the proactive touches their history
    calls for. Idempotent: the task and the touches have unique keys."""
    config = current_config()
    done = {}
    if booking.checked_in_at is not None or booking.status != "Confirmed":
        return done
    if (p := _active_profile(booking, Use.ROOM_SETUP, config)) is not None:
        done["room_setup"] = room_setup_task(booking, p, now)
    if (p := _active_profile(booking, Use.PROACTIVE, config)) is not None:
        done["proactive"] = proactive_touches(booking, p, now)
    return done


def room_setup(profile_row: dict) -> dict:
    """What housekeeping prepares, from the consolidated preferences (only keys the guest told us)."""
    room, service = profile_row["room_preferences"] or {}, profile_row["service_preferences"] or {}
    setup = {k: room[k] for k in ("temperature", "lighting", "pillow", "bed", "noise", "accessibility") if k in room}
    if "amenities" in service:
        setup["amenities"] = service["amenities"]
    if "dietary" in service:
        setup["dietary_notes"] = service["dietary"]
    return setup


def room_setup_task(booking: Booking, profile_row: dict, now: dt.datetime):
    from operations.models import CleaningType, HousekeepingTask

    setup = room_setup(profile_row)
    if not setup:
        return None
    checkin_at = booking.local_checkin_at().astimezone(dt.timezone.utc)
    notes = "Set up for the guest: " + "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in setup.items())
    with transaction.atomic():
        task, _ = HousekeepingTask.objects.get_or_create(
            booking=booking, cleaning_type=CleaningType.PREP,
            defaults={"listing_id": booking.listing_id, "due_at": checkin_at - dt.timedelta(hours=2),
                      "notes": notes[:2000], "details": {"setup": setup}, "created_by": "personalization",
                      "created_at": now},
        )
        _decide(booking, Use.ROOM_SETUP, "prep_task", f"PREP task #{task.pk}", {
            "setup": setup, "preference_completeness": profile_row["preference_completeness"]}, now)
    return task.pk


def proactive_touches(booking: Booking, profile_row: dict, now: dt.datetime) -> list[str]:
    """Rules on history: a past WiFi complaint → the WiFi details at check-in time, unasked; late check-out
    asked for or taken twice or more → offered the evening before check-out, before it is asked for."""
    from messaging import events as ev
    from messaging.lifecycle import Touchpoint, create_schedules

    listing = booking.listing
    touches: list[Touchpoint] = []
    checkin_at = booking.local_checkin_at().astimezone(dt.timezone.utc)
    if profile_row["wifi_issues"] > 0 and listing.wifi_name:
        touches.append(Touchpoint(ev.GUEST_PROACTIVE_WIFI, max(now, checkin_at)))
        _decide(booking, Use.PROACTIVE, "wifi_first", "WiFi details at check-in",
                {"past_wifi_issues": profile_row["wifi_issues"]}, now)
    late = _count(profile_row["addon_taken"], AddonCode.LATE_CHECKOUT) + _count(
        profile_row["addon_requested"], AddonCode.LATE_CHECKOUT)
    if late >= PROACTIVE_LATE_CHECKOUT_MIN and listing.late_checkout_price is not None:
        evening = dt.datetime.combine(booking.checkout_date - dt.timedelta(days=1), PROACTIVE_LATE_CHECKOUT_LOCAL,
                                      tzinfo=booking.tz).astimezone(dt.timezone.utc)
        touches.append(Touchpoint(ev.GUEST_PROACTIVE_LATE_CHECKOUT, max(now, evening), payload={
            "variables": {"offer_price": format_inr(listing.late_checkout_price)}}))
        _decide(booking, Use.PROACTIVE, "late_checkout_first", "late check-out offered the evening before",
                {"late_checkouts_before": late}, now)
    if touches:
        create_schedules(booking, touches, now)
    return [t.event_type for t in touches]


def _count(counts: dict | None, code: str) -> int:
    return int((counts or {}).get(code, 0) or 0)


# --- 2. personalized upsells ---------------------------------------------------------------------------------

def personalize_touchpoints(booking: Booking, touchpoints: list, now: dt.datetime, config=None) -> list:
    """The day-2 add-on offer names the add-on with the highest propensity (among those the listing prices);
    the early check-in offer is left out for a guest whose history says they do not want it."""
    from messaging import events as ev

    relevant = {t.event_type for t in touchpoints} & {ev.GUEST_ADDON_OFFER, ev.GUEST_EARLY_CHECKIN_OFFER}
    if not relevant:
        return touchpoints
    p = _active_profile(booking, Use.UPSELL, config)
    if p is None:
        return touchpoints
    kept = []
    for touchpoint in touchpoints:
        if touchpoint.event_type == ev.GUEST_ADDON_OFFER:
            _choose_addon_offer(booking, touchpoint, p, now)
        elif touchpoint.event_type == ev.GUEST_EARLY_CHECKIN_OFFER:
            propensity = p["upsell_early_checkin"]
            offered = propensity >= EARLY_CHECKIN_MIN_PROPENSITY
            _decide(booking, Use.UPSELL, "early_checkin_offer", "offered" if offered else "not offered",
                    {"propensity": propensity, "threshold": EARLY_CHECKIN_MIN_PROPENSITY, "stays": p["stays"]}, now)
            if not offered:
                continue
        kept.append(touchpoint)
    return kept


def _choose_addon_offer(booking: Booking, touchpoint, p: dict, now: dt.datetime) -> None:
    listing = booking.listing
    priced = [code for code in OFFER_NAME if getattr(listing, PRICE_FIELD[code]) is not None]
    if not priced:
        return
    scores = {code: p[UPSELL_FIELD[code]] for code in priced}
    best = max(priced, key=lambda code: (scores[code], code == AddonCode.LATE_CHECKOUT))
    touchpoint.payload = {**touchpoint.payload, "template_key": "ADDON_OFFER_PERSONAL_WA", "variables": {
        **touchpoint.payload.get("variables", {}), "offer_name": OFFER_NAME[best],
        "offer_price": format_inr(getattr(listing, PRICE_FIELD[best]))}}
    _decide(booking, Use.UPSELL, "addon_offer", best, {"propensity": scores, "stays": p["stays"]}, now)


# --- 3. recommendations ---------------------------------------------------------------------------------------

def rank_recommendations(booking: Booking, recommendations: list, now: dt.datetime) -> list:
    """The portal's local recommendations, most affine category first (the host's order within a category)."""
    p = _active_profile(booking, Use.RECOMMENDATIONS)
    affinity = (p or {}).get("affinity") or {}
    if not affinity:
        return recommendations
    ranked = sorted(recommendations, key=lambda r: -float(affinity.get(r.category, 0)))  # stable: keeps host order
    _decide(booking, Use.RECOMMENDATIONS, "ranking", p["top_category"] or "", {"affinity": affinity}, now)
    return ranked


# --- 4. dynamic pricing ---------------------------------------------------------------------------------------

def coupon_value(booking: Booking, base: Decimal, config: TenantGuestExperienceConfig, now: dt.datetime) -> Decimal:
    """The post-stay coupon between the host's bounds: loyal guests and guests we may lose get more.
    target = low + (high - low) x (loyalty + churn probability) / 200, never outside [low, high]."""
    low = config.personalized_coupon_min_value
    high = config.personalized_coupon_max_value
    if low is None and high is None:
        return base
    low, high = (low if low is not None else base), (high if high is not None else base)
    p = _active_profile(booking, Use.PRICING, config)
    if p is None:
        return base
    weight = Decimal(p["loyalty"] + (p["churn_probability"] or 0)) / 200
    value = (low + (high - low) * weight).quantize(Decimal("1"), rounding=ROUND_HALF_UP)  # whole % or ₹
    value = min(max(value, low), high)
    _decide(booking, Use.PRICING, "coupon_value", str(value), {
        "base": str(base), "low": str(low), "high": str(high), "loyalty": p["loyalty"],
        "churn_probability": p["churn_probability"]}, now)
    return value


def direct_quote(guest_id: int, amount: Decimal, config: TenantGuestExperienceConfig | None = None) -> dict:
    """A direct-booking quote: up to the host's maximum discount, in proportion to the guest's loyalty."""
    config = config or current_config()
    amount = Decimal(amount)
    result = {"amount": str(amount), "discount_percent": "0", "quoted": str(amount), "factors": {}}
    if not config.personalizes(Use.PRICING) or not consents(guest_id):
        result["factors"] = {"reason": "personalization off or no consent"}
        return result
    p = profile(guest_id)
    if p is None:
        result["factors"] = {"reason": "no history yet"}
        return result
    percent = (config.direct_quote_max_discount_percent * Decimal(p["loyalty"]) / 100).quantize(Decimal("0.1"))
    percent = min(max(percent, Decimal("0")), config.direct_quote_max_discount_percent)
    quoted = (amount * (100 - percent) / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return {"amount": str(amount), "discount_percent": str(percent), "quoted": str(quoted),
            "factors": {"loyalty": p["loyalty"], "max_discount_percent": str(config.direct_quote_max_discount_percent)}}
