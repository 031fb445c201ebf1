"""The operations side the guest experience feeds (RA-OPS-001, minimal but real): tickets, incidents,
housekeeping, consumables, the host's notifications and the audit trail."""
from __future__ import annotations

import builtins

from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from bookings.models import Booking, Listing, Property


class Severity(models.TextChoices):
    LOW = "LOW", "Low"
    MEDIUM = "MEDIUM", "Medium"
    HIGH = "HIGH", "High"
    P0 = "P0", "P0 (emergency)"


class TicketType(models.TextChoices):
    PLUMBING = "PLUMBING", "Plumbing"
    ELECTRICAL = "ELECTRICAL", "Electrical"
    WIFI = "WIFI", "WiFi"
    CLEANING = "CLEANING", "Cleaning"
    APPLIANCE = "APPLIANCE", "Appliance"
    OTHER = "OTHER", "Other"


class WorkStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    ACKNOWLEDGED = "ACKNOWLEDGED", "Acknowledged"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    RESOLVED = "RESOLVED", "Resolved"
    CLOSED = "CLOSED", "Closed"


class _Issue(models.Model):
    """What tickets and incidents share: who reported what, where, and how fast it was handled."""

    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="+")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    status = models.CharField(max_length=15, choices=WorkStatus.choices, default=WorkStatus.OPEN)
    description = models.TextField(max_length=2000, validators=[MaxLengthValidator(2000)])
    # "guest:{id}" for portal reports (GX-IS-001), "user:{id}" for staff, "system" for automation.
    created_by = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        ordering = ["-created_at"]

    @property
    def reported_by_guest(self) -> bool:
        return self.created_by.startswith("guest:")


class MaintenanceTicket(_Issue):
    ticket_type = models.CharField(max_length=20, choices=TicketType.choices)

    class Meta(_Issue.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("created_at")),
                name="ticket_resolved_after_created",
            ),
        ]
        indexes = [models.Index(fields=["status", "severity"], name="ticket_status_severity_idx")]

    def __str__(self) -> str:
        return f"{self.get_ticket_type_display()} ticket #{self.pk}"


class IncidentType(models.TextChoices):
    DAMAGE = "DAMAGE", "Damage"
    NOISE = "NOISE", "Noise"
    SAFETY = "SAFETY", "Safety"
    COMPLAINT = "COMPLAINT", "Complaint"
    OTHER = "OTHER", "Other"


class Incident(_Issue):
    incident_type = models.CharField(max_length=20, choices=IncidentType.choices)

    class Meta(_Issue.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("created_at")),
                name="incident_resolved_after_created",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_incident_type_display()} incident #{self.pk}"


class CleaningType(models.TextChoices):
    TURNOVER = "TURNOVER", "Turnover"
    MID_STAY = "MID_STAY", "Mid-stay clean"
    DEEP_CLEAN = "DEEP_CLEAN", "Deep clean"
    PREP = "PREP", "Pre-arrival room setup"
    INSPECTION = "INSPECTION", "Inspection"


class TaskStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    IN_PROGRESS = "IN_PROGRESS", "In progress"
    DONE = "DONE", "Done"
    CANCELLED = "CANCELLED", "Cancelled"


class HousekeepingTask(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.PROTECT, related_name="housekeeping_tasks")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="housekeeping_tasks")
    cleaning_type = models.CharField(max_length=20, choices=CleaningType.choices)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=15, choices=TaskStatus.choices, default=TaskStatus.PENDING)
    notes = models.TextField(blank=True)
    # Why this task exists, for tasks that automation or personalization created (factors behind a decision).
    details = models.JSONField(default=dict, blank=True)
    created_by = models.CharField(max_length=40, default="system")
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at"]
        constraints = [
            # One turnover (or setup) per booking, however often stay.checked_out is delivered.
            models.UniqueConstraint(
                fields=["booking", "cleaning_type"],
                condition=Q(booking__isnull=False) & Q(cleaning_type__in=["TURNOVER", "PREP"]),
                name="housekeeping_one_per_booking",
            ),
        ]
        indexes = [models.Index(fields=["status", "due_at"], name="housekeeping_status_due_idx")]

    def __str__(self) -> str:
        return f"{self.get_cleaning_type_display()} · {self.listing}"


class InventoryItem(models.Model):
    """A consumable kept at a property (toiletries, water bottles, tea kits)."""

    property = models.ForeignKey(Property, on_delete=models.CASCADE, related_name="inventory_items")
    name = models.CharField(max_length=100)
    unit = models.CharField(max_length=20, default="pcs")
    quantity_on_hand = models.IntegerField(default=0)
    reorder_level = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["property__name", "name"]
        constraints = [models.UniqueConstraint(fields=["property", "name"], name="inventory_item_unique")]

    def __str__(self) -> str:
        return f"{self.name} ({self.property})"

    # `property` above is a field, so the decorator is reached through builtins.
    @builtins.property
    def needs_reorder(self) -> bool:
        return self.quantity_on_hand <= self.reorder_level


class ListingConsumable(models.Model):
    """How much of an item one stay in a listing uses; deducted on check-in (RA-OPS-001 §4.3.2)."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="consumables")
    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="per_stay_uses")
    quantity_per_stay = models.PositiveIntegerField(default=1)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["listing", "item"], name="listing_consumable_unique"),
            models.CheckConstraint(condition=Q(quantity_per_stay__gte=1), name="listing_consumable_qty_gte_1"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity_per_stay} × {self.item.name} per stay in {self.listing.name}"


class InventoryMovement(models.Model):
    """Every change of stock, with the booking that caused it; unique so a replayed check-in deducts once."""

    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="movements")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    delta = models.IntegerField()
    reason = models.CharField(max_length=30)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["item", "booking", "reason"], condition=Q(booking__isnull=False), name="inventory_movement_once"
            ),
        ]


class NotificationKind(models.TextChoices):
    ALL_CHANNELS_FAILED = "ALL_CHANNELS_FAILED", "Message could not be delivered"
    ISSUE_REPORTED = "ISSUE_REPORTED", "Guest reported an issue"
    ADDON_REQUESTED = "ADDON_REQUESTED", "Guest requested an add-on"
    NOT_CHECKED_IN = "NOT_CHECKED_IN", "Guest has not checked in"
    LOW_RATING = "LOW_RATING", "Low rating received"
    ESCALATION = "ESCALATION", "Escalation"
    CALENDAR_FAILING = "CALENDAR_FAILING", "Calendar link failing"
    DOUBLE_BOOKING = "DOUBLE_BOOKING", "Double booking"
    OTHER = "OTHER", "Other"


class HostNotification(models.Model):
    """An item on the host's dashboard (e.g. ALL_CHANNELS_FAILED, RA-GUEST-001 §3.6)."""

    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.CASCADE, related_name="host_notifications")
    dedupe_key = models.CharField(max_length=120, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class AuditLog(models.Model):
    """Who did what: portal actions (check-in, review, issue report) and consent changes (Appendix C)."""

    actor = models.CharField(max_length=40, help_text='"guest:{id}", "user:{id}" or "system".')
    action = models.CharField(max_length=60)
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action}"
