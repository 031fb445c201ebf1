"""The template editor's preview (RA-GUEST-001 §9.2: "pre-send preview with sample data").

A template is rendered exactly as a real send renders it: the variables come from `booking_variables` (here fed
unsaved sample rows instead of a real booking) and the text from `delivery.compose` (pybars, per channel, the
email's HTML part and unsubscribe footer). So the preview cannot drift from what guests get. Nothing here writes:
the sample rows and the log are never saved, and no provider is called.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal

from pybars import PybarsError

from bookings.models import Booking, Listing, ListingAccessInfo, ListingType, Property
from guests.models import Guest
from messaging.delivery import compose
from messaging.models import Channel, CommunicationLog, MessageTemplate
from messaging.rendering import render
from messaging.template_syntax import template_errors
from messaging.variables import booking_variables
from portal.services import tenant_url
from tenants.current import current_tenant

logger = logging.getLogger(__name__)

# The spec's own examples (§9.2 table), with a test phone number.
SAMPLE_TOKEN = "sample-preview"
SAMPLE_BOOKING_ID = 12345
SAMPLE_GUEST = {"name": "Priya Sharma", "phone": "+919876500123", "email": "priya.sharma@example.com",
                "referral_code": "a3x-k9m2"}
SAMPLE_PROPERTY = {"name": "Sunset Villa", "address": "123 MG Road, Bangalore", "contact_phone": "+919876500000",
                   "house_rules": "No smoking indoors. Quiet hours after 10 pm."}
SAMPLE_LISTING = {"name": "Deluxe Room 201", "listing_type": ListingType.PRIVATE_ROOM, "checkin_time": dt.time(14, 0),
                  "checkout_time": dt.time(11, 0), "wifi_name": "SunsetVilla_5G", "wifi_password": "welcome2026",
                  "early_checkin_price": Decimal("900")}
SAMPLE_ACCESS = {"access_code": "4521", "map_url": "https://maps.example.com/sunset-villa"}
SAMPLE_STAY = {"checkin_date": dt.date(2026, 3, 15), "checkout_date": dt.date(2026, 3, 18), "guests_planned": 2,
               "total_amount": Decimal("8500"), "final_amount": Decimal("8500"), "amount_received": Decimal("5500")}
# What particular touchpoints add (an issue report, an add-on request) and what a tenant may not have set yet.
SAMPLE_EXTRA = {"category": "WiFi", "description": "The WiFi drops every few minutes", "issue": "ticket:1",
                "addon_name": "Early check-in", "offer_name": "an extra cleaning", "offer_price": "₹400",
                "direct_booking_url": "https://book.example.com/sunset-villa"}
# Longer than any message a channel carries (WhatsApp: 4,096 characters); beyond it a preview is refused.
MAX_PREVIEW_CHARS = 50_000
FIELDS = ("subject", "body", "html_body")
FIELD_LABELS = {"subject": "Subject", "body": "Body", "html_body": "HTML body"}


@dataclass
class Preview:
    """What the editor shows: the rendered message, the problems that block saving, and the variables that
    would be left as written (`{{name}}`) at send time."""

    channel: str
    text: str = ""
    subject: str = ""
    html: str = ""
    errors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def is_email(self) -> bool:
        return self.channel == Channel.EMAIL


def sample_booking(prop: Property | None = None) -> Booking:
    """An unsaved booking with its guest, listing and access details; `prop` is the template's own property
    when it has one, so a property's template shows its name, address and phone."""
    listing = Listing(property=prop or Property(**SAMPLE_PROPERTY), **SAMPLE_LISTING)
    listing.access_info = ListingAccessInfo(**SAMPLE_ACCESS)  # caches the reverse one-to-one: no query
    booking = Booking(guest=Guest(**SAMPLE_GUEST), listing=listing, **SAMPLE_STAY)
    booking.pk = SAMPLE_BOOKING_ID
    return booking


def sample_variables(prop: Property | None = None) -> dict:
    tenant = current_tenant()
    variables = booking_variables(sample_booking(prop), token=SAMPLE_TOKEN,
                                  coupon_code=f"{tenant.coupon_prefix}10-X7K9M2")
    for name, value in SAMPLE_EXTRA.items():
        variables.setdefault(name, value)
    variables.setdefault("referral_link", f"{variables['direct_booking_url']}?ref={SAMPLE_GUEST['referral_code']}")
    variables.setdefault("unsubscribe_link", tenant_url("/unsubscribe/sample-preview"))
    return variables


def preview(template: MessageTemplate) -> Preview:
    """Render a template, saved or not, on sample data. Never raises for what a host may type."""
    result = Preview(channel=template.channel)
    too_long = [f for f in FIELDS if len(getattr(template, f) or "") > MAX_PREVIEW_CHARS]
    if too_long:
        result.errors = [f"{FIELD_LABELS[f]}: longer than {MAX_PREVIEW_CHARS:,} characters; no channel carries that."
                         for f in too_long]
        return result
    for name in FIELDS:  # the checks saving makes (MessageTemplate.clean)
        source = getattr(template, name)
        if source:
            result.errors += [f"{FIELD_LABELS[name]}: {problem}" for problem in template_errors(source)]
    prop = template.property if template.property_id else None
    variables = sample_variables(prop)
    # An unsaved log row: compose reads its event and guest. No guest, so an email's footer gets no signed
    # unsubscribe link: a working one would let whoever opens it revoke a real guest's consent.
    log = CommunicationLog(event_type=template.event_type, channel=template.channel)
    try:
        message = compose(template, variables, template.channel, log)
        result.missing = _unresolved(template, variables)
    except (PybarsError, RecursionError, TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        # pybars raises these for some malformed input; the host gets a sentence, not a server error.
        logger.info("template preview failed: %s", exc)
        result.errors.append(f"The template cannot be rendered: {exc}")
        return result
    result.text, result.subject, result.html = message.body, message.subject, message.html
    return result


def _unresolved(template: MessageTemplate, variables: dict) -> list[str]:
    """The variables the sample could not fill, in the fields this channel sends (subject and HTML: email only)."""
    used = FIELDS if template.channel == Channel.EMAIL else ("body",)
    names: dict[str, None] = {}
    for name in used:
        if getattr(template, name):
            names.update(dict.fromkeys(render(getattr(template, name), variables).missing))
    return list(names)
