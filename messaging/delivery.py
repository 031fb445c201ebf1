"""Delivery: a published touchpoint becomes a CommunicationLog row, and due rows go out on the first
channel that can take them, with the retry and fallback plan of RA-GUEST-001 §3.4/§3.6.

Every retry is a persisted row (`next_attempt_at`), never a sleep, so a restart loses nothing.
"""
from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.html import escape

from atlas_guest.sql import bulk_update_rows
from bookings.models import Booking, BookingStatus
from guests.models import ConsentStatus, GuestConsent
from guests.phones import is_mobile
from messaging import events as ev
from messaging.channels import OutgoingMessage, SendResult, client_for, is_sandbox
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


THROTTLED = "throttle:"  # error-code prefix of a throughput wait (not counted as a try)
# A provider that answers "slow down" (429) for ever must not keep a message PENDING for ever: after this
# many throughput waits on a channel, the next one counts as a failed try of the §3.6 plan (issue #9).
MAX_THROTTLE_WAITS = 20
WHATSAPP_WINDOW = dt.timedelta(hours=24)  # the customer-service window after the guest's last message
# Touchpoints a guest needs at the door: when WhatsApp does not confirm delivery in time, SMS too.
TIME_CRITICAL = frozenset({ev.GUEST_CHECKIN_INSTRUCTIONS})
_VARIABLE = re.compile(r"{{{?\s*([a-z_][a-z0-9_]*)\s*}}}?")


@functools.lru_cache(maxsize=1024)
def variables_in(source: str) -> tuple[str, ...]:
    """The plain variables of a template in order of first appearance: the WhatsApp template's parameters."""
    seen: dict[str, None] = {}
    for name in _VARIABLE.findall(source):
        if name not in ("else", "this"):
            seen.setdefault(name, None)
    return tuple(seen)


def _sender(channel: str, batch: "_Batch") -> str:
    config = batch.config
    if channel == Channel.WHATSAPP:
        return config.whatsapp_phone_id or settings.WHATSAPP_PHONE_ID
    if channel == Channel.SMS:
        return config.sms_sender_id or settings.SMS_SENDER_ID
    name = config.email_from_name or batch.host_name
    return f"{name} <{config.email_from_address or settings.EMAIL_FROM}>"


def _within_whatsapp_limits(items, batch: "_Batch", now, attempts: list[MessageAttempt]):
    """Respect the number's throughput (messages per second) and its daily messaging-limit tier, counted
    in a table every worker shares. Over the per-second budget: wait a second. Over the daily tier: fall
    back to SMS now rather than leave a guest waiting until tomorrow."""
    from messaging.channels.ratelimit import reserve

    by_sender: dict[str, list] = defaultdict(list)
    for item in items:
        by_sender[item[1].sender].append(item)
    allowed = []
    for sender, group in by_sender.items():
        per_second = reserve(sender, len(group), settings.WHATSAPP_MESSAGES_PER_SECOND, now, "second")
        for log, _message, _template in group[per_second:]:
            log.next_attempt_at = now + dt.timedelta(seconds=1)
        group = group[:per_second]
        per_day = reserve(sender, len(group), settings.WHATSAPP_DAILY_LIMIT, now, "day")
        for log, _message, _template in group[per_day:]:
            attempts.append(_attempt(log, log.channel, batch, LogStatus.FAILED, now=now, error_code="daily_limit",
                                     error_message="the WhatsApp number's daily messaging limit is reached"))
            _fall_back(log, batch, now, SendResult(ok=False, error_code="daily_limit"))
        allowed += group[:per_day]
    return allowed


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
    attempt_numbers: dict[tuple[int, str], int]
    config: object  # the tenant's TenantGuestExperienceConfig: sender settings, undelivered fallback
    host_name: str
    opted_out: set[int] = field(default_factory=set)  # logs with a channel skipped for consent
    throttled: dict[tuple[int, str], int] = field(default_factory=dict)  # throughput waits per log and channel

    @classmethod
    def bare(cls, keys: list[str]) -> "_Batch":
        """Only the schedules: enough to walk a log's channel chain outside a delivery batch."""
        schedules = {s.idempotency_key: s for s in AutomationSchedule.objects.filter(idempotency_key__in=keys)}
        return cls(schedules, {}, {}, set(), set(), set(), {}, [], {}, None, "")


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
    resent = {log.pk: log.resent_at for log in logs if log.resent_at}
    rows = [
        row for row in MessageAttempt.objects.filter(log_id__in=retried)
        .values("log_id", "channel", "status", "error_code", "attempted_at")
        if row["log_id"] not in resent or row["attempted_at"] >= resent[row["log_id"]]  # a re-send starts afresh
    ]
    attempts: dict[tuple[int, str], int] = defaultdict(int)
    throttled: dict[tuple[int, str], int] = defaultdict(int)
    numbers: dict[tuple[int, str], int] = defaultdict(lambda: 0)
    opted_out: set[int] = set()
    for (log_id, channel), n in _stored_attempt_numbers(retried).items():
        numbers[(log_id, channel)] = n
    for row in rows:
        key = (row["log_id"], row["channel"])
        if row["status"] == LogStatus.OPTED_OUT:
            opted_out.add(row["log_id"])
        if row["status"] != LogStatus.OPTED_OUT and not row["error_code"].startswith(THROTTLED):
            attempts[key] += 1
        elif row["error_code"].startswith(THROTTLED):
            throttled[key] += 1
    keys = {
        template_key(log.event_type, channel, _payload(schedules, log))
        for log in logs
        for channel in _chain(log.recipient, _payload(schedules, log))
    }
    from messaging.scheduler import current_config
    from tenants.current import current_tenant

    return _Batch(schedules, tokens, coupons, returning, revoked, granted, dict(attempts), active_templates(keys - {None}),
                  dict(numbers), current_config(), current_tenant().host_name, opted_out, dict(throttled))


