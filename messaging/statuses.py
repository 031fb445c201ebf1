"""Delivery statuses reported by providers (RA-GUEST-001 §9.3, GX-CE-002). Webhooks arrive late, out of
order and more than once: a status only ever moves forward, and a replay changes nothing."""
from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.db import transaction
from django_tenants.utils import schema_context

from messaging.models import CommunicationLog, LogStatus, MessageAttempt
from tenants.models import ProviderMessageRoute

logger = logging.getLogger(__name__)

_RANK = {LogStatus.PENDING: 0, LogStatus.SENT: 1, LogStatus.DELIVERED: 2, LogStatus.READ: 3}
DELIVERED, READ, FAILED, BOUNCED = LogStatus.DELIVERED, LogStatus.READ, LogStatus.FAILED, LogStatus.BOUNCED


def apply_provider_status(provider_message_id: str, status: str, at: dt.datetime, *, error: str = "",
                          send_key: str = "") -> bool:
    """Apply one reported status to the message it belongs to. Returns False when the id is unknown (logged
    and acknowledged: the provider must not retry forever for a message we never sent or already deleted).

    `send_key` is the attempt's key echoed by the provider (WhatsApp biz_opaque_callback_data, the SMS
    reference, SendGrid custom_args). An id we have not recorded yet but whose key names a message still
    claimed is a send whose worker died (or has not committed) after the provider accepted it: it is
    recorded as sent from this report, so it is never sent a second time (issue #9)."""
    route = ProviderMessageRoute.objects.filter(provider_message_id=provider_message_id).first()
    if route is None:
        return _reconcile(provider_message_id, status, at, error, send_key)
    with schema_context(route.schema_name):
        return _apply(provider_message_id, status, at, error)


def _reconcile(provider_message_id: str, status: str, at: dt.datetime, error: str, send_key: str) -> bool:
    from messaging.delivery import parse_send_key, reconcile_send
    from tenants.models import Tenant

    parsed = parse_send_key(send_key)
    tenants = Tenant.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)  # public has no messages
    if parsed is None or not tenants.filter(schema_name=parsed[0]).exists():
        logger.info("status %s for unknown provider message id %s ignored", status, provider_message_id)
        return False
    with schema_context(parsed[0]):
        reconcile_send(send_key, provider_message_id, at)
        # Recorded now, by us or by the worker that sent it (committed meanwhile): apply the status itself.
        return _apply(provider_message_id, status, at, error)


@transaction.atomic
def _apply(provider_message_id: str, status: str, at: dt.datetime, error: str) -> bool:
    attempt = MessageAttempt.objects.filter(provider_message_id=provider_message_id).select_related("log").first()
    if attempt is None:
        return False
    log = CommunicationLog.objects.select_for_update().get(pk=attempt.log_id)
    current_channel = attempt.channel == log.channel
    if status in (DELIVERED, READ):
        changed = []
        if log.delivered_at is None:
            log.delivered_at = at
            changed.append("delivered_at")
        if status == READ and log.read_at is None:
            log.read_at = at
            changed.append("read_at")
        if _RANK.get(status, 0) > _RANK.get(log.status, -1) and (current_channel or log.status == LogStatus.SENT):
            log.status = status
            changed.append("status")
        if log.status in (DELIVERED, READ) and log.next_attempt_at is not None:
            log.next_attempt_at = None  # delivered: no undelivered fallback needed
            changed.append("next_attempt_at")
        if changed:
            log.save(update_fields=changed)
        return True
    if status in (FAILED, BOUNCED) and current_channel and log.status == LogStatus.SENT:
        # The provider accepted it, then could not deliver it: the same retry and fallback plan as a refusal.
        from messaging.delivery import fail_after_acceptance

        fail_after_acceptance(log, attempt, status, error, at)
    return True
