from bookings.models import Booking
from tests.factories import make_booking


def test_a_booking_is_stored_in_the_tenant_schema(tenant):
    booking = make_booking()
    assert Booking.objects.get(pk=booking.pk).final_amount == booking.final_amount
