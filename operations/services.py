"""Operations writes triggered by the stay (RA-OPS-001): turnover tasks, room status, consumables."""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from bookings.services import locked_booking
from bookings.models import AddonCode, AddonRequest, AddonRequestStatus, Booking, Listing, RoomStatus
from operations.models import (
    CleaningType,
    HostNotification,
    HousekeepingTask,
    Incident,
    IncidentType,
    MaintenanceTicket,
    NotificationKind,
    Severity,
    TicketType,
    WorkStatus,
)

CONSUMED_ON_CHECKIN = "CHECKIN_CONSUMPTION"


def set_room_status(listing_id: int, status: str) -> None:
    Listing.objects.filter(pk=listing_id).update(room_status=status)


def create_turnover_task(booking: Booking, now: dt.datetime) -> HousekeepingTask:
    """GX-T05: one TURNOVER task per booking, due now (the next guest may arrive today)."""
    task, _ = HousekeepingTask.objects.get_or_create(
        booking=booking,
        cleaning_type=CleaningType.TURNOVER,
        defaults={"listing_id": booking.listing_id, "due_at": now, "created_at": now, "notes": "Auto-created on check-out."},
    )
    return task


def deduct_consumables(booking: Booking, now: dt.datetime) -> int:
    """RA-OPS-001 §4.3.2: consumables leave stock at check-in. The movement row per item and booking is
    unique and only rows actually inserted are deducted, so a replayed or concurrent check-in deducts once.
    Returns how many items were deducted."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH fresh AS (
                INSERT INTO operations_inventorymovement (item_id, booking_id, delta, reason, created_at)
                SELECT c.item_id, %(booking)s, -c.quantity_per_stay, %(reason)s, %(now)s
                FROM operations_listingconsumable c WHERE c.listing_id = %(listing)s
                ON CONFLICT DO NOTHING
                RETURNING item_id, delta
            )
            UPDATE operations_inventoryitem i SET quantity_on_hand = i.quantity_on_hand + fresh.delta
            FROM fresh WHERE i.id = fresh.item_id
            """,
            {"booking": booking.pk, "reason": CONSUMED_ON_CHECKIN, "now": now, "listing": booking.listing_id},
        )
        return cursor.rowcount


def mark_vacant_dirty(listing_id: int) -> None:
    set_room_status(listing_id, RoomStatus.VACANT_DIRTY)


def mark_occupied(listing_id: int) -> None:
    set_room_status(listing_id, RoomStatus.OCCUPIED)


# --- Guest-reported issues (RA-GUEST-001 §5.2, §5.5, §6.4, GX-IS-001, EC-13) -------------------------------

ISSUE_CATEGORIES = {
    # category: (maintenance ticket type, or None for an incident; incident type)
    "plumbing": (TicketType.PLUMBING, IncidentType.COMPLAINT),
    "electrical": (TicketType.ELECTRICAL, IncidentType.COMPLAINT),
    "wifi": (TicketType.WIFI, IncidentType.COMPLAINT),
    "cleaning": (TicketType.CLEANING, IncidentType.COMPLAINT),
    "noise": (None, IncidentType.NOISE),
    "safety": (None, IncidentType.SAFETY),
    "other": (None, IncidentType.OTHER),
}
CATEGORY_LABELS = {"wifi": "WiFi"}
URGENCY_SEVERITY = {"not_urgent": Severity.LOW, "urgent": Severity.HIGH, "emergency": Severity.P0}
DESCRIPTION_MAX = 500
AFTER_CHECKOUT_WINDOW = dt.timedelta(hours=24)  # EC-13
ACKNOWLEDGE_WITHIN = dt.timedelta(minutes=30)  # §5.5


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category.capitalize())


def _clean_description(description: str) -> str:
    text = (description or "").strip()
    if not text:
        raise ValidationError({"description": "Describe the problem in a few words."})
    if len(text) > DESCRIPTION_MAX:
        raise ValidationError({"description": f"Keep the description under {DESCRIPTION_MAX} characters ({len(text)} now)."})
    return text


