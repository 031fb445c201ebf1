"""The guest portal (RA-GUEST-001 §8): `/guest/<token>` on the host's domain. No login: the link is the key.

Thin views: `portal_view` resolves the link (expiry, review window, rate limit), the actions module does
the work through the domain services, and `sections_for` decides what shows. `now` is read once per request
from django.utils.timezone.now, so tests can freeze it.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from functools import lru_cache, wraps

from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.middleware.gzip import re_accepts_gzip
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET, require_POST

from bookings.models import OTA_SOURCES, AddonCode, Booking, PropertyRecommendation
from coupons.models import CouponStatus, GuestCoupon
from guests.phones import display_phone
from messaging.rendering import format_date, format_inr, format_time
from operations.services import ADDON_PRICE_FIELD
from portal import actions, pagecache
from portal.access import PortalAccess, find_access, over_rate_limit, review_deadline
from portal.forms import AddonForm, ConsentForm, ContactForm, DamageForm, IssueForm, ReviewForm
from personalization.models import Use
from portal.sections import Sections, sections_for
from reviews.models import GuestReview
from tenants.current import current_tenant

ACKNOWLEDGED = "We've received your report and our team is on it."  # GX-T03, §5.2
EXPIRED = "This link has expired. Contact your host for assistance."  # EC-06
RATE_LIMITED = "This page has been opened very often in the last hour. Please wait a little and try again."


# --- access -------------------------------------------------------------------------------------------------


def portal_view(*, review_only_ok: bool = False, page_view: bool = False):
    """Resolve `<token>` into a PortalAccess, or answer 404 (unknown, expired) or 429 (over the limit)."""

    def decorate(view):
        @wraps(view)
        def wrapper(request: HttpRequest, token: str, *args, **kwargs) -> HttpResponse:
            response = _answer(request, token, view, args, kwargs)
            response["X-Robots-Tag"] = "noindex"  # links are private, whoever posts one somewhere
            return response

        def _answer(request: HttpRequest, token: str, view, args, kwargs) -> HttpResponse:
            now = timezone.now()
            access = find_access(token, now)
            if access is None:
                return expired(request)
            only_review_left = access.review_only and not review_only_ok  # the portal has expired (EC-08)
            if over_rate_limit(access, now, page_view=page_view and not only_review_left):
                return notice(request, RATE_LIMITED, status=429)
            if only_review_left:
                return expired(request, access, now)
            return view(request, access, now, *args, **kwargs)

        return never_cache(wrapper)  # the page carries the access code: no shared or stale copies

    return decorate


def expired(request: HttpRequest, access: PortalAccess | None = None, now: dt.datetime | None = None) -> HttpResponse:
    """EC-06. A guest whose review window is still open (EC-08) also gets the way to it."""
    review_url = None
    if access is not None and now is not None and now < review_deadline(access.booking):
        if not GuestReview.objects.filter(booking=access.booking).exists():
            review_url = _base(access) + "/review"
    return notice(request, EXPIRED, status=404, review_url=review_url)


def notice(request: HttpRequest, message: str, *, status: int, **extra) -> HttpResponse:
    return render(request, "portal/notice.html", {"tenant": current_tenant(), "message": message, **extra}, status=status)


def _base(access: PortalAccess) -> str:
    return reverse("portal:home", args=[access.token])


def _ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _see_other(url: str) -> HttpResponse:
    response = HttpResponseRedirect(url)
    response.status_code = 303  # after a POST, the page is fetched with GET
    return response


def _done(request: HttpRequest, access: PortalAccess, section: str, text: str = "") -> HttpResponse:
    if text:
        messages.success(request, text, extra_tags=section)
    return _see_other(f"{_base(access)}#{section}")


def _failed(form, exc: ValidationError) -> int:
    """Put the service's words on the form. Field errors are bad input (422); the rest are a refusal of
    the action as things stand (409: already sent, not at this point of the stay)."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return 422
    form.add_error(None, exc.messages)
    return 409


