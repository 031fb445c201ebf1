"""Delivery: a published touchpoint becomes a CommunicationLog row, and due rows go out on the first
channel that can take them, with the retry and fallback plan of RA-GUEST-001 §3.4/§3.6.

Every retry is a persisted row (`next_attempt_at`), never a sleep, so a restart loses nothing.
"""
from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.html import escape

from atlas_guest.sql import bulk_update_rows
from bookings.models import Booking, BookingStatus
from guests.models import ConsentStatus, GuestConsent
from guests.phones import is_mobile
from messaging import events as ev
from messaging.channels import OutgoingMessage, SendResult, client_for
from messaging.models import (
    AutomationSchedule,
    Channel,
    CommunicationLog,
    LogStatus,
    MessageAttempt,
    OutboxMessage,
    Recipient,
)
from messaging.outbox import handles
from messaging.rendering import render
from messaging.templates import active_templates, pick, template_key
from messaging.variables import booking_variables
from operations.models import HostNotification, NotificationKind

logger = logging.getLogger(__name__)

GUEST_CHAIN = (Channel.WHATSAPP, Channel.SMS, Channel.EMAIL)  # §3.4
STAFF_CHAIN = (Channel.WHATSAPP, Channel.SMS)  # alerts to the host, the property manager, the Atlas admin
# §3.6: minutes to wait after a failed attempt before the next one on the same channel. The number of
# entries is the number of attempts; after the last, the message falls back to the next channel at once.
RETRY_MINUTES = {Channel.WHATSAPP: (15, 30, 60), Channel.SMS: (15, 30), Channel.EMAIL: (30, 60, 120)}
MARKETING = "MARKETING"


def _chain(recipient: str, payload: dict) -> tuple[str, ...]:
    if payload.get("channel"):
        return (payload["channel"],)
    return GUEST_CHAIN if recipient == Recipient.GUEST else STAFF_CHAIN


@handles(*[getattr(ev, name) for name in dir(ev) if name.startswith("GUEST_")], batch=True)
def queue_messages(rows: list[OutboxMessage], now: dt.datetime) -> dt.datetime | None:
    """Outbox → CommunicationLog (PENDING, due now). The idempotency key is the schedule's, and unique, so a
    redelivered event or a second worker cannot create a second message (GX-PA-006, GX-T10)."""
    schedule_ids = [row.payload.get("schedule_id") for row in rows if row.payload.get("schedule_id")]
    schedules = AutomationSchedule.objects.filter(pk__in=schedule_ids).select_related("booking")
    CommunicationLog.objects.bulk_create(
        [
            CommunicationLog(
                booking_id=s.booking_id,
                guest_id=s.booking.guest_id,
                recipient=s.recipient,
                event_type=s.event_type,
                channel=_chain(s.recipient, s.payload)[0],
                status=LogStatus.PENDING,
                idempotency_key=s.idempotency_key,
                next_attempt_at=now,
                created_at=now,
            )
            for s in schedules
        ],
        ignore_conflicts=True,
    )
    return now if schedule_ids else None


@dataclass
class _Batch:
    """Facts for one delivery batch, each fetched with one query."""

    schedules: dict[str, AutomationSchedule]
    tokens: dict[int, str]
    coupons: dict[int, str]
    returning_guests: set[int]
    revoked: set[tuple[int, str, bool]]  # (guest, channel, marketing)
    granted_marketing: set[tuple[int, str]]
    channel_attempts: dict[tuple[int, str], int]
    templates: list


def _load_batch(logs: list[CommunicationLog]) -> _Batch:
    from coupons.models import CouponStatus, GuestCoupon
    from portal.models import GuestPortalToken

    booking_ids = {log.booking_id for log in logs if log.booking_id}
    guest_ids = {log.guest_id for log in logs if log.guest_id}
    schedules = {
        s.idempotency_key: s for s in AutomationSchedule.objects.filter(idempotency_key__in=[log.idempotency_key for log in logs])
    }
    tokens = dict(
        GuestPortalToken.objects.filter(booking_id__in=booking_ids, is_active=True).values_list("booking_id", "token")
    )
    coupons: dict[int, str] = {}
    for guest_id, code in (
        GuestCoupon.objects.filter(guest_id__in=guest_ids, status=CouponStatus.ACTIVE)
        .order_by("created_at")
        .values_list("guest_id", "coupon_code")
    ):
        coupons[guest_id] = code  # the newest active coupon wins
    confirmations = {log.guest_id for log in logs if log.event_type == ev.GUEST_BOOKING_CONFIRMED}
    returning = set(
        Booking.objects.filter(guest_id__in=confirmations, status=BookingStatus.COMPLETED)
        .values_list("guest_id", flat=True)
        .distinct()
    )
    revoked, granted = set(), set()
    for guest_id, channel, marketing, status in GuestConsent.objects.filter(guest_id__in=guest_ids).values_list(
        "guest_id", "channel", "marketing", "status"
    ):
        if status == ConsentStatus.REVOKED:
            revoked.add((guest_id, channel, marketing))
        elif marketing:
            granted.add((guest_id, channel))
    retried = [log.pk for log in logs if log.attempt_count]
    attempts = {
        (row["log_id"], row["channel"]): row["n"]
        for row in MessageAttempt.objects.filter(log_id__in=retried).values("log_id", "channel").annotate(n=Count("id"))
    }
    keys = {
        template_key(log.event_type, channel, _payload(schedules, log))
        for log in logs
        for channel in _chain(log.recipient, _payload(schedules, log))
    }
    return _Batch(schedules, tokens, coupons, returning, revoked, granted, attempts, active_templates(keys - {None}))


