"""Templates (§9.2: resolution order, versions, unresolved variables, syntax), the returning guest's
greeting (GX-T07) and consent (§10.7, GX-PV-003, GX-TPL-001, EC-04)."""
import datetime as dt
import logging

import pytest
from django.core.exceptions import ValidationError

from guests.models import ConsentStatus, GuestConsent
from guests.services import set_consent
from messaging import events as ev
from messaging.models import CommunicationLog, MessageAttempt, MessageTemplate, SandboxMessage
from messaging.templates import publish_version
from tests.factories import make_booking, make_listing

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
DUE = dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)  # every pre-arrival touchpoint of a 15 March check-in


def body_of(booking, event=ev.GUEST_BOOKING_CONFIRMED) -> str:
    return SandboxMessage.objects.get(booking=booking, event_type=event).body


def test_platform_catalogue_is_seeded_in_every_tenant(tenant):
    keys = set(MessageTemplate.objects.filter(scope="PLATFORM").values_list("key", flat=True))
    assert len(keys) >= 22 and {"BOOKING_CONFIRMED_WA", "REVIEW_REMINDER_EMAIL", "ISSUE_RESOLVED_GUEST_WA"} <= keys


def test_property_template_beats_tenant_beats_platform(book, tick):
    here = make_listing()
    there = make_listing()
    publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="Tenant says hi {{guest_name}}")
    publish_version(key="BOOKING_CONFIRMED_WA", scope="PROPERTY", property_id=here.property_id,
                    body="Property says hi {{guest_name}}")
    at_here, at_there = book(listing=here, now=NOW), book(listing=there, now=NOW)
    tick(NOW)
    assert body_of(at_here) == f"Property says hi {at_here.guest.name}"
    assert body_of(at_there) == f"Tenant says hi {at_there.guest.name}"
    log = CommunicationLog.objects.get(booking=at_here)
    assert (log.template_key, log.template_version) == ("BOOKING_CONFIRMED_WA", 1)


def test_only_the_active_version_is_used_and_the_log_records_which(book, tick):
    publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="Version one {{guest_name}}")
    second = publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="Version two {{guest_name}}")
    booking = book(now=NOW)
    tick(NOW)
    assert body_of(booking).startswith("Version two")
    log = CommunicationLog.objects.get(booking=booking)
    assert (log.template_id, log.template_version) == (second.pk, 2)
    assert MessageTemplate.objects.filter(key="BOOKING_CONFIRMED_WA", scope="TENANT", is_active=True).count() == 1


def test_unresolved_variable_is_left_as_is_with_a_warning(book, tick, caplog):
    booking = book(now=NOW)  # the test listing's access info has a map link; this one has none
    booking.listing.access_info.map_url = ""
    booking.listing.access_info.save()
    tick(NOW)
    with caplog.at_level(logging.WARNING, logger="messaging.rendering"):
        tick(DUE)
    assert "🗺 Directions: {{map_link}}" in body_of(booking, ev.GUEST_CHECKIN_INSTRUCTIONS)
    assert any("map_link" in r.getMessage() for r in caplog.records)


def test_ec_12_no_access_code_says_staff_will_meet_you(book, tick):
    booking = book(now=NOW)
    booking.listing.access_info.access_code = ""
    booking.listing.access_info.save()
    tick(NOW)
    tick(DUE)
    body = body_of(booking, ev.GUEST_CHECKIN_INSTRUCTIONS)
    assert "🔑 Our staff will meet you at the property." in body and "Access code" not in body


def test_gx_t07_returning_guest_confirmation_begins_welcome_back(book, tick):
    first = book(now=NOW)
    make_booking(guest=first.guest, status="Completed", checkin_date=dt.date(2025, 12, 1))
    second = book(guest=first.guest, checkin=dt.date(2026, 4, 1), now=NOW)
    tick(NOW)
    assert body_of(second).startswith(f"Welcome back, {first.guest.name}!")
    assert body_of(first).startswith(f"Welcome back, {first.guest.name}!")  # also has a completed stay now


def test_a_first_stay_is_greeted_with_hi(book, tick):
    booking = book(now=NOW)
    tick(NOW)
    assert body_of(booking).startswith(f"Hi {booking.guest.name}! 🎉")


def test_guest_supplied_text_cannot_inject_template_syntax(book, tick):
    from tests.factories import make_guest

    booking = book(guest=make_guest(name="{{host_phone}} {{#if x}}"), now=NOW)
    tick(NOW)
    assert body_of(booking).startswith("Hi {{host_phone}} {{#if x}}! 🎉")


