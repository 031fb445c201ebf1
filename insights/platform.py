"""The seven management-level metrics of RA-GUEST-001 §11.2, for the Atlas platform admin, across tenants.

Each is one named query over a period [start, end). A tenant's rows live in its own schema, so each query is
one SQL statement that unions the same select over every tenant schema (one round trip whatever the number of
tenants) and aggregates the union. Nothing identifies a tenant or a guest in the result: platform totals,
channels, cohorts and portal features only (anonymized).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.utils import timezone
from django_tenants.utils import get_tenant_model

from insights.metrics import Value, _percent


def tenant_schemas() -> list[str]:
    return list(get_tenant_model().objects.exclude(schema_name="public").order_by("schema_name")
                .values_list("schema_name", flat=True))


def _union(select: str, schemas: list[str]) -> str:
    """The same select over every schema; identifiers quoted, never taken from input."""
    return " UNION ALL ".join(select.replace("{s}", connection.ops.quote_name(schema)) for schema in schemas)


def _query(select: str, outer: str, params: dict, schemas: list[str] | None = None) -> list[tuple]:
    schemas = tenant_schemas() if schemas is None else schemas
    if not schemas:
        return []
    with connection.cursor() as cursor:
        cursor.execute(outer.replace("{union}", _union(select, schemas)), params)
        return cursor.fetchall()


def platform_guest_satisfaction(start: dt.datetime, end: dt.datetime) -> Value:
    """Average overall rating of every review submitted in the period, across tenants."""
    rows = _query("SELECT overall_rating FROM {s}.reviews_guestreview WHERE submitted_at >= %(start)s "
                  "AND submitted_at < %(end)s",
                  "SELECT round(avg(overall_rating), 2), count(*) FROM ({union}) r", {"start": start, "end": end})
    avg, n = rows[0] if rows else (None, 0)
    return Value(float(avg) if avg is not None else None, "stars", {"reviews": n})


def message_delivery_health(start: dt.datetime, end: dt.datetime) -> Value:
    """Delivered or read, per channel, of guest messages that left us (sent or failed) in the period."""
    rows = _query(
        "SELECT channel, status FROM {s}.messaging_communicationlog WHERE created_at >= %(start)s "
        "AND created_at < %(end)s AND status NOT IN ('PENDING', 'OPTED_OUT')",
        "SELECT channel, count(*), count(*) FILTER (WHERE status IN ('DELIVERED', 'READ')) FROM ({union}) m "
        "GROUP BY channel ORDER BY channel", {"start": start, "end": end})
    by_channel = {channel: _percent(delivered, n) for channel, n, delivered in rows}
    total = sum(n for _c, n, _d in rows)
    delivered = sum(d for _c, _n, d in rows)
    return Value(_percent(delivered, total), "%", {"by_channel": by_channel, "messages": total})


def guest_retention_cohort(start: dt.datetime, end: dt.datetime) -> Value:
    """Of the guests whose first completed stay ended in the period, the % who checked in again within 3, 6
    and 12 months of it. A horizon counts only the guests for whom it has fully elapsed by now (a stay that
    ended last month cannot yet show a return within a year); a horizon nobody has reached yet is None. The
    headline is 12 months; guests are counted, never named."""
    rows = _query(
        "SELECT firsts.first_out, (SELECT min(b2.checked_in_at) FROM {s}.bookings_booking b2 "
        "  WHERE b2.guest_id = firsts.guest_id AND b2.checked_in_at > firsts.first_out) AS next_in "
        "FROM (SELECT guest_id, min(checked_out_at) AS first_out FROM {s}.bookings_booking "
        "      WHERE checked_out_at IS NOT NULL GROUP BY guest_id) firsts "
        "WHERE firsts.first_out >= %(start)s AND firsts.first_out < %(end)s",
        "SELECT count(*), "
        + ", ".join(
            f"count(*) FILTER (WHERE first_out + interval '{k} months' <= %(now)s), "
            f"count(*) FILTER (WHERE first_out + interval '{k} months' <= %(now)s "
            f"AND next_in <= first_out + interval '{k} months')"
            for k in (3, 6, 12))
        + " FROM ({union}) c",
        {"start": start, "end": end, "now": timezone.now()})
    n, e3, m3, e6, m6, e12, m12 = rows[0] if rows else (0,) * 7
    return Value(_percent(m12, e12), "%", {
        "cohort": n,
        "within_3_months": _percent(m3, e3), "reached_3_months": e3,
        "within_6_months": _percent(m6, e6), "reached_6_months": e6,
        "within_12_months": _percent(m12, e12), "reached_12_months": e12})


def direct_booking_growth(start: dt.datetime, end: dt.datetime) -> Value:
    """Month over month: the platform's direct booking share in the month ending at `end` minus the month
    before, in percentage points (bookings confirmed in each month)."""
    month_start = end - dt.timedelta(days=30)
    before = month_start - dt.timedelta(days=30)
    rows = _query(
        "SELECT confirmed_at, source FROM {s}.bookings_booking WHERE confirmed_at >= %(before)s "
        "AND confirmed_at < %(end)s",
        "SELECT (confirmed_at >= %(month)s) AS this_month, count(*), count(*) FILTER (WHERE source = 'Direct') "
        "FROM ({union}) b GROUP BY 1", {"before": before, "month": month_start, "end": end})
    shares = {this: _percent(direct, n) for this, n, direct in rows}
    now_share, then_share = shares.get(True), shares.get(False)
    growth = round(now_share - then_share, 1) if now_share is not None and then_share is not None else None
    return Value(growth, "points", {"direct_share_this_month": now_share, "direct_share_month_before": then_share})


def coupon_roi(start: dt.datetime, end: dt.datetime) -> Value:
    """Revenue of bookings that used a coupon, per rupee of discount given, for bookings confirmed in the
    period (not cancelled)."""
    rows = _query(
        "SELECT final_amount, discount_amount FROM {s}.bookings_booking WHERE applied_coupon_id IS NOT NULL "
        "AND status <> 'Cancelled' AND confirmed_at >= %(start)s AND confirmed_at < %(end)s",
        "SELECT coalesce(sum(final_amount), 0), coalesce(sum(discount_amount), 0), count(*) FROM ({union}) b",
        {"start": start, "end": end})
    revenue, cost, n = rows[0] if rows else (0, 0, 0)
    roi = round(float(revenue) / float(cost), 2) if cost else None
    return Value(roi, "× discount", {"revenue": float(revenue), "discount_cost": float(cost), "bookings": n})


def portal_engagement(start: dt.datetime, end: dt.datetime) -> Value:
    """Average page views per portal link used in the period (a link is one guest's stay, our closest thing
    to a session), and the portal actions guests used most."""
    views = _query(
        "SELECT access_count FROM {s}.portal_guestportaltoken WHERE last_accessed_at >= %(start)s "
        "AND last_accessed_at < %(end)s",
        "SELECT round(avg(access_count), 1), count(*) FROM ({union}) t", {"start": start, "end": end})
    features = _query(
        "SELECT action FROM {s}.operations_auditlog WHERE actor LIKE 'guest:%%' AND created_at >= %(start)s "
        "AND created_at < %(end)s",
        "SELECT action, count(*) FROM ({union}) a GROUP BY action ORDER BY count(*) DESC, action LIMIT 5",
        {"start": start, "end": end})
    avg, links = views[0] if views else (None, 0)
    return Value(float(avg) if avg is not None else None, "views per link",
                 {"links": links, "top_features": {action: n for action, n in features}})


def reengagement_effectiveness(start: dt.datetime, end: dt.datetime) -> Value:
    """% of re-engagement messages sent in the period whose guest made a booking within 30 days after."""
    rows = _query(
        "SELECT EXISTS (SELECT 1 FROM {s}.bookings_booking b WHERE b.guest_id = m.guest_id "
        "  AND b.created_at > m.sent_at AND b.created_at <= m.sent_at + interval '30 days') AS booked "
        "FROM {s}.messaging_communicationlog m WHERE m.event_type = 'guest.reengagement' "
        "AND m.sent_at >= %(start)s AND m.sent_at < %(end)s",
        "SELECT count(*), count(*) FILTER (WHERE booked) FROM ({union}) r", {"start": start, "end": end})
    n, booked = rows[0] if rows else (0, 0)
    return Value(_percent(booked, n), "%", {"messages": n, "bookings_within_30_days": booked})


@dataclass(frozen=True)
class PlatformMetric:
    label: str
    query: Callable[[dt.datetime, dt.datetime], Value]


PLATFORM_METRICS: dict[str, PlatformMetric] = {
    "platform_guest_satisfaction": PlatformMetric("Platform guest satisfaction", platform_guest_satisfaction),
    "message_delivery_health": PlatformMetric("Message delivery health", message_delivery_health),
    "guest_retention_cohort": PlatformMetric("Guest retention cohort (12 months)", guest_retention_cohort),
    "direct_booking_growth": PlatformMetric("Direct booking growth (month over month)", direct_booking_growth),
    "coupon_roi": PlatformMetric("Coupon ROI", coupon_roi),
    "portal_engagement": PlatformMetric("Portal engagement", portal_engagement),
    "reengagement_effectiveness": PlatformMetric("Re-engagement effectiveness", reengagement_effectiveness),
}


def platform_metrics(start: dt.datetime, end: dt.datetime) -> dict[str, dict]:
    return {name: {"label": m.label, **_as_dict(m.query(start, end))} for name, m in PLATFORM_METRICS.items()}


def _as_dict(value: Value) -> dict:
    return {"value": value.value, "unit": value.unit, "detail": value.detail}
