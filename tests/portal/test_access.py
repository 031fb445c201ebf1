"""Who gets in (RA-GUEST-001 §8.2, NFR 5–7): the token, its expiry (EC-06), the review window (EC-08), the
rate limit, other tenants' tokens, CSRF, and the access count."""
import datetime as dt
import re

import pytest

from portal.access import RATE_LIMIT_PER_HOUR
from portal.models import GuestPortalToken, PortalRateWindow
from portal.services import make_token
from tests.conftest import SchemaKeepingClient
from tests.portal.conftest import ARRIVED_AT, LEFT_AT, UTC, text_of

EXPIRED = "This link has expired. Contact your host for assistance."
BEFORE = dt.datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
TOKEN_EXPIRES = dt.datetime(2026, 4, 17, 5, 30, tzinfo=UTC)  # check-out 18 Mar 11:00 IST + 30 days
REVIEW_CLOSES = dt.datetime(2026, 5, 17, 5, 30, tzinfo=UTC)  # check-out + 60 days


@pytest.fixture
def finished(stay):
    from bookings.services import check_in_guest, check_out_guest

    s = stay()
    check_in_guest(s.booking, now=ARRIVED_AT)
    check_out_guest(s.booking, now=LEFT_AT)
    return s


def test_link_opens_the_booking_page_without_login(stay, at):
    s = stay()
    response = at(BEFORE).get(s.url)
    assert response.status_code == 200
    assert "Your booking" in text_of(response) and f"#{s.booking.pk}" in text_of(response)


@pytest.mark.parametrize("token", ["0" * 32, "not-a-token", "A" * 32, "0" * 31, "0" * 64])
def test_ec_06_unknown_or_malformed_token_is_the_expired_page(stay, at, token):
    stay()
    response = at(BEFORE).get(f"/guest/{token}")
    assert response.status_code == 404
    assert EXPIRED in text_of(response)


def test_ec_06_token_expires_30_days_after_checkout(finished, at):
    assert GuestPortalToken.objects.get(booking=finished.booking).expires_at == TOKEN_EXPIRES
    assert at(TOKEN_EXPIRES - dt.timedelta(seconds=1)).get(finished.url).status_code == 200
    response = at(TOKEN_EXPIRES).get(finished.url)
    assert response.status_code == 404
    assert EXPIRED in text_of(response)
    for suffix in ("/invoice", "/offline", "/sw.js"):
        assert at(TOKEN_EXPIRES).get(finished.url + suffix).status_code == 404
    assert at(TOKEN_EXPIRES).post(finished.url + "/issue", {"category": "wifi", "urgency": "urgent",
                                                            "description": "x"}).status_code == 404


def test_token_deactivated_before_its_expiry_opens_nothing(finished, at):
    GuestPortalToken.objects.filter(booking=finished.booking).update(is_active=False)
    for suffix in ("", "/review", "/invoice"):
        assert at(LEFT_AT + dt.timedelta(days=1)).get(finished.url + suffix).status_code == 404


def test_ec_08_review_page_stays_open_60_days_after_checkout(finished, at):
    late = REVIEW_CLOSES - dt.timedelta(minutes=1)
    expired_page = at(late).get(finished.url)
    assert expired_page.status_code == 404 and EXPIRED in text_of(expired_page)
    assert f'href="{finished.url}/review"' in expired_page.content.decode()  # the way to the review

    page = at(late).get(finished.url + "/review")
    assert page.status_code == 200
    assert "Your overall rating" in text_of(page)
    assert "/invoice" not in page.content.decode()  # only the review is left

    response = at(late).post(finished.url + "/review/submit", {"overall_rating": "4", "comment": "Late but lovely"}, follow=True)
    assert response.status_code == 200
    assert "Thank you for your review!" in text_of(response)
    assert finished.booking.review.overall_rating == 4


def test_ec_08_review_page_closes_after_60_days(finished, at):
    for url in (finished.url + "/review", finished.url):
        response = at(REVIEW_CLOSES).get(url)
        assert response.status_code == 404
        assert EXPIRED in text_of(response) and "/review" not in response.content.decode()
    assert at(REVIEW_CLOSES).post(finished.url + "/review/submit", {"overall_rating": "4"}).status_code == 404


