"""The semantic layer: every metric defined once, by name, with the dimensions it can be cut by.

Gold metrics are SQL aggregates over a named base relation; a query picks the metric, the dimensions
(property, month, source, segment, as the metric allows) and optional filters, and gets one row per group.
The ten §11.1 metrics of RA-GUEST-001 are defined once in insights/metrics.py (the dashboard reads them there)
and are listed here by the same names, over a period rather than by dimensions.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from personalization.sql import fetch_dicts

BOOKINGS = """silver_bookings_enriched b LEFT JOIN gold_guest_360_view g ON g.guest_key = b.guest_key"""
REVIEWS = """silver_reviews r LEFT JOIN silver_bookings_enriched b ON b.booking_key = r.booking_key
             LEFT JOIN gold_guest_360_view g ON g.guest_key = r.guest_key"""
GUESTS = """gold_guest_360_view g JOIN gold_personalization_scores s ON s.guest_key = g.guest_key"""
OCCUPANCY = """gold_business_metrics m"""

DIMENSIONS = {
    BOOKINGS: {"property": "b.property_id", "month": "date_trunc('month', b.checkin)::date", "source": "b.channel",
               "segment": "g.segment"},
    REVIEWS: {"property": "coalesce(b.property_id, r.property_id)",
              "month": "date_trunc('month', coalesce(b.checkin, r.submitted_at::date))::date",
              "source": "b.channel", "segment": "g.segment"},
    GUESTS: {"segment": "g.segment"},
    OCCUPANCY: {"property": "m.property_id", "month": "m.month"},
}


@dataclass(frozen=True)
class Metric:
    label: str
    base: str
    expression: str
    unit: str

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(DIMENSIONS[self.base])


LIVE = "NOT b.is_cancelled"
METRICS: dict[str, Metric] = {
    "revenue": Metric("Revenue", BOOKINGS, f"sum(b.amount) FILTER (WHERE {LIVE})", "INR"),
    "bookings": Metric("Bookings", BOOKINGS, f"count(*) FILTER (WHERE {LIVE})", "count"),
    "unique_guests": Metric("Unique guests", BOOKINGS, f"count(DISTINCT b.guest_key) FILTER (WHERE {LIVE})", "count"),
    "nights": Metric("Nights", BOOKINGS, f"sum(b.nights) FILTER (WHERE {LIVE})", "count"),
    "adr": Metric("Average daily rate", BOOKINGS,
                  f"round(sum(b.amount) FILTER (WHERE {LIVE}) / nullif(sum(b.nights) FILTER (WHERE {LIVE}), 0), 2)", "INR"),
    "direct_share": Metric("Direct booking share", BOOKINGS,
                           f"round(100.0 * count(*) FILTER (WHERE {LIVE} AND b.is_direct) / "
                           f"nullif(count(*) FILTER (WHERE {LIVE}), 0), 1)", "%"),
    "cancellation_rate": Metric("Cancellation rate", BOOKINGS,
                                "round(100.0 * count(*) FILTER (WHERE b.is_cancelled) / nullif(count(*), 0), 1)", "%"),
    "avg_lead_days": Metric("Average lead time", BOOKINGS, f"round(avg(b.lead_days) FILTER (WHERE {LIVE}), 1)", "days"),
    "satisfaction": Metric("Satisfaction (average stars)", REVIEWS, "round(avg(r.rating), 2)", "stars"),
    "occupancy": Metric("Occupancy", OCCUPANCY,
                        "round(100.0 * sum(m.nights) / nullif(sum(m.nights / nullif(m.occupancy, 0)), 0), 1)", "%"),
    "repeat_rate": Metric("Repeat guests", OCCUPANCY,
                          "round(100.0 * sum(m.repeat_rate * m.unique_guests) / nullif(sum(m.unique_guests), 0), 1)", "%"),
    "guests": Metric("Guests", GUESTS, "count(*)", "count"),
    "avg_lifetime_value": Metric("Average lifetime value", GUESTS, "round(avg(g.lifetime_value), 2)", "INR"),
    "high_churn_risk_share": Metric("High churn risk", GUESTS,
                                    "round(100.0 * count(*) FILTER (WHERE g.churn_risk = 'high') / "
                                    "nullif(count(*) FILTER (WHERE g.churn_risk IS NOT NULL), 0), 1)", "%"),
    "avg_readiness": Metric("Personalization readiness", GUESTS, "round(avg(s.readiness), 1)", "score"),
    "avg_loyalty": Metric("Loyalty score", GUESTS, "round(avg(s.loyalty), 1)", "score"),
}


class UnknownMetric(ValueError):
    pass


def describe() -> list[dict]:
    from insights.metrics import TENANT_METRICS

    gold = [{"name": name, "label": m.label, "unit": m.unit, "dimensions": list(m.dimensions), "layer": "gold"}
            for name, m in METRICS.items()]
    spec = [{"name": name, "label": label, "unit": "", "dimensions": ["period"], "layer": "§11.1"}
            for name, (label, _fn) in TENANT_METRICS.items()]
    return gold + spec


def query(name: str, by: list[str] | None = None, *, property_id: int | None = None,
          month_from: dt.date | None = None, month_to: dt.date | None = None) -> list[dict]:
    """One row per group: {dimension: value, ..., "value": number}. Dimensions and filters are checked against
    the metric's own list (never spliced from input), so a bad name is an error, not SQL."""
    metric = METRICS.get(name)
    if metric is None:
        raise UnknownMetric(f"Unknown metric {name!r}. Known: {', '.join(sorted(METRICS))}.")
    dims = DIMENSIONS[metric.base]
    by = list(dict.fromkeys(by or []))
    bad = [d for d in by if d not in dims]
    if bad:
        raise UnknownMetric(f"{name} cannot be cut by {', '.join(bad)}; it has: {', '.join(dims) or 'no dimensions'}.")
    where, params = [], []
    if property_id is not None:
        if "property" not in dims:
            raise UnknownMetric(f"{name} has no property dimension.")
        where.append(f"{dims['property']} = %s")
        params.append(property_id)
    for bound, op in ((month_from, ">="), (month_to, "<=")):
        if bound is not None:
            if "month" not in dims:
                raise UnknownMetric(f"{name} has no month dimension.")
            where.append(f"{dims['month']} {op} %s")
            params.append(bound.replace(day=1))
    select = [f"{dims[d]} AS {d}" for d in by] + [f"{metric.expression} AS value"]
    sql = f"SELECT {', '.join(select)} FROM {metric.base}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if by:
        sql += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(by))) + " ORDER BY " + ", ".join(
            str(i + 1) for i in range(len(by)))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [{k: (float(v) if isinstance(v, Decimal) else v) for k, v in row.items()} for row in fetch_dicts(cursor)]
