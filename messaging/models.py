"""The messaging pipeline's tables (RA-GUEST-001 §9.1): outbox, schedules, templates and delivery logs.

Bodies are never stored (GX-PV-001): a log row keeps the template id and version it was rendered from.
The one exception is the sandbox channel, a local stand-in for providers that has no real recipient.
"""
from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from bookings.models import Booking, Property
from guests.models import Guest


class Channel(models.TextChoices):
    WHATSAPP = "WHATSAPP", "WhatsApp"
    SMS = "SMS", "SMS"
    EMAIL = "EMAIL", "Email"


class TemplateCategory(models.TextChoices):
    TRANSACTIONAL = "TRANSACTIONAL", "Transactional"
    INFORMATIONAL = "INFORMATIONAL", "Informational"
    MARKETING = "MARKETING", "Marketing"
    ENGAGEMENT = "ENGAGEMENT", "Engagement"
    ALERT = "ALERT", "Alert (to host)"


class TemplateScope(models.TextChoices):
    PLATFORM = "PLATFORM", "Platform default"
    TENANT = "TENANT", "Tenant"
    PROPERTY = "PROPERTY", "Property"


class MessageTemplate(models.Model):
    """Resolved property → tenant → platform; only the active version is used (RA-GUEST-001 §9.2)."""

    key = models.CharField(max_length=60)
    event_type = models.CharField(max_length=60)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    category = models.CharField(max_length=15, choices=TemplateCategory.choices)
    scope = models.CharField(max_length=10, choices=TemplateScope.choices, default=TemplateScope.PLATFORM)
    property = models.ForeignKey(Property, null=True, blank=True, on_delete=models.CASCADE, related_name="templates")
    language = models.CharField(max_length=10, default="en")
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(default=True)
    subject = models.CharField(max_length=200, blank=True, help_text="Email only.")
    body = models.TextField(help_text="Handlebars text, e.g. Hi {{guest_name}}!")
    html_body = models.TextField(blank=True, help_text="Email only; the text body is used when blank.")
    whatsapp_template_name = models.CharField(
        max_length=100, blank=True, help_text="The approved WhatsApp template this maps to."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["key", "scope", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "scope", "property", "language", "version"],
                nulls_distinct=False,
                name="template_version_unique",
            ),
            models.UniqueConstraint(
                fields=["key", "scope", "property", "language"],
                condition=Q(is_active=True),
                nulls_distinct=False,
                name="template_one_active_version",
            ),
            models.CheckConstraint(
                condition=Q(scope="PROPERTY", property__isnull=False) | (~Q(scope="PROPERTY") & Q(property__isnull=True)),
                name="template_property_iff_property_scope",
            ),
        ]
        indexes = [models.Index(fields=["event_type", "channel", "is_active"], name="template_lookup_idx")]

    def __str__(self) -> str:
        return f"{self.key} v{self.version} ({self.get_scope_display()})"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from messaging.template_syntax import template_errors

        errors = {
            field: template_errors(getattr(self, field))
            for field in ("body", "subject", "html_body")
            if getattr(self, field)
        }
        errors = {field: problems for field, problems in errors.items() if problems}
        if errors:
            raise ValidationError(errors)


class OutboxStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    DONE = "DONE", "Done"
    DEAD = "DEAD", "Dead (gave up)"


class OutboxMessage(models.Model):
    """A domain event written in the same transaction as the change it reports (transactional outbox)."""

    event_type = models.CharField(max_length=60)
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.CASCADE, related_name="outbox_messages")
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    available_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["available_at"], condition=Q(status="PENDING"), name="outbox_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk}"


class ScheduleStatus(models.TextChoices):
    PENDING = "Pending", "Pending"
    PUBLISHED = "Published", "Published"
    CANCELLED = "Cancelled", "Cancelled"
    SKIPPED = "Skipped", "Skipped"
    FAILED = "Failed", "Failed"


class Recipient(models.TextChoices):
    GUEST = "GUEST", "Guest"
    HOST = "HOST", "Host"
    MANAGER = "MANAGER", "Property manager"
    PLATFORM = "PLATFORM", "Atlas admin"
    SYSTEM = "SYSTEM", "System (no message)"


