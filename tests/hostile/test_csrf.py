"""CSRF on the portal's forms (issue #9 item 5): a post from another site (no token, or a token not matching
the cookie) is refused with 403 and writes nothing; the same post with the page's own token goes through."""
from __future__ import annotations

import datetime as dt
import re

import time_machine

from bookings.models import AddonRequest
from bookings.services import check_in_guest, check_out_guest
from operations.models import AuditLog
from reviews.models import GuestReview
from tests.hostile.strategies import TALLY, check
from tests.portal.conftest import ARRIVED_AT, LEFT_AT, UTC

IN_STAY = dt.datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
CHECKOUT_DAY = dt.datetime(2026, 3, 18, 2, 0, tzinfo=UTC)
CHECKIN_DAY = dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
AFTER = LEFT_AT + dt.timedelta(hours=3)

FORMS = [  # (action, moment, page it is on, what it posts)
    ("/checkin", CHECKIN_DAY, "", {}),
    ("/issue", IN_STAY, "", {"category": "plumbing", "urgency": "urgent", "description": "Shower not working"}),
    ("/addon", IN_STAY, "", {"code": "LATE_CHECKOUT"}),
    ("/damage", CHECKOUT_DAY, "", {"description": "Broke a glass"}),
    ("/review/submit", AFTER, "/review", {"overall_rating": "5", "comment": "Lovely"}),
]


def writes(booking) -> tuple:
    return (AuditLog.objects.filter(booking=booking).count(), AddonRequest.objects.filter(booking=booking).count(),
            GuestReview.objects.filter(booking=booking).count(), booking.__class__.objects.get(pk=booking.pk).checked_in_at)


def test_every_portal_form_needs_its_csrf_token(stay, csrf_client):
    for action, moment, page, fields in FORMS:
        s = stay(listing={"late_checkout_price": 700})
        if moment != CHECKIN_DAY:
            check_in_guest(s.booking, now=ARRIVED_AT)
        if moment == AFTER:
            check_out_guest(s.booking, now=LEFT_AT)
        before = writes(s.booking)
        with time_machine.travel(moment, tick=False):
            forged = csrf_client.post(s.url + action, fields)  # from another site: no token, no cookie
            assert check(forged, "CSRF") == 403, action
            csrf_client.get(s.url + page)  # the guest's own page sets the cookie...
            wrong = csrf_client.post(s.url + action, {**fields, "csrfmiddlewaretoken": "x" * 64})
            assert check(wrong, "CSRF") == 403, action
            assert writes(s.booking) == before, action
            html = csrf_client.get(s.url + page).content.decode()
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
            own = csrf_client.post(s.url + action, {**fields, "csrfmiddlewaretoken": token})  # ...and its form posts
        assert check(own, "CSRF") == 303, (action, own.status_code)
        assert writes(s.booking) != before, action


def test_the_unsubscribe_confirmation_needs_its_csrf_token(tenant, csrf_client):
    from guests.models import GuestConsent
    from messaging.consent import unsubscribe_token
    from tests.factories import make_guest

    guest = make_guest()
    url = f"/unsubscribe/{unsubscribe_token(guest.pk)}"
    assert check(csrf_client.post(url), "CSRF") == 403
    assert not GuestConsent.objects.filter(guest=guest).exists()
    html = csrf_client.get(url).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert check(csrf_client.post(url, {"csrfmiddlewaretoken": token}), "CSRF") == 200
    assert GuestConsent.objects.filter(guest=guest, status="REVOKED").exists()
    TALLY.record("CSRF", 200)
