"""What a guest does on the portal, through the same services as everyone else: check-in (GX-T04, EC-07),
issue reports (GX-T03, EC-13), add-ons (GX-IS-003), damage (§6.4) and the review (§7.2). Every action is
audited; bad input is refused in words with a 4xx and writes nothing."""
import datetime as dt
import re

import pytest

from bookings.models import AddonRequest, RoomStatus
from bookings.services import check_in_guest, check_out_guest
from messaging import events as ev
from messaging.models import OutboxMessage, SandboxMessage
from operations.models import AuditLog, HostNotification, Incident, MaintenanceTicket
from reviews.models import GuestReview
from tests.portal.conftest import ARRIVED_AT, LEFT_AT, UTC, text_of

CHECKIN_DAY = dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC)  # 14:30 IST
IN_STAY = dt.datetime(2026, 3, 16, 14, 0, tzinfo=UTC)  # 19:30 IST
CHECKOUT_DAY = dt.datetime(2026, 3, 18, 2, 0, tzinfo=UTC)  # 07:30 IST
ACK = "We've received your report and our team is on it."


@pytest.fixture
def arrived(stay):
    s = stay(listing={"late_checkout_price": 700, "extra_cleaning_price": 500})
    check_in_guest(s.booking, now=ARRIVED_AT)
    return s


def issue(**fields) -> dict:
    return {"category": "plumbing", "urgency": "urgent", "description": "Shower not working", **fields}


def audit_rows(s, action: str):
    return list(AuditLog.objects.filter(booking=s.booking, action=action))


# --- check-in -------------------------------------------------------------------------------------------------