# Whether the page shows a form's section at this point of the stay: if not (a refusal because the stay has
# moved on, a stale tab), the words go to the top of the page instead, where the guest lands.
FORM_SHOWN = {
    "issue_form": lambda s, context: s.report_issue,
    "damage_form": lambda s, context: s.checkout_day,
    "review_form": lambda s, context: s.after_checkout and not context.get("review"),
}


def _refused(request: HttpRequest, access: PortalAccess, now: dt.datetime, form_name: str, form, status: int,
             template: str = "portal/home.html", context_of=None) -> HttpResponse:
    context = (context_of or home_context)(request, access, now)
    context[form_name] = form
    if not FORM_SHOWN[form_name](context["s"], context):
        context["alert"] = " ".join(message for errors in form.errors.values() for message in errors)
    return render(request, template, context, status=status)


# --- pages --------------------------------------------------------------------------------------------------


@require_GET
@gzip_page
@portal_view(page_view=True)
def home(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    if access.booking.contact_needed and not access.booking.status == "Cancelled":
        return render(request, "portal/contact.html", contact_context(access, now, ContactForm()))
    s = sections_for(access.booking, now)
    key = _page_key(access, s, request)
    if key is None:
        return render(request, "portal/home.html", home_context(request, access, now))
    page = pagecache.get(key)
    if page is None:
        issue, damage = pagecache.SUBMISSIONS
        context = home_context(request, access, now, sections=s, csrf_token=pagecache.CSRF,
                               issue_form=_placeholder_form(IssueForm, issue) if s.report_issue else None,
                               damage_form=_placeholder_form(DamageForm, damage) if s.checkout_day else None)
        page = pagecache.Page(render_to_string("portal/home.html", context, request).encode())
        pagecache.put(key, page)
    if not re_accepts_gzip.search(request.META.get("HTTP_ACCEPT_ENCODING", "")):
        response = HttpResponse(page.fill(get_token(request)))
    else:  # compressed when cached (gzip_page leaves a response with a Content-Encoding alone)
        response = HttpResponse(page.gzipped(get_token(request)))
        response["Content-Encoding"] = "gzip"
    patch_vary_headers(response, ("Accept-Encoding",))
    return response


def _page_key(access: PortalAccess, s: Sections, request: HttpRequest) -> tuple | None:
    """The render cache's key for this page view (portal.pagecache), or None where the page is not cached:
    one-off notes to show, the post-stay page (coupon validity, the review), personalized ranking (which
    records its decision on every view)."""
    page = access.page
    if s.after_checkout or len(messages.get_messages(request)):
        return None
    if page.config is None or page.config.personalizes(Use.RECOMMENDATIONS):
        return None
    tenant = current_tenant()
    tenant_row = tuple(getattr(tenant, f.attname) for f in tenant._meta.concrete_fields)
    stage = tuple(getattr(s, name) for name in _SECTION_FIELDS) + (s.local_now.date(),)
    key = ("home", access.token, page.version, tenant_row, stage)
    try:
        hash(key)
    except TypeError:  # a value that cannot be compared as a key: render it
        return None
    return key


_SECTION_FIELDS = tuple(f.name for f in dataclasses.fields(Sections) if f.name != "local_now")


@lru_cache(maxsize=None)
def _placeholder_form(form_class, submission: str):
    """The unbound form a cached page is rendered with, its submission id a placeholder: the same on every
    render, so built once per process (building a form copies its fields)."""
    return form_class(initial={"submission": submission})


def home_context(request: HttpRequest, access: PortalAccess, now: dt.datetime, sections: Sections | None = None,
                 **overrides) -> dict:
    booking = access.booking
    s = sections or sections_for(booking, now)
    context = {
        **_common(access, s),
        "notes": {m.extra_tags: str(m) for m in messages.get_messages(request)},
        "problems": {},
        "checked_in_text": _checked_in_text(booking, s),
        # Forms are built only for the sections shown (building one copies its fields: not free per view),
        # and not where the caller brings its own.
        "issue_form": IssueForm() if s.report_issue and "issue_form" not in overrides else None,
        "damage_form": DamageForm() if s.checkout_day and "damage_form" not in overrides else None,
        "addons": _addon_offers(access, s) if s.addon_codes or s.in_stay else [],
        "checklist": CHECKOUT_CHECKLIST,
    }
    if s.after_checkout:
        context.update(_post_stay(access, now))
    context.update(overrides)
    return context


def _common(access: PortalAccess, s: Sections) -> dict:
    """What the page, the offline copy and the review page share: header, booking, contact, rules."""
    booking = access.booking
    listing = booking.listing
    prop = listing.property
    return {
        "tenant": current_tenant(),
        "booking": booking,
        "listing": listing,
        "property": prop,
        "s": s,
        "base": _base(access),
        "access": _access_info(listing),
        "dates": {
            "checkin": f"{booking.checkin_date:%a}, {format_date(booking.checkin_date)}",
            "checkin_time": format_time(listing.checkin_time),
            "checkout": f"{booking.checkout_date:%a}, {format_date(booking.checkout_date)}",
            "checkout_time": format_time(listing.checkout_time),
        },
        "money": {
            "total": format_inr(booking.final_amount),
            "received": format_inr(booking.amount_received),
            "balance": format_inr(booking.balance_due) if booking.balance_due > 0 else "",
        } if booking.final_amount or booking.source not in OTA_SOURCES else {},  # an OTA calendar gives no amount
        "host_phone": prop.contact_phone,
        "host_phone_display": display_phone(prop.contact_phone),
        "whatsapp": "https://wa.me/" + prop.contact_phone.lstrip("+"),
        "emergency_phone_display": display_phone(prop.emergency_phone) if prop.emergency_phone else "",
        **_nearby(access, s),
    }


def _nearby(access: PortalAccess, s: Sections) -> dict:
    """The local recommendations, and the key of their rendered section: the rows as read (all their columns)
    and the order shown, so the cached section is the one these rows render, never an older one."""
    recommendations = _recommendations(access, s) if s.recommendations else []
    key = f"{access.page.recommendations_version}|{[r.pk for r in recommendations]}" if recommendations else ""
    return {"recommendations": recommendations, "nearby_key": key}


def _access_info(listing):
    try:
        return listing.access_info
    except ObjectDoesNotExist:  # the host has entered no access details (EC-12)
        return None


def _recommendations(access: PortalAccess, s: Sections) -> list[PropertyRecommendation]:
    """The property's active recommendations in the host's order (read with the link), the guest's category
    affinity first where the tenant personalizes them."""
    page, booking = access.page, access.booking
    found = page.recommendations
    if len(found) < 2 or (page.config is not None and not page.config.personalizes(Use.RECOMMENDATIONS)):
        return found
    from personalization.uses import rank_recommendations

    return rank_recommendations(booking, found, s.local_now)


def _checked_in_text(booking: Booking, s: Sections) -> str:
    """GX-T04: "Checked in at {time}", in the property's time; the date too once it is not today."""
    if booking.checked_in_at is None:
        return ""
    local = booking.checked_in_at.astimezone(booking.tz)
    text = f"Checked in at {format_time(local.time())}"
    return text if local.date() == s.local_now.date() else f"{text} on {format_date(local.date())}"


def _addon_offers(access: PortalAccess, s: Sections) -> list[dict]:
    """The add-ons offered now, and those already asked for with where they stand."""
    asked = dict(access.page.addon_requests)  # oldest first: the latest request per add-on wins
    booking = access.booking
    offers = []
    for code in ADDON_PRICE_FIELD:
        if code not in s.addon_codes and code not in asked:
            continue
        price = getattr(booking.listing, ADDON_PRICE_FIELD[code])
        offers.append({
            "code": code, "label": AddonCode(code).label, "price": format_inr(price) if price is not None else "",
            "status": asked.get(code, ""), "can_request": code in s.addon_codes and asked.get(code) != "REQUESTED",
        })
    return offers


def _post_stay(access: PortalAccess, now: dt.datetime) -> dict:
    booking = access.booking
    coupon = (
        GuestCoupon.objects.filter(guest_id=booking.guest_id, status=CouponStatus.ACTIVE, deleted_at__isnull=True,
                                   valid_until__gt=now)
        .order_by("-created_at")
        .first()
    )
    return {
        "review": GuestReview.objects.filter(booking=booking).first(),
        "review_form": ReviewForm(),
        "coupon": coupon,
        "coupon_offer": _coupon_offer(coupon, booking) if coupon else "",
    }


def _coupon_offer(coupon: GuestCoupon, booking: Booking) -> str:
    value = f"{coupon.discount_value.normalize():f}%" if coupon.discount_type == "PERCENT" else format_inr(coupon.discount_value)
    offer = f"{value} off your next direct booking"
    if coupon.min_booking_amount:
        offer += f" of {format_inr(coupon.min_booking_amount)} or more"
    return f"{offer}, valid until {format_date(coupon.valid_until.astimezone(booking.tz).date())}"


CHECKOUT_CHECKLIST = (  # §6.2
    "Return all keys and remotes",
    "Check for personal belongings",
    "Close windows and lock doors",
    "Leave used towels in the bathroom",
    "Switch off the AC and lights",
)


# --- actions ------------------------------------------------------------------------------------------------


@require_POST
@portal_view()
def check_in(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    try:
        actions.check_in(access, ip=_ip(request), now=now)
    except ValidationError as exc:
        context = home_context(request, access, now, problems={"checkin": " ".join(exc.messages)})
        return render(request, "portal/home.html", context, status=409)
    return _done(request, access, "checkin")  # the page now says "Checked in at …", on every tap (EC-07)


@require_POST
@portal_view()
def report_issue(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    form = IssueForm(request.POST)
    status = 422
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.report_issue(access, category=data["category"], urgency=data["urgency"],
                                 description=data["description"], submission=data["submission"], ip=_ip(request), now=now)
            return _done(request, access, "report", ACKNOWLEDGED)
        except ValidationError as exc:
            status = _failed(form, exc)
    return _refused(request, access, now, "issue_form", form, status)


@require_POST
@portal_view()
def report_damage(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    form = DamageForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            actions.report_damage(access, description=form.cleaned_data["description"],
                                  submission=form.cleaned_data["submission"], ip=_ip(request), now=now)
            return _done(request, access, "damage", "Thank you for telling us. Your host has been informed.")
        except ValidationError as exc:
            status = _failed(form, exc)
    return _refused(request, access, now, "damage_form", form, status)


@require_POST
@portal_view()
def request_addon(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    form = AddonForm(request.POST)
    if not form.is_valid():
        problem, status = " ".join(form.errors.get("code", ["Choose an add-on."])), 422
    else:
        code = form.cleaned_data["code"]
        try:
            actions.request_addon(access, code=code, ip=_ip(request), now=now)
            label = AddonCode(code).label.lower()
            return _done(request, access, "addons", f"Your request for {label} has been sent. Your host will confirm it.")
        except ValidationError as exc:
            problem, status = " ".join(exc.messages), (422 if hasattr(exc, "error_dict") else 409)
    context = home_context(request, access, now, problems={"addons": problem})
    return render(request, "portal/home.html", context, status=status)


@require_GET
@gzip_page
@portal_view(review_only_ok=True, page_view=True)
def review_page(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    return render(request, "portal/review.html", review_context(request, access, now))


def review_context(request: HttpRequest, access: PortalAccess, now: dt.datetime, **overrides) -> dict:
    s = sections_for(access.booking, now)
    context = {
        **_common(access, s),
        "notes": {m.extra_tags: str(m) for m in messages.get_messages(request)},
        **_post_stay(access, now),
        "review_only": access.review_only,
    }
    context.update(overrides)
    return context


@require_POST
@portal_view(review_only_ok=True)
def submit_review(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    """EC-08: reachable for 60 days after check-out, after the rest of the portal has expired."""
    form = ReviewForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            actions.review(access, ratings=form.ratings(), comment=form.cleaned_data["comment"],
                           submission=form.cleaned_data["submission"], ip=_ip(request), now=now)
            messages.success(request, "Thank you for your review!", extra_tags="review")
            target = f"{_base(access)}/review" if access.review_only else f"{_base(access)}#review"
            return _see_other(target)
        except ValidationError as exc:
            status = _failed(form, exc)
    if access.review_only:
        return _refused(request, access, now, "review_form", form, status, "portal/review.html", review_context)
    return _refused(request, access, now, "review_form", form, status)


@require_GET
@gzip_page
@portal_view(page_view=True)
def invoice(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    """§8.1 "Download invoice": a printable page once the stay is over."""
    s = sections_for(access.booking, now)
    if not s.after_checkout:
        return notice(request, "Your invoice will be available here after check-out.", status=404)
    booking = access.booking
    context = {
        **_common(access, s),
        "payments": [(format_date(p.received_at.astimezone(booking.tz).date()), p.get_method_display(), format_inr(p.amount))
                     for p in booking.payments.order_by("received_at")],
        "amounts": {"total": format_inr(booking.total_amount), "discount": format_inr(booking.discount_amount),
                    "final": format_inr(booking.final_amount), "received": format_inr(booking.amount_received),
                    "balance": format_inr(booking.balance_due)},
        "issued": format_date((booking.checked_out_at or now).astimezone(booking.tz).date()),
        "nights": booking.nights,
    }
    return render(request, "portal/invoice.html", context)


# --- contact completion and consent (intake: a calendar booking arrives without the guest's contact) ----------


def contact_context(access: PortalAccess, now: dt.datetime, form: ContactForm) -> dict:
    context = _common(access, sections_for(access.booking, now))
    context.update(form=form, contact_fields=[form[n] for n in ContactForm.field_order],
                   consent_fields=[form[n] for n in ConsentForm.base_fields])
    return context


@require_POST
@portal_view()
def complete_contact(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    """The "Complete your check-in" form: the lifecycle starts once it is saved (intake.contact)."""
    from intake.contact import complete_contact as complete

    if not access.booking.contact_needed:  # a second tap, a stale tab: the booking is there already
        return _see_other(_base(access))
    form = ContactForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            complete(access.booking.pk, form.contact(), form.choices(), ip=_ip(request), now=now)
            return _see_other(_base(access))
        except ValidationError as exc:
            status = _failed(form, exc)
    return render(request, "portal/contact.html", contact_context(access, now, form), status=status)


@portal_view()
def privacy(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    """The link to withdraw consent (DPDP Act 2023): the same choices as on the contact form, as they stand."""
    from intake.contact import current_choices, record_choices

    guest = access.booking.guest
    if request.method == "POST":
        form = ConsentForm(request.POST)
        if form.is_valid():
            record_choices(guest, form.choices(), ip=_ip(request), now=now)
            messages.success(request, "Your choices are saved.", extra_tags="privacy")
            return _see_other(f"{_base(access)}/privacy#privacy")
    else:
        current = current_choices(guest)
        form = ConsentForm(initial={"whatsapp": current.whatsapp, "sms": current.sms, "email_messages": current.email,
                                    "marketing": current.marketing, "personalization": current.personalization})
    context = _common(access, sections_for(access.booking, now))
    context.update(form=form, consent_fields=list(form), notes={m.extra_tags: str(m) for m in messages.get_messages(request)})
    return render(request, "portal/privacy.html", context)


# --- offline reading (§8.3) -----------------------------------------------------------------------------------


@require_GET
@gzip_page
@portal_view()
def offline_copy(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    """What the service worker keeps for reading without a connection: rules, nearby places, contacts and,
    within 24 h of arrival, the check-in details (the gate is where the signal fails)."""
    s = sections_for(access.booking, now)
    context = {**_common(access, s), "saved_at": f"{format_date(s.local_now.date())}, {format_time(s.local_now.time())}"}
    return render(request, "portal/offline.html", context)


@require_GET
@portal_view()
def service_worker(request: HttpRequest, access: PortalAccess, now: dt.datetime) -> HttpResponse:
    """Served under the link's own path: the header lets its scope be the page `/guest/<token>` itself."""
    response = render(request, "portal/sw.js", {"base": _base(access)}, content_type="text/javascript")
    response["Service-Worker-Allowed"] = _base(access)
    return response

