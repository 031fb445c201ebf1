"""Issue 15 §2: a calendar booking's guest completes their contact on the portal; consent is recorded per channel
and the lifecycle starts as a confirmation at that moment would (EC-01 decides what still goes)."""
from __future__ import annotations

import datetime as dt
import re

import time_machine

from bookings.models import Booking, BookingSource, BookingStatus
from bookings.services import check_in_guest, create_booking
from guests.models import ConsentChannel, ConsentSource, ConsentStatus, Guest, GuestConsent, GuestTag
from messaging.models import AutomationSchedule, Recipient, ScheduleStatus
from messaging.tasks import run_tenant_tick
from portal.services import issue_portal_token
from tests.factories import make_booking, make_guest, make_listing
from tests.intake.conftest import IST, NOW

CHECKIN = dt.date(2026, 12, 10)


def calendar_booking(checkin: dt.date = CHECKIN, nights: int = 3, **kw) -> tuple[Booking, str]:
    """A booking as a calendar read makes it (intake.reconcile._book)."""
    guest = Guest.objects.create(name="Airbnb guest · HMTEST0001")
    booking = create_booking(guest=guest, listing=kw.pop("listing", None) or make_listing(), source=BookingSource.AIRBNB,
                             checkin_date=checkin, checkout_date=checkin + dt.timedelta(days=nights),
                             external_reference=kw.pop("ref", "HMTEST0001"), contact_needed=True,
                             payment_status="Paid", now=NOW, **kw)
    return booking, issue_portal_token(booking).token


FORM = {"name": "Asha  Rao", "phone": "98765 00042", "email": "Asha@Example.com", "guests": "2",
        "arrival_time": "15:30", "whatsapp": "on", "sms": "on", "email_messages": "on"}


def post(client, token: str, data: dict, moment: dt.datetime = NOW, **kw):
    with time_machine.travel(moment, tick=False):
        return client.post(f"/guest/{token}/contact", data, REMOTE_ADDR="203.0.113.7", **kw)


def test_the_link_of_a_calendar_booking_opens_the_contact_form(tenant, client):
    booking, token = calendar_booking()
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/guest/{token}")

    text = page.content.decode()
    assert page.status_code == 200 and "Complete your check-in" in text
    for label in ("Your name", "Mobile number", "Email (optional)", "Number of guests", "Expected arrival time"):
        assert label in text
    # DPDP Act 2023: marketing and personalization are unticked; booking messages ticked.
    assert re.search(r'name="marketing"(?![^>]*checked)', text) and re.search(r'name="whatsapp"[^>]*checked', text)
    assert "What we keep, and why" in text and f"/guest/{token}/privacy" in text
    assert "₹0" not in text  # a calendar gives no amount: none is shown


def test_completing_the_contact_records_consent_and_starts_the_lifecycle(tenant, client):
    booking, token = calendar_booking()
    run_tenant_tick(tenant.schema_name, NOW)  # the import's confirmation: host and system touchpoints only
    assert not AutomationSchedule.objects.filter(booking=booking, recipient=Recipient.GUEST).exists()

    answer = post(client, token, FORM)
    assert answer.status_code == 303 and answer["Location"] == f"/guest/{token}"
    booking.refresh_from_db()
    guest = booking.guest
    assert not booking.contact_needed
    assert (guest.name, guest.phone, guest.email) == ("Asha Rao", "+919876500042", "asha@example.com")
    assert (booking.guests_planned, booking.expected_arrival_time) == (2, dt.time(15, 30))

    consents = {(c.channel, c.marketing): c for c in GuestConsent.objects.filter(guest=guest)}
    for channel in ("WHATSAPP", "SMS", "EMAIL"):
        assert consents[(channel, False)].status == ConsentStatus.GRANTED
        assert consents[(channel, True)].status == ConsentStatus.REVOKED  # marketing was not ticked
    assert consents[(ConsentChannel.PERSONALIZATION, False)].status == ConsentStatus.REVOKED
    assert {c.source for c in consents.values()} == {ConsentSource.PORTAL}
    assert {c.ip_address for c in consents.values()} == {"203.0.113.7"}

    run_tenant_tick(tenant.schema_name, NOW)
    guest_touchpoints = AutomationSchedule.objects.filter(booking=booking, recipient=Recipient.GUEST)
    assert guest_touchpoints.filter(event_type="guest.booking_confirmed", due_at=NOW).exists()
    assert guest_touchpoints.filter(event_type="guest.checkin_instructions", status=ScheduleStatus.PENDING).exists()

    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/guest/{token}")
    assert "Complete your check-in" not in page.content.decode() and "Your booking" in page.content.decode()