def _payload(schedules: dict[str, AutomationSchedule], log: CommunicationLog) -> dict:
    schedule = schedules.get(log.idempotency_key)
    return schedule.payload if schedule else {}


def deliver_due(now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Send one batch of due messages in the current tenant. Returns how many rows were handled."""
    now = now or timezone.now()
    with transaction.atomic():
        logs = list(
            CommunicationLog.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=LogStatus.PENDING, next_attempt_at__lte=now)
            .select_related("booking__guest", "booking__listing__property", "booking__listing__access_info")
            .order_by("next_attempt_at", "id")[:batch_size]
        )
        if not logs:
            return 0
        batch = _load_batch(logs)
        outgoing: dict[str, list[tuple[CommunicationLog, OutgoingMessage, object]]] = defaultdict(list)
        attempts: list[MessageAttempt] = []
        for log in logs:
            prepared = _prepare(log, batch, now, attempts)
            if prepared:
                message, template = prepared
                outgoing[log.channel].append((log, message, template))
        for channel, items in outgoing.items():
            results = client_for(channel).send_many([message for _, message, _ in items])
            for (log, _message, template), result in zip(items, results):
                _apply_result(log, template, result, batch, now, attempts)
        bulk_update_rows(
            CommunicationLog,
            logs,
            ["channel", "status", "attempt_count", "provider_message_id", "template_key", "template_id",
             "template_version", "next_attempt_at", "error_code", "error_message", "sent_at", "failed_at"],
        )
        MessageAttempt.objects.bulk_create(attempts)
    return len(logs)


def _prepare(log: CommunicationLog, batch: _Batch, now, attempts: list[MessageAttempt]):
    """Find the first channel, from the log's current one, that may and can carry this message; render it.
    Channels passed over are recorded as attempts (OPTED_OUT or FAILED) so the timeline shows why."""
    schedule = batch.schedules.get(log.idempotency_key)
    payload = schedule.payload if schedule else {}
    chain = _chain(log.recipient, payload)
    start = chain.index(log.channel) if log.channel in chain else 0
    for channel in chain[start:]:
        log.channel = channel
        key = template_key(log.event_type, channel, payload)
        template = pick(batch.templates, key, log.booking.listing.property_id) if key else None
        if template is None:
            continue  # this touchpoint has no text for this channel (e.g. the welcome is WhatsApp only)
        skip = _channel_refusal(log, channel, template.category, batch)
        if skip:
            status, code = skip
            attempts.append(_attempt(log, channel, batch, status, error_code=code, now=now))
            continue
        to = _address(log, channel)
        variables = booking_variables(
            log.booking,
            token=batch.tokens.get(log.booking_id),
            coupon_code=batch.coupons.get(log.guest_id),
            returning_guest=log.guest_id in batch.returning_guests,
            extra=payload.get("variables"),
        )
        message = compose(template, variables, channel, log)
        message.to = to
        return message, template
    _all_channels_failed(log, now, reason="no channel could carry this message")
    return None


def compose(template, variables: dict, channel: str, log: CommunicationLog) -> OutgoingMessage:
    """Render a template for its channel. Email gets an HTML part with values escaped, a text part, and the
    unsubscribe footer (§10.7); text channels get values verbatim."""
    body = render(template.body, variables).text
    message = OutgoingMessage(
        log_id=log.pk, booking_id=log.booking_id, channel=channel, event_type=log.event_type, to="",
        body=body, template_key=template.key, template_name=template.whatsapp_template_name, variables=variables,
    )
    if channel == Channel.EMAIL:
        from messaging.consent import unsubscribe_url

        link = unsubscribe_url(log.guest_id) if log.guest_id else ""
        message.subject = render(template.subject, variables).text if template.subject else ""
        html = render(template.html_body, variables, html=True).text if template.html_body else _text_to_html(
            render(template.body, variables, html=True).text
        )
        message.body = f"{body}\n\n—\nNo longer want these emails? Unsubscribe: {link}"
        message.html = (
            f'<div style="font-family:sans-serif;line-height:1.5">{html}</div>'
            f'<p style="font-size:12px;color:#555">No longer want these emails? '
            f'<a href="{escape(link)}">Unsubscribe</a></p>'
        )
    return message


def _text_to_html(escaped_text: str) -> str:
    return "<p>" + escaped_text.replace("\n\n", "</p><p>").replace("\n", "<br>") + "</p>"


def _channel_refusal(log: CommunicationLog, channel: str, category: str, batch: _Batch) -> tuple[str, str] | None:
    """Why this channel may not or cannot be used now, or None. Consent: §10.7, GX-PV-003, GX-TPL-001."""
    if log.recipient == Recipient.GUEST:
        guest_id = log.guest_id
        if (guest_id, channel, False) in batch.revoked:
            return LogStatus.OPTED_OUT, "consent_revoked"
        if category == MARKETING:
            if (guest_id, channel, True) in batch.revoked or (guest_id, channel) not in batch.granted_marketing:
                return LogStatus.OPTED_OUT, "no_marketing_consent"
    if not _address(log, channel):
        return LogStatus.FAILED, "no_address"
    if channel in (Channel.WHATSAPP, Channel.SMS) and not is_mobile(_address(log, channel)):
        return LogStatus.FAILED, "not_a_mobile_number"  # EC-03: a landline fails at once and falls back
    return None


def _address(log: CommunicationLog, channel: str) -> str:
    if log.recipient != Recipient.GUEST:
        if channel == Channel.EMAIL:
            return ""
        prop = log.booking.listing.property
        return {
            Recipient.HOST: prop.contact_phone,
            Recipient.MANAGER: prop.manager_phone or prop.contact_phone,
            Recipient.PLATFORM: settings.PLATFORM_ALERT_PHONE,
        }[log.recipient]
    guest = log.booking.guest
    return guest.email if channel == Channel.EMAIL else guest.phone


def _attempt(log, channel, batch: _Batch, status, *, now, error_code="", error_message="", provider_message_id=""):
    number = batch.channel_attempts.get((log.pk, channel), 0) + 1
    batch.channel_attempts[(log.pk, channel)] = number
    log.attempt_count += 1
    return MessageAttempt(
        log=log, channel=channel, number=number, status=status, error_code=error_code,
        error_message=error_message[:500], provider_message_id=provider_message_id, attempted_at=now,
    )


def _apply_result(log, template, result: SendResult, batch: _Batch, now, attempts: list[MessageAttempt]) -> None:
    log.template_key, log.template_id, log.template_version = template.key, template.pk, template.version
    if result.ok:
        attempts.append(_attempt(log, log.channel, batch, LogStatus.SENT, now=now, provider_message_id=result.provider_message_id))
        log.status, log.sent_at, log.next_attempt_at = LogStatus.SENT, now, None
        log.provider_message_id = result.provider_message_id
        log.error_code = log.error_message = ""
        return
    attempts.append(
        _attempt(log, log.channel, batch, LogStatus.FAILED, now=now, error_code=result.error_code, error_message=result.error_message)
    )
    log.error_code, log.error_message = result.error_code[:40], result.error_message[:500]
    tried = batch.channel_attempts[(log.pk, log.channel)]
    waits = RETRY_MINUTES[log.channel]
    if not result.permanent and tried < len(waits):
        log.next_attempt_at = now + dt.timedelta(minutes=waits[tried - 1])
        return
    schedule = batch.schedules.get(log.idempotency_key)
    chain = _chain(log.recipient, schedule.payload if schedule else {})
    later = chain[chain.index(log.channel) + 1 :] if log.channel in chain else ()
    if later:
        log.channel, log.next_attempt_at = later[0], now  # fall back at once
    else:
        _all_channels_failed(log, now, reason=result.error_message or result.error_code)


def _all_channels_failed(log: CommunicationLog, now, reason: str) -> None:
    """§3.6: give up, and tell the host on the dashboard."""
    log.status, log.failed_at, log.next_attempt_at = LogStatus.ALL_CHANNELS_FAILED, now, None
    log.error_message = (reason or "")[:500]
    HostNotification.objects.get_or_create(
        dedupe_key=f"all-channels-failed:{log.pk}",
        defaults={
            "kind": NotificationKind.ALL_CHANNELS_FAILED,
            "title": f"Could not deliver {log.event_type} for booking #{log.booking_id}",
            "booking_id": log.booking_id,
            "created_at": now,
        },
    )
