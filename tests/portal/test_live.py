"""The portal on a real server: the rate limit shared by processes (NFR 7), and Playwright driving Debian's
chromium at 360×640 (§8.3): no horizontal scroll at any stage, tap targets, the check-in tap (GX-T04), an issue
report (GX-T03), a review, and reading offline through the service worker. Screenshots: artifacts/screenshots/."""
from __future__ import annotations

import datetime as dt
import multiprocessing
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django_tenants.utils import schema_context

from tests.portal.live import SCHEMA, hammer, live_portal

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(settings.BASE_DIR) / "artifacts" / "screenshots"
STAGE_PAGES = ["pre_arrival", "checkin_day", "in_stay", "checkout_day", "post_stay"]


@pytest.fixture(scope="module")
def live(django_db_setup, django_db_blocker):
    with live_portal(django_db_blocker) as portal:
        yield portal


@pytest.fixture
def db_read(django_db_blocker):
    """Read the live tenant's committed rows from the test process."""

    def read(query):
        with django_db_blocker.unblock():
            try:
                with schema_context(SCHEMA):
                    return query()
            finally:
                # Under Playwright's greenlets this may be a connection of its own: close it, or it would
                # outlive the session and block dropping the test database.
                connection.close()

    return read


# --- rate limit across processes ---------------------------------------------------------------------------------


def test_rate_limit_is_shared_by_processes(live, db_read):
    """Two client processes against two gunicorn workers: 70 requests, exactly 60 served."""
    from portal.access import RATE_LIMIT_PER_HOUR, window_start
    from portal.models import PortalRateWindow
    from portal.services import hash_token

    started = window_start(dt.datetime.now(dt.timezone.utc))
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        results = pool.starmap(hammer, [(f"http://127.0.0.1:{live.port}{live.path('rate')}", live.host, 35)] * 2)
    if window_start(dt.datetime.now(dt.timezone.utc)) != started:
        pytest.skip("the run crossed the hour, when the count starts again")
    statuses = [status for one in results for status in one]
    assert statuses.count(200) == RATE_LIMIT_PER_HOUR
    assert statuses.count(429) == 70 - RATE_LIMIT_PER_HOUR
    assert all(one.count(200) > 0 for one in results)  # both processes were served: the count is shared
    count = db_read(lambda: PortalRateWindow.objects.get(token_hash=hash_token(live.tokens["rate"]), window_start=started).count)
    assert count == 70


# --- the domain's tenant, remembered by each worker -----------------------------------------------------------------


def test_a_tenant_dropped_by_another_process_is_not_found_at_once(live, django_db_blocker):
    """The workers remember the domain's tenant for a minute (portal.selectors.tenant_for_domain). Another
    process drops the tenant (its schema gone, its domain with it): the next views are a 404, not a server
    error and not a minute of the old tenant."""
    url = f"http://127.0.0.1:{live.port}{live.path('pre_arrival')}"
    assert hammer(url, live.host, 6) == [200] * 6  # both workers have looked the domain up

    def run(*statements):
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, params)

    run((f'ALTER SCHEMA "{SCHEMA}" RENAME TO "{SCHEMA}_gone"', None),
        ("UPDATE public.tenants_domain SET domain = 'gone.' || domain WHERE domain = %s", [live.host]))
    try:
        statuses = hammer(url, live.host, 6)
    finally:
        run((f'ALTER SCHEMA "{SCHEMA}_gone" RENAME TO "{SCHEMA}"', None),
            ("UPDATE public.tenants_domain SET domain = %s WHERE domain = %s", [live.host, f"gone.{live.host}"]))
    assert statuses == [404] * 6
    assert hammer(url, live.host, 1) == [200]  # and back


# --- the browser ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("no chromium at /usr/bin/chromium (make browser installs it with apt-get)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, monkeypatch):
    # Playwright's sync API keeps an event loop on this thread; the ORM reads in these tests are plain
    # blocking reads of committed rows, which Django would otherwise refuse next to a running loop.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    context = browser.new_context(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True)
    tab = context.new_page()
    yield tab
    context.close()


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"portal-{name}.png"), full_page=True)


SMALL_TAP_TARGETS = """() => [...document.querySelectorAll('a, button, select, textarea, .stars label')]
    .filter(e => e.offsetParent !== null && getComputedStyle(e).display !== 'inline')
    .map(e => [e.textContent.trim().slice(0, 40) || e.name, e.getBoundingClientRect().height])
    .filter(([, h]) => h < 44)"""


@pytest.mark.browser
@pytest.mark.parametrize("stage", STAGE_PAGES)
def test_no_horizontal_scroll_at_360px_and_large_tap_targets(live, page, stage):
    response = page.goto(live.url(stage))
    assert response.status == 200
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    assert page.evaluate("document.documentElement.clientWidth") == 360
    assert page.evaluate(SMALL_TAP_TARGETS) == []
    assert page.locator("#checkin").count() == page.locator("#review").count() == page.locator("#damage").count() == 1
    shoot(page, stage)


