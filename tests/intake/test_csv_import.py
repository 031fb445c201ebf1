"""Issue 15 §3: bookings from a PMS export (intake/csv_import.py). CSV in UTF-8, Windows-1252 or Excel's UTF-16
text, semicolons, .xlsx; every row validated and reported in words; a dry run writes nothing; importing the same
file twice creates nothing new; the export's later word (moved dates, a cancellation) reaches the booking."""
from __future__ import annotations

import codecs
import datetime as dt
import io
from decimal import Decimal

import pytest

from bookings.models import Booking, BookingSource, BookingStatus, Payment, PaymentStatus
from guests.models import Guest, GuestConsent
from intake.csv_import import MAX_BYTES, MAX_ROWS, FileProblem, import_bookings
from messaging.models import AutomationSchedule, CommunicationLog, OutboxMessage, Recipient
from operations.models import AuditLog, HostNotification
from portal.models import GuestPortalToken
from tests.factories import make_guest, make_listing, make_property
from tests.intake.conftest import NOW

HEADER = "Listing,Guest name,Phone,Email,Check-in,Check-out,Guests,Total,Paid,Source,Booking ID,Status"
ASHA = "Garden Loft,Asha Rao,+91 98765 00101,asha@example.com,10/12/2026,13/12/2026,2,\"12,500.00\",5000,Airbnb,HM1001,"
RAVI = "Garden Loft,Ravi Kumar,98765 00102,,2026-11-01,2026-11-04,3,9000,9000,Booking.com,BK2002,Completed"
MEERA = "Sea Breeze,Meera Iyer,+91 98765 00103,,5 Dec 2026,7 Dec 2026,1,4000,,Direct,D3003,Cancelled"


@pytest.fixture
def listings(tenant):
    villa = make_property(name="Sunset Villa")
    return {name: make_listing(villa, name=name) for name in ("Garden Loft", "Sea Breeze")}


def csv_file(*rows: str, header: str = HEADER) -> bytes:
    return ("\n".join((header, *rows)) + "\n").encode()


def run(data: bytes, **kw):
    return import_bookings(data, now=NOW, **kw)


def counts() -> dict[str, int]:
    """Every table an import could write."""
    models = (Booking, Guest, GuestConsent, Payment, OutboxMessage, AutomationSchedule, CommunicationLog,
              GuestPortalToken, AuditLog, HostNotification)
    return {model.__name__: model.objects.count() for model in models}


def outcomes(result) -> list[tuple[int, str]]:
    return [(row.row, row.action) for row in result.rows]


# --- what an import makes -------------------------------------------------------------------------------------


def test_a_csv_makes_bookings_and_guests_and_only_stays_ahead_start_their_lifecycle(tenant, listings):
    from messaging.tasks import run_tenant_tick

    result = run(csv_file(ASHA, RAVI, MEERA))

    assert outcomes(result) == [(2, "create"), (3, "create"), (4, "create")]
    assert (result.created, result.updated, result.unchanged, result.errors) == (3, 0, 0, [])
    asha = Booking.objects.get(external_reference="HM1001")
    assert (asha.status, asha.source, asha.listing, asha.guests_planned) == (
        BookingStatus.CONFIRMED, BookingSource.AIRBNB, listings["Garden Loft"], 2)
    assert (asha.checkin_date, asha.checkout_date) == (dt.date(2026, 12, 10), dt.date(2026, 12, 13))  # day first
    assert (asha.total_amount, asha.amount_received, asha.payment_status) == (
        Decimal("12500.00"), Decimal("5000.00"), PaymentStatus.PARTIAL)
    assert (asha.guest.name, asha.guest.phone, asha.guest.email) == ("Asha Rao", "+919876500101", "asha@example.com")
    assert not asha.contact_needed and result.rows[0].booking_id == asha.pk
    ravi = Booking.objects.get(external_reference="BK2002")
    assert (ravi.status, ravi.payment_status, ravi.guest.phone) == (BookingStatus.COMPLETED, PaymentStatus.PAID,
                                                                    "+919876500102")
    meera = Booking.objects.get(external_reference="D3003")
    assert (meera.status, meera.cancelled_at, meera.listing) == (BookingStatus.CANCELLED, NOW, listings["Sea Breeze"])
    assert Guest.objects.count() == 3

    # Only the confirmed stay ahead publishes an event; history sends nothing, now or later.
    assert list(OutboxMessage.objects.values_list("booking_id", "event_type")) == [(asha.pk, "booking.confirmed")]
    run_tenant_tick(tenant.schema_name, NOW)
    assert AutomationSchedule.objects.filter(booking=asha, recipient=Recipient.GUEST).exists()
    assert not AutomationSchedule.objects.filter(booking__in=[ravi, meera]).exists()


