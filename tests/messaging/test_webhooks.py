"""Webhooks (§9.3, GX-CE-002, §10.7): signatures, malformed bodies, unknown ids, replays, out-of-order
statuses, inbound STOP, SendGrid events, and the unsubscribe page."""
import base64
import datetime as dt
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from guests.models import GuestConsent
from messaging import events as ev
from messaging.consent import unsubscribe_token
from messaging.models import CommunicationLog

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
APP_SECRET = "wa-app-secret"


@pytest.fixture
def sent(book, tick, providers, settings):
    """A confirmation sent on WhatsApp, with the webhook secrets configured."""
    settings.WHATSAPP_APP_SECRET, settings.WHATSAPP_VERIFY_TOKEN = APP_SECRET, "verify-me"
    settings.SMS_WEBHOOK_SECRET = "sms-secret"
    booking = book(now=NOW)
    tick(NOW)
    return CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_BOOKING_CONFIRMED)


def wa_post(client, payload, secret=APP_SECRET):
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return client.post("/api/webhooks/whatsapp", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)


def wa_status(message_id, status, ts, errors=None, phone_id="1000001"):
    item = {"id": message_id, "status": status, "timestamp": str(int(ts.timestamp())), "recipient_id": "919876500001"}
    if errors:
        item["errors"] = errors
    return {"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": phone_id}, "statuses": [item]}}]}]}


def wa_inbound(phone, text, ts, phone_id="1000001"):
    return {"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"phone_number_id": phone_id},
        "messages": [{"from": phone.lstrip("+"), "id": "wamid.in1", "timestamp": str(int(ts.timestamp())),
                      "type": "text", "text": {"body": text}}]}}]}]}


def test_whatsapp_verify_handshake(public_client, sent):
    ok = public_client.get("/api/webhooks/whatsapp", {"hub.mode": "subscribe", "hub.verify_token": "verify-me",
                                                      "hub.challenge": "12345"})
    bad = public_client.get("/api/webhooks/whatsapp", {"hub.mode": "subscribe", "hub.verify_token": "nope",
                                                       "hub.challenge": "12345"})
    assert (ok.status_code, ok.content, bad.status_code) == (200, b"12345", 403)


def test_whatsapp_statuses_move_forward_only_and_replays_change_nothing(public_client, sent):
    read_at, delivered_at = NOW + dt.timedelta(minutes=3), NOW + dt.timedelta(minutes=1)
    assert wa_post(public_client, wa_status(sent.provider_message_id, "read", read_at)).status_code == 200
    assert wa_post(public_client, wa_status(sent.provider_message_id, "delivered", delivered_at)).status_code == 200
    assert wa_post(public_client, wa_status(sent.provider_message_id, "read", read_at)).status_code == 200  # replay
    sent.refresh_from_db()
    assert (sent.status, sent.read_at, sent.delivered_at) == ("READ", read_at, read_at)


def test_whatsapp_bad_signature_is_403_and_changes_nothing(public_client, sent):
    response = wa_post(public_client, wa_status(sent.provider_message_id, "delivered", NOW), secret="forged")
    unsigned = public_client.post("/api/webhooks/whatsapp", json.dumps({}), content_type="application/json")
    sent.refresh_from_db()
    assert (response.status_code, unsigned.status_code, sent.status) == (403, 403, "SENT")


def test_whatsapp_malformed_body_is_400_and_unknown_id_is_acknowledged(public_client, sent):
    body = b"{not json"
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    malformed = public_client.post("/api/webhooks/whatsapp", body, content_type="application/json",
                                   HTTP_X_HUB_SIGNATURE_256=signature)
    wrong_shape = wa_post(public_client, {"entry": [{"changes": [{"value": {"statuses": [{"id": "x"}]}}]}]})
    unknown = wa_post(public_client, wa_status("wamid.never-sent", "delivered", NOW))
    assert (malformed.status_code, wrong_shape.status_code, unknown.status_code) == (400, 400, 200)


def test_whatsapp_failed_status_after_acceptance_falls_back(public_client, sent, tick):
    errors = [{"code": 131026, "title": "Message undeliverable"}]
    wa_post(public_client, wa_status(sent.provider_message_id, "failed", NOW + dt.timedelta(minutes=1), errors))
    sent.refresh_from_db()
    assert (sent.channel, sent.status) == ("SMS", "PENDING")
    tick(NOW + dt.timedelta(minutes=1))
    sent.refresh_from_db()
    assert (sent.channel, sent.status) == ("SMS", "SENT")