class AutomationSchedule(models.Model):
    """A touchpoint due at a time. The key `{BookingId}:{EventType}:{Seq}` is unique (GX-PA-006)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="schedules")
    event_type = models.CharField(max_length=60)
    sequence = models.PositiveIntegerField(default=1)
    recipient = models.CharField(max_length=10, choices=Recipient.choices, default=Recipient.GUEST)
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=ScheduleStatus.choices, default=ScheduleStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    idempotency_key = models.CharField(max_length=120, unique=True)
    payload = models.JSONField(default=dict, blank=True)
    reason = models.CharField(max_length=200, blank=True, help_text="Why it was skipped, cancelled or failed.")
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        indexes = [
            models.Index(fields=["due_at"], condition=Q(status="Pending"), name="schedule_pending_due_idx"),
            models.Index(fields=["booking", "status"], name="schedule_booking_status_idx"),
        ]

    def __str__(self) -> str:
        return self.idempotency_key


class LogStatus(models.TextChoices):
    """RA-GUEST-001 §9.3."""

    PENDING = "PENDING", "Pending"
    SENT = "SENT", "Sent"
    DELIVERED = "DELIVERED", "Delivered"
    READ = "READ", "Read"
    FAILED = "FAILED", "Failed"
    BOUNCED = "BOUNCED", "Bounced"
    OPTED_OUT = "OPTED_OUT", "Opted out"
    ALL_CHANNELS_FAILED = "ALL_CHANNELS_FAILED", "All channels failed"


class CommunicationLog(models.Model):
    """One message to one recipient, across its channels and attempts. Never the body (GX-PV-001)."""

    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.SET_NULL, related_name="communication_logs")
    guest = models.ForeignKey(Guest, null=True, blank=True, on_delete=models.SET_NULL, related_name="communication_logs")
    recipient = models.CharField(max_length=10, choices=Recipient.choices, default=Recipient.GUEST)
    event_type = models.CharField(max_length=60)
    template = models.ForeignKey(MessageTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    template_key = models.CharField(max_length=60, blank=True)
    template_version = models.PositiveIntegerField(null=True, blank=True)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=20, choices=LogStatus.choices, default=LogStatus.PENDING)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=120, unique=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # A host's re-send starts the channel chain again: attempts before this time no longer count.
    resent_at = models.DateTimeField(null=True, blank=True)
    # The claim of the send in flight (issue #9): set and committed before the provider is called, cleared
    # when the result is recorded. The key travels with the request (WhatsApp tracker, SMS reference,
    # SendGrid custom_args) and comes back in status webhooks, so a send whose worker died before recording
    # it is reconciled from the provider's report instead of being sent again. Until `claimed_until` the
    # row is not due (next_attempt_at = claimed_until): an expired lease is how a crash is recovered.
    send_key = models.CharField(max_length=120, blank=True, db_index=True)
    claimed_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=Q(next_attempt_at__isnull=False), name="log_retry_due_idx"),
            models.Index(fields=["status", "created_at"], name="log_status_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.get_channel_display()} ({self.status})"


class FailedMessage(CommunicationLog):
    """The failed-messages view (DoD 23): FAILED, BOUNCED and ALL_CHANNELS_FAILED rows, with a re-send action."""

    class Meta:
        proxy = True
        verbose_name = "failed message"


class MessageAttempt(models.Model):
    """Each try on each channel, persisted so retries survive a restart (RA-GUEST-001 §3.6)."""

    log = models.ForeignKey(CommunicationLog, on_delete=models.CASCADE, related_name="attempts")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    number = models.PositiveSmallIntegerField(help_text="Attempt number on this channel, from 1.")
    status = models.CharField(max_length=20, choices=LogStatus.choices)
    provider_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    error_code = models.CharField(max_length=40, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    attempted_at = models.DateTimeField(default=timezone.now)
    # The key the request carried (CommunicationLog.send_key): a timed-out request the provider did accept
    # is recognised when its status webhook echoes the key (issue #9).
    send_key = models.CharField(max_length=120, blank=True, db_index=True)

    class Meta:
        ordering = ["attempted_at", "id"]
        constraints = [models.UniqueConstraint(fields=["log", "channel", "number"], name="attempt_unique")]


class SandboxMessage(models.Model):
    """What the sandbox channel "sent" when no provider is configured, rendered so a host can read it.
    Local development only: it has no real recipient, and production channels never write here."""

    log = models.ForeignKey(CommunicationLog, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    booking = models.ForeignKey(Booking, null=True, blank=True, on_delete=models.CASCADE, related_name="sandbox_messages")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    event_type = models.CharField(max_length=60)
    to = models.CharField(max_length=200)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "sandbox message"

    def __str__(self) -> str:
        return f"{self.event_type} to {self.to}"