def test_a_dry_run_writes_nothing_and_reports_what_the_import_then_does(tenant, listings):
    data = csv_file(ASHA, RAVI, MEERA, "Sea View,Nobody,,,10/12/2026,11/12/2026,,,,,X9,")
    before = counts()

    preview = run(data, dry_run=True)

    assert counts() == before
    assert preview.dry_run and preview.summary().startswith("Dry run, nothing written.")
    assert outcomes(preview) == [(2, "create"), (3, "create"), (4, "create"), (5, "error")]
    assert all(row.booking_id is None for row in preview.rows)  # numbers the rollback took back are not shown
    imported = run(data)
    assert outcomes(imported) == outcomes(preview)
    assert [row.message for row in imported.rows if row.action == "error"] == [
        row.message for row in preview.rows if row.action == "error"]
    assert Booking.objects.count() == 3


def test_importing_the_same_file_twice_creates_nothing_new(tenant, listings):
    data = csv_file(ASHA, RAVI, MEERA)
    first = run(data)
    after_first = counts()

    second = run(data)

    assert counts() == after_first
    assert (second.created, second.updated, second.unchanged) == (0, 0, 3)
    ids = [row.booking_id for row in first.rows]
    assert [row.text for row in second.rows] == [
        f"row {n}: already imported as booking #{pk} — unchanged" for n, pk in zip((2, 3, 4), ids, strict=True)]


def test_the_exports_later_word_moves_cancels_and_confirms_the_booking(tenant, listings):
    lead = "Sea Breeze,Kiran Shah,+91 98765 00104,,20/12/2026,22/12/2026,2,6000,0,Direct,D4004,Lead"
    first = run(csv_file(ASHA, MEERA.replace("Cancelled", "Confirmed"), lead))
    asha, meera, kiran = (Booking.objects.get(pk=row.booking_id) for row in first.rows)

    moved = ASHA.replace("10/12/2026,13/12/2026", "12/12/2026,15/12/2026")
    again = run(csv_file(moved, MEERA, lead.replace("Lead", "Confirmed")))

    assert outcomes(again) == [(2, "update"), (3, "update"), (4, "update")]
    assert again.rows[0].message == f"booking #{asha.pk}: dates moved from 10 Dec–13 Dec 2026 to 12 Dec–15 Dec 2026"
    assert again.rows[1].message == f"booking #{meera.pk}: cancelled"
    assert again.rows[2].message == f"booking #{kiran.pk}: confirmed"
    asha.refresh_from_db(), meera.refresh_from_db(), kiran.refresh_from_db()
    assert (asha.checkin_date, asha.checkout_date) == (dt.date(2026, 12, 12), dt.date(2026, 12, 15))
    assert meera.status == BookingStatus.CANCELLED and kiran.status == BookingStatus.CONFIRMED
    assert OutboxMessage.objects.filter(booking=asha, event_type="booking.dates_changed").count() == 1
    assert OutboxMessage.objects.filter(booking=meera, event_type="booking.cancelled").count() == 1
    assert Booking.objects.count() == 3


def test_a_booking_cancelled_here_is_not_brought_back_by_the_file(tenant, listings):
    first = run(csv_file(ASHA))
    from bookings.services import cancel_booking

    cancel_booking(first.rows[0].booking_id, now=NOW)
    again = run(csv_file(ASHA))

    assert again.rows[0].action == "unchanged"
    assert again.warnings == [(2, (f"booking #{first.rows[0].booking_id} is cancelled here but confirmed in the file: "
                                  "not changed (make a new booking if the stay stands)"))]
    assert Booking.objects.get().status == BookingStatus.CANCELLED


def test_without_a_reference_the_same_stay_is_found_by_listing_dates_and_name(tenant, listings):
    header = "Listing,Guest name,Mobile,Arrival,Departure"
    data = csv_file("Garden Loft,Asha Rao,+91 98765 00101,10/12/2026,13/12/2026", header=header)

    first, second = run(data), run(data)

    assert (first.created, second.unchanged, Booking.objects.count()) == (1, 1, 1)
    assert any(note.startswith("No booking reference column") for note in first.notes)
    assert Booking.objects.get().source == BookingSource.DIRECT  # no source column: a direct booking


def test_a_confirmed_stay_already_over_is_stored_as_history(tenant, listings):
    result = run(csv_file("Garden Loft,Asha Rao,+91 98765 00101,,01/11/2026,04/11/2026,2,9000,9000,Direct,D1,"))

    assert result.warnings == [(2, "the stay ended on 04 Nov 2026: stored as completed, without messages")]
    assert Booking.objects.get().status == BookingStatus.COMPLETED
    assert not OutboxMessage.objects.exists()


