"""The back office in Debian's chromium (issue #7, DoD: "a screenshot of the metrics dashboard with demo data,
taken in chromium by the test run"): the demo host Sunset Stays seeded as of now (tenants/demo.py) and served
by gunicorn; the owner's §11.1 dashboard, the Atlas admin's §11.2 platform metrics, and the template editor's
in-place preview. Screenshots: artifacts/screenshots/."""
from __future__ import annotations

import datetime as dt

import httpx
import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.utils import schema_context

from insights.metrics import TENANT_METRICS
from insights.platform import PLATFORM_METRICS
from tenants import demo
from tests.portal.live import free_port, gunicorn
from tests.portal.test_live import CHROMIUM, SCREENSHOTS, browser  # noqa: F401  (the shared chromium fixture)
from tests.test_seed_demo import drop_demo, seed

def guests_respond(now: dt.datetime) -> dict[str, int]:
    """What the demo's history leaves out because it happens outside the app: providers reporting deliveries,
    guests reviewing their stays and reporting issues that staff then resolve. All through the services, at
    their own instants (before `now`), picked deterministically. Returns how many of each."""
    from bookings.models import Booking
    from messaging.models import LogStatus, MessageAttempt
    from messaging.statuses import apply_provider_status
    from operations.services import report_guest_issue, resolve_issue
    from reviews.services import submit_review
    from tenants.models import ProviderMessageRoute

    done = {"statuses": 0, "reviews": 0, "issues": 0}
    sent = list(MessageAttempt.objects.filter(status=LogStatus.SENT).exclude(provider_message_id=""))
    # The sandbox records no routes (no provider will ever call back); a real send does (GX-CE-002).
    schema = connection.schema_name
    ProviderMessageRoute.objects.bulk_create(
        [ProviderMessageRoute(provider_message_id=a.provider_message_id, schema_name=schema) for a in sent],
        ignore_conflicts=True)
    for attempt in sent:
        if attempt.pk % 8:  # about one in eight is never confirmed delivered
            status = LogStatus.READ if attempt.pk % 3 else LogStatus.DELIVERED
            done["statuses"] += apply_provider_status(attempt.provider_message_id, status,
                                                      attempt.attempted_at + dt.timedelta(minutes=2))
    for booking in Booking.objects.filter(checked_in_at__lt=now - dt.timedelta(hours=8)).order_by("pk"):
        if booking.pk % 3 == 0:
            reported = booking.checked_in_at + dt.timedelta(hours=3)
            issue = report_guest_issue(booking, category="wifi", urgency="urgent",
                                       description="The WiFi drops every few minutes", now=reported)
            resolve_issue(issue, now=min(reported + dt.timedelta(hours=1 + booking.pk % 5), now))
            done["issues"] += 1
        if booking.checked_out_at and booking.checked_out_at + dt.timedelta(hours=20) < now and booking.pk % 4:
            submit_review(booking, overall_rating=3 + booking.pk % 3, comment="Lovely stay",
                          now=booking.checked_out_at + dt.timedelta(hours=20))
            done["reviews"] += 1
    return done


def guests_open_their_links(port: int, links: int = 6, views: int = 3) -> None:
    """A few guests open their portal link on the live server (the portal counts page views, §8.2)."""
    from portal.models import GuestPortalToken

    now = dt.datetime.now(dt.timezone.utc)
    tokens = list(GuestPortalToken.objects.filter(is_active=True, token__isnull=False, expires_at__gt=now)
                  .order_by("booking_id").values_list("token", flat=True)[:links])
    with httpx.Client(headers={"Host": f"{demo.DEMO_SLUG}.localhost"}, timeout=10.0) as client:
        for token in tokens:
            for _ in range(views):
                assert client.get(f"http://127.0.0.1:{port}/guest/{token}").status_code == 200


