"""What the page shows at each point of the stay (RA-GUEST-001 §8.1, GX-CI-001, EC-12), rendered at
frozen instants. The booking: check-in Sun 15 Mar 2026 14:00 IST, check-out Wed 18 Mar 11:00 IST."""
import datetime as dt

import pytest

from bookings.models import PropertyRecommendation
from bookings.services import cancel_booking, check_in_guest, check_out_guest
from coupons.services import issue_stay_coupon
from tests.portal.conftest import ARRIVED_AT, LEFT_AT, UTC, text_of

PLACEHOLDER = "Check-in details will be available closer to your stay"
ADDONS = {"late_checkout_price": 700, "extra_cleaning_price": 500, "supports_early_checkin": True, "early_checkin_price": 900}

WEEKS_BEFORE = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
JUST_OVER_24H = dt.datetime(2026, 3, 14, 8, 29, tzinfo=UTC)  # check-in 08:30 UTC
WITHIN_24H = dt.datetime(2026, 3, 14, 8, 30, tzinfo=UTC)
CHECKIN_MORNING = dt.datetime(2026, 3, 15, 3, 0, tzinfo=UTC)  # 08:30 IST on the day
CHECKIN_DAY_LATE = dt.datetime(2026, 3, 15, 18, 29, tzinfo=UTC)  # 23:59 IST
DAY_AFTER = dt.datetime(2026, 3, 16, 6, 0, tzinfo=UTC)
CHECKOUT_EVE = dt.datetime(2026, 3, 17, 18, 0, tzinfo=UTC)  # 23:30 IST: T-12h, the check-out stage
CHECKOUT_MORNING = dt.datetime(2026, 3, 18, 2, 0, tzinfo=UTC)  # 07:30 IST


@pytest.fixture
def booked(stay):
    s = stay(listing=ADDONS)
    prop = s.booking.listing.property
    PropertyRecommendation.objects.create(property=prop, category="CAFE", name="Brahmin's Coffee Bar", sort_order=2)
    PropertyRecommendation.objects.create(property=prop, category="RESTAURANT", name="Vidyarthi Bhavan", sort_order=1,
                                          map_url="https://maps.example.com/vb")
    PropertyRecommendation.objects.create(property=prop, category="OTHER", name="Closed Place", is_active=False)
    return s


@pytest.fixture
def arrived(booked):
    check_in_guest(booked.booking, now=ARRIVED_AT)
    return booked


@pytest.fixture
def left(arrived):
    check_out_guest(arrived.booking, now=LEFT_AT)
    return arrived


def page(at, s, moment) -> str:
    response = at(moment).get(s.url)
    assert response.status_code == 200
    return text_of(response)


def html_of(at, s, moment) -> str:
    return at(moment).get(s.url).content.decode()


ALWAYS = ("Your booking", "Sun, 15 Mar 2026, from 2:00 PM", "Wed, 18 Mar 2026, by 11:00 AM", "₹8,500",
          "Contact your host", "Call +91 98765 00000", "Message on WhatsApp", "Call 112", "House rules",
          "No smoking indoors")


@pytest.mark.parametrize("moment", [WEEKS_BEFORE, WITHIN_24H, CHECKIN_MORNING])
def test_booking_details_contact_emergency_and_rules_always(booked, at, moment):
    text = page(at, booked, moment)
    assert all(part in text for part in ALWAYS)
    html = html_of(at, booked, moment)
    assert 'href="tel:+919876500000"' in html and 'href="https://wa.me/919876500000"' in html and 'href="tel:112"' in html


def test_always_also_after_checkout(left, at):
    text = page(at, left, LEFT_AT + dt.timedelta(days=3))
    assert all(part in text for part in ALWAYS)


@pytest.mark.parametrize("moment", [WEEKS_BEFORE, JUST_OVER_24H])
def test_gx_ci_001_checkin_details_hidden_until_24h_before(booked, at, moment):
    text = page(at, booked, moment)
    assert PLACEHOLDER in text
    assert "4521" not in text and "welcome2026" not in text and "maps.example.com/sunset" not in html_of(at, booked, moment)