def test_link_still_works_after_the_stored_token_is_deleted(finished, at):
    """§10.3: after expiry only the token's hash is kept; the review window must survive that."""
    GuestPortalToken.objects.filter(booking=finished.booking).update(token=None, is_active=False)
    assert at(TOKEN_EXPIRES + dt.timedelta(days=2)).get(finished.url + "/review").status_code == 200


def test_token_of_another_tenant_is_unknown_here(stay, at, tenant, other_tenant):
    s = stay()
    on_beta = SchemaKeepingClient(HTTP_HOST=other_tenant.get_primary_domain().domain, keep=tenant)
    response = at(BEFORE, on_beta).get(s.url)
    assert response.status_code == 404
    assert EXPIRED in text_of(response)
    # The same ids make a different token under another tenant: links cannot be moved between hosts.
    assert make_token(s.booking.pk, s.booking.guest_id, other_tenant.pk) != s.token
    assert at(BEFORE).get(s.url).status_code == 200


# --- the domain's tenant, remembered per process (portal.selectors.tenant_for_domain) --------------------------------

@pytest.fixture
def remembered(stay, at):
    """A link whose page this process has served, so it remembers the domain's tenant; forgotten afterwards."""
    from portal.selectors import forget_domains

    s = stay()
    assert at(BEFORE).get(s.url).status_code == 200
    yield s
    forget_domains()


def _elsewhere(sql: str, params) -> None:
    """A change made by another process: plain SQL, so no signal reaches this one."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_domain_moved_to_another_tenant_elsewhere_serves_none_of_the_old_tenants_pages(remembered, at, tenant,
                                                                                         other_tenant):
    domain = tenant.get_primary_domain().domain
    _elsewhere("UPDATE public.tenants_domain SET tenant_id = %s WHERE domain = %s", (other_tenant.pk, domain))
    response = at(BEFORE).get(remembered.url)
    assert response.status_code == 404  # looked up in beta, the domain's tenant now: unknown there
    assert EXPIRED in text_of(response)
    _elsewhere("UPDATE public.tenants_domain SET tenant_id = %s WHERE domain = %s", (tenant.pk, domain))
    assert at(BEFORE).get(remembered.url).status_code == 200  # and back: no minute's wait either way


def test_a_domain_removed_elsewhere_is_not_found(remembered, at, tenant):
    _elsewhere("DELETE FROM public.tenants_domain WHERE domain = %s", (tenant.get_primary_domain().domain,))
    response = at(BEFORE).get(remembered.url)
    assert response.status_code == 404
    assert EXPIRED not in text_of(response)  # no tenant's page: the domain is nobody's


def test_a_domain_saved_in_this_process_is_looked_up_again(remembered, tenant):
    from portal import selectors

    assert tenant.get_primary_domain().domain in selectors._domains
    domain = tenant.get_primary_domain()
    domain.save()
    assert selectors._domains == {}


def test_portal_switched_off_for_the_tenant(stay, at, tenant):
    from tenants.current import _cache
    from tenants.models import TenantGuestExperienceConfig

    s = stay()
    TenantGuestExperienceConfig.objects.filter(tenant=tenant).update(portal_enabled=False)
    _cache.clear()
    try:
        assert at(BEFORE).get(s.url).status_code == 404
    finally:
        _cache.clear()


def test_page_views_are_counted(stay, at):
    s = stay()
    at(BEFORE).get(s.url)
    at(BEFORE + dt.timedelta(minutes=5)).get(s.url)
    row = GuestPortalToken.objects.get(booking=s.booking)
    assert (row.access_count, row.last_accessed_at) == (2, BEFORE + dt.timedelta(minutes=5))


def test_rate_limit_61st_request_in_an_hour_is_429(stay, at):
    s = stay()
    hour = dt.datetime(2026, 3, 10, 6, 0, tzinfo=UTC)
    for n in range(RATE_LIMIT_PER_HOUR):
        assert at(hour + dt.timedelta(seconds=n)).get(s.url).status_code == 200
    refused = at(hour + dt.timedelta(minutes=59)).get(s.url)
    assert refused.status_code == 429
    assert "Please wait a little and try again" in text_of(refused)
    # Everything on the link counts, actions too.
    assert at(hour + dt.timedelta(minutes=59)).post(s.url + "/checkin").status_code == 429
    # The next hour is a new window; the old one is dropped.
    assert at(hour + dt.timedelta(hours=1)).get(s.url).status_code == 200
    assert list(PortalRateWindow.objects.values_list("window_start", "count")) == [(hour + dt.timedelta(hours=1), 1)]


def test_rate_limit_is_per_token(stay, at):
    first, second = stay(), stay()
    PortalRateWindow.objects.create(token_hash=first_hash(first), window_start=BEFORE.replace(minute=0), count=60)
    assert at(BEFORE).get(first.url).status_code == 429
    assert at(BEFORE).get(second.url).status_code == 200


def test_review_only_link_is_still_rate_limited(finished, at):
    """After the portal expired, the review page (EC-08) is counted too, outside the page's own read."""
    after_expiry = TOKEN_EXPIRES + dt.timedelta(days=1)
    PortalRateWindow.objects.create(token_hash=first_hash(finished), window_start=after_expiry.replace(minute=0),
                                    count=RATE_LIMIT_PER_HOUR - 1)
    assert at(after_expiry).get(finished.url + "/review").status_code == 200  # the 60th
    assert at(after_expiry).get(finished.url + "/review").status_code == 429
    assert GuestPortalToken.objects.get(booking=finished.booking).access_count == 1  # the view served, not the refused