def test_a_returning_guest_is_found_by_phone(tenant, listings):
    guest = make_guest(name="Asha R. Rao", phone="+919876500101", email="")

    result = run(csv_file(ASHA))

    assert Booking.objects.get().guest == guest and Guest.objects.count() == 1
    assert result.warnings == [(2, "the booking joins the history of the guest “Asha R. Rao”, who has this phone")]


# --- the file's forms ------------------------------------------------------------------------------------------


def test_excels_unicode_text_utf16_tab_separated(tenant, listings):
    header = "Room\tGuest\tMobile\tArrival\tDeparture\tPax\tAmount\tAmount paid\tChannel\tReservation ID\tStatus"
    row = ("Garden Loft\tZoë Fernandes\t+91 98765 00105\t05/12/2026\t08/12/2026\t2\t₹ 1,25,000\t0\tAgoda\tAG77"
           "\tConfirmed")
    data = codecs.BOM_UTF16_LE + f"{header}\r\n{row}\r\n".encode("utf-16-le")  # as Excel saves "Unicode Text"

    result = run(data)

    assert result.errors == [] and result.created == 1
    booking = Booking.objects.get()
    assert (booking.guest.name, booking.source, booking.total_amount) == ("Zoë Fernandes", "Agoda", Decimal(125000))
    assert (booking.checkin_date, booking.payment_status) == (dt.date(2026, 12, 5), PaymentStatus.UNPAID)
    assert "Read as UTF-16 (Excel's Unicode text)." in result.notes and "Columns separated by tabs." in result.notes


def test_utf16_without_its_byte_order_mark(tenant, listings):
    text = "Listing\tGuest name\tCheck-in\tCheck-out\nGarden Loft\tZoë Fernandes\t05/12/2026\t08/12/2026\n"
    result = run(text.encode("utf-16-le"))
    assert "Read as UTF-16." in result.notes and Booking.objects.get().guest.name == "Zoë Fernandes"


def test_windows_1252_csv(tenant, listings):
    data = csv_file("Garden Loft,José Müller,+91 98765 00106,,05/12/2026,08/12/2026,1,100,,,W1,").decode()
    result = run(data.encode("cp1252"))

    assert Booking.objects.get().guest.name == "José Müller"
    assert "Read as Windows-1252." in result.notes


def test_a_semicolon_csv_with_decimal_commas(tenant, listings):
    header = HEADER.replace(",", ";")
    data = csv_file("Garden Loft;Asha Rao;+91 98765 00101;;05.12.2026;08.12.2026;2;12.500,50;12.500,50;Airbnb;HM1;",
                    header=header)

    result = run(data)

    assert result.errors == [] and "Columns separated by semicolons." in result.notes
    booking = Booking.objects.get()
    assert (booking.total_amount, booking.payment_status) == (Decimal("12500.50"), PaymentStatus.PAID)
    assert booking.checkin_date == dt.date(2026, 12, 5)


def test_an_xlsx_workbook(tenant, listings):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Reservations"
    sheet.append(["Listing", "Guest name", "Phone", "Check-in", "Check-out", "Guests", "Total", "Paid", "Source",
                  "Booking ID", "Status"])
    sheet.append(["Garden Loft", "Asha Rao", 919876500101, dt.datetime(2026, 12, 10), dt.datetime(2026, 12, 13), 2,
                  12500.5, 12500.5, "Booking.com", 4711, "Confirmed"])
    sheet.append([None] * 11)  # a blank row counts as a row, as the host sees it
    sheet.append(["Sea Breeze", "Ravi Kumar", "+91 98765 00102", "3 Jan 2027", dt.datetime(2026, 1, 2), 1, 10, 0,
                  "Direct", "D2", None])
    out = io.BytesIO()
    book.save(out)

    result = run(out.getvalue())

    assert result.errors == [(4, "check-out is before check-in")]
    booking = Booking.objects.get()
    assert (booking.checkin_date, booking.checkout_date) == (dt.date(2026, 12, 10), dt.date(2026, 12, 13))
    assert (booking.external_reference, booking.guest.phone, booking.total_amount) == (
        "4711", "+919876500101", Decimal("12500.50"))
    assert "Read the sheet “Reservations” of the workbook." in result.notes


def test_blank_lines_do_not_shift_the_row_numbers(tenant, listings):
    data = csv_file(ASHA, "", "", "Sea View,Nobody,,,10/12/2026,11/12/2026,,,,,X9,")
    assert run(data).errors[0][0] == 5