def test_gx_ci_001_checkin_details_within_24h(booked, at):
    text = page(at, booked, WITHIN_24H)
    assert PLACEHOLDER not in text
    assert "4521" in text and "SunsetVilla_5G" in text and "welcome2026" in text
    assert 'href="https://maps.example.com/sunset"' in html_of(at, booked, WITHIN_24H)


def test_checkin_details_show_parking_instructions_and_directions(stay, at):
    s = stay(access={"parking_instructions": "Basement slot 4", "access_instructions": "Gate on the left",
                     "map_url": ""})
    text = page(at, s, WITHIN_24H)
    assert "Basement slot 4" in text and "Gate on the left" in text
    assert "https://www.google.com/maps/search/?api=1&amp;query=12%20MG%20Road" in html_of(at, s, WITHIN_24H)


@pytest.mark.parametrize("access", [False, {"access_code": ""}])
def test_ec_12_no_access_code_staff_will_meet_you(stay, at, access):
    s = stay(access=access)
    text = page(at, s, WITHIN_24H)
    assert "Our staff will meet you at the property." in text


def test_checkin_button_on_checkin_day_only(booked, at):
    assert "I have checked in" not in page(at, booked, WITHIN_24H)  # the day before, 14:00 IST
    assert "I have checked in" in page(at, booked, CHECKIN_MORNING)
    assert "I have checked in" in page(at, booked, CHECKIN_DAY_LATE)
    assert "I have checked in" not in page(at, booked, DAY_AFTER)


def test_gx_t04_after_checkin_the_button_becomes_the_time(arrived, at):
    text = page(at, arrived, ARRIVED_AT + dt.timedelta(hours=1))
    assert "I have checked in" not in text
    assert "Checked in at 2:30 PM" in text
    assert "Checked in at 2:30 PM on 15 Mar 2026" in page(at, arrived, DAY_AFTER)


def test_recommendations_only_once_checked_in(stay, at):
    s = stay()
    PropertyRecommendation.objects.create(property=s.booking.listing.property, category="CAFE", name="Koshy's")
    assert "Koshy's" not in page(at, s, CHECKIN_MORNING)
    check_in_guest(s.booking, now=CHECKIN_MORNING)
    text = page(at, s, CHECKIN_MORNING + dt.timedelta(minutes=1))
    assert "Things to do nearby" in text and "Koshy's" in text


def test_recommendations_active_ones_in_sort_order(arrived, at):
    text = page(at, arrived, DAY_AFTER)
    assert text.index("Vidyarthi Bhavan") < text.index("Brahmin's Coffee Bar")
    assert "Closed Place" not in text
    assert 'href="https://maps.example.com/vb"' in html_of(at, arrived, DAY_AFTER)


def test_no_recommendations_after_checkout(left, at):
    assert "Vidyarthi Bhavan" not in page(at, left, LEFT_AT + dt.timedelta(hours=1))


def test_addons_early_checkin_before_arrival_only(booked, at):
    text = page(at, booked, WITHIN_24H)
    assert "Request early check-in" in text and "₹900" in text
    assert "Request late check-out" not in text and "Request extra cleaning" not in text


def test_addons_during_the_stay(arrived, at):
    text = page(at, arrived, DAY_AFTER)
    assert "Request late check-out" in text and "₹700" in text
    assert "Request extra cleaning" in text and "₹500" in text
    assert "Request early check-in" not in text


def test_addons_without_price_are_not_offered(stay, at):
    s = stay(listing={"late_checkout_price": 700, "supports_early_checkin": True})  # no early check-in price
    assert "Request early check-in" not in page(at, s, WITHIN_24H)
    check_in_guest(s.booking, now=ARRIVED_AT)
    text = page(at, s, DAY_AFTER)
    assert "Request late check-out" in text and "Request extra cleaning" not in text


def test_early_checkin_needs_listing_support(stay, at):
    s = stay(listing={"early_checkin_price": 900})
    assert "Request early check-in" not in page(at, s, WITHIN_24H)


def test_no_addons_after_checkout(left, at):
    assert "Request late check-out" not in page(at, left, LEFT_AT + dt.timedelta(hours=1))