def test_a_link_that_opens_nothing_writes_nothing(finished, at):
    """Revoked or past the review window: a 404, with no counter row and no access counted."""
    token = GuestPortalToken.objects.get(booking=finished.booking)
    assert at(REVIEW_CLOSES + dt.timedelta(days=1)).get(finished.url).status_code == 404
    GuestPortalToken.objects.filter(pk=token.pk).update(is_active=False)
    assert at(LEFT_AT + dt.timedelta(days=1)).get(finished.url).status_code == 404
    assert not PortalRateWindow.objects.filter(token_hash=token.token_hash).exists()
    assert GuestPortalToken.objects.get(pk=token.pk).access_count == 0


def first_hash(s) -> str:
    return GuestPortalToken.objects.get(booking=s.booking).token_hash


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_post_without_csrf_token_is_refused(stay, at, csrf_client):
    s = stay()
    checkin_day = dt.datetime(2026, 3, 15, 4, 0, tzinfo=UTC)
    refused = at(checkin_day, csrf_client).post(s.url + "/checkin")
    assert refused.status_code == 403
    assert s.refresh().checked_in_at is None

    page = at(checkin_day, csrf_client).get(s.url)
    accepted = at(checkin_day, csrf_client).post(s.url + "/checkin", {"csrfmiddlewaretoken": _csrf_token(page.content.decode())})
    assert accepted.status_code == 303
    assert s.refresh().checked_in_at == checkin_day


def test_every_form_carries_a_csrf_token(stay, at, client):
    from bookings.services import check_in_guest

    s = stay(listing={"late_checkout_price": 700})
    check_in_guest(s.booking, now=ARRIVED_AT)
    html = at(dt.datetime(2026, 3, 18, 2, 0, tzinfo=UTC)).get(s.url).content.decode()  # check-out day: most forms
    forms = re.findall(r"<form\b.*?</form>", html, flags=re.S)
    assert len(forms) >= 3
    assert all("csrfmiddlewaretoken" in form for form in forms)


def test_service_worker_is_served_under_the_link_with_the_page_as_scope(stay, at):
    s = stay()
    response = at(BEFORE).get(s.url + "/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == s.url
    page = at(BEFORE).get(s.url).content.decode()
    assert f'register("{s.url}/sw.js",{{scope:"{s.url}"}})' in page


def test_offline_copy_has_the_static_content(stay, at):
    from bookings.models import PropertyRecommendation
    from bookings.services import check_in_guest

    s = stay()
    PropertyRecommendation.objects.create(property=s.booking.listing.property, category="CAFE", name="Vidyarthi Bhavan")
    before = text_of(at(BEFORE).get(s.url + "/offline"))
    assert "House rules" in before and "No smoking indoors" in before and "Call 112" in before
    assert "Vidyarthi Bhavan" not in before  # recommendations come with check-in (§8.1)
    check_in_guest(s.booking, now=ARRIVED_AT)
    during = text_of(at(ARRIVED_AT + dt.timedelta(hours=2)).get(s.url + "/offline"))
    assert "Vidyarthi Bhavan" in during and "4521" in during