def test_completing_on_arrival_day_sends_what_is_past_due_now_and_skips_what_is_too_late(tenant, client):
    booking, token = calendar_booking()
    arrival = dt.datetime(2026, 12, 10, 9, 0, tzinfo=IST)  # check-in day, before 14:00
    post(client, token, FORM, moment=arrival)
    run_tenant_tick(tenant.schema_name, arrival)

    due = dict(AutomationSchedule.objects.filter(booking=booking, recipient=Recipient.GUEST,
                                                 event_type__startswith="guest.").values_list("event_type", "due_at"))
    # EC-01: past-due pre-arrival messages go now, 5 minutes apart in §3.1 order; the confirmation first.
    assert due["guest.booking_confirmed"] == arrival
    assert due["guest.welcome"] == arrival + dt.timedelta(minutes=5)
    assert due["guest.checkin_instructions"] > due["guest.welcome"]
    assert "guest.payment_reminder" not in due  # the OTA collected it


def test_a_returning_guest_is_recognised_by_phone(tenant, client):
    regular = make_guest(name="Asha Rao", phone="+919876500042", email="")
    make_booking(guest=regular, status=BookingStatus.COMPLETED, checkin_date=dt.date(2026, 6, 1))
    booking, token = calendar_booking()
    placeholder_id = booking.guest_id

    post(client, token, FORM)
    booking.refresh_from_db()

    assert booking.guest_id == regular.pk
    assert not Guest.objects.filter(pk=placeholder_id).exists()  # the calendar's stand-in is gone
    regular.refresh_from_db()
    assert regular.email == "asha@example.com"  # the missing email is filled in, nothing overwritten
    run_tenant_tick(tenant.schema_name, NOW)
    assert GuestTag.objects.filter(guest=regular, tag="RETURNING_GUEST").exists()
    with time_machine.travel(NOW, tick=False):
        assert client.get(f"/guest/{token}").status_code == 200  # the link the guest has keeps working


def test_a_second_submission_changes_nothing(tenant, client):
    booking, token = calendar_booking()
    post(client, token, FORM)
    before = (GuestConsent.objects.count(), booking.outbox_messages.count())
    again = post(client, token, {**FORM, "name": "Someone Else", "phone": "98765 00043"})

    assert again.status_code == 303
    booking.refresh_from_db()
    assert booking.guest.name == "Asha Rao"
    assert (GuestConsent.objects.count(), booking.outbox_messages.count()) == before


def test_a_landline_or_a_bad_number_is_refused_in_words(tenant, client):
    booking, token = calendar_booking()
    landline = post(client, token, {**FORM, "phone": "080 2345 6789"})
    assert landline.status_code == 422
    assert "+91 80 2345 6789 is a landline. Enter a mobile number" in landline.content.decode()
    bad = post(client, token, {**FORM, "phone": "12345"})
    assert bad.status_code == 422 and "is not a valid mobile number" in bad.content.decode()
    empty = post(client, token, {**FORM, "name": "  ", "guests": "0"})
    assert "Enter your name as on your ID." in empty.content.decode() and "At least 1 guest." in empty.content.decode()
    booking.refresh_from_db()
    assert booking.contact_needed and not GuestConsent.objects.exists()


def test_the_guest_can_withdraw_consent_on_the_privacy_page(tenant, client):
    booking, token = calendar_booking()
    post(client, token, {**FORM, "marketing": "on"})
    with time_machine.travel(NOW, tick=False):
        page = client.get(f"/guest/{token}/privacy")
        assert re.search(r'name="marketing"[^>]*checked', page.content.decode())
        saved = client.post(f"/guest/{token}/privacy", {"sms": "on", "email_messages": "on"})

    assert saved.status_code == 303
    consent = GuestConsent.objects.get(guest=booking.guest, channel="WHATSAPP", marketing=False)
    assert consent.status == ConsentStatus.REVOKED and consent.source == ConsentSource.PORTAL
    assert GuestConsent.objects.get(guest=booking.guest, channel="SMS", marketing=True).status == ConsentStatus.REVOKED


