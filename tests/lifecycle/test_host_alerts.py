"""Host alerts through the one messaging entry point: issues (§5.2, GX-IS-001, EC-13), escalation (§5.5),
add-on requests (GX-IS-003), damage reports (§6.4) and the guest's "resolved" notice."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from bookings.models import AddonRequest
from bookings.services import check_in_guest, check_out_guest
from messaging import events as ev
from messaging.models import CommunicationLog, SandboxMessage
from operations.models import HostNotification, Incident, MaintenanceTicket
from operations.services import acknowledge_issue, report_damage, report_guest_issue, request_addon, resolve_issue
from tests.factories import make_listing, make_property

UTC = dt.timezone.utc
ARRIVED_AT = dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
REPORTED_AT = dt.datetime(2026, 3, 16, 14, 0, tzinfo=UTC)  # 19:30 IST


@pytest.fixture
def checked_in(book, tick):
    listing = make_listing(make_property(manager_phone="+919876500077"), late_checkout_price=700)
    booking = book(listing=listing)
    tick(dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
    check_in_guest(booking, now=ARRIVED_AT)
    tick(ARRIVED_AT)
    return booking


def sent_to(log_key_part: str):
    return SandboxMessage.objects.filter(log__idempotency_key__contains=log_key_part)


def test_gx_t03_urgent_plumbing_report_creates_high_ticket_and_alerts_host_at_once(checked_in, tick):
    ticket = report_guest_issue(checked_in, category="plumbing", urgency="urgent", description="Shower not working",
                                now=REPORTED_AT)
    tick(REPORTED_AT)
    assert isinstance(ticket, MaintenanceTicket)
    assert (ticket.listing_id, ticket.booking_id, ticket.ticket_type, ticket.severity, ticket.created_by) == (
        checked_in.listing_id, checked_in.pk, "PLUMBING", "HIGH", f"guest:{checked_in.guest_id}")
    alert = sent_to(":guest.issue_reported:1").get()
    assert alert.to == checked_in.listing.property.contact_phone
    assert alert.body == f"Guest {checked_in.guest.name} reported an issue: Plumbing — Shower not working"
    assert HostNotification.objects.filter(booking=checked_in, kind="ISSUE_REPORTED").exists()


@pytest.mark.parametrize(("category", "urgency", "model", "kind", "severity"), [
    ("electrical", "not_urgent", MaintenanceTicket, "ELECTRICAL", "LOW"),
    ("wifi", "urgent", MaintenanceTicket, "WIFI", "HIGH"),
    ("noise", "urgent", Incident, "NOISE", "HIGH"),
    ("safety", "emergency", Incident, "SAFETY", "P0"),
    ("other", "not_urgent", Incident, "OTHER", "LOW"),
])
def test_gx_is_001_categories_and_urgency_map_to_ticket_or_incident(checked_in, category, urgency, model, kind, severity):
    issue = report_guest_issue(checked_in, category=category, urgency=urgency, description="Please help", now=REPORTED_AT)
    assert isinstance(issue, model)
    assert (getattr(issue, "ticket_type", None) or issue.incident_type, issue.severity) == (kind, severity)


def test_unacknowledged_issue_escalates_to_the_manager_after_30_minutes(checked_in, tick):
    report_guest_issue(checked_in, category="wifi", urgency="urgent", description="No internet", now=REPORTED_AT)
    tick(REPORTED_AT)
    tick(REPORTED_AT + dt.timedelta(minutes=29))
    assert not sent_to(":guest.issue_escalated:").exists()
    tick(REPORTED_AT + dt.timedelta(minutes=30))
    escalation = sent_to(":guest.issue_escalated:1").get()
    assert escalation.to == "+919876500077"
    assert "ESCALATION: WiFi issue" in escalation.body


def test_acknowledged_issue_does_not_escalate(checked_in, tick):
    ticket = report_guest_issue(checked_in, category="wifi", urgency="urgent", description="No internet", now=REPORTED_AT)
    tick(REPORTED_AT)
    assert acknowledge_issue(ticket, now=REPORTED_AT + dt.timedelta(minutes=10))
    tick(REPORTED_AT + dt.timedelta(minutes=31))
    assert not sent_to(":guest.issue_escalated:").exists()
    assert checked_in.schedules.get(event_type=ev.GUEST_ISSUE_ESCALATED).reason == "issue acknowledged in time"


def test_emergency_reaches_host_manager_and_atlas_admin_at_once_even_at_night(checked_in, tick, settings):
    settings.PLATFORM_ALERT_PHONE = "+919876500099"
    night = dt.datetime(2026, 3, 16, 20, 0, tzinfo=UTC)  # 01:30 IST
    report_guest_issue(checked_in, category="safety", urgency="emergency", description="Smell of gas", now=night)
    tick(night)
    recipients = set(SandboxMessage.objects.filter(event_type__in=[ev.GUEST_ISSUE_REPORTED, ev.GUEST_ISSUE_ESCALATED])
                     .values_list("to", flat=True))
    assert recipients == {checked_in.listing.property.contact_phone, "+919876500077", "+919876500099"}


def test_two_reports_on_one_booking_alert_twice(checked_in, tick):
    report_guest_issue(checked_in, category="wifi", urgency="urgent", description="First", now=REPORTED_AT)
    report_guest_issue(checked_in, category="noise", urgency="urgent", description="Second", now=REPORTED_AT)
    tick(REPORTED_AT)
    assert SandboxMessage.objects.filter(event_type=ev.GUEST_ISSUE_REPORTED).count() == 2


def test_ec_13_report_after_checkout_is_an_incident_within_24_hours_only(checked_in, tick):
    left = dt.datetime(2026, 3, 18, 5, 30, tzinfo=UTC)
    check_out_guest(checked_in, now=left)
    issue = report_guest_issue(checked_in, category="plumbing", urgency="not_urgent", description="Tap leaked",
                               now=left + dt.timedelta(hours=23))
    assert isinstance(issue, Incident)
    with pytest.raises(ValidationError, match="up to 24 hours after check-out"):
        report_guest_issue(checked_in, category="plumbing", urgency="not_urgent", description="Late",
                           now=left + dt.timedelta(hours=25))


def test_bad_reports_are_refused_with_clear_words_and_write_nothing(book, checked_in):
    long_text = "x" * 501
    cases = [
        (dict(category="plumbing", urgency="urgent", description=long_text), "under 500 characters"),
        (dict(category="plumbing", urgency="urgent", description="   "), "Describe the problem"),
        (dict(category="aliens", urgency="urgent", description="Help"), "Choose one of"),
        (dict(category="plumbing", urgency="soon", description="Help"), "how urgent"),
    ]
    for kwargs, words in cases:
        with pytest.raises(ValidationError, match=words):
            report_guest_issue(checked_in, now=REPORTED_AT, **kwargs)
    with pytest.raises(ValidationError, match="once you have checked in"):
        report_guest_issue(book(), category="wifi", urgency="urgent", description="Help", now=REPORTED_AT)
    assert not MaintenanceTicket.objects.exists() and not Incident.objects.exists()


def test_resolving_a_guest_issue_tells_the_guest(checked_in, tick):
    ticket = report_guest_issue(checked_in, category="plumbing", urgency="urgent", description="Shower", now=REPORTED_AT)
    resolved_at = REPORTED_AT + dt.timedelta(hours=1)
    assert resolve_issue(ticket, now=resolved_at)
    assert not resolve_issue(ticket, now=resolved_at)  # once
    tick(resolved_at)
    notice = SandboxMessage.objects.get(event_type=ev.GUEST_ISSUE_RESOLVED)
    assert notice.to == checked_in.guest.phone
    assert notice.body == "Your reported issue (Plumbing) has been resolved. Thank you for your patience!"


def test_gx_is_003_addon_request_is_logged_and_the_host_told_once(checked_in, tick):
    addon, new = request_addon(checked_in, code="LATE_CHECKOUT", now=REPORTED_AT)
    again, new_again = request_addon(checked_in, code="LATE_CHECKOUT", now=REPORTED_AT + dt.timedelta(seconds=2))
    tick(REPORTED_AT)
    assert (new, new_again, again.pk) == (True, False, addon.pk)
    assert AddonRequest.objects.get().quoted_price == 700
    alert = SandboxMessage.objects.get(event_type=ev.GUEST_ADDON_REQUEST)
    assert alert.to == checked_in.listing.property.contact_phone
    assert "requested: Late check-out" in alert.body


def test_damage_report_is_a_damage_incident_and_alerts_the_host(checked_in, tick):
    incident = report_damage(checked_in, description="Broke a glass", now=REPORTED_AT)
    tick(REPORTED_AT)
    assert (incident.incident_type, incident.created_by) == ("DAMAGE", f"guest:{checked_in.guest_id}")
    assert "reported an issue: Damage — Broke a glass" in SandboxMessage.objects.get(event_type=ev.GUEST_ISSUE_REPORTED).body
    assert CommunicationLog.objects.filter(event_type=ev.GUEST_ISSUE_REPORTED, recipient="HOST", status="SENT").count() == 1
