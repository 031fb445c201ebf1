"""Provider webhooks (RA-GUEST-001 §9.3, §10.7, GX-CE-002): delivery statuses, inbound WhatsApp replies
("STOP") and email unsubscribes. A bad signature is refused (403), a malformed body is 400, an unknown
message id is logged and acknowledged, and a replay changes nothing."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from django_tenants.utils import schema_context

from guests.models import ConsentChannel, ConsentSource, ConsentStatus, Guest
from messaging.models import CommunicationLog, LogStatus, MessageAttempt
from messaging.statuses import apply_provider_status
from tenants.models import ProviderMessageRoute, TenantGuestExperienceConfig

logger = logging.getLogger(__name__)

WHATSAPP_STATUS = {"sent": LogStatus.SENT, "delivered": LogStatus.DELIVERED, "read": LogStatus.READ, "failed": LogStatus.FAILED}
SENDGRID_STATUS = {"delivered": LogStatus.DELIVERED, "open": LogStatus.READ, "bounce": LogStatus.BOUNCED,
                   "dropped": LogStatus.BOUNCED, "blocked": LogStatus.BOUNCED}
SENDGRID_UNSUBSCRIBE = {"unsubscribe", "group_unsubscribe", "spamreport"}
STOP_WORDS = {"STOP", "STOP ALL", "UNSUBSCRIBE", "OPT OUT", "OPTOUT"}
START_WORDS = {"START", "UNSTOP"}
GENERIC_STATUS = {s.value for s in LogStatus}


class BadPayload(ValueError):
    pass


def _epoch(value) -> dt.datetime:
    try:
        return dt.datetime.fromtimestamp(int(value), dt.timezone.utc)
    except (TypeError, ValueError):
        raise BadPayload(f"bad timestamp {value!r}") from None


def _json(request: HttpRequest):
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadPayload("body is not JSON") from None


def _signed(secret: str, body: bytes, header: str, prefix: str = "") -> bool:
    if not secret or not header:
        return False
    expected = prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # Bytes, not str: compare_digest refuses a non-ASCII str (a forged header would be a 500, not a 403).
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "surrogateescape"))


def _handle(request, verify, process):
    if not verify(request):
        logger.warning("webhook %s: signature rejected", request.path)
        return HttpResponseForbidden("bad signature")
    try:
        counts = process(_json(request))
    except (BadPayload, KeyError, TypeError, AttributeError) as exc:
        return HttpResponseBadRequest(f"malformed payload: {exc}")
    return JsonResponse({"ok": True, **counts})


# --- generic status endpoint (the SMS gateway) ----------------------------------------------------------


@csrf_exempt
@require_POST
def message_status(request: HttpRequest) -> HttpResponse:
    """`/api/webhooks/message-status`: [{"provider_message_id", "status", "timestamp", "error"}], signed
    with HMAC-SHA256 of the body in `X-Signature`."""
    return _handle(
        request,
        lambda r: _signed(settings.SMS_WEBHOOK_SECRET, r.body, r.headers.get("X-Signature", "")),
        _process_generic,
    )


def _process_generic(payload) -> dict:
    items = payload if isinstance(payload, list) else [payload]
    known = 0
    for item in items:
        status = str(item["status"]).upper()
        if status not in GENERIC_STATUS:
            raise BadPayload(f"unknown status {status}")
        known += apply_provider_status(str(item["provider_message_id"]), status, _epoch(item["timestamp"]),
                                       error=str(item.get("error", ""))[:500], send_key=str(item.get("reference", "")))
    return {"received": len(items), "matched": known}


# --- WhatsApp Cloud API --------------------------------------------------------------------------------


@csrf_exempt
@require_http_methods(["GET", "POST"])
def whatsapp(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":  # the subscription handshake
        token = request.GET.get("hub.verify_token", "")
        if (request.GET.get("hub.mode") == "subscribe" and settings.WHATSAPP_VERIFY_TOKEN
                and hmac.compare_digest(token.encode("utf-8", "surrogateescape"), settings.WHATSAPP_VERIFY_TOKEN.encode())):
            return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")
        return HttpResponseForbidden("verification failed")
    return _handle(
        request,
        lambda r: _signed(settings.WHATSAPP_APP_SECRET, r.body, r.headers.get("X-Hub-Signature-256", ""), "sha256="),
        _process_whatsapp,
    )


def _process_whatsapp(payload) -> dict:
    statuses = inbound = 0
    for entry in payload["entry"]:
        for change in entry["changes"]:
            value = change["value"]
            phone_id = str(value.get("metadata", {}).get("phone_number_id", ""))
            for status in value.get("statuses", []):
                statuses += 1
                _whatsapp_status(status)
            for message in value.get("messages", []):
                inbound += 1
                _whatsapp_inbound(phone_id, message)
    return {"statuses": statuses, "messages": inbound}


def _whatsapp_status(status: dict) -> None:
    mapped = WHATSAPP_STATUS.get(status["status"])
    if mapped is None:
        return
    errors = status.get("errors") or []
    code = str(errors[0].get("code", "")) if errors else ""
    at = _epoch(status["timestamp"])
    apply_provider_status(status["id"], mapped, at, error=f"{code} {errors[0].get('title', '')}".strip() if errors else "",
                          send_key=str(status.get("biz_opaque_callback_data") or ""))
    if code == "131050":  # the user stopped marketing messages: WhatsApp marketing only
        _revoke_for_message(status["id"], ConsentChannel.WHATSAPP, ConsentSource.PROVIDER, at, marketing=True)


def _tenants_for_number(phone_id: str) -> list[str]:
    """The schemas a WhatsApp number serves: tenants with this number of their own, or, for the
    platform's number, every tenant without one."""
    configs = TenantGuestExperienceConfig.objects.select_related("tenant")
    own = [c.tenant.schema_name for c in configs.filter(whatsapp_phone_id=phone_id)]
    if own or phone_id != settings.WHATSAPP_PHONE_ID:
        return own
    return [c.tenant.schema_name for c in configs.filter(whatsapp_phone_id="")]


