"""The listing's public links on the tenant's domain: its exported calendar (`/calendar/<token>.ics`, for the
OTAs) and the guests' "find my booking" page (`/stay/<token>`, the one link the host pastes into the OTA's
scheduled message), plus the demo's sample Airbnb feed."""
from __future__ import annotations

import hashlib
import re
import zoneinfo

from django import forms
from django.conf import settings
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bookings.models import Booking, BookingStatus
from intake.demo import demo_airbnb_feed
from intake.export import listing_calendar
from intake.models import CalendarEvent, FeedSource, ListingLinks
from portal.access import window_start
from portal.services import issue_portal_token, portal_url
from tenants.current import current_tenant, primary_domain

ATTEMPTS_PER_HOUR = 10  # per visitor (IP) and link: a reservation code is long, 4 digits are not
ATTEMPTS_PER_HOUR_PER_LINK = 60  # all visitors together: guessing from many addresses stops too
DEMO_ZONE = zoneinfo.ZoneInfo("Asia/Kolkata")
EXCLUDE_FOR = {source.lower(): source for source in FeedSource.values}


@require_GET
def listing_calendar_view(request: HttpRequest, token: str) -> HttpResponse:
    links = get_object_or_404(ListingLinks.objects.select_related("listing__property"), calendar_token=token)
    exclude = EXCLUDE_FOR.get(request.GET.get("for", "").lower(), "")
    body = listing_calendar(links.listing, domain=primary_domain(current_tenant()) or "atlas-guest",
                            now=timezone.now(), exclude_source=exclude)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if etag in request.headers.get("If-None-Match", ""):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
        response["Content-Disposition"] = f'inline; filename="listing-{links.listing_id}.ics"'
    response["ETag"] = etag
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex"
    return response


@require_GET
def demo_feed(request: HttpRequest) -> HttpResponse:
    if not settings.ATLAS_DEMO:
        raise Http404("No demo here")
    today = timezone.now().astimezone(DEMO_ZONE).date()  # the demo host's properties are in India
    return HttpResponse(demo_airbnb_feed(today), content_type="text/calendar; charset=utf-8")


class FindBookingForm(forms.Form):
    checkin_date = forms.DateField(label="Check-in date", widget=forms.DateInput(attrs={"type": "date"}),
                                   error_messages={"required": "Enter your check-in date.",
                                                   "invalid": "Enter the check-in date as on your booking."})
    proof = forms.CharField(max_length=40, label="Reservation code, or the last 4 digits of your phone",
                            error_messages={"required": "Enter your reservation code (e.g. HMABCD1234) or the last "
                                                        "4 digits of the phone number you booked with."})

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    def clean_proof(self) -> str:
        return re.sub(r"[\s-]", "", self.cleaned_data["proof"]).upper()


@never_cache
def find_booking(request: HttpRequest, token: str) -> HttpResponse:
    """A calendar booking's guest opens the listing's link, says which stay is theirs, and lands on its
    portal page (its "Complete your check-in" form). Guessing is bounded per visitor and per link."""
    links = get_object_or_404(ListingLinks.objects.select_related("listing__property"), stay_token=token)
    listing = links.listing
    form = FindBookingForm(request.POST or None)
    problem, status = "", 200
    if request.method == "POST" and form.is_valid():
        if _over_limit(token, request.META.get("REMOTE_ADDR") or ""):
            problem, status = ("Too many tries in the last hour. Please wait a little, or contact your host at "
                               f"{listing.property.contact_phone}."), 429
        else:
            booking = _matching_booking(listing, form.cleaned_data["checkin_date"], form.cleaned_data["proof"])
            if booking is not None:
                response = HttpResponse(status=303)
                response["Location"] = portal_url(issue_portal_token(booking).token)
                return response
            problem, status = ("We could not find a booking with these details. Check the check-in date and the "
                               "code or digits, or contact your host."), 404
    elif request.method == "POST":
        status = 422
    context = {"tenant": current_tenant(), "listing": listing, "property": listing.property, "form": form,
               "problem": problem}
    response = render(request, "portal/find_booking.html", context, status=status)
    response["X-Robots-Tag"] = "noindex"
    return response


def _matching_booking(listing, checkin_date, proof: str) -> Booking | None:
    candidates = Booking.objects.filter(listing=listing, checkin_date=checkin_date, status=BookingStatus.CONFIRMED,
                                        checked_out_at__isnull=True).select_related("guest")
    for booking in candidates:
        if len(proof) >= 5 and booking.external_reference.upper() == proof:
            return booking
        if re.fullmatch(r"\d{4}", proof):
            if booking.guest.phone.endswith(proof):
                return booking
            if CalendarEvent.objects.filter(booking=booking, phone_last4=proof).exists():
                return booking
    return None


_COUNT = """
INSERT INTO portal_portalratewindow (token_hash, window_start, count) VALUES (%s, %s, 1)
ON CONFLICT (token_hash, window_start) DO UPDATE SET count = portal_portalratewindow.count + 1
RETURNING count
"""


def _over_limit(token: str, ip: str) -> bool:
    """Counted in the database (every web process shares it), as the portal's own rate limit is."""
    start = window_start(timezone.now())
    with connection.cursor() as cursor:
        counts = []
        for key in (f"stay:{token}:{ip}", f"stay:{token}"):
            digest = hashlib.sha256(key.encode()).hexdigest()
            cursor.execute(_COUNT, [digest, start])
            counts.append(cursor.fetchone()[0])
            if counts[-1] == 1:  # the first try of a new hour forgets the older hours
                cursor.execute("DELETE FROM portal_portalratewindow WHERE token_hash = %s AND window_start < %s",
                               [digest, start])
    return counts[0] > ATTEMPTS_PER_HOUR or counts[1] > ATTEMPTS_PER_HOUR_PER_LINK