@transaction.atomic
def report_guest_issue(booking: Booking | int, *, category: str, urgency: str, description: str,
                       now: dt.datetime | None = None) -> MaintenanceTicket | Incident:
    """A guest's report becomes a maintenance ticket (maintenance categories, during the stay) or an incident
    (noise, safety, other; and anything within 24 h after check-out), created by `guest:{id}`; the host is
    alerted at once, an emergency also escalates to the property manager and the Atlas admin, and an issue
    nobody acknowledges within 30 minutes escalates to the property manager (§5.5)."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    if category not in ISSUE_CATEGORIES:
        raise ValidationError({"category": "Choose one of: " + ", ".join(category_label(c) for c in ISSUE_CATEGORIES) + "."})
    if urgency not in URGENCY_SEVERITY:
        raise ValidationError({"urgency": "Choose how urgent it is: not urgent, urgent or emergency."})
    text = _clean_description(description)
    if booking.checked_in_at is None:
        raise ValidationError("Issues can be reported once you have checked in.")
    after_checkout = booking.checked_out_at is not None
    if after_checkout and now > booking.checked_out_at + AFTER_CHECKOUT_WINDOW:
        raise ValidationError("Issues can be reported up to 24 hours after check-out. Please contact your host directly.")

    ticket_type, incident_type = ISSUE_CATEGORIES[category]
    common = {
        "listing_id": booking.listing_id, "booking": booking, "severity": URGENCY_SEVERITY[urgency],
        "description": text, "created_by": f"guest:{booking.guest_id}", "created_at": now,
    }
    if ticket_type is not None and not after_checkout:
        issue = MaintenanceTicket.objects.create(ticket_type=ticket_type, **common)
    else:
        issue = Incident.objects.create(incident_type=incident_type, **common)
    _alert_issue(booking, issue, category_label(category), text, now)
    return issue


@transaction.atomic
def report_damage(booking: Booking | int, *, description: str, now: dt.datetime | None = None) -> Incident:
    """§6.4: the guest's own damage report, an incident of type DAMAGE; the host is told at once."""
    now = now or timezone.now()
    booking = locked_booking(booking)
    text = _clean_description(description)
    incident = Incident.objects.create(
        listing_id=booking.listing_id, booking=booking, incident_type=IncidentType.DAMAGE, severity=Severity.MEDIUM,
        description=text, created_by=f"guest:{booking.guest_id}", created_at=now,
    )
    _alert_issue(booking, incident, "Damage", text, now)
    return incident


def _issue_ref(issue) -> str:
    return f"{'ticket' if isinstance(issue, MaintenanceTicket) else 'incident'}:{issue.pk}"


def _next_sequence(booking: Booking, event_type: str) -> int:
    """Numbering per booking and event; the caller holds the booking's row lock, so two reports at once
    cannot take the same number (and so cannot lose an alert to the unique key)."""
    from messaging.models import AutomationSchedule

    return AutomationSchedule.objects.filter(booking=booking, event_type=event_type).count() + 1


def _alert_issue(booking: Booking, issue, label: str, text: str, now: dt.datetime) -> None:
    from messaging import events as ev
    from messaging.lifecycle import Touchpoint, create_schedules
    from messaging.models import Recipient
    from messaging.wakeups import note_due

    variables = {"category": label, "description": text, "issue": _issue_ref(issue)}
    emergency = issue.severity == Severity.P0
    priority = {"priority": "P0"} if emergency else {}
    reported = _next_sequence(booking, ev.GUEST_ISSUE_REPORTED)
    escalated = _next_sequence(booking, ev.GUEST_ISSUE_ESCALATED)
    touchpoints = [Touchpoint(ev.GUEST_ISSUE_REPORTED, now, reported, Recipient.HOST, {"variables": variables, **priority})]
    if emergency:  # §5.5: immediate WhatsApp to host + property manager + Atlas admin
        touchpoints += [
            Touchpoint(ev.GUEST_ISSUE_ESCALATED, now, escalated, Recipient.MANAGER, {"variables": variables, **priority}),
            Touchpoint(ev.GUEST_ISSUE_ESCALATED, now, escalated + 1, Recipient.PLATFORM, {"variables": variables, **priority}),
        ]
    else:  # §5.5: not acknowledged within 30 min → the property manager
        touchpoints.append(
            Touchpoint(ev.GUEST_ISSUE_ESCALATED, now + ACKNOWLEDGE_WITHIN, escalated, Recipient.MANAGER,
                       {"variables": variables, "unless_acknowledged": _issue_ref(issue)})
        )
    create_schedules(booking, touchpoints, now)
    HostNotification.objects.create(
        kind=NotificationKind.ISSUE_REPORTED, booking=booking, created_at=now,
        title=f"{booking.guest.name} reported {label.lower()}: {text[:120]}",
    )
    from guests.tags import on_issue_reported

    on_issue_reported(booking.guest_id, now)
    note_due(now, now)


