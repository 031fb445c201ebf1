"""What a portal page view costs the database (NFR 3: the page under load; bench/portal_cost.py measures
the CPU). The in-stay page is two statements: everything the page shows (confirming that the request's
domain is still the tenant's), and the shared rate-limit counter with the access count; the domain's tenant
is read once a minute per process. A regression that adds a query per view fails here."""
import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import AddonRequest, PropertyRecommendation
from bookings.services import check_in_guest, check_out_guest
from tests.portal.conftest import ARRIVED_AT, LEFT_AT, UTC

WEEKS_BEFORE = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
DAY_AFTER = dt.datetime(2026, 3, 16, 6, 0, tzinfo=UTC)
CHECKOUT_MORNING = dt.datetime(2026, 3, 18, 2, 0, tzinfo=UTC)
AFTER = dt.datetime(2026, 3, 19, 6, 0, tzinfo=UTC)


@pytest.fixture
def in_stay(stay):
    s = stay(listing={"late_checkout_price": 700, "extra_cleaning_price": 500})
    prop = s.booking.listing.property
    for n, name in enumerate(["Vidyarthi Bhavan", "Cubbon Park", "Brahmin's Coffee Bar"]):
        PropertyRecommendation.objects.create(property=prop, category="CAFE", name=name, sort_order=n)
    check_in_guest(s.booking, now=ARRIVED_AT)
    AddonRequest.objects.create(booking=s.booking, code="LATE_CHECKOUT", requested_at=ARRIVED_AT)
    return s


def statements(at, moment, url) -> list[str]:
    at(moment).get(url)  # the tenant and the templates loaded once per process, as in a running server
    with CaptureQueriesContext(connection) as run:
        response = at(moment + dt.timedelta(minutes=1)).get(url)
    assert response.status_code == 200
    return [q["sql"] for q in run.captured_queries]


def test_in_stay_page_is_two_statements(in_stay, at):
    sql = statements(at, DAY_AFTER, in_stay.url)
    assert len(sql) == 2, sql
    assert "portal_guestportaltoken" in sql[0] and "bookings_propertyrecommendation" in sql[0]
    assert '"public"."tenants_domain"' in sql[0]  # the domain confirmed in the same statement
    assert sql[1].lstrip().startswith("WITH hit AS")
    assert not any(re.match(r"\s*SET search_path", q) for q in sql)  # schema-qualified: no SET per request


@pytest.mark.parametrize("moment", [WEEKS_BEFORE, CHECKOUT_MORNING])
def test_other_stages_are_two_statements_too(in_stay, stay, at, moment):
    s = in_stay if moment == CHECKOUT_MORNING else stay()
    assert len(statements(at, moment, s.url)) == 2


def test_post_stay_page_reads_review_and_coupon_besides(in_stay, at):
    check_out_guest(in_stay.booking, now=LEFT_AT)
    assert len(statements(at, AFTER, in_stay.url)) <= 6


def test_the_rendered_page_is_the_same_statements(in_stay, at):
    """A first view (rendered) and a view again (from the render cache) read the same."""
    from portal import pagecache

    at(DAY_AFTER).get(in_stay.url)  # the domain's tenant remembered, as in a running server
    pagecache.clear()
    with CaptureQueriesContext(connection) as first:
        at(DAY_AFTER).get(in_stay.url)
    with CaptureQueriesContext(connection) as again:
        at(DAY_AFTER).get(in_stay.url)
    assert len(first.captured_queries) == len(again.captured_queries) == 2
