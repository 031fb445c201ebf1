"""The guest portal's access token (RA-GUEST-001 §8.2)."""
from __future__ import annotations

from django.db import models
from django.utils import timezone

from bookings.models import Booking
from guests.models import Guest


class GuestPortalToken(models.Model):
    """Token = HMAC-SHA256 over booking, guest and tenant ids, 32 hex characters. After expiry only its
    hash is kept (RA-GUEST-001 §10.3)."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="portal_tokens")
    guest = models.ForeignKey(Guest, on_delete=models.CASCADE, related_name="portal_tokens")
    token = models.CharField(max_length=64, null=True, blank=True, unique=True)
    token_hash = models.CharField(max_length=64, unique=True)
    is_active = models.BooleanField(default=True)
    expires_at = models.DateTimeField()
    last_accessed_at = models.DateTimeField(null=True, blank=True)
    access_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["booking", "guest"], name="portal_token_one_per_booking_guest"),
        ]

    def __str__(self) -> str:
        return f"Portal link for booking #{self.booking_id}"


class PortalRateWindow(models.Model):
    """Requests per token per hour, counted in the database so every web process shares the count (NFR 7)."""

    token_hash = models.CharField(max_length=64)
    window_start = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token_hash", "window_start"], name="portal_rate_window_unique")]