# --- a report a host can act on -------------------------------------------------------------------------------


ROW = "Garden Loft,Guest {n},,,10/12/2026,13/12/2026,2,1000,0,Direct,R{n},"


def row_with(n: int, **cells) -> str:
    values = dict(zip(HEADER.split(","), ROW.format(n=n).split(","), strict=True))
    values.update(cells)
    return ",".join(f'"{value}"' if "," in value else value for value in values.values())


@pytest.mark.parametrize(("cells", "message"), [
    ({"Check-out": "09/12/2026"}, "check-out is before check-in"),
    ({"Check-out": "10/12/2026"}, "check-out is on the check-in day (a stay has at least one night)"),
    ({"Check-in": "31/31/2026"}, "the check-in date “31/31/2026” is not a date (use 2026-12-31 or 31/12/2026)"),
    ({"Check-out": ""}, "the check-out date is empty"),
    ({"Listing": "Sea View"}, "no listing named “Sea View” (listings: Garden Loft, Sea Breeze)"),
    ({"Guest name": ""}, "the guest's name is empty"),
    ({"Guests": "two"}, "the number of guests “two” is not a whole number from 1 to 99"),
    ({"Guests": "0"}, "the number of guests “0” is not a whole number from 1 to 99"),
    ({"Total": "12.5.0"}, "the total is not an amount (use 12500 or 12,500.00)"),
    ({"Total": "-500"}, "the total is negative"),
    ({"Paid": "2000"}, "the amount paid is more than the total"),
    ({"Source": "Expedia"}, ("the source “Expedia” is not one we know (use Airbnb, Booking.com, Agoda, MakeMyTrip, "
                            "Direct or Other)")),
    ({"Status": "Pending"}, "the status “Pending” is not one we know (use Confirmed, Lead, Cancelled or Completed)"),
    ({"Phone": "12345"}, ("“12345” is not a valid phone number. Check the digits and the country code, "
                         "e.g. +91 98765 01234")),
    ({"Email": "asha@"}, "“asha@” is not an email address"),
    ({"Status": "Completed"}, "a completed stay cannot start in the future (check-in 10 Dec 2026)"),
])
def test_a_row_error_says_what_is_wrong_and_the_other_rows_are_imported(tenant, listings, cells, message):
    result = run(csv_file(row_with(1), row_with(2, **cells), row_with(3)))

    assert result.errors == [(3, message)]
    assert result.rows[1].text == f"row 3: {message}"
    assert sorted(Booking.objects.values_list("external_reference", flat=True)) == ["R1", "R3"]
    assert Guest.objects.count() == 2  # nothing of the refused row is left behind


def test_every_problem_of_a_row_is_reported_at_once(tenant, listings):
    result = run(csv_file(row_with(1, Guests="x", Source="Expedia")))
    assert result.errors == [(2, ("the number of guests “x” is not a whole number from 1 to 99; the source “Expedia” "
                                 "is not one we know (use Airbnb, Booking.com, Agoda, MakeMyTrip, Direct or Other)"))]


def test_a_reference_twice_in_the_file_is_an_error_on_the_second_row(tenant, listings):
    result = run(csv_file(row_with(1), row_with(2), row_with(3, **{"Booking ID": "R1"})))

    assert result.errors == [(4, "the booking reference “R1” is also on row 2: a reference can be on one row only")]
    assert Booking.objects.count() == 2


def test_a_landline_is_a_warning_and_the_booking_is_imported_without_it(tenant, listings):
    from messaging.tasks import run_tenant_tick

    result = run(csv_file(row_with(1, Phone="022 2345 6789"), row_with(2, Phone="022 2345 6790",
                                                                     Email="guest2@example.com")))

    assert result.errors == [] and result.created == 2
    landline = ("the phone +91 22 2345 6789 is a landline, not a mobile: the booking is imported without it "
                "(WhatsApp and SMS cannot reach a landline); add the guest's mobile on their page")
    assert result.warnings[:2] == [
        (2, landline),
        (2, ("no mobile or email: the booking waits for the guest's contact (send them the portal link on the "
            "booking's page)")),
    ]
    assert result.warnings[2][0] == 3 and len(result.warnings) == 3
    first, second = Booking.objects.order_by("external_reference")
    assert first.guest.phone == "" and first.contact_needed
    assert GuestPortalToken.objects.filter(booking=first).exists()  # the host has the link to send at once
    assert second.guest.phone == "" and not second.contact_needed  # the email reaches the guest
    run_tenant_tick(tenant.schema_name, NOW)
    assert not AutomationSchedule.objects.filter(booking=first, recipient=Recipient.GUEST).exists()
    assert AutomationSchedule.objects.filter(booking=first, recipient=Recipient.HOST).exists()