@pytest.mark.browser
def test_checkin_tap(live, page, db_read):
    from bookings.models import Booking

    page.goto(live.url("tap") + "#checkin")
    page.get_by_role("button", name="I have checked in").tap()
    page.get_by_text("Checked in at").wait_for()
    assert page.get_by_role("button", name="I have checked in").count() == 0
    assert page.url.endswith("#checkin")
    shoot(page, "checked-in")
    booking = db_read(lambda: Booking.objects.get(pk=live.booking_ids["tap"]))
    assert booking.checked_in_at is not None and booking.checked_in_via == "PORTAL"
    # EC-07: the browser's back-and-resubmit or a second tab: the same text, nothing new.
    page.goto(live.url("tap"))
    assert "Checked in at" in page.inner_text("#checkin")


@pytest.mark.browser
def test_issue_report_through_the_page(live, page, db_read):
    from operations.models import AuditLog, MaintenanceTicket

    page.goto(live.url("issue") + "#report")
    page.get_by_label("What is the problem?").select_option("wifi")
    page.get_by_label("How urgent is it?").select_option("urgent")
    page.get_by_label("Describe it").fill("The WiFi drops every few minutes")
    page.get_by_role("button", name="Send report").tap()
    page.get_by_text("We've received your report and our team is on it.").wait_for()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    shoot(page, "issue-reported")
    ticket = db_read(lambda: MaintenanceTicket.objects.get(booking_id=live.booking_ids["issue"]))
    assert (ticket.ticket_type, ticket.severity, ticket.description) == ("WIFI", "HIGH", "The WiFi drops every few minutes")
    row = db_read(lambda: AuditLog.objects.get(booking_id=live.booking_ids["issue"], action="portal.issue_reported"))
    assert row.ip_address == "127.0.0.1" and row.actor.startswith("guest:")


@pytest.mark.browser
def test_review_through_the_page(live, page, db_read):
    from reviews.models import GuestReview

    page.goto(live.url("review") + "#review")
    # The browser itself asks for the required stars before sending.
    page.get_by_role("button", name="Send review").tap()
    assert db_read(lambda: GuestReview.objects.filter(booking_id=live.booking_ids["review"]).count()) == 0
    page.get_by_role("radio", name="5 stars").check()
    page.get_by_label("Cleanliness").select_option("4")
    page.get_by_label("Anything you would like to tell us?").fill("Spotless room and a lovely host")
    page.get_by_role("button", name="Send review").tap()
    page.get_by_text("Thank you for your review!").wait_for()
    assert "You rated your stay 5 out of 5" in page.inner_text("#review")
    shoot(page, "reviewed")
    review = db_read(lambda: GuestReview.objects.get(booking_id=live.booking_ids["review"]))
    assert (review.overall_rating, review.cleanliness_rating, review.comment) == (5, 4, "Spotless room and a lovely host")


@pytest.mark.browser
def test_rules_and_recommendations_readable_offline(live, page):
    page.goto(live.url("offline"))
    offline_url = live.url("offline", "/offline")
    page.wait_for_function(
        "url => navigator.serviceWorker.ready.then(() => caches.open('portal-offline'))"
        ".then(c => c.match(url)).then(r => !!r)", arg=offline_url, timeout=10_000,
    )
    page.context.set_offline(True)
    try:
        page.reload()
        text = page.inner_text("main")
    finally:
        page.context.set_offline(False)
    assert "Saved for reading without a connection" in text
    assert "House rules" in text and "No smoking indoors" in text
    assert "Vidyarthi Bhavan" in text and "Call 112" in text
    shoot(page, "offline")


@pytest.mark.browser
def test_a_calendar_booking_guest_completes_their_contact_and_sees_the_booking(live, page, db_read):
    """Issue 15: the booking's link opens "Complete your check-in"; a landline is refused in words; the saved
    form leads to the portal with the booking, and the guest's consent is recorded."""
    from bookings.models import Booking
    from guests.models import GuestConsent

    page.goto(live.url("calendar"))
    page.get_by_role("heading", name="Complete your check-in").wait_for()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 360
    assert page.evaluate(SMALL_TAP_TARGETS) == []
    assert not page.get_by_label("Offers and news from your host").is_checked()
    shoot(page, "contact-form")
    page.get_by_label("Your name").fill("Kavya Menon")
    page.get_by_label("Mobile number").fill("080 2345 6789")
    page.get_by_label("Number of guests").fill("2")
    page.get_by_role("button", name="Save and see my booking").tap()
    page.get_by_text("is a landline. Enter a mobile number").wait_for()
    page.get_by_label("Mobile number").fill("98765 00321")
    page.get_by_label("Expected arrival time (optional)").fill("16:30")
    page.get_by_role("button", name="Save and see my booking").tap()
    page.get_by_role("heading", name="Your booking").wait_for()
    assert page.get_by_role("heading", name="Complete your check-in").count() == 0
    assert "Check-in details will be available closer to your stay." in page.inner_text("#checkin")
    shoot(page, "contact-completed")

    booking = db_read(lambda: Booking.objects.select_related("guest").get(pk=live.booking_ids["calendar"]))
    assert not booking.contact_needed and booking.guest.phone == "+919876500321" and booking.guests_planned == 2
    channels = db_read(lambda: set(GuestConsent.objects.filter(guest=booking.guest, marketing=False, status="GRANTED")
                                   .values_list("channel", flat=True)))
    assert channels == {"WHATSAPP", "SMS"}  # no email given: none asked for