def _stored_attempt_numbers(log_ids: list[int]) -> dict[tuple[int, str], int]:
    """How many attempts each log has stored per channel, re-sends included: numbering always continues."""
    return {
        (row["log_id"], row["channel"]): row["n"]
        for row in MessageAttempt.objects.filter(log_id__in=log_ids).values("log_id", "channel").annotate(n=Count("pk"))
    }


def _payload(schedules: dict[str, AutomationSchedule], log: CommunicationLog) -> dict:
    schedule = schedules.get(log.idempotency_key)
    return schedule.payload if schedule else {}


RECORD_EVERY = 20  # results recorded per commit while sending: a crash leaves at most this many to reconcile
RECORD_SECONDS = 0.5  # ... or after this long, whichever comes first
# A batch stops sending after half its lease, or this long, whichever is less: the rest is handed back.
# Keeps a tick well inside django-q2's task timeout (60 s), which would kill the worker mid-batch.
SEND_BUDGET_SECONDS = 30.0
LEASE_EXPIRED = "lease_expired"


def lease_seconds() -> int:
    return getattr(settings, "DELIVERY_LEASE_SECONDS", 120)


def deliver_due(now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Send one batch of due messages in the current tenant. Returns how many rows were handled.

    Claim / send / record (issue #9). 1. Claim: due rows are locked with SKIP LOCKED, prepared, and given
    a lease (`send_key`, `claimed_until`, also their `next_attempt_at`) in one short transaction committed
    before any provider is called. 2. Send, outside any transaction, each request carrying the key.
    3. Record the results every few messages in small transactions, only for rows still holding that key
    (a status webhook may have reconciled one first). A worker that dies anywhere leaves rows that come due
    again when the lease ends; a send the provider accepted is reconciled from its webhook by then, and only
    a message with no evidence is sent again. The sandbox writes to the database: it sends and records in
    the claim transaction, atomically.
    """
    now = now or timezone.now()
    started, deadline = time.monotonic(), min(lease_seconds() / 2, SEND_BUDGET_SECONDS)  # the lease runs from the claim
    claimed = _claim(now, batch_size)
    if claimed is None:
        return 0
    logs, batch, outgoing = claimed
    for channel, items in outgoing.items():
        client = client_for(channel)
        pending: list = []
        last_record = time.monotonic()
        try:
            for index, (log, message, template) in enumerate(items):
                if time.monotonic() - started > deadline:
                    # The lease would end before the rest is sent: hand the rest back, due now.
                    _release([item[0] for item in items[index:]], now)
                    break
                pending.append((log, template, client.send(message)))
                if len(pending) >= RECORD_EVERY or time.monotonic() - last_record > RECORD_SECONDS:
                    _record(pending, batch, now)
                    pending, last_record = [], time.monotonic()
        finally:
            _record(pending, batch, now)  # what was sent before an error is recorded, not left to the lease
    return len(logs)


def _claim(now, batch_size: int):
    """Lock due rows, decide each one's channel and text, and lease those that go to a provider."""
    with transaction.atomic():
        logs = list(
            CommunicationLog.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=LogStatus.PENDING, next_attempt_at__lte=now)
            .select_related("booking__guest", "booking__listing__property", "booking__listing__access_info")
            .order_by("next_attempt_at", "id")[:batch_size]
        )
        if not logs:
            return None
        batch = _load_batch(logs)
        outgoing: dict[str, list[tuple[CommunicationLog, OutgoingMessage, object]]] = defaultdict(list)
        attempts: list[MessageAttempt] = []
        for log in logs:
            if log.send_key:
                # A worker claimed this and never recorded a result, and no provider reported it in time:
                # nothing says it went out, so it goes again (not counted as a try of the message).
                attempts.append(_attempt(log, log.channel, batch, LogStatus.FAILED, now=now, counts=False,
                                         error_code=LEASE_EXPIRED,
                                         error_message="no result recorded and no provider report: sending again"))
                log.send_key, log.claimed_until = "", None
            prepared = _prepare(log, batch, now, attempts)
            if prepared:
                message, template = prepared
                outgoing[log.channel].append((log, message, template))
        to_send: dict[str, list] = {}
        lease_end = now + dt.timedelta(seconds=lease_seconds())
        schema = connection.schema_name
        for channel, items in outgoing.items():
            client = client_for(channel)
            if is_sandbox(channel):
                results = client.send_many([message for _, message, _ in items])
                for (log, _message, template), result in zip(items, results):
                    _apply_result(log, template, result, batch, now, attempts)
                continue
            if channel == Channel.WHATSAPP:
                items = _within_whatsapp_limits(items, batch, now, attempts)
            for log, message, _template in items:
                log.send_key = message.idempotency_key = f"{KEY_PREFIX}.{schema}.{log.pk}.{secrets.token_hex(4)}"
                log.claimed_until = log.next_attempt_at = lease_end
            if items:
                to_send[channel] = items
        bulk_update_rows(CommunicationLog, logs, _LOG_FIELDS + ["send_key", "claimed_until"])
        MessageAttempt.objects.bulk_create(attempts)
        _route_provider_ids([a.provider_message_id for a in attempts if a.provider_message_id and not a.provider_message_id.startswith("sandbox-")])
    return logs, batch, to_send


_LOG_FIELDS = ["channel", "status", "attempt_count", "provider_message_id", "template_key", "template_id",
               "template_version", "next_attempt_at", "error_code", "error_message", "sent_at", "failed_at"]


def _record(results: list, batch: "_Batch", now) -> None:
    """Record provider results in one small transaction, for the rows that still hold their claim."""
    if not results:
        return
    keys = {log.pk: log.send_key for log, _template, _result in results}
    with transaction.atomic():
        held = set(
            CommunicationLog.objects.select_for_update()
            .filter(pk__in=list(keys), send_key__in=list(keys.values()))
            .values_list("pk", flat=True)
        )
        attempts: list[MessageAttempt] = []
        logs = []
        for log, template, result in results:
            if log.pk not in held:
                continue  # a provider's webhook reconciled it first: already recorded
            first = len(attempts)
            _apply_result(log, template, result, batch, now, attempts)
            for attempt in attempts[first:]:
                attempt.send_key = log.send_key
            log.send_key, log.claimed_until = "", None
            logs.append(log)
        bulk_update_rows(CommunicationLog, logs, _LOG_FIELDS + ["send_key", "claimed_until"])
        MessageAttempt.objects.bulk_create(attempts)
        _route_provider_ids([a.provider_message_id for a in attempts if a.provider_message_id])


def _release(logs: list[CommunicationLog], now) -> None:
    """Give back claims this worker will not send in time: due again at once, nothing tried."""
    with transaction.atomic():
        CommunicationLog.objects.filter(pk__in=[log.pk for log in logs], send_key__in=[log.send_key for log in logs]).update(
            send_key="", claimed_until=None, next_attempt_at=now
        )


KEY_PREFIX = "ag1"


def parse_send_key(key: str) -> tuple[str, int] | None:
    """`ag1.<schema>.<log id>.<nonce>` -> (schema, log id), or None for anything else."""
    parts = (key or "").split(".")
    if len(parts) != 4 or parts[0] != KEY_PREFIX or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def reconcile_send(key: str, provider_message_id: str, at: dt.datetime) -> bool:
    """A provider reports a message sent with `key` whose result no worker recorded (the worker died, or has
    not committed yet): record it as sent now, in the current tenant. Returns whether it did."""
    parsed = parse_send_key(key)
    if parsed is None:
        return False
    with transaction.atomic():
        log = CommunicationLog.objects.select_for_update().filter(pk=parsed[1], status=LogStatus.PENDING).first()
        if log is None:
            return False
        if log.send_key != key:
            # Not the claim in flight. It may be an earlier try that timed out or lost its connection (an
            # ambiguous failure) which the provider did accept: then it went out, and no retry is needed.
            ambiguous = (
                MessageAttempt.objects.filter(log=log, send_key=key, error_code="network").values_list("channel", flat=True).first()
                if not log.send_key else None
            )
            if ambiguous is None:
                return False
            log.channel = ambiguous
        batch = _Batch.bare([log.idempotency_key])
        batch.attempt_numbers[(log.pk, log.channel)] = MessageAttempt.objects.filter(log=log, channel=log.channel).count()
        attempt = _attempt(log, log.channel, batch, LogStatus.SENT, now=at, provider_message_id=provider_message_id,
                           error_message="recorded from the provider's status report")
        attempt.send_key = key
        log.status, log.sent_at, log.next_attempt_at = LogStatus.SENT, at, None
        log.provider_message_id, log.error_code, log.error_message = provider_message_id, "", ""
        log.send_key, log.claimed_until = "", None
        log.save(update_fields=["status", "sent_at", "next_attempt_at", "provider_message_id", "error_code",
                                "error_message", "send_key", "claimed_until", "attempt_count", "channel"])
        attempt.save()
        _route_provider_ids([provider_message_id])
    return True


def _route_provider_ids(ids: list[str]) -> None:
    from django.db import connection

    from tenants.models import ProviderMessageRoute

    if ids:
        ProviderMessageRoute.objects.bulk_create(
            [ProviderMessageRoute(provider_message_id=pid, schema_name=connection.schema_name) for pid in ids],
            ignore_conflicts=True,
        )


def _prepare(log: CommunicationLog, batch: _Batch, now, attempts: list[MessageAttempt]):
    """Find the first channel, from the log's current one, that may and can carry this message; render it.
    Channels passed over are recorded as attempts (OPTED_OUT or FAILED) so the timeline shows why."""
    schedule = batch.schedules.get(log.idempotency_key)
    payload = schedule.payload if schedule else {}
    chain = _chain(log.recipient, payload)
    start = chain.index(log.channel) if log.channel in chain else 0
    refusals: list[str] = []
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
            refusals.append(status)
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
        message.sender = _sender(channel, batch)
        guest = log.booking.guest
        message.free_text_allowed = bool(
            channel == Channel.WHATSAPP and log.recipient == Recipient.GUEST and guest.whatsapp_last_inbound_at
            and now - guest.whatsapp_last_inbound_at < WHATSAPP_WINDOW
        )
        return message, template
    tried = sum(n for (pk, _channel), n in batch.channel_attempts.items() if pk == log.pk)
    if not tried and log.pk in batch.opted_out and all(status == LogStatus.OPTED_OUT for status in refusals):
        # EC-04 / §10.7: the guest said no on every channel that could carry it; nothing failed.
        log.status, log.next_attempt_at, log.error_message = LogStatus.OPTED_OUT, None, "guest opted out"
        return None
    _all_channels_failed(log, now, reason="no channel could carry this message")
    return None


def compose(template, variables: dict, channel: str, log: CommunicationLog) -> OutgoingMessage:
    """Render a template for its channel. Email gets an HTML part with values escaped, a text part, and the
    unsubscribe footer (§10.7); text channels get values verbatim."""
    body = render(template.body, variables).text
    message = OutgoingMessage(
        log_id=log.pk, booking_id=log.booking_id, channel=channel, event_type=log.event_type, to="",
        body=body, template_key=template.key, template_name=template.whatsapp_template_name, variables=variables,
        template_variables=variables_in(template.body),
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


def _attempt(log, channel, batch: _Batch, status, *, now, error_code="", error_message="", provider_message_id="",
             counts: bool = True):
    """An attempt row for the timeline. Only real tries count towards the channel's retry plan: a skipped
    channel (opted out) or a throughput wait does not."""
    counted = batch.channel_attempts.get((log.pk, channel), 0) + (1 if counts and status != LogStatus.OPTED_OUT else 0)
    batch.channel_attempts[(log.pk, channel)] = counted
    number = batch.attempt_numbers[(log.pk, channel)] = batch.attempt_numbers.get((log.pk, channel), 0) + 1
    if status == LogStatus.OPTED_OUT:
        batch.opted_out.add(log.pk)
    log.attempt_count += 1
    return MessageAttempt(
        log=log, channel=channel, number=number, status=status, error_code=error_code,
        error_message=error_message[:500], provider_message_id=provider_message_id, attempted_at=now,
    )


def _apply_result(log, template, result: SendResult, batch: _Batch, now, attempts: list[MessageAttempt]) -> None:
    log.template_key, log.template_id, log.template_version = template.key, template.pk, template.version
    if result.ok:
        attempts.append(_attempt(log, log.channel, batch, LogStatus.SENT, now=now, provider_message_id=result.provider_message_id,
                                 error_message=result.note))
        log.status, log.sent_at, log.next_attempt_at = LogStatus.SENT, now, None
        log.provider_message_id = result.provider_message_id
        log.error_code = log.error_message = ""
        if (log.channel == Channel.WHATSAPP and log.event_type in TIME_CRITICAL and not is_sandbox(Channel.WHATSAPP)
                and _has_fallback(log, batch)):  # the sandbox reports no deliveries: nothing to wait for
            # Beyond the spec: if WhatsApp has not confirmed delivery by then, the SMS goes out too.
            log.next_attempt_at = now + dt.timedelta(minutes=batch.config.undelivered_fallback_minutes)
        return
    if result.marketing_opt_out:
        # WhatsApp 131050: the guest stopped marketing on WhatsApp. Utility messages keep flowing.
        from guests.services import set_consent

        set_consent(log.guest_id, Channel.WHATSAPP, ConsentStatus.REVOKED, source="PROVIDER", marketing=True, now=now)
        batch.revoked.add((log.guest_id, Channel.WHATSAPP, True))
        attempts.append(_attempt(log, log.channel, batch, LogStatus.OPTED_OUT, now=now, error_code=result.error_code,
                                 error_message=result.error_message))
        _fall_back(log, batch, now, result)
        return
    if result.retry_in_seconds and batch.throttled.get((log.pk, log.channel), 0) < MAX_THROTTLE_WAITS:
        # A throughput limit, not a failure of this message: wait, then try the same channel again.
        batch.throttled[(log.pk, log.channel)] = batch.throttled.get((log.pk, log.channel), 0) + 1
        attempts.append(_attempt(log, log.channel, batch, LogStatus.FAILED, now=now, counts=False,
                                 error_code=f"{THROTTLED}{result.error_code}", error_message=result.error_message))
        log.next_attempt_at = now + dt.timedelta(seconds=result.retry_in_seconds)
        log.error_code, log.error_message = result.error_code[:40], result.error_message[:500]
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
    _fall_back(log, batch, now, result)


def _later_channels(log: CommunicationLog, batch: _Batch) -> tuple[str, ...]:
    chain = _chain(log.recipient, _payload(batch.schedules, log))
    return chain[chain.index(log.channel) + 1 :] if log.channel in chain else ()


def _has_fallback(log: CommunicationLog, batch: _Batch) -> bool:
    """Whether a later channel has a text for this touchpoint (the location, say, is WhatsApp only)."""
    payload = _payload(batch.schedules, log)
    return any(
        pick(batch.templates, template_key(log.event_type, channel, payload), log.booking.listing.property_id)
        for channel in _later_channels(log, batch)
    )


def _fall_back(log: CommunicationLog, batch: _Batch, now, result: SendResult) -> None:
    later = _later_channels(log, batch)
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


def fall_back_undelivered(now: dt.datetime | None = None, batch_size: int = 500) -> int:
    """Time-critical WhatsApp messages (check-in instructions, location) that WhatsApp has sent but not
    delivered in the tenant's set time go out by SMS as well, recorded as such on the timeline."""
    now = now or timezone.now()
    with transaction.atomic():
        logs = list(
            CommunicationLog.objects.select_for_update(skip_locked=True)
            .filter(status=LogStatus.SENT, next_attempt_at__lte=now)
            .order_by("next_attempt_at")[:batch_size]
        )
        if not logs:
            return 0
        batch = _Batch.bare([log.idempotency_key for log in logs])
        attempts: list[MessageAttempt] = []
        for log in logs:
            later = _later_channels(log, batch)
            log.next_attempt_at = None
            if not later:
                continue
            attempts.append(_attempt(log, log.channel, batch, LogStatus.FAILED, now=now, counts=False,
                                     error_code="undelivered", error_message="not delivered in time: sending by SMS too"))
            log.channel, log.status, log.next_attempt_at = later[0], LogStatus.PENDING, now
        for attempt in attempts:  # numbering continues after the attempts already stored
            attempt.number += MessageAttempt.objects.filter(log=attempt.log, channel=attempt.channel).count()
        bulk_update_rows(CommunicationLog, logs, ["channel", "status", "next_attempt_at", "attempt_count"])
        MessageAttempt.objects.bulk_create(attempts)
    return len(logs)


def fail_after_acceptance(log: CommunicationLog, attempt: MessageAttempt, status: str, error: str, at) -> None:
    """A provider reported a message it had accepted as failed (or bounced): record it and continue the
    channel chain, or give up as the last channel's status (BOUNCED for email)."""
    batch = _Batch.bare([log.idempotency_key])
    numbers = MessageAttempt.objects.filter(log=log, channel=log.channel).count()
    batch.attempt_numbers[(log.pk, log.channel)] = numbers
    new_attempt = _attempt(log, log.channel, batch, status, now=at, counts=False, error_code="provider_report",
                           error_message=error or f"reported {status.lower()} by the provider")
    later = _later_channels(log, batch)
    if later:
        log.channel, log.status, log.next_attempt_at = later[0], LogStatus.PENDING, at
    elif status == LogStatus.BOUNCED:
        log.status, log.failed_at, log.next_attempt_at = LogStatus.BOUNCED, at, None
        HostNotification.objects.get_or_create(
            dedupe_key=f"all-channels-failed:{log.pk}",
            defaults={"kind": NotificationKind.ALL_CHANNELS_FAILED, "booking_id": log.booking_id, "created_at": at,
                      "title": f"Email bounced for {log.event_type} (booking #{log.booking_id})"},
        )
    else:
        _all_channels_failed(log, at, reason=error or "reported failed by the provider")
    log.error_message = (error or "")[:500]
    log.save()
    new_attempt.save()
    if log.status == LogStatus.PENDING:
        from messaging.wakeups import note_due

        note_due(at, at)


FAILED_STATUSES = (LogStatus.FAILED, LogStatus.BOUNCED, LogStatus.ALL_CHANNELS_FAILED)


def resend(log: CommunicationLog, now: dt.datetime | None = None) -> bool:
    """DoD 23: the host sends a failed message again; the whole channel chain starts over on the same row
    (same idempotency key, so it still cannot go out twice at once). Returns whether it was queued."""
    from messaging.wakeups import note_due

    now = now or timezone.now()
    with transaction.atomic():
        locked = CommunicationLog.objects.select_for_update().filter(pk=log.pk, status__in=FAILED_STATUSES).first()
        if locked is None:
            return False
        schedule = AutomationSchedule.objects.filter(idempotency_key=locked.idempotency_key).first()
        locked.channel = _chain(locked.recipient, schedule.payload if schedule else {})[0]
        locked.status, locked.next_attempt_at, locked.resent_at = LogStatus.PENDING, now, now
        locked.error_code = locked.error_message = ""
        locked.save(update_fields=["channel", "status", "next_attempt_at", "resent_at", "error_code", "error_message"])
        note_due(now, now)
    return True
