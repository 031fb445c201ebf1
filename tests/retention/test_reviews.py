"""Reviews (§7.2): one per booking, ratings 1–5, host-entered OTA reviews, low ratings alert the host,
HIGH_RATED, and the reminders stop."""
import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from bookings.services import check_in_guest, check_out_guest
from guests.models import GuestTag
from operations.models import HostNotification
from reviews.models import GuestReview
from reviews.services import enter_ota_review, submit_review

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
LEFT = dt.datetime(2026, 3, 18, 5, 30, tzinfo=UTC)


@pytest.fixture
def stayed(book, tick):
    booking = book(now=NOW)
    tick(NOW)
    check_in_guest(booking, now=dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC))
    check_out_guest(booking, now=LEFT)
    tick(LEFT)
    return booking


def test_portal_review_once_with_sub_ratings_and_reminders_stop(stayed, tick):
    review = submit_review(stayed, overall_rating="5", cleanliness_rating=4, comment=" Lovely stay ", now=LEFT + dt.timedelta(hours=3))
    assert (review.overall_rating, review.cleanliness_rating, review.comment, review.source, review.status) == (
        5, 4, "Lovely stay", "PORTAL", "SUBMITTED")
    stayed.refresh_from_db()
    assert stayed.review_request_status == "REVIEWED"
    assert set(GuestTag.objects.filter(guest=stayed.guest).values_list("tag", flat=True)) >= {"HIGH_RATED"}
    with pytest.raises(ValidationError, match="already been submitted"):
        submit_review(stayed, overall_rating=4, now=LEFT + dt.timedelta(hours=4))
    tick(LEFT + dt.timedelta(days=8))
    assert not stayed.schedules.filter(event_type="guest.review_reminder", status="Published").exists()


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"overall_rating": 0}, "1 to 5"), ({"overall_rating": 6}, "1 to 5"), ({"overall_rating": None}, "Choose a rating"),
    ({"overall_rating": "five"}, "1 to 5"), ({"overall_rating": 4, "value_rating": 9}, "1 to 5"),
    ({"overall_rating": 4, "comment": "x" * 2001}, "under 2000 characters"),
])
def test_bad_reviews_are_refused_and_nothing_is_written(stayed, kwargs, words):
    with pytest.raises(ValidationError, match=words):
        submit_review(stayed, now=LEFT, **kwargs)
    assert not GuestReview.objects.exists()


def test_no_portal_review_before_check_out(book, tick):
    booking = book(now=NOW)
    with pytest.raises(ValidationError, match="after check-out"):
        submit_review(booking, overall_rating=5, now=NOW)


def test_low_rating_alerts_the_host(stayed):
    submit_review(stayed, overall_rating=2, comment="Noisy", now=LEFT)
    alert = HostNotification.objects.get(booking=stayed, kind="LOW_RATING")
    assert "rated their stay 2★" in alert.title
    assert not GuestTag.objects.filter(guest=stayed.guest, tag="HIGH_RATED").exists()


def test_host_enters_an_ota_review(stayed):
    review = enter_ota_review(stayed, overall_rating=4, comment="From Airbnb", now=LEFT)
    assert (review.source, review.overall_rating) == ("MANUAL", 4)