def test_inbound_stop_revokes_whatsapp_and_opens_the_window(public_client, sent):
    guest = sent.guest
    wa_post(public_client, wa_inbound(guest.phone, " stop ", NOW + dt.timedelta(hours=1)))
    consent = GuestConsent.objects.get(guest=guest, channel="WHATSAPP", marketing=False)
    guest.refresh_from_db()
    assert (consent.status, consent.source) == ("REVOKED", "WHATSAPP_REPLY")
    assert guest.whatsapp_last_inbound_at == NOW + dt.timedelta(hours=1)
    wa_post(public_client, wa_inbound(guest.phone, "START", NOW + dt.timedelta(hours=2)))
    consent.refresh_from_db()
    assert consent.status == "GRANTED"


def test_generic_status_endpoint_is_signed(public_client, sent):
    body = json.dumps([{"provider_message_id": sent.provider_message_id, "status": "DELIVERED",
                        "timestamp": int((NOW + dt.timedelta(minutes=1)).timestamp())}]).encode()
    good = hmac.new(b"sms-secret", body, hashlib.sha256).hexdigest()
    assert public_client.post("/api/webhooks/message-status", body, content_type="application/json",
                              HTTP_X_SIGNATURE="0" * 64).status_code == 403
    response = public_client.post("/api/webhooks/message-status", body, content_type="application/json", HTTP_X_SIGNATURE=good)
    assert (response.status_code, response.json()["matched"]) == (200, 1)
    sent.refresh_from_db()
    assert sent.status == "DELIVERED"


@pytest.fixture
def sendgrid_key(settings):
    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    settings.SENDGRID_WEBHOOK_PUBLIC_KEY = "".join(public.decode().strip().splitlines()[1:-1])
    return key


def sg_post(client, key, events, tamper=False):
    body = json.dumps(events)
    timestamp = "1772344800"
    signature = base64.b64encode(key.sign((timestamp + body).encode(), ec.ECDSA(hashes.SHA256()))).decode()
    if tamper:
        body = body.replace("delivered", "open")
    return client.post("/api/webhooks/sendgrid", body, content_type="application/json",
                       HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_SIGNATURE=signature,
                       HTTP_X_TWILIO_EMAIL_EVENT_WEBHOOK_TIMESTAMP=timestamp)


@pytest.fixture
def emailed(book, tick, providers):
    from tests.factories import make_guest

    booking = book(guest=make_guest(phone="", email="mail@example.com"), now=NOW)
    tick(NOW)
    return CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_BOOKING_CONFIRMED)


def test_sendgrid_events_are_verified_and_applied(public_client, emailed, sendgrid_key):
    message_id = emailed.provider_message_id
    ts = int((NOW + dt.timedelta(minutes=1)).timestamp())
    events = [{"email": "mail@example.com", "event": "delivered", "sg_message_id": f"{message_id}.filter0001", "timestamp": ts}]
    assert sg_post(public_client, sendgrid_key, events, tamper=True).status_code == 403
    assert sg_post(public_client, sendgrid_key, events).status_code == 200
    emailed.refresh_from_db()
    assert emailed.status == "DELIVERED"
    unsubscribe = [{"email": "mail@example.com", "event": "unsubscribe", "sg_message_id": f"{message_id}.x", "timestamp": ts}]
    sg_post(public_client, sendgrid_key, unsubscribe)
    consent = GuestConsent.objects.get(guest=emailed.guest, channel="EMAIL")
    assert (consent.status, consent.source) == ("REVOKED", "EMAIL_UNSUBSCRIBE")


def test_sendgrid_bounce_marks_bounced_and_tells_the_host(public_client, emailed, sendgrid_key):
    from operations.models import HostNotification

    ts = int((NOW + dt.timedelta(minutes=1)).timestamp())
    events = [{"email": "mail@example.com", "event": "bounce", "reason": "550 no such user",
               "sg_message_id": f"{emailed.provider_message_id}.f", "timestamp": ts}]
    assert sg_post(public_client, sendgrid_key, events).status_code == 200
    emailed.refresh_from_db()
    assert emailed.status == "BOUNCED"
    assert HostNotification.objects.filter(booking=emailed.booking).exists()


def test_unsubscribe_link_asks_first_then_revokes_email(tenant, tenant_client):
    from tests.factories import make_guest

    guest = make_guest()
    url = f"/unsubscribe/{unsubscribe_token(guest.pk)}"
    page = tenant_client.get(url)
    assert page.status_code == 200 and b"Unsubscribe" in page.content
    assert not GuestConsent.objects.filter(guest=guest).exists()  # a mail scanner's GET changes nothing
    done = tenant_client.post(url)
    assert done.status_code == 200
    consent = GuestConsent.objects.get(guest=guest, channel="EMAIL")
    assert (consent.status, consent.source, consent.ip_address) == ("REVOKED", "EMAIL_UNSUBSCRIBE", "127.0.0.1")
    assert tenant_client.get("/unsubscribe/forged-token").status_code == 404
