"""The default message texts (RA-GUEST-001 Appendix B, with the spec's own wording from §3.2, §4.3, §5.1,
§5.2, §6.2, §7.1, §7.6). Templates are Handlebars; `{{variables}}` are those of §9.2."""
from __future__ import annotations

from dataclasses import dataclass

from messaging import events as ev


@dataclass(frozen=True)
class DefaultTemplate:
    key: str
    event_type: str
    channel: str
    category: str
    body: str
    subject: str = ""


BOOKING_CONFIRMED = """{{#if returning_guest}}Welcome back, {{guest_name}}!{{else}}Hi {{guest_name}}! 🎉{{/if}}

Your stay at {{property_name}} is confirmed!

📅 Check-in: {{checkin_date}} at {{checkin_time}}
📅 Check-out: {{checkout_date}} at {{checkout_time}}
🏠 {{listing_name}} ({{listing_type}})
👤 Guests: {{guest_count}}
💰 Total: {{total_amount}}
{{#if balance_due}}
⚠ Balance due: {{balance_due}} — we'll send a reminder closer to your stay.
{{/if}}
Your booking details: {{portal_link}}

Questions? Reply here or call {{host_phone}}.

— {{host_name}}"""

CHECKIN_INSTRUCTIONS = """Hi {{guest_name}},

Your stay at {{property_name}} starts tomorrow! Here's everything you need:

⏰ Check-in time: {{checkin_time}}
📍 Address: {{property_address}}
🗺 Directions: {{map_link}}

{{#if access_code}}
🔑 Access code: {{access_code}}
{{else}}
🔑 Our staff will meet you at the property.
{{/if}}

📶 WiFi: {{wifi_name}} / {{wifi_password}}

📋 Check-in link: {{checkin_portal_link}}
Please tap "I have checked in" when you arrive.

Need help? Call {{host_phone}}.

— {{host_name}}"""

CHECKOUT_REMINDER = """Hi {{guest_name}},

Your check-out from {{property_name}} is tomorrow at {{checkout_time}}.

📋 Before you leave:
✅ Return all keys/remotes
✅ Check for personal belongings
✅ Close windows and lock doors
✅ Leave used towels in bathroom
✅ Switch off AC and lights

⚠ Any damages to report? Tap here: {{damage_report_link}}

Thank you for staying with us!

— {{host_name}}"""

REVIEW_REQUEST = """Hi {{guest_name}},

Thank you for staying at {{property_name}}! We hope you had a wonderful time.

Your feedback helps us improve. Would you mind leaving a quick review?

⭐ Rate your stay: {{review_link}}

It takes just 30 seconds. Thank you!

— {{host_name}}"""

T, I, M, E, A = "TRANSACTIONAL", "INFORMATIONAL", "MARKETING", "ENGAGEMENT", "ALERT"