def _issue_model(ref: str):
    kind, pk = ref.split(":")
    return (MaintenanceTicket if kind == "ticket" else Incident), int(pk)


@transaction.atomic
def acknowledge_issue(issue: MaintenanceTicket | Incident, *, now: dt.datetime | None = None) -> bool:
    now = now or timezone.now()
    changed = type(issue).objects.filter(pk=issue.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, status=WorkStatus.ACKNOWLEDGED
    )
    return bool(changed)


@transaction.atomic
def resolve_issue(issue: MaintenanceTicket | Incident, *, now: dt.datetime | None = None) -> bool:
    """Resolve once; a guest-reported issue tells the guest (§5.2: "Your reported issue … has been resolved")."""
    from messaging import events as ev
    from messaging.lifecycle import Touchpoint, create_schedules
    from messaging.wakeups import note_due

    now = now or timezone.now()
    changed = type(issue).objects.filter(pk=issue.pk, resolved_at__isnull=True).update(
        resolved_at=now, status=WorkStatus.RESOLVED,
    )
    type(issue).objects.filter(pk=issue.pk, acknowledged_at__isnull=True).update(acknowledged_at=now)
    if changed and issue.reported_by_guest and issue.booking_id:
        booking = locked_booking(issue.booking_id)
        label = issue.get_ticket_type_display() if isinstance(issue, MaintenanceTicket) else issue.get_incident_type_display()
        sequence = _next_sequence(booking, ev.GUEST_ISSUE_RESOLVED)
        create_schedules(booking, [Touchpoint(ev.GUEST_ISSUE_RESOLVED, now, sequence, payload={"variables": {"category": label}})], now)
        note_due(now, now)
    return bool(changed)


def unacknowledged_refs(refs: set[str]) -> set[str]:
    """Of the given issue references, those nobody has acknowledged yet."""
    open_refs: set[str] = set()
    for model, prefix in ((MaintenanceTicket, "ticket"), (Incident, "incident")):
        ids = [int(r.split(":")[1]) for r in refs if r.startswith(prefix + ":")]
        if ids:
            open_refs |= {f"{prefix}:{pk}" for pk in model.objects.filter(pk__in=ids, acknowledged_at__isnull=True).values_list("pk", flat=True)}
    return open_refs


# --- Add-on requests (RA-GUEST-001 §5.4, GX-IS-003) ---------------------------------------------------------

ADDON_PRICE_FIELD = {
    AddonCode.LATE_CHECKOUT: "late_checkout_price",
    AddonCode.EXTRA_CLEANING: "extra_cleaning_price",
    AddonCode.EARLY_CHECKIN: "early_checkin_price",
}


@transaction.atomic
def request_addon(booking: Booking | int, *, code: str, note: str = "", now: dt.datetime | None = None) -> tuple[AddonRequest, bool]:
    """Log the request and alert the host, who confirms or declines by hand (V1: no payment). A second tap
    on the same add-on while it is open returns the open request. Returns (request, whether it is new)."""
    from messaging import events as ev
    from messaging.lifecycle import Touchpoint, create_schedules
    from messaging.models import Recipient
    from messaging.wakeups import note_due

    now = now or timezone.now()
    booking = locked_booking(booking)
    if code not in ADDON_PRICE_FIELD:
        raise ValidationError({"code": "This add-on is not offered. Choose late check-out, extra cleaning or early check-in."})
    if booking.status != "Confirmed" or booking.checked_out_at is not None:
        raise ValidationError("Add-ons can be requested for an upcoming or current stay only.")
    existing = AddonRequest.objects.filter(booking=booking, code=code, status=AddonRequestStatus.REQUESTED).first()
    if existing:
        return existing, False
    addon = AddonRequest.objects.create(
        booking=booking, code=code, note=(note or "")[:500], requested_at=now,
        quoted_price=getattr(booking.listing, ADDON_PRICE_FIELD[code]),
    )
    sequence = _next_sequence(booking, ev.GUEST_ADDON_REQUEST)
    create_schedules(
        booking,
        [Touchpoint(ev.GUEST_ADDON_REQUEST, now, sequence, Recipient.HOST, {"variables": {"addon_name": addon.get_code_display()}})],
        now,
    )
    HostNotification.objects.create(
        kind=NotificationKind.ADDON_REQUESTED, booking=booking, created_at=now,
        title=f"{booking.guest.name} requested {addon.get_code_display().lower()}",
    )
    note_due(now, now)
    return addon, True
