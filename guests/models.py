"""Guests, what we know about them, and what they agreed to (RA-GUEST-001 §7.4, §7.7, §10)."""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from guests.phones import normalized_or_unchanged, validate_phone


class Guest(models.Model):
    name = models.CharField(max_length=200)
    phone = models.CharField(
        max_length=64, blank=True, validators=[validate_phone], help_text="Stored in E.164, e.g. +919876501234."
    )
    email = models.EmailField(blank=True)
    referral_code = models.CharField(max_length=20, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    anonymized_at = models.DateTimeField(null=True, blank=True)
    # WhatsApp's customer-service window: free text is allowed for 24 h after the guest's last message.
    whatsapp_last_inbound_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # One guest per phone within a tenant: the phone is how a returning guest is recognized.
            models.UniqueConstraint(fields=["phone"], condition=~Q(phone=""), name="guest_phone_unique"),
            models.CheckConstraint(condition=~Q(name=""), name="guest_name_not_empty"),
        ]
        indexes = [models.Index(fields=["email"], name="guest_email_idx")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.phone and not self.anonymized_at:
            self.phone = normalized_or_unchanged(self.phone)
        self.email = (self.email or "").strip().lower()


class ConsentChannel(models.TextChoices):
    WHATSAPP = "WHATSAPP", "WhatsApp"
    SMS = "SMS", "SMS"
    EMAIL = "EMAIL", "Email"
    # Personalization design: preference and social data are used only with this consent.
    PERSONALIZATION = "PERSONALIZATION", "Personalization"


class ConsentStatus(models.TextChoices):
    GRANTED = "GRANTED", "Granted"
    REVOKED = "REVOKED", "Revoked"


class ConsentSource(models.TextChoices):
    BOOKING_FORM = "BOOKING_FORM", "Booking form"
    PORTAL = "PORTAL", "Guest portal"
    WHATSAPP_REPLY = "WHATSAPP_REPLY", "WhatsApp reply"
    EMAIL_UNSUBSCRIBE = "EMAIL_UNSUBSCRIBE", "Email unsubscribe"
    PROVIDER = "PROVIDER", "Provider report"
    HOST = "HOST", "Host"


class GuestConsent(models.Model):
    """The current consent of a guest for one channel (RA-GUEST-001 §10.7). One row per guest and channel;
    a change updates it and the AuditLog keeps the history."""

    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=15, choices=ConsentChannel.choices)
    # Marketing consent is separate from the channel itself: WhatsApp error 131050 revokes marketing only.
    marketing = models.BooleanField(default=False, help_text="Consent to marketing messages on this channel.")
    status = models.CharField(max_length=10, choices=ConsentStatus.choices)
    source = models.CharField(max_length=20, choices=ConsentSource.choices)
    granted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["guest", "channel", "marketing"], name="consent_one_per_channel"),
            models.CheckConstraint(
                condition=~Q(status="REVOKED") | Q(revoked_at__isnull=False), name="consent_revoked_has_time"
            ),
        ]

    def __str__(self) -> str:
        kind = "marketing" if self.marketing else "messages"
        return f"{self.guest} · {self.get_channel_display()} {kind}: {self.get_status_display()}"


class SystemTag(models.TextChoices):
    RETURNING_GUEST = "RETURNING_GUEST", "Returning guest"
    VIP = "VIP", "VIP"
    DIRECT_BOOKER = "DIRECT_BOOKER", "Direct booker"
    HIGH_RATED = "HIGH_RATED", "High rated"
    ISSUE_REPORTER = "ISSUE_REPORTER", "Issue reporter"
    OTA_CONVERTED = "OTA_CONVERTED", "OTA converted"


class TagAppliedBy(models.TextChoices):
    SYSTEM = "SYSTEM", "System"
    MANUAL = "MANUAL", "Manual"


class GuestTag(models.Model):
    """RA-GUEST-001 §7.4. Additive: a tag is applied once per guest and never removed automatically."""

    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=30)
    value = models.CharField(max_length=200, blank=True)
    applied_at = models.DateTimeField(default=timezone.now)
    applied_by = models.CharField(max_length=20, choices=TagAppliedBy.choices, default=TagAppliedBy.SYSTEM)

    class Meta:
        ordering = ["tag"]
        constraints = [
            models.UniqueConstraint(fields=["guest", "tag"], name="guest_tag_once"),
            models.CheckConstraint(condition=Q(tag__regex=r"^[A-Z0-9_]{2,30}$"), name="guest_tag_code_format"),
        ]

    def __str__(self) -> str:
        return self.tag