def test_report_issue_not_before_checkin(booked, at):
    assert "Report a problem" not in page(at, booked, CHECKIN_MORNING)
    check_in_guest(booked.booking, now=ARRIVED_AT)
    assert "Report a problem" in page(at, booked, ARRIVED_AT + dt.timedelta(minutes=1))


def test_ec_13_report_issue_within_24h_after_checkout(left, at):
    assert "Report a problem" in page(at, left, LEFT_AT + dt.timedelta(hours=23, minutes=59))
    assert "Report a problem" not in page(at, left, LEFT_AT + dt.timedelta(hours=24, minutes=1))


def test_checkout_checklist_and_damage_form_on_checkout_day(arrived, at):
    text = page(at, arrived, DAY_AFTER)
    assert "Return all keys" not in text and "Report damage" not in text
    assert "On your check-out day" in text
    for moment in (CHECKOUT_EVE, CHECKOUT_MORNING):
        text = page(at, arrived, moment)
        assert "Return all keys and remotes" in text and "Switch off the AC and lights" in text
        assert "Report damage" in text


def test_after_checkout_on_the_day_damage_form_stays_checklist_goes(left, at):
    text = page(at, left, LEFT_AT + dt.timedelta(hours=1))
    assert "Report damage" in text and "Return all keys" not in text
    assert "Report damage" not in page(at, left, LEFT_AT + dt.timedelta(days=1))


def test_post_stay_invoice_review_and_coupon(left, at):
    coupon = issue_stay_coupon(left.booking, LEFT_AT)
    text = page(at, left, LEFT_AT + dt.timedelta(hours=3))
    html = html_of(at, left, LEFT_AT + dt.timedelta(hours=3))
    assert "Rate your stay" in text and "Your overall rating (required)" in text
    assert f'href="{left.url}/invoice"' in html
    assert coupon.coupon_code in text and "10% off your next direct booking" in text
    assert "I have checked in" not in text and "4521" not in text


def test_no_post_stay_sections_before_checkout(arrived, at):
    text = page(at, arrived, CHECKOUT_MORNING)
    assert "Your overall rating" not in text and "/invoice" not in html_of(at, arrived, CHECKOUT_MORNING)


def test_coupon_only_while_active(left, at):
    coupon = issue_stay_coupon(left.booking, LEFT_AT)
    coupon.status = "USED"
    coupon.save()
    assert coupon.coupon_code not in page(at, left, LEFT_AT + dt.timedelta(hours=3))


@pytest.mark.parametrize("moment", [WEEKS_BEFORE, CHECKIN_MORNING, DAY_AFTER, CHECKOUT_MORNING])
def test_anchors_messages_link_to_always_exist(booked, at, moment):
    if moment > ARRIVED_AT:
        check_in_guest(booked.booking, now=ARRIVED_AT)
    html = html_of(at, booked, moment)
    for anchor in ("checkin", "review", "damage"):
        assert f'id="{anchor}"' in html


def test_anchors_exist_after_checkout(left, at):
    html = html_of(at, left, LEFT_AT + dt.timedelta(days=2))
    assert all(f'id="{a}"' in html for a in ("checkin", "review", "damage"))


def test_cancelled_booking_shows_details_and_no_actions(booked, at):
    cancel_booking(booked.booking, now=WEEKS_BEFORE)
    text = page(at, booked, CHECKIN_MORNING)
    assert "This booking was cancelled" in text
    assert "I have checked in" not in text and "4521" not in text and "Request early check-in" not in text


def test_invoice_after_checkout(left, at):
    from bookings.services import record_payment

    record_payment(left.booking, amount=3000, reference="UPI-1", now=WEEKS_BEFORE)
    text = text_of(at(LEFT_AT + dt.timedelta(hours=1)).get(left.url + "/invoice"))
    assert f"Invoice #{left.booking.pk}" in text and "3 nights" in text and "₹8,500" in text
    assert "Paid ₹3,000" in text and "Balance ₹5,500" in text and "Print or save as PDF" in text


def test_invoice_not_before_checkout(arrived, at):
    response = at(CHECKOUT_MORNING).get(arrived.url + "/invoice")
    assert response.status_code == 404
    assert "Your invoice will be available here after check-out." in text_of(response)
