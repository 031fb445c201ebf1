"""Writes on guests: consent (RA-GUEST-001 §10.7), and finding a returning guest for an imported booking."""
from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from guests.models import ConsentStatus, Guest, GuestConsent
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


def find_or_create_guest(*, name: str, phone: str = "", email: str = "", now: dt.datetime | None = None) -> tuple[Guest, bool]:
    """The tenant's guest with this phone (E.164), else with this email, else a new one: how a booking that
    arrives from a file or a channel manager finds a returning guest. Returns (guest, whether it was created).
    Safe against a concurrent import of the same phone (the unique phone decides)."""
    from django.core.exceptions import ValidationError
    from django.db import IntegrityError

    from guests.phones import normalize_phone

    phone = normalize_phone(phone) if phone else ""
    email = (email or "").strip().lower()
    if phone:
        found = Guest.objects.filter(phone=phone).first()
        if found is not None:
            return found, False
    if email:
        found = Guest.objects.filter(email=email, anonymized_at__isnull=True).order_by("pk").first()
        if found is not None:
            if phone and not found.phone:
                found.phone = phone
                found.save(update_fields=["phone"])
            return found, False
    guest = Guest(name=" ".join((name or "").split()), phone=phone, email=email, created_at=now or timezone.now())
    if not guest.name:
        raise ValidationError({"name": "Enter the guest's name."})
    guest.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            guest.save()
    except IntegrityError:
        found = Guest.objects.filter(phone=phone).first() if phone else None
        if found is None:
            raise
        return found, False
    return guest, True