def test_a_row_with_an_error_carries_no_warning_about_how_it_would_be_imported(tenant, listings):
    result = run(csv_file(row_with(1, Listing="Sea View", Phone="022 2345 6789")))
    assert result.warnings == [] and len(result.errors) == 1


def test_listings_of_one_name_at_two_properties_are_told_apart(tenant, listings):
    make_listing(make_property(name="Sea Rock"), name="Garden Loft")

    result = run(csv_file(row_with(1), row_with(2, Listing="Sea Rock › Garden Loft"),
                          row_with(3, Listing="sunset villa > garden loft")))

    assert result.errors == [(2, ("2 listings are named “Garden Loft” (Sea Rock › Garden Loft, Sunset Villa › Garden "
                                 "Loft): write it as “Sea Rock › Garden Loft”, or add a Property column"))]
    assert [b.listing.property.name for b in Booking.objects.order_by("external_reference")] == ["Sea Rock",
                                                                                                  "Sunset Villa"]


def test_a_property_column_tells_listings_apart(tenant, listings):
    make_listing(make_property(name="Sea Rock"), name="Garden Loft")
    data = csv_file("Sea Rock,Garden Loft,Asha Rao,10/12/2026,13/12/2026",
                    header="Property,Listing,Guest name,Check-in,Check-out")
    assert run(data).errors == [] and Booking.objects.get().listing.property.name == "Sea Rock"


def test_a_long_list_of_listings_is_cut_in_the_message(tenant, listings):
    villa = listings["Garden Loft"].property
    for n in range(10):
        make_listing(villa, name=f"Room {n}")
    message = run(csv_file(row_with(1, Listing="Sea View"))).errors[0][1]
    assert message.startswith("no listing named “Sea View” (listings: Garden Loft, Room 0,")
    assert message.endswith(", … and 4 more)")


# --- dates and amounts ------------------------------------------------------------------------------------------


def test_dates_are_read_day_first_and_the_report_says_so(tenant, listings):
    result = run(csv_file(row_with(1, **{"Check-in": "05/12/2026", "Check-out": "07/12/2026"})))
    assert "Dates are read day first (DD/MM/YYYY): “05/12/2026” is 5 December 2026." in result.notes
    assert Booking.objects.get().checkin_date == dt.date(2026, 12, 5)


def test_a_file_whose_dates_show_month_first_is_read_month_first(tenant, listings):
    result = run(csv_file(row_with(1, **{"Check-in": "12/05/2026", "Check-out": "12/08/2026"}),
                          row_with(2, **{"Check-in": "12/20/2026", "Check-out": "12/22/2026"})))

    assert result.errors == []
    assert ("Dates are read month first (MM/DD/YYYY), as “12/20/2026” on row 3 shows: “12/05/2026” is 5 December "
            "2026.") in result.notes
    assert sorted(Booking.objects.values_list("checkin_date", flat=True)) == [dt.date(2026, 12, 5),
                                                                               dt.date(2026, 12, 20)]


def test_a_file_mixing_day_first_and_month_first_dates_swaps_none_of_them(tenant, listings):
    result = run(csv_file(row_with(1, **{"Check-in": "20/12/2026", "Check-out": "22/12/2026"}),
                          row_with(2, **{"Check-in": "12/20/2026", "Check-out": "12/22/2026"})))

    assert result.errors == [(3, ("the check-in date “12/20/2026” is not a date (use 2026-12-31 or 31/12/2026); the "
                                 "check-out date “12/22/2026” is not a date (use 2026-12-31 or 31/12/2026)"))]


@pytest.mark.parametrize(("text", "date"), [
    ("2026-12-05", dt.date(2026, 12, 5)), ("2026-12-05 14:00", dt.date(2026, 12, 5)),
    ("05-12-2026", dt.date(2026, 12, 5)), ("5/12/26", dt.date(2026, 12, 5)), ("5 Dec 2026", dt.date(2026, 12, 5)),
    ("05-Dec-2026", dt.date(2026, 12, 5)), ("Dec 5, 2026", dt.date(2026, 12, 5)),
    ("5th December 2026", dt.date(2026, 12, 5)),
    ("Sat, 5 Dec 2026", dt.date(2026, 12, 5)),
])
def test_date_formats(tenant, listings, text, date):
    result = run(csv_file(row_with(1, **{"Check-in": text, "Check-out": "2026-12-09"})))
    assert result.errors == [] and Booking.objects.get().checkin_date == date


