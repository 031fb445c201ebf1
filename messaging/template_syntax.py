"""Template checks at save time. pybars renders a malformed template (`{{#if x}}oops`) as empty text
without an error, so a host's typo would silently send blank messages; we check the tags ourselves."""
from __future__ import annotations

import re

from pybars import Compiler, PybarsError

# RA-GUEST-001 §9.2, plus the variables particular touchpoints add.
STANDARD_VARIABLES = frozenset({
    "guest_name", "guest_phone", "property_name", "property_address", "listing_name", "listing_type",
    "checkin_date", "checkout_date", "checkin_time", "checkout_time", "guest_count", "total_amount",
    "balance_due", "booking_id", "portal_link", "checkin_portal_link", "review_link", "damage_report_link",
    "wifi_name", "wifi_password", "access_code", "map_link", "host_name", "host_phone", "coupon_code",
    "guest_referral_code",
})
EXTRA_VARIABLES = frozenset({
    "returning_guest", "house_rules", "direct_booking_url", "referral_link", "early_checkin_price",
    "category", "description", "addon_name", "unsubscribe_link", "issue", "offer_name", "offer_price",
})
KNOWN_VARIABLES = STANDARD_VARIABLES | EXTRA_VARIABLES
BLOCK_HELPERS = frozenset({"if", "unless", "each", "with"})

_TAG = re.compile(r"{{(?P<triple>{)?~?\s*(?P<sigil>[#/^!>&]?)\s*(?P<body>[^{}]*?)\s*~?}}(?(triple)})")
_compiler = Compiler()


def template_errors(source: str) -> list[str]:
    """Problems a host can fix, in the words of the editor. Empty when the template is sound."""
    errors: list[str] = []
    stack: list[str] = []
    consumed = 0
    for match in _TAG.finditer(source):
        if "{{" in source[consumed:match.start()]:
            errors.append(f"“{{{{” at character {source.index('{{', consumed) + 1} is not closed with “}}}}”.")
        consumed = match.end()
        sigil, body = match["sigil"], match["body"]
        word = body.split()[0] if body.split() else ""
        if sigil == "!":
            continue
        if sigil == "#":
            if word not in BLOCK_HELPERS:
                errors.append(f"{{{{#{word}}}}} is not a block we know; use #if, #unless, #each or #with.")
            stack.append(word)
            _check_variables(body.split()[1:], errors)
        elif sigil == "/":
            if not stack:
                errors.append(f"{{{{/{word}}}}} closes a block that was never opened.")
            elif stack[-1] != word:
                errors.append(f"{{{{/{word}}}}} closes {{{{#{stack[-1]}}}}}: close it with {{{{/{stack[-1]}}}}}.")
                stack.pop()
            else:
                stack.pop()
        elif sigil == ">":
            errors.append("Partials ({{> …}}) are not available in message templates.")
        elif word == "else":
            if not stack:
                errors.append("{{else}} must be inside an {{#if}} or {{#unless}} block.")
        else:
            _check_variables([word], errors)
    if "{{" in source[consumed:]:
        errors.append(f"“{{{{” at character {source.index('{{', consumed) + 1} is not closed with “}}}}”.")
    for word in reversed(stack):
        errors.append(f"{{{{#{word}}}}} is never closed: add {{{{/{word}}}}}.")
    if not errors:
        try:
            _compiler.compile(source)
        except PybarsError as exc:
            errors.append(f"The template cannot be read: {exc}.")
    return errors


def _check_variables(words: list[str], errors: list[str]) -> None:
    for word in words:
        name = word.split(".")[0]
        if name in ("this", "@index", "@key") or not name or not name[0].isalpha():
            continue
        if name not in KNOWN_VARIABLES:
            known = ", ".join(sorted(STANDARD_VARIABLES))
            errors.append(f"{{{{{name}}}}} is not a variable we can fill. Available: {known}.")
