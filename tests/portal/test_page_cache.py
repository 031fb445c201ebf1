"""The render cache of the portal page (portal.pagecache): a page viewed again is served from it, yet it
never shows older data than the database holds, the CSRF token and the forms' submission ids are new on
every view, and a form from a cached page works once, as from a freshly rendered one."""
import datetime as dt
import re

import pytest

from bookings.models import AddonRequest, ListingAccessInfo, Property
from bookings.services import check_in_guest
from portal import pagecache
from tests.portal.conftest import ARRIVED_AT, UTC, text_of

DAY_AFTER = dt.datetime(2026, 3, 16, 6, 0, tzinfo=UTC)
WITHIN_24H = dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def empty_cache():
    pagecache.clear()
    yield
    pagecache.clear()


@pytest.fixture
def in_stay(stay):
    s = stay(listing={"late_checkout_price": 700, "extra_cleaning_price": 500})
    check_in_guest(s.booking, now=ARRIVED_AT)
    return s


def _field(html: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([^"]*)"', html)


def test_a_page_viewed_again_comes_from_the_cache_with_new_tokens(in_stay, at):
    first = at(DAY_AFTER).get(in_stay.url).content.decode()
    hits = pagecache.stats["hits"]
    again = at(DAY_AFTER).get(in_stay.url).content.decode()
    assert pagecache.stats["hits"] == hits + 1
    assert text_of_html(first) == text_of_html(again)
    assert _field(first, "csrfmiddlewaretoken")[0] != _field(again, "csrfmiddlewaretoken")[0]  # masked per view
    assert set(_field(first, "submission")).isdisjoint(_field(again, "submission"))
    assert not any(placeholder in again for placeholder in (pagecache.CSRF, *pagecache.SUBMISSIONS))


def text_of_html(html: str) -> str:
    return re.sub(r'value="[^"]*"', "", html)


@pytest.mark.parametrize("change", ["access_code", "house_rules", "addon_request", "property_name"])
def test_a_change_in_the_database_shows_on_the_next_view(in_stay, at, change):
    at(DAY_AFTER).get(in_stay.url)
    listing = in_stay.booking.listing
    if change == "access_code":
        ListingAccessInfo.objects.filter(listing=listing).update(access_code="9073")
        expected = "9073"
    elif change == "house_rules":
        Property.objects.filter(pk=listing.property_id).update(house_rules="No fireworks on the terrace.")
        expected = "No fireworks on the terrace."
    elif change == "addon_request":
        AddonRequest.objects.create(booking=in_stay.booking, code="LATE_CHECKOUT", requested_at=DAY_AFTER)
        expected = "Requested. Your host will confirm."
    else:
        Property.objects.filter(pk=listing.property_id).update(name="Sunrise Villa Koramangala")
        expected = "Sunrise Villa Koramangala"
    assert expected in text_of(at(DAY_AFTER + dt.timedelta(minutes=1)).get(in_stay.url))


def test_the_clock_moves_the_page_on(stay, at):
    s = stay()
    assert "Check-in details will be available" in text_of(at(WITHIN_24H - dt.timedelta(minutes=1)).get(s.url))
    assert "Check-in details will be available" not in text_of(at(WITHIN_24H).get(s.url))


def test_a_form_from_a_cached_page_is_accepted_once(in_stay, at, csrf_client):
    from operations.models import AuditLog

    at(DAY_AFTER, csrf_client).get(in_stay.url)
    html = at(DAY_AFTER, csrf_client).get(in_stay.url).content.decode()  # from the cache
    form = {"csrfmiddlewaretoken": _field(html, "csrfmiddlewaretoken")[0], "submission": _field(html, "submission")[0],
            "category": "wifi", "urgency": "urgent", "description": "The WiFi drops every few minutes."}
    assert at(DAY_AFTER, csrf_client).post(in_stay.url + "/issue", form).status_code == 303
    assert at(DAY_AFTER, csrf_client).post(in_stay.url + "/issue", form).status_code == 409  # the same form again
    assert AuditLog.objects.filter(booking=in_stay.booking, action__startswith="portal.").count() == 1


# --- compressed once (pagecache.Page.gzipped) --------------------------------------------------------------------


def test_a_gzip_client_gets_the_same_page_compressed(in_stay, at, csrf_client):
    import gzip

    from operations.models import Incident, MaintenanceTicket

    plain = at(DAY_AFTER).get(in_stay.url).content.decode()
    for view in range(2):  # rendered, then from the cache
        response = at(DAY_AFTER, csrf_client).get(in_stay.url, HTTP_ACCEPT_ENCODING="gzip, deflate, br")
        assert response["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in response["Vary"]
        html = gzip.decompress(response.content).decode()
        assert text_of_html(html) == text_of_html(plain)
    # The values filled in between the compressed stretches work: the form is accepted.
    form = {"csrfmiddlewaretoken": _field(html, "csrfmiddlewaretoken")[0], "submission": _field(html, "submission")[0],
            "category": "wifi", "urgency": "urgent", "description": "The WiFi drops every few minutes."}
    assert at(DAY_AFTER, csrf_client).post(in_stay.url + "/issue", form).status_code == 303
    assert MaintenanceTicket.objects.count() + Incident.objects.count() == 1


def test_a_page_compresses_about_as_well_as_in_one_piece(in_stay, at):
    """The preset dictionaries keep back references across the filled-in values: within 1 % and the values
    themselves (stored, not compressed) of compressing the whole page per request as Django does."""
    from django.middleware.csrf import CSRF_TOKEN_LENGTH
    from django.utils.text import compress_string

    html = at(DAY_AFTER).get(in_stay.url).content
    values = len(re.findall(rb'name="(?:csrfmiddlewaretoken|submission)"', html))
    assert values >= 2
    page = pagecache.Page(html)  # no placeholders left in a served page: the values are part of the text here
    csrf_field = rb'(name="csrfmiddlewaretoken" value=")[^"]*'
    filled = pagecache.Page(re.sub(csrf_field, rb"\1" + pagecache.CSRF.encode(), html))
    whole = len(compress_string(html))
    spliced = len(filled.gzipped("x" * CSRF_TOKEN_LENGTH)) - pagecache.MAX_RANDOM_NAME
    assert len(page.gzipped("x" * CSRF_TOKEN_LENGTH)) <= whole + pagecache.MAX_RANDOM_NAME
    assert spliced <= whole * 1.01 + values * CSRF_TOKEN_LENGTH


@pytest.mark.parametrize("html", [
    b"",
    b"no placeholders at all",
    b"%(csrf)s",
    b"%(csrf)s%(csrf)s%(sub0)s%(sub1)s",
    b"<form>%(csrf)s<input value=%(sub0)s></form>" * 40 + b"<p>%(csrf)s</p>",
    b"<p>a NUL \0 in the page</p>%(csrf)s<p>end</p>",  # compressed per request: NULs would match the stand-ins
])
def test_gzipped_inflates_to_the_filled_page(html, monkeypatch):
    import gzip
    import zlib

    monkeypatch.setattr(pagecache, "new_submission_id", lambda: "Sub-id_12345")
    html = html % {b"csrf": pagecache.CSRF.encode(), b"sub0": pagecache.SUBMISSIONS[0].encode(),
                   b"sub1": pagecache.SUBMISSIONS[1].encode()}
    page = pagecache.Page(html)
    token = "T" * 64
    body = page.gzipped(token)
    assert gzip.decompress(body) == page.fill(token)
    assert zlib.decompress(body, zlib.MAX_WBITS | 16) == page.fill(token)  # as a browser's zlib inflates it
    assert pagecache.CSRF.encode() not in page.fill(token)


def test_a_value_of_another_length_is_compressed_per_request(monkeypatch):
    import gzip

    monkeypatch.setattr(pagecache, "new_submission_id", lambda: "longer-than-the-stand-in")
    page = pagecache.Page(b"<p>" + pagecache.SUBMISSIONS[0].encode() + b"</p>" * 50)
    assert gzip.decompress(page.gzipped("t" * 64)) == page.fill("t" * 64)