@pytest.mark.parametrize(("text", "amount"), [
    ("12500", "12500"), ("12,500.00", "12500"), ("1,25,000", "125000"), ("₹ 12,500", "12500"), ("INR 12500", "12500"),
    ("Rs. 999.5", "999.50"), ("", "0"),
])
def test_amount_formats(tenant, listings, text, amount):
    result = run(csv_file(row_with(1, Total=text)))
    assert result.errors == [] and Booking.objects.get().total_amount == Decimal(amount)


def test_paid_yes_or_no(tenant, listings):
    run(csv_file(row_with(1, Paid="Yes"), row_with(2, Paid="no")))
    assert list(Booking.objects.order_by("external_reference").values_list("amount_received", "payment_status")) == [
        (Decimal(1000), PaymentStatus.PAID), (Decimal(0), PaymentStatus.UNPAID)]


# --- the file as a whole --------------------------------------------------------------------------------------


def test_a_missing_required_column_is_one_clear_error_naming_it(tenant, listings):
    with pytest.raises(FileProblem) as problem:
        run(csv_file("Garden Loft,Asha Rao,10/12/2026", header="Listing,Guest name,Arrival"))
    assert problem.value.message == ("Missing column: check-out (name it “Check-out”, “Departure” or “Check-out "
                                     "date”). Columns found: “Listing”, “Guest name”, “Arrival”.")
    assert not Booking.objects.exists()


def test_two_columns_read_as_one_field_are_refused(tenant, listings):
    with pytest.raises(FileProblem, match="Two columns are read as the phone: “Phone” and “Mobile”"):
        run(csv_file("Garden Loft,Asha,1,2,10/12/2026,13/12/2026",
                     header="Listing,Name,Phone,Mobile,Check-in,Check-out"))


@pytest.mark.parametrize(("data", "message"), [
    (b"", "The file is empty."),
    (b"x" * (MAX_BYTES + 1), ("The file is 5.0 MB; one import takes at most 5 MB. Split it into smaller files and "
                             "import each.")),
    (("Listing,Guest name,Check-in,Check-out\n" + "Garden Loft,A,1,2\n" * (MAX_ROWS + 1)).encode(),
     "The file has 10,001 rows; one import takes at most 10,000. Split it into smaller files and import each."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100,
     "This is an old Excel .xls file: save it as .xlsx or as “CSV UTF-8” and import that."),
    (b"PK\x03\x04 not really a workbook",
     "The file looks like an Excel workbook but could not be opened: save it again as .xlsx or as “CSV UTF-8”."),
    (b"Listing,Guest name,Check-in,Check-out\nGarden Loft,Asha,1,2,3\n",
     ("Row 2 has 5 cells but the header row names 4 columns: a value with the delimiter in it needs quotes. Export "
     "the file again from the PMS.")),
])
def test_a_file_that_cannot_be_used_is_refused_in_words(tenant, listings, data, message):
    with pytest.raises(FileProblem) as problem:
        run(data)
    assert problem.value.message == message


def test_a_reference_known_on_the_listing_from_another_source_is_the_same_stay(tenant, listings):
    run(csv_file(row_with(1)))
    result = run(csv_file(row_with(2, **{"Booking ID": "R1", "Source": "Airbnb"}), row_with(3)))
    assert outcomes(result) == [(2, "unchanged"), (3, "create")]  # (listing, reference) is one stay already
    assert Booking.objects.count() == 2


# --- manage.py import_bookings ----------------------------------------------------------------------------------