def test_gx_t04_tapping_checked_in_logs_the_time_and_publishes_once(stay, at, tick):
    s = stay()
    tick(dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
    page = at(CHECKIN_DAY).get(s.url)
    assert "I have checked in" in text_of(page)

    response = at(CHECKIN_DAY).post(s.url + "/checkin", follow=True)
    assert response.redirect_chain == [(f"{s.url}#checkin", 303)]
    booking = s.refresh()
    assert (booking.checked_in_at, booking.checked_in_via) == (CHECKIN_DAY, "PORTAL")
    assert OutboxMessage.objects.filter(booking=booking, event_type=ev.STAY_CHECKED_IN).count() == 1
    text = text_of(response)
    assert "Checked in at 2:30 PM" in text and "I have checked in" not in text

    tick(CHECKIN_DAY)  # downstream: the room is occupied, the day-1 check scheduled
    booking.listing.refresh_from_db()
    assert booking.listing.room_status == RoomStatus.OCCUPIED
    assert booking.schedules.filter(event_type=ev.GUEST_SATISFACTION_CHECK).exists()

    [row] = audit_rows(s, "portal.check_in")
    assert (row.actor, row.ip_address, row.details["changed"]) == (f"guest:{booking.guest_id}", "127.0.0.1", True)


def test_ec_07_second_tap_is_harmless_and_shows_the_same_time(stay, at):
    s = stay()
    at(CHECKIN_DAY).post(s.url + "/checkin")
    again = at(CHECKIN_DAY + dt.timedelta(minutes=3)).post(s.url + "/checkin", follow=True)
    assert again.redirect_chain[0][1] == 303
    assert "Checked in at 2:30 PM" in text_of(again)
    assert s.refresh().checked_in_at == CHECKIN_DAY
    assert OutboxMessage.objects.filter(booking=s.booking, event_type=ev.STAY_CHECKED_IN).count() == 1
    assert [r.details["changed"] for r in AuditLog.objects.filter(action="portal.check_in").order_by("pk")] == [True, False]


def test_checkin_refused_before_the_arrival_day(stay, at):
    s = stay()
    response = at(dt.datetime(2026, 3, 14, 9, 0, tzinfo=UTC)).post(s.url + "/checkin")
    assert response.status_code == 409
    assert "You can check in here on your arrival day, 15 Mar 2026." in text_of(response)
    assert s.refresh().checked_in_at is None and not AuditLog.objects.exists()


def test_checkin_refused_after_the_arrival_day(stay, at):
    s = stay()
    response = at(dt.datetime(2026, 3, 16, 9, 0, tzinfo=UTC)).post(s.url + "/checkin")
    assert response.status_code == 409 and "Please contact your host" in text_of(response)


def test_checkin_get_is_not_allowed(stay, at):
    s = stay()
    assert at(CHECKIN_DAY).get(s.url + "/checkin").status_code == 405
    assert s.refresh().checked_in_at is None


# --- issue reports ---------------------------------------------------------------------------------------------


def test_gx_t03_guest_reports_issue_ticket_created_host_alerted_acknowledged(arrived, at, tick):
    tick(ARRIVED_AT)
    response = at(IN_STAY).post(arrived.url + "/issue", issue(), follow=True)
    assert response.redirect_chain == [(f"{arrived.url}#report", 303)]
    assert ACK in text_of(response)

    ticket = MaintenanceTicket.objects.get()
    booking = arrived.booking
    assert (ticket.listing_id, ticket.booking_id, ticket.ticket_type, ticket.severity, ticket.created_by) == (
        booking.listing_id, booking.pk, "PLUMBING", "HIGH", f"guest:{booking.guest_id}")
    assert HostNotification.objects.filter(booking=booking, kind="ISSUE_REPORTED").exists()
    tick(IN_STAY)
    alert = SandboxMessage.objects.get(event_type=ev.GUEST_ISSUE_REPORTED)
    assert alert.to == booking.listing.property.contact_phone
    assert "reported an issue: Plumbing — Shower not working" in alert.body

    [row] = audit_rows(arrived, "portal.issue_reported")
    assert (row.actor, row.ip_address, row.object_type, row.object_id) == (
        f"guest:{booking.guest_id}", "127.0.0.1", "MaintenanceTicket", str(ticket.pk))
    assert (row.details["category"], row.details["urgency"]) == ("plumbing", "urgent")

    # The acknowledgement is shown once, not on every later visit.
    assert ACK not in text_of(at(IN_STAY).get(arrived.url))


@pytest.mark.parametrize(("category", "urgency", "model", "kind", "severity"), [
    ("electrical", "not_urgent", MaintenanceTicket, "ELECTRICAL", "LOW"),
    ("wifi", "emergency", MaintenanceTicket, "WIFI", "P0"),
    ("noise", "urgent", Incident, "NOISE", "HIGH"),
    ("safety", "emergency", Incident, "SAFETY", "P0"),
])
def test_issue_categories_and_urgency_through_the_portal(arrived, at, category, urgency, model, kind, severity):
    assert at(IN_STAY).post(arrived.url + "/issue", issue(category=category, urgency=urgency)).status_code == 303
    created = model.objects.get()
    assert (getattr(created, "ticket_type", None) or created.incident_type, created.severity) == (kind, severity)


def test_ec_13_issue_after_checkout_is_an_incident_within_24_hours(arrived, at):
    check_out_guest(arrived.booking, now=LEFT_AT)
    ok = at(LEFT_AT + dt.timedelta(hours=23)).post(arrived.url + "/issue", issue(description="Tap leaked all night"),
                                                   follow=True)
    assert ACK in text_of(ok)
    assert Incident.objects.get().description == "Tap leaked all night" and not MaintenanceTicket.objects.exists()

    late = at(LEFT_AT + dt.timedelta(hours=25)).post(arrived.url + "/issue", issue(description="Late"))
    assert late.status_code == 409
    assert "Issues can be reported up to 24 hours after check-out" in text_of(late)
    assert Incident.objects.count() == 1 and len(audit_rows(arrived, "portal.issue_reported")) == 1


def test_issue_before_checkin_is_refused(stay, at):
    s = stay()
    response = at(CHECKIN_DAY).post(s.url + "/issue", issue())
    assert response.status_code == 409
    assert "once you have checked in" in text_of(response)
    assert not MaintenanceTicket.objects.exists()


@pytest.mark.parametrize(("fields", "words"), [
    ({"description": "x" * 501}, "Keep the description under 500 characters"),
    ({"description": ""}, "Describe the problem in a few words."),
    ({"description": "   "}, "Describe the problem in a few words."),
    ({"category": "aliens"}, "Choose one of: Plumbing, Electrical, WiFi, Cleaning, Noise, Safety, Other."),
    ({"category": ""}, "Choose what the problem is."),
    ({"urgency": "whenever"}, "Choose how urgent it is"),
])
def test_bad_issue_reports_are_refused_in_words_and_write_nothing(arrived, at, fields, words):
    response = at(IN_STAY).post(arrived.url + "/issue", issue(**fields))
    assert response.status_code == 422
    assert words in text_of(response)
    assert not MaintenanceTicket.objects.exists() and not Incident.objects.exists()
    assert not HostNotification.objects.exists() and not AuditLog.objects.exists()
    # What the guest typed is still there to fix.
    if fields.get("description", "").strip():
        assert fields["description"] in response.content.decode()


def test_double_tap_on_the_issue_form_reports_once(arrived, at):
    form = issue(submission="tap-1")
    assert at(IN_STAY).post(arrived.url + "/issue", form).status_code == 303
    again = at(IN_STAY + dt.timedelta(seconds=1)).post(arrived.url + "/issue", form)
    assert again.status_code == 409
    assert "We already have this" in text_of(again)
    assert MaintenanceTicket.objects.count() == 1
    # A new form (a new submission id) is a new report.
    assert at(IN_STAY).post(arrived.url + "/issue", issue(submission="tap-2")).status_code == 303
    assert MaintenanceTicket.objects.count() == 2


def test_each_rendered_form_has_its_own_submission_id(arrived, at):
    html = at(IN_STAY).get(arrived.url).content.decode()
    ids = re.findall(r'name="submission" value="([^"]+)"', html)
    assert ids and all(ids)
    assert ids != re.findall(r'name="submission" value="([^"]+)"', at(IN_STAY).get(arrived.url).content.decode())


# --- add-ons ---------------------------------------------------------------------------------------------------


def test_gx_is_003_addon_request_logged_host_notified_and_audited(arrived, at):
    response = at(IN_STAY).post(arrived.url + "/addon", {"code": "LATE_CHECKOUT"}, follow=True)
    assert response.redirect_chain == [(f"{arrived.url}#addons", 303)]
    text = text_of(response)
    assert "Your request for late check-out has been sent." in text
    assert "Requested. Your host will confirm." in text and "Request late check-out" not in text
    addon = AddonRequest.objects.get()
    assert (addon.code, addon.quoted_price) == ("LATE_CHECKOUT", 700)
    assert HostNotification.objects.filter(kind="ADDON_REQUESTED", booking=arrived.booking).exists()
    [row] = audit_rows(arrived, "portal.addon_requested")
    assert (row.actor, row.details["code"]) == (f"guest:{arrived.booking.guest_id}", "LATE_CHECKOUT")


def test_addon_double_tap_is_refused_in_words(arrived, at):
    at(IN_STAY).post(arrived.url + "/addon", {"code": "EXTRA_CLEANING"})
    again = at(IN_STAY).post(arrived.url + "/addon", {"code": "EXTRA_CLEANING"})
    assert again.status_code == 409
    assert "You have already asked for extra cleaning." in text_of(again)
    assert AddonRequest.objects.count() == 1 and len(audit_rows(arrived, "portal.addon_requested")) == 1


@pytest.mark.parametrize(("code", "status", "words"), [
    ("EARLY_CHECKIN", 409, "cannot be requested at the moment"),  # not offered: no price, and the guest is in
    ("AIRPORT_TRANSFER", 422, "This add-on is not offered."),
    ("SPA", 422, "This add-on is not offered."),
])
def test_addons_not_offered_are_refused(arrived, at, code, status, words):
    response = at(IN_STAY).post(arrived.url + "/addon", {"code": code})
    assert response.status_code == status
    assert words in text_of(response)
    assert not AddonRequest.objects.exists()


def test_early_checkin_request_before_arrival(stay, at):
    s = stay(listing={"supports_early_checkin": True, "early_checkin_price": 900})
    assert at(dt.datetime(2026, 3, 14, 9, 0, tzinfo=UTC)).post(s.url + "/addon", {"code": "EARLY_CHECKIN"}).status_code == 303
    assert AddonRequest.objects.get().code == "EARLY_CHECKIN"


# --- damage ----------------------------------------------------------------------------------------------------


def test_damage_report_on_checkout_day(arrived, at):
    response = at(CHECKOUT_DAY).post(arrived.url + "/damage", {"description": "Broke a glass"}, follow=True)
    assert response.redirect_chain == [(f"{arrived.url}#damage", 303)]
    assert "Your host has been informed" in text_of(response)
    incident = Incident.objects.get()
    assert (incident.incident_type, incident.created_by) == ("DAMAGE", f"guest:{arrived.booking.guest_id}")
    [row] = audit_rows(arrived, "portal.damage_reported")
    assert row.object_id == str(incident.pk)


def test_damage_report_refused_before_checkout_day(arrived, at):
    response = at(IN_STAY).post(arrived.url + "/damage", {"description": "Broke a glass"})
    assert response.status_code == 409
    assert "on your check-out day, 18 Mar 2026" in text_of(response)
    assert not Incident.objects.exists()


@pytest.mark.parametrize(("description", "words"), [("", "Describe the problem"), ("y" * 501, "under 500 characters")])
def test_bad_damage_reports(arrived, at, description, words):
    response = at(CHECKOUT_DAY).post(arrived.url + "/damage", {"description": description})
    assert response.status_code == 422 and words in text_of(response)
    assert not Incident.objects.exists()


# --- review ----------------------------------------------------------------------------------------------------


@pytest.fixture
def left(arrived):
    check_out_guest(arrived.booking, now=LEFT_AT)
    return arrived


AFTER = LEFT_AT + dt.timedelta(hours=3)


def test_review_with_sub_ratings_through_the_page(left, at):
    form = {"overall_rating": "5", "cleanliness_rating": "4", "communication_rating": "", "location_rating": "5",
            "value_rating": "", "comment": "Lovely stay", "submission": "r1"}
    response = at(AFTER).post(left.url + "/review/submit", form, follow=True)
    assert response.redirect_chain == [(f"{left.url}#review", 303)]
    text = text_of(response)
    assert "Thank you for your review!" in text and "You rated your stay 5 out of 5" in text
    review = GuestReview.objects.get()
    assert (review.overall_rating, review.cleanliness_rating, review.communication_rating, review.location_rating,
            review.value_rating, review.comment, review.source) == (5, 4, None, 5, None, "Lovely stay", "PORTAL")
    left.refresh()
    assert left.booking.review_request_status == "REVIEWED"
    [row] = audit_rows(left, "portal.review_submitted")
    assert (row.actor, row.details["overall_rating"], row.ip_address) == (f"guest:{left.booking.guest_id}", 5, "127.0.0.1")


def test_second_review_is_refused_in_words(left, at):
    at(AFTER).post(left.url + "/review/submit", {"overall_rating": "4"})
    again = at(AFTER).post(left.url + "/review/submit", {"overall_rating": "1", "comment": "Changed my mind"})
    assert again.status_code == 409
    assert "You have already reviewed this stay" in text_of(again)
    assert GuestReview.objects.get().overall_rating == 4
    assert len(audit_rows(left, "portal.review_submitted")) == 1


@pytest.mark.parametrize(("fields", "words"), [
    ({"overall_rating": "6"}, "Ratings go from 1 to 5 stars."),
    ({"overall_rating": "0"}, "Ratings go from 1 to 5 stars."),
    ({"overall_rating": "five"}, "Ratings go from 1 to 5 stars."),
    ({}, "Choose a rating from 1 to 5 stars."),
    ({"overall_rating": "4", "value_rating": "9"}, "Ratings go from 1 to 5 stars."),
    ({"overall_rating": "4", "comment": "z" * 2001}, "Keep the comment under 2000 characters"),
])
def test_bad_reviews_are_refused_in_words_and_write_nothing(left, at, fields, words):
    response = at(AFTER).post(left.url + "/review/submit", fields)
    assert response.status_code == 422
    assert words in text_of(response)
    assert not GuestReview.objects.exists() and not AuditLog.objects.exists()
    left.refresh()
    assert left.booking.review_request_status != "REVIEWED"


def test_review_before_checkout_is_refused(arrived, at):
    response = at(IN_STAY).post(arrived.url + "/review/submit", {"overall_rating": "5"})
    assert response.status_code == 409
    assert "after check-out" in text_of(response)
    assert not GuestReview.objects.exists()


def test_low_rating_alerts_the_host(left, at):
    at(AFTER).post(left.url + "/review/submit", {"overall_rating": "1", "comment": "Dirty room"})
    assert HostNotification.objects.filter(kind="LOW_RATING", booking=left.booking).exists()
