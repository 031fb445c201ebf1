"""Privacy operations (RA-GUEST-001 §10.3–§10.5): the guest's data export, anonymization, retention."""
from __future__ import annotations

import datetime as dt
import hashlib

from django.db import transaction
from django.utils import timezone

from guests.models import Guest
from operations.models import AuditLog

DELETED_NAME = "Deleted Guest"
LOG_RETENTION = dt.timedelta(days=730)  # §10.3: communication logs, 2 years


def _digest(value: str) -> str:
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:40] if value else ""


def export_guest(guest_id: int) -> dict:
    """GX-PV-002: everything held about a guest, as JSON-ready data. Message bodies are never stored, so the
    communication log appears as summaries (event, channel, status, times)."""
    from personalization.privacy import export_personalization
    from coupons.models import GuestCoupon
    from messaging.models import CommunicationLog
    from reviews.models import GuestReview

    guest = Guest.objects.get(pk=guest_id)
    iso = lambda value: value.isoformat() if value else None  # noqa: E731
    return {
        "guest": {"id": guest.pk, "name": guest.name, "phone": guest.phone, "email": guest.email,
                  "referral_code": guest.referral_code, "created_at": iso(guest.created_at)},
        "bookings": [
            {"id": b.pk, "property": b.listing.property.name, "listing": b.listing.name, "status": b.status,
             "source": b.source, "checkin_date": iso(b.checkin_date), "checkout_date": iso(b.checkout_date),
             "guests": b.guests_planned, "total_amount": str(b.total_amount), "discount_amount": str(b.discount_amount),
             "final_amount": str(b.final_amount), "amount_received": str(b.amount_received),
             "payment_status": b.payment_status, "checked_in_at": iso(b.checked_in_at), "checked_out_at": iso(b.checked_out_at),
             "referral_code": b.referral_code, "external_reference": b.external_reference,
             "expected_arrival_time": iso(b.expected_arrival_time)}
            for b in guest.bookings.select_related("listing__property").order_by("checkin_date")
        ],
        "reviews": [
            {"booking_id": r.booking_id, "overall_rating": r.overall_rating, "comment": r.comment, "status": r.status,
             "submitted_at": iso(r.submitted_at)}
            for r in GuestReview.objects.filter(guest=guest)
        ],
        "tags": [{"tag": t.tag, "value": t.value, "applied_by": t.applied_by, "applied_at": iso(t.applied_at)} for t in guest.tags.all()],
        "coupons": [
            {"code": c.coupon_code, "discount_type": c.discount_type, "discount_value": str(c.discount_value),
             "status": c.status, "valid_until": iso(c.valid_until), "times_used": c.times_used}
            for c in GuestCoupon.objects.filter(guest=guest)
        ],
        "consents": [
            {"channel": c.channel, "marketing": c.marketing, "status": c.status, "source": c.source,
             "granted_at": iso(c.granted_at), "revoked_at": iso(c.revoked_at)}
            for c in guest.consents.all()
        ],
        "communication_log": [
            {"booking_id": log.booking_id, "event_type": log.event_type, "channel": log.channel, "status": log.status,
             "template": log.template_key, "template_version": log.template_version, "created_at": iso(log.created_at),
             "sent_at": iso(log.sent_at), "delivered_at": iso(log.delivered_at), "read_at": iso(log.read_at)}
            for log in CommunicationLog.objects.filter(guest=guest).order_by("created_at")
        ],
        "personalization": export_personalization(guest.pk, guest.phone, guest.email),
    }


@transaction.atomic
def anonymize_guest(guest_id: int, *, actor: str, now: dt.datetime | None = None) -> Guest:
    """§10.5: name → "Deleted Guest", phone and email → one-way hashes. Bookings, reviews' ratings and coupons
    stay, so counts and revenue still add up; the guest can no longer be reached or recognised."""
    from personalization.privacy import erase_personalization

    now = now or timezone.now()
    guest = Guest.objects.select_for_update().get(pk=guest_id)
    if guest.anonymized_at:
        return guest
    # Personalization design, privacy: raw records and profiles go with the identity (matched before it changes).
    erase_personalization(guest.pk, guest.phone, guest.email)
    guest.name, guest.phone, guest.email = DELETED_NAME, _digest(guest.phone), _digest(guest.email)
    guest.anonymized_at, guest.whatsapp_last_inbound_at = now, None
    guest.save(update_fields=["name", "phone", "email", "anonymized_at", "whatsapp_last_inbound_at"])
    from reviews.models import GuestReview

    GuestReview.objects.filter(guest=guest).update(comment="")  # comments contain names (§10.1)
    from intake.models import CalendarEvent

    CalendarEvent.objects.filter(booking__guest=guest).update(phone_last4="")  # the OTA's part of the phone
    from intake.models import IdempotencyRecord

    IdempotencyRecord.objects.filter(response_body__guest=guest.pk).delete()  # an API answer naming the guest
    AuditLog.objects.create(actor=actor, action="guest.anonymized", object_type="Guest", object_id=str(guest.pk), created_at=now)
    return guest


def apply_retention(now: dt.datetime | None = None) -> dict[str, int]:
    """§10.3, in the current tenant: portal tokens past expiry keep only their hash; communication logs (and
    their attempts and sandbox copies) older than two years are deleted; API idempotency keys after a day."""
    from messaging.models import CommunicationLog, SandboxMessage
    from portal.models import GuestPortalToken

    now = now or timezone.now()
    tokens = GuestPortalToken.objects.filter(expires_at__lt=now).exclude(is_active=False, token__isnull=True).update(
        is_active=False, token=None)
    cutoff = now - LOG_RETENTION
    sandbox, _ = SandboxMessage.objects.filter(created_at__lt=cutoff).delete()
    logs, _ = CommunicationLog.objects.filter(created_at__lt=cutoff).delete()
    from intake.idempotency import prune

    keys = prune(now)  # an API answer kept for its retries carries the guest's name: a day, no more
    return {"tokens_deactivated": tokens, "logs_deleted": logs, "sandbox_deleted": sandbox, "idempotency_keys": keys}


def daily_retention() -> dict:
    """django-q2 entry point: retention in every tenant."""
    from django_tenants.utils import get_tenant_model, schema_context

    done = {}
    for schema in get_tenant_model().objects.exclude(schema_name="public").values_list("schema_name", flat=True):
        with schema_context(schema):
            done[schema] = apply_retention()
    return done
