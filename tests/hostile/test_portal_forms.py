"""Every portal form under hostile input (issue #9 item 5): issue report, damage report, add-on request,
review, check-in. Each post gets a clear 4xx or is accepted (303) and the page after it renders what was
typed as text; never a 5xx, never markup echoed back. Each example has its own stay and link, so the
60-per-hour limit (NFR 7) and "one review per stay" never hide a path."""
from __future__ import annotations

import datetime as dt
import string

import time_machine
from hypothesis import given
from hypothesis import strategies as st

from bookings.services import check_in_guest, check_out_guest
from operations.models import MaintenanceTicket
from reviews.models import GuestReview
from tests.hostile.strategies import HOSTILE, NASTY, SCRIPT, TAG, check, hostile_number, hostile_text
from tests.portal.conftest import ARRIVED_AT, LEFT_AT, UTC

IN_STAY = dt.datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
CHECKOUT_DAY = dt.datetime(2026, 3, 18, 2, 0, tzinfo=UTC)
CHECKIN_DAY = dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
AFTER = LEFT_AT + dt.timedelta(hours=3)

CATEGORIES = ["plumbing", "electrical", "wifi", "cleaning", "appliance", "other", "noise", "safety"]
form_text = hostile_text()
junk_fields = st.dictionaries(st.text(string.ascii_letters + "_[]", min_size=1, max_size=12), hostile_text(huge=False),
                              max_size=3)


def choice_or_junk(valid: list[str]):
    return st.one_of(st.sampled_from(valid), hostile_text(huge=False))


def post(client, moment: dt.datetime, url: str, data: dict):
    with time_machine.travel(moment, tick=False):
        response = client.post(url, data)
        check(response, "portal form")
        if response.status_code in (302, 303):  # the page the guest lands on shows what was typed, as text
            check(client.get(response["Location"].split("#")[0]), "portal page after a form")
    return response


def arrived(stay):
    s = stay(listing={"late_checkout_price": 700, "extra_cleaning_price": 500, "supports_early_checkin": True,
                      "early_checkin_price": 900})
    check_in_guest(s.booking, now=ARRIVED_AT)
    return s


@HOSTILE
@given(category=choice_or_junk(CATEGORIES), urgency=choice_or_junk(["not_urgent", "urgent", "emergency"]),
       description=form_text, submission=hostile_text(huge=False), extra=junk_fields)
def test_issue_report(stay, client, category, urgency, description, submission, extra):
    s = arrived(stay)
    response = post(client, IN_STAY, s.url + "/issue", {**extra, "category": category, "urgency": urgency,
                                                        "description": description, "submission": submission})
    assert response.status_code in (303, 409, 422), response.status_code
    if response.status_code != 303:
        assert not MaintenanceTicket.objects.filter(booking=s.booking).exists()


@HOSTILE
@given(description=form_text, submission=hostile_text(huge=False), extra=junk_fields)
def test_damage_report(stay, client, description, submission, extra):
    s = arrived(stay)
    response = post(client, CHECKOUT_DAY, s.url + "/damage", {**extra, "description": description, "submission": submission})
    assert response.status_code in (303, 409, 422), response.status_code


@HOSTILE
@given(code=choice_or_junk(["LATE_CHECKOUT", "EXTRA_CLEANING", "EARLY_CHECKIN", "late_checkout"]), extra=junk_fields)
def test_addon_request(stay, client, code, extra):
    s = arrived(stay)
    response = post(client, IN_STAY, s.url + "/addon", {**extra, "code": code})
    assert response.status_code in (303, 409, 422), response.status_code


STARS = st.one_of(st.sampled_from(["1", "2", "3", "4", "5", ""]), hostile_number().map(str))


@HOSTILE
@given(overall=STARS, subs=st.lists(STARS, min_size=4, max_size=4), comment=form_text,
       submission=hostile_text(huge=False), extra=junk_fields)
def test_review(stay, client, overall, subs, comment, submission, extra):
    s = arrived(stay)
    check_out_guest(s.booking, now=LEFT_AT)
    fields = dict(zip(["cleanliness_rating", "communication_rating", "location_rating", "value_rating"], subs))
    response = post(client, AFTER, s.url + "/review/submit", {**extra, **fields, "overall_rating": overall,
                                                             "comment": comment, "submission": submission})
    assert response.status_code in (303, 409, 422), response.status_code
    saved = GuestReview.objects.filter(booking=s.booking).first()
    if response.status_code == 303:
        assert saved is not None and 1 <= saved.overall_rating <= 5
        assert saved.comment == comment.strip() or saved.comment == comment  # stored as typed, not interpreted
    else:
        assert saved is None


@HOSTILE
@given(extra=junk_fields)
def test_check_in_ignores_whatever_else_is_posted(stay, client, extra):
    s = stay()
    response = post(client, CHECKIN_DAY, s.url + "/checkin", extra)
    assert response.status_code == 303
    assert s.refresh().checked_in_at == CHECKIN_DAY


def test_markup_and_template_syntax_typed_by_a_guest_come_back_as_text(stay, client):
    """A refused review keeps what was typed in its form: markup escaped, braces as typed (not evaluated).
    An accepted one is stored exactly as typed."""
    s = arrived(stay)
    check_out_guest(s.booking, now=LEFT_AT)
    comment = f"{SCRIPT} {TAG} {{{{guest_name}}}} {{% debug %}}"
    refused = post(client, AFTER, s.url + "/review/submit", {"overall_rating": "9", "comment": comment})
    page = refused.content.decode()
    assert refused.status_code == 422
    assert "&lt;script&gt;hostile()&lt;/script&gt;" in page and "{{guest_name}}" in page and "{% debug %}" in page
    assert post(client, AFTER, s.url + "/review/submit", {"overall_rating": "4", "comment": comment}).status_code == 303
    assert GuestReview.objects.get(booking=s.booking).comment == comment


def test_undecodable_bytes_in_a_form_post_are_a_4xx_or_stored_replaced(stay, client):
    """Bytes that are not UTF-8 (a lone surrogate's CESU-8, 0xFF, an overlong NUL) on the wire."""
    s = arrived(stay)
    for raw in (b"%ED%A0%80", b"%FF%FE", b"%C0%80", b"%00"):
        body = b"category=plumbing&urgency=urgent&description=Tap+" + raw
        with time_machine.travel(IN_STAY, tick=False):
            response = client.generic("POST", s.url + "/issue", body, content_type="application/x-www-form-urlencoded")
        check(response, "portal form")
        assert response.status_code in (303, 422), (raw, response.status_code)


assert "{{guest_name}}" in NASTY  # the strategies above include template syntax
