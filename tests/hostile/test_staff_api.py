"""The staff API under hostile input (issue #9 item 5): booking create and filters, guest fields and search,
coupon validation. JSON carries what a form cannot (lone surrogates as \\u escapes, NUL, nesting, wrong
types): each gets a 4xx with the field named, or is stored as typed; never a 5xx."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from bookings.models import Booking
from guests.models import Guest
from tests.factories import _seq, make_guest, make_listing
from tests.hostile.strategies import HOSTILE, check, hostile_date, hostile_number, hostile_text

api_text = hostile_text(surrogates=True)
anything = st.one_of(api_text, hostile_number(), st.none(), st.lists(st.integers(), max_size=3),
                     st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


def post_json(client, url: str, payload, method: str = "post"):
    body = json.dumps(payload)  # ensure_ascii: a lone surrogate travels as \udXXX, as any JSON client sends it
    return getattr(client, method)(url, body, content_type="application/json")


@HOSTILE
@given(checkin=st.one_of(st.just("2026-12-10"), hostile_date()), checkout=st.one_of(st.just("2026-12-12"), hostile_date()),
       amount=st.one_of(st.just("5000"), hostile_number()), planned=st.one_of(st.just(2), hostile_number()),
       source=st.one_of(st.sampled_from(["Direct", "Airbnb"]), api_text), referral=st.one_of(st.just(""), api_text),
       guest_id=st.one_of(st.just("guest"), hostile_number()), listing_id=st.one_of(st.just("listing"), hostile_number()))
def test_booking_create(tenant, staff, checkin, checkout, amount, planned, source, referral, guest_id, listing_id):
    guest, listing = make_guest(), make_listing()
    payload = {"guest": guest.pk if guest_id == "guest" else guest_id,
               "listing": listing.pk if listing_id == "listing" else listing_id,
               "checkin_date": checkin, "checkout_date": checkout, "guests_planned": planned, "total_amount": amount,
               "source": source, "referral_code": referral}
    before = Booking.objects.count()
    response = post_json(staff("frontdesk"), "/api/bookings", payload)
    check(response, "staff API: booking create")
    assert response.status_code in (201, 400), (response.status_code, response.content[:300])
    if response.status_code == 400:
        assert isinstance(response.json(), dict) and response.json()  # the fields at fault, named
        assert Booking.objects.count() == before
    else:
        made = Booking.objects.get(pk=response.json()["id"])
        assert made.checkout_date > made.checkin_date and made.total_amount >= 0


@HOSTILE
@given(params=st.dictionaries(st.sampled_from(["status", "source", "guest", "checkin_from", "checkin_to", "page",
                                               "page_size", "ordering", "q"]),
                              st.one_of(hostile_text(huge=False), hostile_date().map(str)), max_size=4))
def test_booking_filters(tenant, staff, params):
    response = staff("frontdesk").get("/api/bookings", params)
    check(response, "staff API: booking filters")
    assert response.status_code in (200, 400, 404), response.status_code


@HOSTILE
@given(name=api_text, phone=st.one_of(st.just("fresh"), api_text), email=st.one_of(st.just("a@example.com"), api_text))
def test_guest_create_and_update(tenant, staff, name, phone, email):
    phone = f"+91 98765 {next(_seq) % 100000:05d}" if phone == "fresh" else phone  # a new guest's, or junk
    client = staff("frontdesk")
    before = Guest.objects.count()
    created = post_json(client, "/api/guests", {"name": name, "phone": phone, "email": email})
    check(created, "staff API: guest fields")
    assert created.status_code in (201, 400), (created.status_code, created.content[:300])
    if created.status_code == 400:
        assert Guest.objects.count() == before
    else:
        assert Guest.objects.get(pk=created.json()["id"]).name == created.json()["name"]
    someone = make_guest()
    patched = post_json(client, f"/api/guests/{someone.pk}", {"name": name, "email": email}, method="patch")
    check(patched, "staff API: guest fields")
    assert patched.status_code in (200, 400), patched.status_code


@HOSTILE
@given(q=hostile_text(surrogates=False))
def test_guest_search(tenant, staff, q):
    response = staff("frontdesk").get("/api/guests", {"q": q})
    check(response, "staff API: guest search")
    assert response.status_code in (200, 400), response.status_code


@HOSTILE
@given(code=api_text, guest_id=st.one_of(st.just("guest"), hostile_number()), total=hostile_number(),
       source=st.one_of(st.just("Direct"), api_text))
def test_coupon_validate(tenant, staff, code, guest_id, total, source):
    guest = make_guest()
    payload = {"code": code, "guest": guest.pk if guest_id == "guest" else guest_id, "total": total, "source": source}
    response = post_json(staff("owner"), "/api/coupons/validate", payload)
    check(response, "staff API: coupon validate")
    assert response.status_code in (200, 400, 404, 409, 422), response.status_code


@HOSTILE
@given(body=st.one_of(st.binary(max_size=200), st.sampled_from([b"{", b"[]", b"null", b'"x"', b"1e999999",
                                                                b'{"a":' * 2000, b"\xff\xfe{}", b'{"name": "\\ud800"}'])))
def test_malformed_bodies(tenant, staff, body):
    client = staff("owner")
    for url in ("/api/bookings", "/api/guests", "/api/coupons/validate"):
        response = client.generic("POST", url, body, content_type="application/json")
        check(response, "staff API: malformed body")
        assert 400 <= response.status_code < 500, (url, response.status_code)
