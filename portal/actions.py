"""What a guest can do on the portal. Each action calls the domain service (the same one the back office
and the API use), checks the portal's own stage rule first (§8.1), and writes its AuditLog row in the same
transaction (Appendix C): a refused action leaves nothing behind, an accepted one is always audited."""
from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction

from bookings.models import ActionSource, AddonCode, Booking
from bookings.services import check_in_guest
from messaging.rendering import format_date
from operations.models import AuditLog
from operations import services as ops
from portal.access import PortalAccess
from portal.sections import sections_for
from reviews.models import GuestReview
from reviews.services import submit_review


class NotNow(ValidationError):
    """The action exists but not at this point of the stay (HTTP 409)."""


class AlreadySent(ValidationError):
    """A double tap: this very form was submitted already (HTTP 409)."""


def _locked(access: PortalAccess) -> Booking:
    # The row lock serializes two taps of one guest: the second sees what the first wrote.
    return Booking.objects.select_for_update(of=("self",)).select_related("listing__property", "guest").get(
        pk=access.booking.pk
    )


def _audit(access: PortalAccess, action: str, booking: Booking, *, ip: str | None, now: dt.datetime, obj=None,
           **details) -> AuditLog:
    return AuditLog.objects.create(
        actor=access.actor, action=action, booking=booking, ip_address=ip or None, created_at=now,
        object_type=type(obj).__name__ if obj is not None else "", object_id=str(obj.pk) if obj is not None else "",
        details=details,
    )


def _refuse_resubmission(booking: Booking, action: str, submission: str) -> None:
    """Each rendered form carries a random submission id; the audit row remembers it, so the same form
    sent twice (a double tap, a retried POST on a flaky network) is refused rather than reported twice."""
    if submission and AuditLog.objects.filter(booking=booking, action=action, details__submission=submission).exists():
        raise AlreadySent("We already have this. No need to send it again.")


@transaction.atomic
def check_in(access: PortalAccess, *, ip: str | None, now: dt.datetime) -> tuple[Booking, bool]:
    """GX-T04: "I have checked in". A second tap changes nothing and shows the same time (EC-07)."""
    booking = _locked(access)
    if booking.checked_in_at is None and not sections_for(booking, now).checkin_button:
        raise NotNow(_why_no_checkin(booking, now))
    booking, changed = check_in_guest(booking, via=ActionSource.PORTAL, now=now)
    _audit(access, "portal.check_in", booking, ip=ip, now=now, obj=booking, changed=changed)
    return booking, changed


def _why_no_checkin(booking: Booking, now: dt.datetime) -> str:
    if booking.status == "Cancelled":
        return "This booking was cancelled."
    if now.astimezone(booking.tz).date() < booking.checkin_date:
        return f"You can check in here on your arrival day, {format_date(booking.checkin_date)}."
    return "Check-in through this page was open on your arrival day. Please contact your host."


@transaction.atomic
def report_issue(access: PortalAccess, *, category: str, urgency: str, description: str, submission: str = "",
                 ip: str | None, now: dt.datetime):
    """GX-T03: a ticket or an incident, the host alerted at once. Whether it is still allowed after
    check-out (EC-13) is the service's rule."""
    booking = _locked(access)
    _refuse_resubmission(booking, "portal.issue_reported", submission)
    issue = ops.report_guest_issue(booking, category=category, urgency=urgency, description=description, now=now)
    _audit(access, "portal.issue_reported", booking, ip=ip, now=now, obj=issue, category=category, urgency=urgency,
           submission=submission)
    return issue


@transaction.atomic
def report_damage(access: PortalAccess, *, description: str, submission: str = "", ip: str | None, now: dt.datetime):
    """§6.4: the damage report on the check-out page."""
    booking = _locked(access)
    if not sections_for(booking, now).checkout_day:
        raise NotNow(f"You can report damage here on your check-out day, {format_date(booking.checkout_date)}.")
    _refuse_resubmission(booking, "portal.damage_reported", submission)
    incident = ops.report_damage(booking, description=description, now=now)
    _audit(access, "portal.damage_reported", booking, ip=ip, now=now, obj=incident, submission=submission)
    return incident


@transaction.atomic
def request_addon(access: PortalAccess, *, code: str, ip: str | None, now: dt.datetime):
    """§5.4, GX-IS-003: the request is logged and the host told; asking twice is refused in words."""
    booking = _locked(access)
    if code not in sections_for(booking, now).addon_codes:
        raise NotNow("This add-on cannot be requested at the moment. Please contact your host.")
    addon, new = ops.request_addon(booking, code=code, now=now)
    if not new:
        raise AlreadySent(f"You have already asked for {AddonCode(code).label.lower()}. Your host will get back to you.")
    _audit(access, "portal.addon_requested", booking, ip=ip, now=now, obj=addon, code=code)
    return addon


@transaction.atomic
def review(access: PortalAccess, *, ratings: dict, comment: str, submission: str = "", ip: str | None,
           now: dt.datetime) -> GuestReview:
    """§7.2: one review per booking; the service and the database refuse a second."""
    booking = _locked(access)
    if GuestReview.objects.filter(booking=booking).exists():
        raise AlreadySent("You have already reviewed this stay. Thank you!")
    submitted = submit_review(booking, comment=comment, now=now, **ratings)
    _audit(access, "portal.review_submitted", booking, ip=ip, now=now, obj=submitted,
           overall_rating=submitted.overall_rating, submission=submission)
    return submitted