CATALOGUE: tuple[DefaultTemplate, ...] = (
    DefaultTemplate("BOOKING_CONFIRMED_WA", ev.GUEST_BOOKING_CONFIRMED, "WHATSAPP", T, BOOKING_CONFIRMED),
    DefaultTemplate(
        "BOOKING_CONFIRMED_SMS",
        ev.GUEST_BOOKING_CONFIRMED,
        "SMS",
        T,
        "{{host_name}}: stay confirmed {{checkin_date}}-{{checkout_date}}. Details: {{portal_link}}",
    ),
    DefaultTemplate(
        "BOOKING_CONFIRMED_EMAIL",
        ev.GUEST_BOOKING_CONFIRMED,
        "EMAIL",
        T,
        BOOKING_CONFIRMED,
        subject="Your stay at {{property_name}} is confirmed",
    ),
    DefaultTemplate(
        "WELCOME_WA",
        ev.GUEST_WELCOME,
        "WHATSAPP",
        T,
        "Hi {{guest_name}}, we're looking forward to hosting you at {{property_name}} on {{checkin_date}}! "
        "Everything about your stay is here: {{portal_link}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "PAYMENT_REMINDER_WA",
        ev.GUEST_PAYMENT_REMINDER,
        "WHATSAPP",
        T,
        "Hi {{guest_name}}, a friendly reminder: {{balance_due}} is due for your stay at {{property_name}} "
        "from {{checkin_date}}. Details: {{portal_link}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "PAYMENT_REMINDER_SMS",
        ev.GUEST_PAYMENT_REMINDER,
        "SMS",
        T,
        "{{host_name}}: {{balance_due}} due for your stay from {{checkin_date}}. {{portal_link}}",
    ),
    DefaultTemplate(
        "HOUSE_RULES_WA",
        ev.GUEST_HOUSE_RULES,
        "WHATSAPP",
        I,
        "Hi {{guest_name}}, a few house rules for {{property_name}}:\n\n{{house_rules}}\n\nThank you!\n— {{host_name}}",
    ),
    DefaultTemplate("CHECKIN_INSTRUCTIONS_WA", ev.GUEST_CHECKIN_INSTRUCTIONS, "WHATSAPP", T, CHECKIN_INSTRUCTIONS),
    DefaultTemplate(
        "CHECKIN_INSTRUCTIONS_SMS",
        ev.GUEST_CHECKIN_INSTRUCTIONS,
        "SMS",
        T,
        "{{host_name}}: check-in {{checkin_time}}.{{#if access_code}} Code {{access_code}}.{{/if}} {{checkin_portal_link}}",
    ),
    DefaultTemplate(
        "LOCATION_WA",
        ev.GUEST_LOCATION,
        "WHATSAPP",
        I,
        "📍 {{property_name}}, {{property_address}}\n🗺 {{map_link}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "EARLY_CHECKIN_OFFER_WA",
        ev.GUEST_EARLY_CHECKIN_OFFER,
        "WHATSAPP",
        M,
        "Hi {{guest_name}}, arriving early tomorrow? Early check-in is available at {{property_name}}"
        "{{#if early_checkin_price}} for {{early_checkin_price}}{{/if}}. Request it here: {{portal_link}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "ID_VERIFICATION_WA",
        ev.GUEST_ID_VERIFICATION,
        "WHATSAPP",
        T,
        "Hi {{guest_name}}, please keep a government photo ID ready for check-in at {{property_name}}.\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "SATISFACTION_CHECK_WA",
        ev.GUEST_SATISFACTION_CHECK,
        "WHATSAPP",
        E,
        "Hi {{guest_name}}, how's your stay at {{property_name}} so far? Everything good? Reply if you need anything!",
    ),
    DefaultTemplate(
        "ADDON_OFFER_WA",
        ev.GUEST_ADDON_OFFER,
        "WHATSAPP",
        M,
        "Hi {{guest_name}}, would you like a late check-out or an extra cleaning during your stay at "
        "{{property_name}}? Request it here: {{portal_link}}\n\n— {{host_name}}",
    ),
    # Personalization: the day-2 offer of the add-on this guest is most likely to want (uses.py decides).
    DefaultTemplate(
        "ADDON_OFFER_PERSONAL_WA",
        ev.GUEST_ADDON_OFFER,
        "WHATSAPP",
        M,
        "Hi {{guest_name}}, would you like {{offer_name}} ({{offer_price}}) during your stay at {{property_name}}? "
        "Request it here: {{portal_link}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "PROACTIVE_WIFI_WA",
        ev.GUEST_PROACTIVE_WIFI,
        "WHATSAPP",
        I,
        "Hi {{guest_name}}, so you are online from the first minute at {{listing_name}}: WiFi {{wifi_name}}, "
        "password {{wifi_password}}. If it gives any trouble, tell us here and we fix it at once.\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "PROACTIVE_LATE_CHECKOUT_WA",
        ev.GUEST_PROACTIVE_LATE_CHECKOUT,
        "WHATSAPP",
        M,
        "Hi {{guest_name}}, no rush tomorrow: a late check-out is available for {{offer_price}}. "
        "Request it here: {{portal_link}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "MIDSTAY_CHECK_WA",
        ev.GUEST_MIDSTAY_CHECK,
        "WHATSAPP",
        E,
        "Hope you're enjoying your stay! Need anything? Reply here or call {{host_phone}}.\n\n— {{host_name}}",
    ),
    DefaultTemplate("CHECKOUT_REMINDER_WA", ev.GUEST_CHECKOUT_REMINDER, "WHATSAPP", T, CHECKOUT_REMINDER),
    DefaultTemplate("REVIEW_REQUEST_WA", ev.GUEST_REVIEW_REQUEST, "WHATSAPP", E, REVIEW_REQUEST),
    DefaultTemplate(
        "REVIEW_REMINDER_WA",
        ev.GUEST_REVIEW_REMINDER,
        "WHATSAPP",
        E,
        "Hi {{guest_name}}, if you have a moment, we'd love to hear about your stay at {{property_name}}: "
        "{{review_link}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "REVIEW_REMINDER_EMAIL",
        ev.GUEST_REVIEW_REMINDER,
        "EMAIL",
        E,
        "Hi {{guest_name}},\n\nNo pressure at all — if you'd like to tell us how your stay at {{property_name}} "
        "went, it takes half a minute: {{review_link}}\n\nWarm regards,\n{{host_name}}",
        subject="How was your stay at {{property_name}}?",
    ),
    DefaultTemplate(
        "COUPON_ISSUED_WA",
        ev.GUEST_COUPON_ISSUED,
        "WHATSAPP",
        M,
        "Hi {{guest_name}}, thank you for staying at {{property_name}}! Book direct next time and save with your "
        "exclusive code {{coupon_code}}: {{direct_booking_url}}\n\nShare your link with friends — you both save: "
        "{{referral_link}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "REENGAGEMENT_30D_WA",
        ev.GUEST_REENGAGEMENT,
        "WHATSAPP",
        M,
        "We miss you at {{property_name}}! Planning your next trip? Book direct and save with your exclusive code: "
        "{{coupon_code}}\n{{direct_booking_url}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "REENGAGEMENT_90D_WA",
        ev.GUEST_REENGAGEMENT,
        "WHATSAPP",
        M,
        "Hi {{guest_name}}, the season is changing at {{property_name}} — come back and see! Book direct: "
        "{{direct_booking_url}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "REENGAGEMENT_ANNIVERSARY_WA",
        ev.GUEST_REENGAGEMENT,
        "WHATSAPP",
        M,
        "It's been a year since your stay at {{property_name}}! Ready for round two? {{direct_booking_url}}\n\n— {{host_name}}",
    ),
    DefaultTemplate(
        "NOT_CHECKED_IN_HOST_WA",
        ev.GUEST_NOT_CHECKED_IN,
        "WHATSAPP",
        A,
        "Guest {{guest_name}} has not checked in for booking #{{booking_id}}. Check-in was expected at {{checkin_time}}.",
    ),
    DefaultTemplate(
        "ISSUE_REPORTED_HOST_WA",
        ev.GUEST_ISSUE_REPORTED,
        "WHATSAPP",
        A,
        "Guest {{guest_name}} reported an issue: {{category}} — {{description}}",
    ),
    DefaultTemplate(
        "ISSUE_ESCALATED_HOST_WA",
        ev.GUEST_ISSUE_ESCALATED,
        "WHATSAPP",
        A,
        "ESCALATION: {{category}} issue at {{property_name}} (booking #{{booking_id}}) — {{description}}",
    ),
    DefaultTemplate(
        "ADDON_REQUEST_HOST_WA",
        ev.GUEST_ADDON_REQUEST,
        "WHATSAPP",
        A,
        "Guest {{guest_name}} (booking #{{booking_id}}, {{listing_name}}) requested: {{addon_name}}.",
    ),
    DefaultTemplate(
        "ISSUE_RESOLVED_GUEST_WA",
        ev.GUEST_ISSUE_RESOLVED,
        "WHATSAPP",
        T,
        "Your reported issue ({{category}}) has been resolved. Thank you for your patience!",
    ),
)

REENGAGEMENT_KEYS = {"30D": "REENGAGEMENT_30D_WA", "90D": "REENGAGEMENT_90D_WA", "ANNIVERSARY": "REENGAGEMENT_ANNIVERSARY_WA"}


def default_templates(event_type: str, channel: str) -> list[DefaultTemplate]:
    return [t for t in CATALOGUE if t.event_type == event_type and t.channel == channel]