def _whatsapp_inbound(phone_id: str, message: dict) -> None:
    from guests.services import set_consent

    phone = "+" + str(message["from"]).lstrip("+")
    at = _epoch(message["timestamp"])
    text = (message.get("text") or {}).get("body", "").strip().upper()
    for schema in _tenants_for_number(phone_id):
        with schema_context(schema):
            guest = Guest.objects.filter(phone=phone).first()
            if guest is None:
                continue
            Guest.objects.filter(pk=guest.pk).update(whatsapp_last_inbound_at=at)  # the 24-hour window opens
            if text in STOP_WORDS:
                set_consent(guest.pk, ConsentChannel.WHATSAPP, ConsentStatus.REVOKED, source=ConsentSource.WHATSAPP_REPLY, now=at)
            elif text in START_WORDS:
                set_consent(guest.pk, ConsentChannel.WHATSAPP, ConsentStatus.GRANTED, source=ConsentSource.WHATSAPP_REPLY, now=at)


def _revoke_for_message(provider_message_id: str, channel: str, source: str, at: dt.datetime, *, marketing=False) -> None:
    from guests.services import set_consent

    route = ProviderMessageRoute.objects.filter(provider_message_id=provider_message_id).first()
    if route is None:
        return
    with schema_context(route.schema_name):
        attempt = MessageAttempt.objects.filter(provider_message_id=provider_message_id).select_related("log").first()
        if attempt and attempt.log.guest_id:
            set_consent(attempt.log.guest_id, channel, ConsentStatus.REVOKED, source=source, marketing=marketing, now=at)


# --- SendGrid event webhook ----------------------------------------------------------------------------


def _sendgrid_signed(request: HttpRequest) -> bool:
    from sendgrid.helpers.eventwebhook import EventWebhook

    key = settings.SENDGRID_WEBHOOK_PUBLIC_KEY
    signature = request.headers.get("X-Twilio-Email-Event-Webhook-Signature", "")
    timestamp = request.headers.get("X-Twilio-Email-Event-Webhook-Timestamp", "")
    if not (key and signature and timestamp):
        return False
    try:
        return EventWebhook(key).verify_signature(request.body.decode("utf-8"), signature, timestamp)
    except (ValueError, UnicodeDecodeError):  # a signature that is not base64 / DER
        return False


@csrf_exempt
@require_POST
def sendgrid(request: HttpRequest) -> HttpResponse:
    return _handle(request, _sendgrid_signed, _process_sendgrid)


def _process_sendgrid(events) -> dict:
    if not isinstance(events, list):
        raise BadPayload("expected a list of events")
    matched = 0
    for event in events:
        message_id = str(event["sg_message_id"]).split(".")[0]
        at = _epoch(event["timestamp"])
        kind = event["event"]
        if kind in SENDGRID_UNSUBSCRIBE:
            _revoke_for_message(message_id, ConsentChannel.EMAIL, ConsentSource.EMAIL_UNSUBSCRIBE, at)
            matched += 1
        elif kind in SENDGRID_STATUS:
            matched += apply_provider_status(message_id, SENDGRID_STATUS[kind], at, error=str(event.get("reason", ""))[:500],
                                             send_key=str(event.get("atlas_key") or ""))
    return {"received": len(events), "matched": matched}


__all__ = ["message_status", "whatsapp", "sendgrid", "CommunicationLog"]
