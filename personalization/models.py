"""The personalization medallion (design doc 000: bronze → silver → gold → semantic) in each tenant's schema.

Bronze tables are Django models: append-only raw records (JSONB) with their source system, batch and ingest
time, plus the natural key and a content hash so a re-ingested unchanged record is recognized. Silver and gold
tables are plain SQL (personalization/sql.py creates them): they are written only by the set-based refresh and
read by a few selectors, so an ORM model would add nothing but a second definition of each column.
"""
from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone


class Source(models.TextChoices):
    """The ten sources of the design, plus our own message statuses (read rates for engagement)."""

    GUEST_PROFILES = "guest_profiles", "Guest profiles"
    BOOKING_HISTORY = "booking_history", "Booking history"
    STAY_HISTORY = "stay_history", "Stay history"
    ROOM_PREFERENCES = "room_preferences", "Room preferences"
    SERVICE_PREFERENCES = "service_preferences", "Service preferences"
    SOCIAL_MEDIA_ACTIVITY = "social_media_activity", "Social media activity"
    LOYALTY_PROGRAM = "loyalty_program", "Loyalty program"
    FEEDBACK_REVIEWS = "feedback_reviews", "Feedback and reviews"
    PAYMENT_METHODS = "payment_methods", "Payment methods (type only)"
    SPECIAL_REQUESTS = "special_requests", "Special requests"
    MESSAGE_STATUSES = "message_statuses", "Message statuses (our logs)"


# Records from our own tables carry this source system; it outranks imports where both say something.
OWN_SYSTEM = "atlas"


class BronzeRecord(models.Model):
    record = models.JSONField()
    source_system = models.CharField(max_length=40)
    batch_id = models.UUIDField(default=uuid.uuid4)
    ingested_at = models.DateTimeField(default=timezone.now)
    record_key = models.CharField(max_length=120, help_text="The record's natural key within its source system.")
    record_hash = models.CharField(max_length=32, help_text="md5 of the record: an unchanged record is not stored twice.")

    class Meta:
        abstract = True


def _bronze(source: Source) -> type[BronzeRecord]:
    name = "Bronze" + "".join(part.title() for part in source.value.split("_"))
    meta = type("Meta", (), {
        "db_table": f"bronze_{source.value}",
        "verbose_name": f"bronze {source.label.lower()}",
        "indexes": [models.Index(fields=["source_system", "record_key", "id"], name=f"bz_{source.value[:18]}_key")],
    })
    return type(name, (BronzeRecord,), {"__module__": __name__, "Meta": meta})


BronzeGuestProfiles = _bronze(Source.GUEST_PROFILES)
BronzeBookingHistory = _bronze(Source.BOOKING_HISTORY)
BronzeStayHistory = _bronze(Source.STAY_HISTORY)
BronzeRoomPreferences = _bronze(Source.ROOM_PREFERENCES)
BronzeServicePreferences = _bronze(Source.SERVICE_PREFERENCES)
BronzeSocialMediaActivity = _bronze(Source.SOCIAL_MEDIA_ACTIVITY)
BronzeLoyaltyProgram = _bronze(Source.LOYALTY_PROGRAM)
BronzeFeedbackReviews = _bronze(Source.FEEDBACK_REVIEWS)
BronzePaymentMethods = _bronze(Source.PAYMENT_METHODS)
BronzeSpecialRequests = _bronze(Source.SPECIAL_REQUESTS)
BronzeMessageStatuses = _bronze(Source.MESSAGE_STATUSES)

BRONZE_MODELS: dict[str, type[BronzeRecord]] = {
    Source.GUEST_PROFILES: BronzeGuestProfiles,
    Source.BOOKING_HISTORY: BronzeBookingHistory,
    Source.STAY_HISTORY: BronzeStayHistory,
    Source.ROOM_PREFERENCES: BronzeRoomPreferences,
    Source.SERVICE_PREFERENCES: BronzeServicePreferences,
    Source.SOCIAL_MEDIA_ACTIVITY: BronzeSocialMediaActivity,
    Source.LOYALTY_PROGRAM: BronzeLoyaltyProgram,
    Source.FEEDBACK_REVIEWS: BronzeFeedbackReviews,
    Source.PAYMENT_METHODS: BronzePaymentMethods,
    Source.SPECIAL_REQUESTS: BronzeSpecialRequests,
    Source.MESSAGE_STATUSES: BronzeMessageStatuses,
}


class QuarantinedRecord(models.Model):
    """A record that failed validation: kept with its reason, never silently dropped, never aborting a batch."""

    source = models.CharField(max_length=30, choices=Source.choices)
    source_system = models.CharField(max_length=40)
    batch_id = models.UUIDField()
    row_number = models.PositiveIntegerField(help_text="1-based position in the file or request.")
    record = models.JSONField(help_text="As received, except anything that looked like a card number (masked).")
    reason = models.CharField(max_length=300)
    ingested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bronze_quarantine"
        ordering = ["-ingested_at", "row_number"]

    def __str__(self) -> str:
        return f"{self.source} row {self.row_number}: {self.reason}"


class RefreshState(models.Model):
    """One row per step: the last bronze id it has consumed per source (the watermark) and when it ran."""

    step = models.CharField(max_length=40, primary_key=True)
    watermarks = models.JSONField(default=dict)
    as_of = models.DateField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "personalization_refresh_state"


class Use(models.TextChoices):
    """The five guest-facing uses of the design, each switchable per tenant."""

    ROOM_SETUP = "room_setup", "Pre-arrival room setup"
    UPSELL = "upsell", "Personalized upsells"
    RECOMMENDATIONS = "recommendations", "Custom recommendations"
    PRICING = "pricing", "Dynamic pricing"
    PROACTIVE = "proactive", "Proactive service"


class PersonalizationDecision(models.Model):
    """What a use decided for a booking and why: the factors behind it are kept with it (explainability)."""

    use = models.CharField(max_length=20, choices=Use.choices)
    booking = models.ForeignKey("bookings.Booking", on_delete=models.CASCADE, related_name="personalization_decisions")
    guest = models.ForeignKey("guests.Guest", on_delete=models.CASCADE, related_name="personalization_decisions")
    key = models.CharField(max_length=60, help_text="What was decided about (e.g. 'addon_offer', 'coupon_value').")
    choice = models.CharField(max_length=200)
    factors = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["booking", "use", "key"], name="pz_decision_once")]
        permissions = [
            ("import_guest_data", "Can import guest data into bronze"),
            ("view_guest_profile", "Can view a guest's personalization profile"),
        ]

    def __str__(self) -> str:
        return f"{self.get_use_display()} for booking #{self.booking_id}: {self.choice}"