def command(path, *args) -> tuple[str, str]:
    from django.core.management import call_command

    out, err = io.StringIO(), io.StringIO()
    call_command("import_bookings", str(path), "--schema", "alpha", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def at_now():
    import time_machine

    with time_machine.travel(NOW, tick=False):
        yield


def test_the_command_imports_a_file_and_reports_its_rows(tenant, listings, tmp_path, at_now):
    path = tmp_path / "export.csv"
    path.write_bytes(csv_file(ASHA, RAVI, "Sea View,Nobody,,,10/12/2026,11/12/2026,,,,,X9,"))

    out, _ = command(path)

    assert "Errors (these rows are skipped):" in out
    assert "  row 4: no listing named “Sea View” (listings: Garden Loft, Sea Breeze)" in out
    assert out.rstrip().endswith("3 rows: 2 created, 0 updated, 0 unchanged, 1 with an error (skipped), 0 warnings.")
    assert Booking.objects.count() == 2
    again, _ = command(path)
    assert "3 rows: 0 created, 0 updated, 2 unchanged, 1 with an error (skipped)" in again
    assert Booking.objects.count() == 2


def test_the_commands_dry_run_writes_nothing(tenant, listings, tmp_path, at_now):
    path = tmp_path / "export.csv"
    path.write_bytes(csv_file(ASHA, RAVI, MEERA))
    before = counts()

    out, _ = command(path, "--dry-run")

    assert counts() == before
    assert out.rstrip().endswith("Dry run, nothing written. 3 rows: 3 would be created, 0 would be updated, "
                                 "0 unchanged, 0 with errors (skipped), 0 warnings.")


def test_the_command_shows_progress_on_a_long_file_and_cuts_the_report(tenant, listings, tmp_path, at_now):
    good = [row_with(n) for n in range(10)]
    bad = [row_with(n, Listing="Sea View") for n in range(10, 2000)]  # refused before any write: a fast long file
    path = tmp_path / "long.csv"
    path.write_bytes(csv_file(*good, *bad))

    out, _ = command(path)

    bars = [line for line in out.splitlines() if line.startswith("  importing ▕")]
    assert len(bars) == 21  # at the start, then every 5 %
    assert bars[:2] == ["  importing ▕░░░░░░░░░░░░░░░░░░░░▏ 1/2,000 rows",
                        "  importing ▕█░░░░░░░░░░░░░░░░░░░▏ 100/2,000 rows"]
    assert bars[-1] == "  importing ▕████████████████████▏ 2,000/2,000 rows"
    assert sum("no listing named" in line for line in out.splitlines()) == 50
    assert "  … and 1,940 more" in out
    assert "Warnings:" in out  # the ten imported rows have no contact
    assert Booking.objects.count() == 10


def test_a_short_file_shows_no_progress_bar(tenant, listings, tmp_path, at_now):
    path = tmp_path / "short.csv"
    path.write_bytes(csv_file(ASHA))
    out, _ = command(path)
    assert "▕" not in out and "1 row: 1 created" in out


def test_the_command_refuses_what_it_cannot_use_with_a_clear_error(tenant, listings, tmp_path, at_now):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="No file at .*missing.csv"):
        command(tmp_path / "missing.csv")
    columns = tmp_path / "columns.csv"
    columns.write_bytes(b"Listing,Guest\nGarden Loft,Asha\n")
    with pytest.raises(CommandError, match=r"columns.csv: Missing columns: check-in \(name it “Check-in”"):
        command(columns)
    with pytest.raises(CommandError, match="No tenant has the schema “nowhere”"):
        from django.core.management import call_command

        call_command("import_bookings", str(columns), "--schema", "nowhere", stdout=io.StringIO())
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_file(row_with(1, Listing="Sea View")))
    with pytest.raises(CommandError, match="No row of the file could be imported: see the errors above."):
        command(bad)


# --- the back office's import page ------------------------------------------------------------------------------


def import_url() -> str:
    from django.urls import reverse

    return reverse("admin:bookings_booking_import")


