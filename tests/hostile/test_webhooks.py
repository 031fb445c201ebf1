"""Webhook forgery (issue #9 item 5, §9.3): WhatsApp's X-Hub-Signature-256, SendGrid's ECDSA signature and the
SMS gateway's HMAC. Whatever is forged (missing, random, made with another secret or key, over another body
or timestamp) is a 403 and changes nothing: the message's status and the guest's consent stay as they were."""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from guests.models import GuestConsent
from messaging import events as ev
from messaging.models import CommunicationLog
from tests.hostile.strategies import HOSTILE, check

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
WA_SECRET, SMS_SECRET = "wa-app-secret", "sms-secret"

ascii_header = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=80)


@pytest.fixture
def sent(book, tick, providers, settings):
    """A confirmation sent on WhatsApp, and an emailed one, with every webhook secret configured."""
    from tests.factories import make_guest

    settings.WHATSAPP_APP_SECRET, settings.WHATSAPP_VERIFY_TOKEN = WA_SECRET, "verify-me"
    settings.SMS_WEBHOOK_SECRET = SMS_SECRET
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    settings.SENDGRID_WEBHOOK_PUBLIC_KEY = "".join(public.decode().strip().splitlines()[1:-1])
    whatsapp = book(now=NOW)
    emailed = book(guest=make_guest(phone="", email="mail@example.com"), now=NOW)
    tick(NOW)
    logs = CommunicationLog.objects.filter(event_type=ev.GUEST_BOOKING_CONFIRMED)
    return {"wa": logs.get(booking=whatsapp), "mail": logs.get(booking=emailed), "key": key}


def snapshot():
    return (sorted(CommunicationLog.objects.values_list("id", "status", "channel", "delivered_at", "read_at")),
            sorted(GuestConsent.objects.values_list("guest_id", "channel", "status")))


def wa_payload(message_id: str, status: str, phone: str) -> bytes:
    ts = str(int((NOW + dt.timedelta(minutes=2)).timestamp()))
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1000001"},
             "statuses": [{"id": message_id, "status": status, "timestamp": ts, "recipient_id": phone.lstrip("+")}],
             "messages": [{"from": phone.lstrip("+"), "id": "wamid.x", "timestamp": ts, "type": "text", "text": {"body": "STOP"}}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "w", "changes": [{"field": "messages",
                                                                                                 "value": value}]}]}).encode()


def forged_hmac(body: bytes, secret: str, prefix: str):
    """Signatures that are not the right one for (body, secret)."""
    right = prefix + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return st.one_of(
        st.none(), st.just(""), st.just(prefix), ascii_header,
        st.text("0123456789abcdef", min_size=64, max_size=64).map(lambda h: prefix + h),
        st.text(min_size=1, max_size=8).map(lambda s: prefix + hmac.new(s.encode(), body, hashlib.sha256).hexdigest()),
        st.just(prefix + hmac.new(secret.encode(), body + b" ", hashlib.sha256).hexdigest()),
        st.just(right.upper()), st.just(right[:-1]), st.just(right + "0"), st.just(right.removeprefix(prefix)),
    ).filter(lambda forged: forged != right)


@HOSTILE
@given(data=st.data(), status=st.sampled_from(["delivered", "read", "failed"]))
def test_forged_whatsapp_webhooks_are_refused_and_change_nothing(public_client, sent, data, status):
    body = wa_payload(sent["wa"].provider_message_id, status, sent["wa"].guest.phone)
    signature = data.draw(forged_hmac(body, WA_SECRET, "sha256="))
    before = snapshot()
    headers = {} if signature is None else {"HTTP_X_HUB_SIGNATURE_256": signature}
    response = public_client.post("/api/webhooks/whatsapp", body, content_type="application/json", **headers)
    assert check(response, "webhook forgery") == 403
    assert snapshot() == before


@HOSTILE
@given(data=st.data())
def test_forged_sms_status_callbacks_are_refused_and_change_nothing(public_client, sent, data):
    ts = int((NOW + dt.timedelta(minutes=1)).timestamp())
    body = json.dumps([{"provider_message_id": sent["wa"].provider_message_id, "status": "DELIVERED", "timestamp": ts}]).encode()
    signature = data.draw(forged_hmac(body, SMS_SECRET, ""))
    before = snapshot()
    headers = {} if signature is None else {"HTTP_X_SIGNATURE": signature}
    response = public_client.post("/api/webhooks/message-status", body, content_type="application/json", **headers)
    assert check(response, "webhook forgery") == 403
    assert snapshot() == before


@HOSTILE
@given(how=st.sampled_from(["missing", "random", "other key", "other body", "other timestamp", "no timestamp"]),
       junk=st.binary(min_size=0, max_size=72))
def test_forged_sendgrid_events_are_refused_and_change_nothing(public_client, sent, how, junk):
    log = sent["mail"]
    body = json.dumps([{"email": "mail@example.com", "event": "unsubscribe", "sg_message_id": f"{log.provider_message_id}.f",
                        "timestamp": int(NOW.timestamp()) + 60}])
    timestamp = "1772344800"
    signer = ec.generate_private_key(ec.SECP256R1()) if how == "other key" else sent["key"]
    signed_body = body + " " if how == "other body" else body
    signed_ts = "1772344801" if how == "other timestamp" else timestamp
    signature = base64.b64encode(signer.sign((signed_ts + signed_body).encode(), ec.ECDSA(hashes.SHA256()))).decode()
    if how == "random":
        signature = base64.b64encode(junk).decode()
    headers = {"HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP": timestamp}
    if how != "missing":
        headers["HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE"] = signature
    if how == "no timestamp":
        del headers["HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP"]
    before = snapshot()
    response = public_client.post("/api/webhooks/sendgrid", body, content_type="application/json", **headers)
    assert check(response, "webhook forgery") == 403
    assert snapshot() == before


def test_forged_webhooks_on_a_tenant_domain_too(client, sent):
    """The endpoints are also served on every tenant domain: the same refusal there."""
    body = wa_payload(sent["wa"].provider_message_id, "read", sent["wa"].guest.phone)
    before = snapshot()
    for path, header in (("/api/webhooks/whatsapp", "HTTP_X_HUB_SIGNATURE_256"), ("/api/webhooks/message-status",
                                                                                 "HTTP_X_SIGNATURE")):
        response = client.post(path, body, content_type="application/json", **{header: "sha256=" + "0" * 64})
        assert check(response, "webhook forgery") == 403
    assert snapshot() == before


def test_a_non_ascii_verify_token_in_the_handshake_is_a_403(public_client, settings):
    settings.WHATSAPP_VERIFY_TOKEN = "verify-me"
    response = public_client.get("/api/webhooks/whatsapp", {"hub.mode": "subscribe", "hub.verify_token": "vérify",
                                                             "hub.challenge": "42"})
    assert check(response, "non-ASCII handshake token") == 403


def test_a_non_ascii_signature_header_is_a_403(public_client, sent):
    body = wa_payload(sent["wa"].provider_message_id, "read", sent["wa"].guest.phone)
    response = public_client.post("/api/webhooks/whatsapp", body, content_type="application/json",
                                  HTTP_X_HUB_SIGNATURE_256="sha256=é")
    assert check(response, "non-ASCII signature header") == 403