@pytest.mark.parametrize(("body", "words"), [
    ("{{#if balance_due}}Pay", "is never closed"),
    ("Hi {{guest_nmae}}", "is not a variable we can fill"),
    ("Hi {{guest_name", "is not closed"),
    ("{{#if balance_due}}x{{/each}}", "close it with {{/if}}"),
    ("{{> footer}}", "Partials"),
])
def test_template_with_broken_syntax_is_refused_on_save(tenant, body, words):
    with pytest.raises(ValidationError, match=words):
        publish_version(key="WELCOME_WA", scope="TENANT", body=body)
    assert not MessageTemplate.objects.filter(key="WELCOME_WA", scope="TENANT").exists()


def test_transactional_messages_assume_consent_but_marketing_needs_it(book, tick):
    listing = make_listing(supports_early_checkin=True, early_checkin_price=500)
    without, with_consent = book(listing=listing, now=NOW), book(listing=listing, now=NOW)
    set_consent(with_consent.guest_id, "WHATSAPP", ConsentStatus.GRANTED, source="BOOKING_FORM", marketing=True, now=NOW)
    tick(NOW)
    tick(DUE)
    offer = lambda b: CommunicationLog.objects.get(booking=b, event_type=ev.GUEST_EARLY_CHECKIN_OFFER)  # noqa: E731
    assert offer(without).status == "OPTED_OUT"  # GX-TPL-001: marketing without a GRANTED record is not sent
    assert offer(with_consent).status == "SENT"
    assert CommunicationLog.objects.get(booking=without, event_type=ev.GUEST_CHECKIN_INSTRUCTIONS).status == "SENT"


def test_ec_04_opting_out_of_whatsapp_mid_sequence_moves_the_rest_to_sms(book, tick, providers):
    booking = book(now=NOW)
    tick(NOW)
    assert CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_BOOKING_CONFIRMED).channel == "WHATSAPP"
    set_consent(booking.guest_id, "WHATSAPP", ConsentStatus.REVOKED, source="WHATSAPP_REPLY", now=NOW + dt.timedelta(days=1))
    tick(DUE)
    instructions = CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_CHECKIN_INSTRUCTIONS)
    assert (instructions.channel, instructions.status) == ("SMS", "SENT")
    skipped = MessageAttempt.objects.get(log=instructions, channel="WHATSAPP")
    assert (skipped.status, skipped.error_code) == ("OPTED_OUT", "consent_revoked")
    welcome = CommunicationLog.objects.get(booking=booking, event_type=ev.GUEST_WELCOME)
    assert welcome.status == "OPTED_OUT"  # WhatsApp-only touchpoint: skipped, not failed
    consent = GuestConsent.objects.get(guest=booking.guest, channel="WHATSAPP", marketing=False)
    assert (consent.status, consent.source) == ("REVOKED", "WHATSAPP_REPLY") and consent.revoked_at is not None


def test_revoked_every_channel_means_opted_out_not_failed(book, tick):
    from operations.models import HostNotification

    booking = book(now=NOW)
    for channel in ("WHATSAPP", "SMS", "EMAIL"):
        set_consent(booking.guest_id, channel, ConsentStatus.REVOKED, source="HOST", now=NOW)
    tick(NOW)
    assert CommunicationLog.objects.get(booking=booking).status == "OPTED_OUT"
    assert not HostNotification.objects.exists()


@pytest.mark.parametrize(("event", "category", "sent_without_consent"), [
    (ev.GUEST_CHECKIN_INSTRUCTIONS, "TRANSACTIONAL", True),
    (ev.GUEST_HOUSE_RULES, "INFORMATIONAL", True),
    (ev.GUEST_EARLY_CHECKIN_OFFER, "MARKETING", False),
])
def test_consent_by_template_category(book, tick, event, category, sent_without_consent):
    booking = book(listing=make_listing(supports_early_checkin=True), now=NOW)
    tick(NOW)
    tick(DUE)
    log = CommunicationLog.objects.get(booking=booking, event_type=event)
    assert MessageTemplate.objects.get(event_type=event, channel="WHATSAPP", scope="PLATFORM").category == category
    assert log.status == ("SENT" if sent_without_consent else "OPTED_OUT")


def test_engagement_and_alert_categories_need_no_opt_in(book, tick):
    from bookings.services import check_in_guest

    booking = book(now=NOW)
    tick(NOW)
    tick(dt.datetime(2026, 3, 15, 10, 30, tzinfo=UTC))  # not checked in: the host alert (ALERT)
    check_in_guest(booking, now=dt.datetime(2026, 3, 15, 11, 0, tzinfo=UTC))
    tick(dt.datetime(2026, 3, 16, 7, 0, tzinfo=UTC))  # day-1 satisfaction check (ENGAGEMENT)
    statuses = dict(CommunicationLog.objects.filter(booking=booking).values_list("event_type", "status"))
    assert statuses[ev.GUEST_NOT_CHECKED_IN] == "SENT"
    assert statuses[ev.GUEST_SATISFACTION_CHECK] == "SENT"
