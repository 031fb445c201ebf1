"""Event types, one place (RA-GUEST-001 Appendix A, plus the booking and stay events that drive them)."""
from __future__ import annotations

# Domain events: written to the outbox by services in the same transaction as the change.
BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
STAY_CHECKED_IN = "stay.checked_in"
STAY_CHECKED_OUT = "stay.checked_out"
BOOKING_DATES_CHANGED = "booking.dates_changed"  # an OTA calendar moved the stay: its schedules are rebuilt
BOOKING_CONTACT_COMPLETED = "booking.contact_completed"  # a calendar booking's guest gave their contact

# Appendix A: guest-domain events (each a message touchpoint unless noted).
GUEST_BOOKING_CONFIRMED = "guest.booking_confirmed"
GUEST_WELCOME = "guest.welcome"
GUEST_PAYMENT_REMINDER = "guest.payment_reminder"
GUEST_HOUSE_RULES = "guest.house_rules"
GUEST_CHECKIN_INSTRUCTIONS = "guest.checkin_instructions"
GUEST_LOCATION = "guest.location"
GUEST_EARLY_CHECKIN_OFFER = "guest.early_checkin_offer"
GUEST_ID_VERIFICATION = "guest.id_verification"
GUEST_SATISFACTION_CHECK = "guest.satisfaction_check"
GUEST_ADDON_REQUEST = "guest.addon_request"  # alert to the host: a guest asked for an add-on
GUEST_CHECKOUT_REMINDER = "guest.checkout_reminder"  # carries the checklist and damage link (§6.1 #2, #3)
GUEST_REVIEW_REQUEST = "guest.review_request"
GUEST_REVIEW_REMINDER = "guest.review_reminder"
GUEST_COUPON_ISSUED = "guest.coupon_issued"
GUEST_REENGAGEMENT = "guest.reengagement"
GUEST_NOT_CHECKED_IN = "guest.not_checked_in"  # alert to the host
GUEST_ISSUE_REPORTED = "guest.issue_reported"  # alert to the host
GUEST_ISSUE_RESOLVED = "guest.issue_resolved"
STAY_AUTO_CHECKOUT_DUE = "stay.auto_checkout_due"  # a timer, not a message

# §5.1 touchpoints the appendix has no constant for.
GUEST_ADDON_OFFER = "guest.addon_offer"  # day-2 add-on upsell, stays of 3+ nights
GUEST_MIDSTAY_CHECK = "guest.midstay_check"  # midpoint check, stays of 5+ nights
GUEST_ISSUE_ESCALATED = "guest.issue_escalated"  # §5.5: emergency or unacknowledged issue, to the host

# Personalization design, use 1 and 5: the day before arrival the room is set up and proactive touches planned.
STAY_PREPARE_ARRIVAL = "stay.prepare_arrival"  # a timer, not a message
GUEST_PROACTIVE_WIFI = "guest.proactive_wifi"  # a past WiFi complaint: the WiFi details first, unasked
GUEST_PROACTIVE_LATE_CHECKOUT = "guest.proactive_late_checkout"  # late check-out offered before it is asked for

DOMAIN_EVENTS = frozenset({BOOKING_CONFIRMED, BOOKING_CANCELLED, STAY_CHECKED_IN, STAY_CHECKED_OUT, BOOKING_DATES_CHANGED,
                           BOOKING_CONTACT_COMPLETED})

# Events that are timers for the system, not messages to anyone.
SYSTEM_EVENTS = frozenset({STAY_AUTO_CHECKOUT_DUE, STAY_PREPARE_ARRIVAL})


def is_guest_experience_event(event_type: str) -> bool:
    return event_type.startswith("guest.")


def is_message_event(event_type: str) -> bool:
    return is_guest_experience_event(event_type)
