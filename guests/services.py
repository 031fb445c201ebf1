"""Writes on guests: consent (RA-GUEST-001 §10.7)."""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from guests.models import ConsentStatus, GuestConsent
from operations.models import AuditLog


@transaction.atomic
def set_consent(guest_id: int, channel: str, status: str, *, source: str, marketing: bool = False,
                ip_address: str | None = None, now: dt.datetime | None = None) -> tuple[GuestConsent, bool]:
    """Record a guest's consent for a channel (marketing separately). Returns (row, whether it changed).
    A revocation blocks every later message on that channel (or only marketing ones when `marketing`)."""
    now = now or timezone.now()
    consent, created = GuestConsent.objects.select_for_update().get_or_create(
        guest_id=guest_id, channel=channel, marketing=marketing,
        defaults={"status": status, "source": source, "ip_address": ip_address,
                  "granted_at": now if status == ConsentStatus.GRANTED else None,
                  "revoked_at": now if status == ConsentStatus.REVOKED else None},
    )
    changed = created or consent.status != status
    if not created and changed:
        consent.status, consent.source, consent.ip_address = status, source, ip_address
        if status == ConsentStatus.GRANTED:
            consent.granted_at, consent.revoked_at = now, None
        else:
            consent.revoked_at = now
        consent.save()
    if changed:
        AuditLog.objects.create(
            actor=f"guest:{guest_id}", action=f"consent.{status.lower()}", object_type="GuestConsent",
            object_id=str(consent.pk), ip_address=ip_address, created_at=now,
            details={"channel": channel, "marketing": marketing, "source": source},
        )
    return consent, changed