def test_a_guest_touchpoint_of_a_booking_still_without_contact_is_skipped_when_due(tenant):
    booking, _ = calendar_booking(checkin=dt.date(2026, 12, 1))
    check_in_guest(booking, now=NOW)  # the host checked the guest in at the door
    run_tenant_tick(tenant.schema_name, NOW)
    run_tenant_tick(tenant.schema_name, NOW + dt.timedelta(days=1))

    check = AutomationSchedule.objects.get(booking=booking, event_type="guest.satisfaction_check")
    assert check.status == ScheduleStatus.SKIPPED
    assert check.reason == "the guest has not given their contact yet (calendar booking)"


def test_the_host_can_start_the_messages_after_typing_the_contact(tenant):
    from intake.contact import contact_entered_by_host

    booking, _ = calendar_booking()
    guest = booking.guest
    guest.phone = "+919876500044"
    guest.save()
    contact_entered_by_host(booking, actor="user:1", now=NOW)
    run_tenant_tick(tenant.schema_name, NOW)

    assert AutomationSchedule.objects.filter(booking=booking, event_type="guest.booking_confirmed").exists()


def test_the_find_my_booking_link_leads_to_the_booking_by_code_or_last_four_digits(tenant, client):
    from intake.models import CalendarEvent, CalendarFeed, EventKind
    from intake.services import links_of

    booking, token = calendar_booking()
    feed = CalendarFeed.objects.create(listing=booking.listing, source="Airbnb", url="https://example.com/a.ics")
    CalendarEvent.objects.create(feed=feed, uid="u1", kind=EventKind.RESERVATION, start_date=CHECKIN,
                                 end_date=CHECKIN + dt.timedelta(days=3), phone_last4="0042", booking=booking)
    stay = f"/stay/{links_of(booking.listing).stay_token}"

    assert "Find your booking" in client.get(stay).content.decode()
    by_code = client.post(stay, {"checkin_date": "2026-12-10", "proof": "hmtest 0001"})
    assert by_code.status_code == 303 and by_code["Location"].endswith(f"/guest/{token}")
    by_digits = client.post(stay, {"checkin_date": "2026-12-10", "proof": "0042"})
    assert by_digits.status_code == 303
    wrong = client.post(stay, {"checkin_date": "2026-12-11", "proof": "0042"})
    assert wrong.status_code == 404 and "could not find a booking" in wrong.content.decode()


def test_guessing_on_the_find_my_booking_link_is_limited(tenant, client):
    from intake.services import links_of

    booking, _ = calendar_booking()
    stay = f"/stay/{links_of(booking.listing).stay_token}"
    answers = [client.post(stay, {"checkin_date": "2026-12-10", "proof": f"{n:04d}"}).status_code for n in range(11)]
    assert answers[:10] == [404] * 10 and answers[10] == 429
    # the right answer is refused too once over the limit: guessing gains nothing
    assert client.post(stay, {"checkin_date": "2026-12-10", "proof": "HMTEST0001"}).status_code == 429


def test_export_has_the_calendar_fields_and_anonymization_erases_the_phone_digits(tenant, client):
    from guests.privacy import anonymize_guest, export_guest
    from intake.models import CalendarEvent, CalendarFeed, EventKind

    booking, token = calendar_booking()
    feed = CalendarFeed.objects.create(listing=booking.listing, source="Airbnb", url="https://example.com/a.ics")
    CalendarEvent.objects.create(feed=feed, uid="u1", kind=EventKind.RESERVATION, start_date=CHECKIN,
                                 end_date=CHECKIN + dt.timedelta(days=3), phone_last4="0042", booking=booking)
    post(client, token, FORM)
    guest = Booking.objects.get(pk=booking.pk).guest

    exported = export_guest(guest.pk)["bookings"][0]
    assert (exported["external_reference"], exported["expected_arrival_time"]) == ("HMTEST0001", "15:30:00")
    anonymize_guest(guest.pk, actor="user:1", now=NOW)
    assert CalendarEvent.objects.get(uid="u1").phone_last4 == ""