def upload(client, data: bytes, name: str = "export.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(import_url(), {"file": SimpleUploadedFile(name, data, content_type="text/csv")})


def test_the_booking_list_links_to_the_import_page(tenant, at_now):
    from tests.test_admin_backoffice import client_for, staff, url

    client = client_for(staff("frontdesk"), tenant)
    assert import_url() in client.get(url(Booking)).content.decode()
    page = client.get(import_url())
    assert page.status_code == 200 and "Upload a PMS export" in page.content.decode()


def test_the_page_previews_without_writing_then_imports_the_previewed_file(tenant, listings, at_now):
    from tests.test_admin_backoffice import client_for, staff

    client = client_for(staff("owner"), tenant)
    before = counts()

    preview = upload(client, csv_file(ASHA, RAVI, "Sea View,Nobody,,,10/12/2026,11/12/2026,,,,,X9,"))

    assert preview.status_code == 200 and counts() == before
    text = preview.content.decode()
    assert "Preview of export.csv — nothing is written yet" in text
    assert "row 4: no listing named “Sea View” (listings: Garden Loft, Sea Breeze)" in text
    assert 'value="Import 2 bookings"' in text
    assert "<th>Total</th>" in text and "12500.00" in text  # the owner sees amounts (§10.6)
    payload = preview.context["payload"]

    done = client.post(import_url(), {"payload": payload, "file_name": "export.csv"})

    assert done.status_code == 200
    text = done.content.decode()
    assert "export.csv is imported" in text
    assert "3 rows: 2 created, 0 updated, 0 unchanged, 1 with an error (skipped), 0 warnings." in text
    assert sorted(Booking.objects.values_list("external_reference", flat=True)) == ["BK2002", "HM1001"]
    booking = Booking.objects.get(external_reference="HM1001")
    assert f"booking #{booking.pk} created" in text
    again = client.post(import_url(), {"payload": payload, "file_name": "export.csv"})  # a reload posts it again
    assert "0 created, 0 updated, 2 unchanged" in again.content.decode() and Booking.objects.count() == 2


def test_staff_who_do_not_see_money_see_no_amounts_in_the_preview(tenant, listings, at_now):
    from tests.test_admin_backoffice import client_for, staff

    text = upload(client_for(staff("frontdesk"), tenant), csv_file(ASHA, RAVI)).content.decode()

    assert 'value="Import 2 bookings"' in text
    assert "<th>Total</th>" not in text and "<th>Paid</th>" not in text
    assert "12500" not in text and "5000" not in text and "9000" not in text


def test_staff_who_cannot_add_bookings_are_refused(tenant, listings, at_now):
    from django.contrib.auth.models import Permission, User

    from tests.test_admin_backoffice import client_for

    user = User.objects.create_user("reader", password="pw-for-tests", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_booking"))
    client = client_for(user, tenant)

    assert client.get(import_url()).status_code == 403
    assert upload(client, csv_file(ASHA)).status_code == 403
    assert not Booking.objects.exists()


@pytest.mark.parametrize(("data", "message"), [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "The file is not a text table (it holds binary data)"),
    (b"Listing,Guest\nGarden Loft,Asha\n", "Missing columns: check-in"),
    (b"x" * (MAX_BYTES + 1), "The file is 5.0 MB; one import takes at most 5 MB."),
    (("Listing,Guest name,Check-in,Check-out\n" + "Garden Loft,A,1,2\n" * 2001).encode(),
     "The file has 2,001 rows; one import takes at most 2,000."),
])
def test_a_file_the_page_cannot_use_is_a_form_error_not_a_crash(tenant, listings, at_now, data, message):
    from tests.test_admin_backoffice import client_for, staff

    answer = upload(client_for(staff("owner"), tenant), data, name="bookings.png")

    assert answer.status_code == 200
    assert message in answer.content.decode()
    assert answer.context["form"].errors and not Booking.objects.exists()


def test_a_payload_that_did_not_come_back_intact_imports_nothing(tenant, listings, at_now):
    from tests.test_admin_backoffice import client_for, staff

    client = client_for(staff("owner"), tenant)
    payload = upload(client, csv_file(ASHA)).context["payload"]
    other = client_for(staff("manager"), tenant)

    for answer in (client.post(import_url(), {"payload": payload[:-3] + "abc"}),
                   other.post(import_url(), {"payload": payload})):  # signed for its own user only
        assert answer.status_code == 200
        assert "The previewed file did not come back intact: upload it again." in answer.content.decode()
    assert not Booking.objects.exists()


def test_the_page_reads_excels_unicode_text(tenant, listings, at_now):
    from tests.test_admin_backoffice import client_for, staff

    text = "Listing\tGuest name\tCheck-in\tCheck-out\r\nGarden Loft\tZoë Fernandes\t05/12/2026\t08/12/2026\r\n"
    client = client_for(staff("owner"), tenant)
    preview = upload(client, codecs.BOM_UTF16_LE + text.encode("utf-16-le"), name="export.txt")
    client.post(import_url(), {"payload": preview.context["payload"], "file_name": "export.txt"})

    assert Booking.objects.get().guest.name == "Zoë Fernandes"


def test_the_upload_is_still_checked_for_csrf(tenant, listings, at_now):
    from tests.conftest import SchemaKeepingClient
    from tests.test_admin_backoffice import staff

    client = SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant, enforce_csrf_checks=True)
    client.force_login(staff("owner"))

    assert upload(client, csv_file(ASHA)).status_code == 403
    assert not Booking.objects.exists()


def test_a_change_the_booking_service_refuses_is_a_row_error_in_its_words(tenant, listings):
    from bookings.services import check_in_guest

    first = run(csv_file(ASHA))
    check_in_guest(first.rows[0].booking_id, now=NOW)

    again = run(csv_file(ASHA.replace("10/12/2026", "11/12/2026")))

    assert again.errors == [(2, "The guest has checked in: only the check-out date can change now.")]
    assert Booking.objects.get().checkin_date == dt.date(2026, 12, 10)


def test_a_row_the_booking_service_refuses_leaves_no_guest_behind(tenant, listings, monkeypatch):
    from django.core.exceptions import ValidationError

    def refuse(**fields):
        raise ValidationError("Refused for the test.")

    monkeypatch.setattr("bookings.services.create_booking", refuse)
    result = run(csv_file(ASHA))

    assert result.errors == [(2, "Refused for the test.")]
    assert not Guest.objects.exists()