OWNER = next((name, password) for name, _first, _last, password in demo.ROLE_USERS if name == "owner")
PLATFORM_ADMIN = (demo.ADMIN_USERNAME, demo.ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def live_demo(django_db_setup, django_db_blocker):
    """The demo seeded at the real clock (the server computes its metrics at the real clock too), committed,
    served on a free loopback port; dropped again afterwards, platform admin included if it was not there."""
    from django.contrib.auth import get_user_model

    if not CHROMIUM.exists():  # before a minute of seeding that no browser would look at
        pytest.skip("no chromium at /usr/bin/chromium (make browser installs it with apt-get)")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        admin_existed = get_user_model().objects.filter(username=demo.ADMIN_USERNAME).exists()
        try:
            seed(now)
            with schema_context(demo.DEMO_SLUG), transaction.atomic(), pytest.MonkeyPatch.context() as patch:
                patch.setattr("messaging.tasks.request_tick", lambda schema: None)  # no task queue in tests
                guests_respond(now)
        except BaseException:
            drop_demo(keep_admin=admin_existed)
            raise
        # The admin's CSS is served by whitenoise from STATIC_ROOT, as in `make run` (gitignored).
        call_command("collectstatic", interactive=False, verbosity=0)
    try:
        port = free_port()
        with gunicorn(port):
            with django_db_blocker.unblock(), schema_context(demo.DEMO_SLUG):
                guests_open_their_links(port)
            yield port
    finally:
        # Playwright's event loop may still run on this thread: the ORM calls here are plain blocking ones.
        with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
            patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
            drop_demo(keep_admin=admin_existed)
            connection.close()


@pytest.fixture
def desktop(live_demo, browser):  # noqa: F811  (browser: the imported fixture)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    yield tab
    context.close()


def log_in(page, origin: str, credentials: tuple[str, str], then: str) -> None:
    page.goto(f"{origin}/admin/login/?next={then}")
    page.get_by_label("Username").fill(credentials[0])
    page.get_by_label("Password").fill(credentials[1])
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{origin}{then}")


def shoot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def assert_cards_with_charts(page, names) -> None:
    """Each card shows its latest value and an SVG chart of its trend (at least two periods measured)."""
    for name in names:
        card = page.locator(f"#metric-{name}")
        assert card.is_visible(), name
        assert card.locator(".gx-value").inner_text().strip() not in ("", "—"), name
        chart = card.locator("svg polyline")
        assert chart.count() == 1 and card.locator("svg").is_visible(), name
        assert len(chart.get_attribute("points").split()) >= 2, name
    assert page.evaluate("document.scrollingElement.scrollWidth") <= page.viewport_size["width"]
    # The admin's own stylesheet is applied (without it the page is a bare list of links).
    assert page.evaluate("getComputedStyle(document.querySelector('#header')).backgroundColor") != "rgba(0, 0, 0, 0)"


@pytest.mark.browser
def test_metrics_dashboard_with_demo_data(live_demo, desktop):
    origin = f"http://{demo.DEMO_SLUG}.localhost:{live_demo}"
    log_in(desktop, origin, OWNER, "/admin/dashboard/")
    shoot(desktop, "metrics-dashboard")
    assert desktop.get_by_role("heading", name="Guest experience dashboard").is_visible()
    assert desktop.locator(".gx-grid .gx-card").count() == len(TENANT_METRICS) == 10
    assert_cards_with_charts(desktop, TENANT_METRICS)
    assert desktop.locator("#sent-today").is_visible()


@pytest.mark.browser
def test_platform_metrics_page(live_demo, desktop):
    origin = f"http://localhost:{live_demo}"
    log_in(desktop, origin, PLATFORM_ADMIN, "/admin/platform-metrics/")
    shoot(desktop, "platform-metrics")
    assert desktop.locator(".gx-grid .gx-card").count() == len(PLATFORM_METRICS) == 7
    # One demo tenant with under a year of history: no first stay is 3 months old and no coupon was redeemed yet.
    assert_cards_with_charts(desktop, ["platform_guest_satisfaction", "message_delivery_health",
                                       "direct_booking_growth", "reengagement_effectiveness"])
    assert float(desktop.locator("#metric-portal_engagement .gx-value").inner_text().split()[0]) == 3.0
    for name in ("guest_retention_cohort", "coupon_roi"):
        assert "Nothing to measure yet." in desktop.inner_text(f"#metric-{name}"), name
    assert "Sunset" not in desktop.inner_text("#content")  # anonymized: no tenant is named


@pytest.mark.browser
def test_template_editor_previews_an_edit_in_place(live_demo, desktop):
    origin = f"http://{demo.DEMO_SLUG}.localhost:{live_demo}"
    log_in(desktop, origin, OWNER, "/admin/messaging/messagetemplate/")
    desktop.get_by_role("link", name="BOOKING_CONFIRMED_WA").first.click()
    assert "Hi Priya Sharma!" in desktop.inner_text("#preview-text")
    desktop.locator("#id_body").fill("Namaste {{guest_name}}! {{#if balance_due}}Balance: {{balance_due}}")
    desktop.get_by_role("button", name="Preview my changes").click()
    desktop.locator("#preview-errors").wait_for()
    assert "{{#if}} is never closed: add {{/if}}." in desktop.inner_text("#preview-errors")
    desktop.locator("#id_body").fill("Namaste {{guest_name}}! {{#if balance_due}}Balance: {{balance_due}}{{/if}}")
    desktop.get_by_role("button", name="Preview my changes").click()
    desktop.wait_for_function("() => !document.querySelector('#preview-errors')")
    assert desktop.inner_text("#preview-text") == "Namaste Priya Sharma! Balance: ₹3,000"
    assert desktop.url.endswith("/change/")  # previewed in place: the editor and its unsaved edit are still here
    shoot(desktop, "template-editor")
