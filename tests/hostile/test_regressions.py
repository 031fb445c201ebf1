"""Hostile inputs that were a 500 when this suite first ran (issue #9), kept as regression tests: a phone
already taken and a NUL in the search (fixed in guests/api.py), a lone surrogate echoed in an error and JSON
nested too deep (fixed in atlas_guest/api_json.py). A 500 found in a file this work may not edit goes in as a
strict xfail (see test_webhooks.py), reported to the coordinator, so the suite fails once it is fixed."""
from __future__ import annotations

import json

from guests.models import Guest
from tests.factories import make_guest
from tests.hostile.strategies import check


def test_guest_create_with_a_phone_already_taken_is_a_400(tenant, staff):
    make_guest(phone="+919876509001")
    response = staff("frontdesk").post("/api/guests", json.dumps({"name": "Asha Rao", "phone": "+91 98765 09001"}),
                                       content_type="application/json")
    check(response, "staff API: guest fields")
    assert response.status_code == 400 and "phone" in response.json()
    assert Guest.objects.filter(phone="+919876509001").count() == 1


def test_guest_search_with_a_nul_byte_is_a_4xx_or_matches_nothing(tenant, staff):
    make_guest(name="Asha Rao")
    response = staff("frontdesk").get("/api/guests", {"q": "Asha\x00"})
    check(response, "staff API: guest search")
    assert response.status_code == 400 or response.json()["count"] == 0


def test_a_lone_surrogate_echoed_in_an_api_error_is_escaped_not_a_500(tenant, staff):
    """DRF echoes a bad choice in its message; a lone surrogate there cannot be UTF-8: it goes out escaped."""
    body = json.dumps({"code": "X", "guest": 1, "total": "100", "source": "\ud800"})
    response = staff("owner").post("/api/coupons/validate", body, content_type="application/json")
    check(response, "staff API: coupon validate")
    assert response.status_code == 400 and b"\\ud800" in response.content
    assert response.json()["source"] == ['"\ud800" is not a valid choice.']


def test_json_nested_too_deep_is_a_400(tenant, staff):
    response = staff("owner").post("/api/bookings", '{"a":' * 5000, content_type="application/json")
    check(response, "staff API: malformed body")
    assert response.status_code == 400
