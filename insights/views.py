"""The host's guest-experience dashboard: the ten §11.1 metrics with their weekly trend as inline SVG, and
the communication summary of §9.4. Server-rendered: no build step, no script."""
from __future__ import annotations

import datetime as dt

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils import timezone

from insights.metrics import TENANT_METRICS, weekly_trend
from messaging.models import CommunicationLog, LogStatus
from tenants.roles import sees_money

WEEKS = 8
FINANCIAL = {"referral_bookings", "coupon_redemption_rate"}
FAILED = (LogStatus.FAILED, LogStatus.BOUNCED, LogStatus.ALL_CHANNELS_FAILED)


def communication_summary(now: dt.datetime) -> dict:
    """§9.4 widget: messages sent today (property-agnostic, UTC day), delivery rate, failure rate."""
    since = now.replace(hour=0, minute=0, second=0, microsecond=0)
    totals = CommunicationLog.objects.filter(created_at__gte=since).aggregate(
        n=Count("pk"),
        sent=Count("pk", filter=Q(status__in=[LogStatus.SENT, LogStatus.DELIVERED, LogStatus.READ])),
        delivered=Count("pk", filter=Q(status__in=[LogStatus.DELIVERED, LogStatus.READ])),
        failed=Count("pk", filter=Q(status__in=FAILED)),
    )
    n = totals["n"]
    return {
        "sent_today": totals["sent"],
        "delivery_rate": round(totals["delivered"] * 100 / n, 1) if n else None,
        "failure_rate": round(totals["failed"] * 100 / n, 1) if n else None,
    }


def sparkline(values: list[float | None], width: int = 160, height: int = 36) -> str:
    """Points of an SVG polyline for the weekly values; weeks with nothing measured are left out."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1
    step = width / max(len(values) - 1, 1)
    return " ".join(
        f"{i * step:.1f},{height - 4 - (v - low) / span * (height - 8):.1f}" for i, v in enumerate(values) if v is not None
    )


def last_point(points: str) -> tuple[str, str] | None:
    """The newest measured point, drawn as a dot: a trend of one measured period is a dot, not nothing."""
    return tuple(points.split()[-1].split(",")) if points else None


def detail_rows(detail: dict | None) -> list[tuple[str, str]]:
    """A metric's detail as the page shows it: "by channel: EMAIL 66.7, WHATSAPP 88.2", "—" for nothing."""
    def text(value) -> str:
        if value is None:
            return "—"
        if isinstance(value, dict):
            return ", ".join(f"{key} {text(inner)}" for key, inner in value.items()) or "—"
        return str(value)

    return [(str(key).replace("_", " "), text(value)) for key, value in (detail or {}).items()]


def dashboard(request):
    if not request.user.has_perm("messaging.view_communicationlog"):
        raise PermissionDenied  # frontdesk: no communication data (§10.6)
    now = timezone.now()
    money_shown = sees_money(request.user)
    cards = []
    for name, (label, _metric) in TENANT_METRICS.items():
        if name in FINANCIAL and not money_shown:
            continue
        trend = weekly_trend(name, now, WEEKS)
        values = [value.value for _, value in trend]
        latest = trend[-1][1]
        cards.append({"name": name, "label": label, "value": latest.value, "unit": latest.unit, "detail": latest.detail,
                      "points": sparkline(values), "weeks": [(start, value.value) for start, value in trend]})
        cards[-1]["dot"] = last_point(cards[-1]["points"])
    context = {**admin.site.each_context(request), "title": "Guest experience dashboard", "cards": cards,
               "summary": communication_summary(now), "weeks": WEEKS}
    return TemplateResponse(request, "insights/dashboard.html", context)


PLATFORM_MONTHS = 6


def platform_dashboard(request):
    """§11.2 for the Atlas admin on the platform's domain: seven anonymized metrics across tenants, each with
    its trend over the last six 30-day periods."""
    from insights.platform import PLATFORM_METRICS

    if not request.user.is_superuser:
        raise PermissionDenied  # Atlas internal (§11.2): the platform admin only
    now = timezone.now()
    periods = [(now - dt.timedelta(days=30 * (k + 1)), now - dt.timedelta(days=30 * k)) for k in reversed(range(PLATFORM_MONTHS))]
    cards = []
    for name, metric in PLATFORM_METRICS.items():
        values = [metric.query(start, end) for start, end in periods]
        latest = values[-1]
        cards.append({"name": name, "label": metric.label, "value": latest.value, "unit": latest.unit,
                      "detail": detail_rows(latest.detail), "points": sparkline([v.value for v in values])})
        cards[-1]["dot"] = last_point(cards[-1]["points"])
    context = {**admin.site.each_context(request), "title": "Platform metrics (all tenants, anonymized)",
               "cards": cards, "months": PLATFORM_MONTHS}
    return TemplateResponse(request, "insights/platform.html", context)
