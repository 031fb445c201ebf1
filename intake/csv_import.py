"""Bookings from a PMS export (issue 15 §3): a CSV, Excel's Unicode text or an .xlsx, one booking a row.

Every row is validated and reported in words with its spreadsheet row number ("row 14: check-out is before
check-in"). The valid rows are written in one transaction through the booking and guest services, the invalid
ones reported and skipped; a dry run does all of it and rolls the transaction back, so its report is exactly
what the import would do, and nothing is left behind. A row whose (source, booking reference) is here already
changes nothing, unless the export now has it on other dates (moved) or cancelled; a row without a reference
is the same stay as a booking of the same listing, dates and guest name without one.

Confirmed stays still ahead start their lifecycle as any confirmed booking does. History (a completed or
cancelled stay, a confirmed one already over) is stored without an event: no message goes for it.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from bookings import services as bookings
from bookings.models import Booking, BookingSource, BookingStatus, Listing, PaymentStatus
from guests.phones import display_phone, is_mobile, normalize_phone
from guests.services import find_or_create_guest
from intake.tabular import MAX_BYTES, MAX_ROWS, FileProblem, Table, read_table
from messaging.wakeups import collecting, note_due

__all__ = ["COLUMNS", "MAX_BYTES", "MAX_ROWS", "FileProblem", "ImportResult", "RowResult", "import_bookings"]

MAX_GUESTS = 99
MAX_AMOUNT = Decimal("9999999999.99")  # Booking's MONEY: 12 digits, 2 after the point
LISTINGS_NAMED = 8  # an unknown listing's message names this many of the tenant's listings


@dataclass(frozen=True)
class Column:
    field: str
    label: str  # how the messages and the README name it
    headers: tuple[str, ...]  # accepted header names; compared without case, spaces or punctuation
    required: bool = False


COLUMNS = (
    Column("listing", "listing", ("Listing", "Room", "Unit", "Listing name", "Room name", "Unit name",
                                  "Accommodation"), required=True),
    Column("property", "property", ("Property", "Property name", "Hotel")),
    Column("guest_name", "guest name", ("Guest name", "Name", "Guest", "Full name", "Primary guest",
                                        "Customer name", "Booker name"), required=True),
    Column("phone", "phone", ("Phone", "Mobile", "Mobile number", "Phone number", "Guest phone", "Guest mobile",
                              "Contact number", "WhatsApp", "Telephone")),
    Column("email", "email", ("Email", "Email address", "E-mail", "Guest email")),
    Column("checkin", "check-in", ("Check-in", "Arrival", "Check-in date", "Arrival date", "Start date"),
           required=True),
    Column("checkout", "check-out", ("Check-out", "Departure", "Check-out date", "Departure date", "End date"),
           required=True),
    Column("guests", "guests", ("Guests", "Pax", "Number of guests", "No. of guests", "Guest count", "Persons",
                                "Occupancy")),
    Column("total", "total", ("Total", "Amount", "Total amount", "Booking amount", "Price", "Total price",
                              "Grand total")),
    Column("paid", "paid", ("Paid", "Amount paid", "Paid amount", "Received", "Amount received", "Advance")),
    Column("source", "source", ("Source", "Channel", "Booking source", "OTA", "Platform", "Booked via")),
    Column("reference", "booking reference", ("External reference", "Reference", "Booking ID", "Reservation ID",
                                              "Confirmation code", "Confirmation number", "Booking reference",
                                              "Booking number", "Booking no", "Reservation code",
                                              "Reservation number")),
    Column("status", "status", ("Status", "Booking status", "Reservation status")),
)

SOURCES = {
    "direct": BookingSource.DIRECT, "walkin": BookingSource.DIRECT, "website": BookingSource.DIRECT,
    "airbnb": BookingSource.AIRBNB,
    "bookingcom": BookingSource.BOOKING_COM, "booking": BookingSource.BOOKING_COM,
    "agoda": BookingSource.AGODA,
    "makemytrip": BookingSource.MAKEMYTRIP, "mmt": BookingSource.MAKEMYTRIP, "goibibo": BookingSource.MAKEMYTRIP,
    "makemytripgoibibo": BookingSource.MAKEMYTRIP,
    "other": BookingSource.OTHER,
}
STATUSES = {
    "confirmed": BookingStatus.CONFIRMED, "booked": BookingStatus.CONFIRMED,
    "lead": BookingStatus.LEAD, "enquiry": BookingStatus.LEAD, "inquiry": BookingStatus.LEAD,
    "cancelled": BookingStatus.CANCELLED, "canceled": BookingStatus.CANCELLED,
    "completed": BookingStatus.COMPLETED, "checkedout": BookingStatus.COMPLETED,
}
SAY_DATE = "use 2026-12-31 or 31/12/2026"
SAY_AMOUNT = "use 12500 or 12,500.00"


class Action:
    CREATE = "create"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    ERROR = "error"


@dataclass
class RowResult:
    """One row's outcome; `message` says what happened (or what is wrong) without the row number."""

    row: int
    action: str = Action.CREATE
    message: str = ""
    warnings: list[str] = field(default_factory=list)
    booking_id: int | None = None
    listing: str = ""
    guest: str = ""
    checkin: dt.date | None = None
    checkout: dt.date | None = None
    status: str = ""
    source: str = ""
    reference: str = ""
    total: Decimal | None = None
    paid: Decimal | None = None

    @property
    def text(self) -> str:
        return f"row {self.row}: {self.message}"


@dataclass
class ImportResult:
    dry_run: bool
    rows: list[RowResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the file as a whole: encoding, date order, columns

    def _count(self, action: str) -> int:
        return sum(row.action == action for row in self.rows)

    @property
    def total(self) -> int:
        return len(self.rows)

    @property
    def created(self) -> int:
        return self._count(Action.CREATE)

    @property
    def updated(self) -> int:
        return self._count(Action.UPDATE)

    @property
    def unchanged(self) -> int:
        return self._count(Action.UNCHANGED)

    @property
    def errors(self) -> list[tuple[int, str]]:
        return [(row.row, row.message) for row in self.rows if row.action == Action.ERROR]

    @property
    def warnings(self) -> list[tuple[int, str]]:
        return [(row.row, warning) for row in self.rows for warning in row.warnings]

    @property
    def to_write(self) -> int:
        return self.created + self.updated

    def summary(self) -> str:
        verbs = ("would be created", "would be updated") if self.dry_run else ("created", "updated")
        errors, warnings = len(self.errors), len(self.warnings)
        text = (f"{_count(self.total, 'row')}: {self.created:,} {verbs[0]}, {self.updated:,} {verbs[1]}, "
                f"{self.unchanged:,} unchanged, {errors:,} with {'an error' if errors == 1 else 'errors'} (skipped), "
                f"{_count(warnings, 'warning')}.")
        return ("Dry run, nothing written. " + text) if self.dry_run else text


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


class RowError(Exception):
    pass


@dataclass
class Row:
    """A row's cells read into values; what the services get."""

    number: int
    listing: Listing
    guest_name: str
    phone: str
    email: str
    checkin: dt.date
    checkout: dt.date
    guests: int
    total: Decimal
    paid: Decimal
    source: str
    reference: str
    status: str
    warnings: list[str]


Progress = Callable[[int, int], None]


def import_bookings(data: bytes, *, dry_run: bool = False, now: dt.datetime | None = None,
                    progress: Progress | None = None, max_rows: int = MAX_ROWS) -> ImportResult:
    """Read, validate and import a PMS export; `progress(done, total)` after each row. Raises FileProblem when
    the file as a whole cannot be used (unreadable, too large, a required column missing)."""
    now = now or timezone.now()
    table = read_table(data, max_rows)
    columns, notes = _columns(table.headers)
    day_first, note = _date_order(table, columns)
    result = ImportResult(dry_run=dry_run, notes=table.notes + notes + ([note] if note else []))
    reader = _RowReader(columns, day_first, _ListingIndex())
    claimed: dict[tuple, int] = {}
    with transaction.atomic():
        known = _Known(reader, table.rows)
        # The tenant's wake-up row is locked once, at the end: a long import does not hold up its ticks.
        with collecting() as noted:
            for done, (cells, number) in enumerate(zip(table.rows, table.row_numbers, strict=True), start=1):
                outcome = RowResult(row=number)
                result.rows.append(outcome)
                try:
                    row = reader.read(cells, outcome)
                    _claim_reference(row, claimed)
                    with transaction.atomic():  # a row the services refuse leaves nothing of itself behind
                        _apply(row, outcome, now, dry_run, known)
                except RowError as exc:
                    outcome.action, outcome.message, outcome.warnings = Action.ERROR, str(exc), []
                except ValidationError as exc:  # what the services refuse, in their words
                    outcome.action, outcome.message, outcome.warnings = Action.ERROR, " ".join(exc.messages), []
                if progress is not None:
                    progress(done, len(table.rows))
        if dry_run:
            transaction.set_rollback(True)  # the report stands; every row it wrote goes
        elif noted:
            note_due(min(noted), now)
    return result


# --- the columns ----------------------------------------------------------------------------------------------


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", str(text).casefold())


HEADERS = {_key(header): column for column in COLUMNS for header in column.headers}


def _columns(headers: list[str]) -> tuple[dict[str, int], list[str]]:
    """Each known column's position in the header row, and notes on the file's columns."""
    found: dict[str, int] = {}
    ignored = []
    for index, header in enumerate(headers):
        if not header:
            continue
        column = HEADERS.get(_key(header))
        if column is None:
            ignored.append(header)
        elif column.field in found:
            raise FileProblem(f"Two columns are read as the {column.label}: “{headers[found[column.field]]}” and "
                              f"“{header}”. Remove or rename one of them.")
        else:
            found[column.field] = index
    missing = [column for column in COLUMNS if column.required and column.field not in found]
    if missing:
        wanted = "; ".join(f"{c.label} (name it {_or([f'“{h}”' for h in c.headers[:3]])})" for c in missing)
        listed = ", ".join(f"“{h}”" for h in headers if h) or "none"
        raise FileProblem(f"Missing column{'s' if len(missing) > 1 else ''}: {wanted}. Columns found: {listed}.")
    notes = []
    if ignored:
        notes.append(f"Columns not read: {', '.join(ignored)}.")
    if "reference" not in found:
        notes.append("No booking reference column: a row is matched to a booking by listing, dates and guest name, "
                     "so a stay whose dates moved in the PMS would be imported again. Add the PMS's booking ID.")
    return found, notes


def _or(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


# --- one row ----------------------------------------------------------------------------------------------------


class _RowReader:
    def __init__(self, columns: dict[str, int], day_first: bool, listings: _ListingIndex):
        self.columns, self.day_first, self.listings = columns, day_first, listings

    def cell(self, cells: tuple, name: str):
        index = self.columns.get(name)
        return cells[index] if index is not None and index < len(cells) else None

    def read(self, cells: tuple, outcome: RowResult) -> Row:
        """The row's values, filled into `outcome` as far as they read; RowError with every problem of the row."""
        problems: list[str] = []

        def attempt(read, *args):
            try:
                return read(*args)
            except RowError as exc:
                problems.append(str(exc))
                return None

        def cell(name: str):
            return self.cell(cells, name)

        listing = attempt(self.listings.find, _text(cell("listing")), _text(cell("property")))
        name = " ".join(_text(cell("guest_name")).split())
        if not name:
            problems.append("the guest's name is empty")
        warnings: list[str] = []
        phone = attempt(_phone, cell("phone"), warnings)
        email = attempt(_email, cell("email"))
        checkin = attempt(_date, cell("checkin"), "check-in", self.day_first)
        checkout = attempt(_date, cell("checkout"), "check-out", self.day_first)
        if checkin and checkout and checkout < checkin:
            problems.append("check-out is before check-in")
        elif checkin and checkout and checkout == checkin:
            problems.append("check-out is on the check-in day (a stay has at least one night)")
        guests = attempt(_guests, cell("guests"))
        total = attempt(_amount, cell("total"), "total")
        paid = attempt(_paid, cell("paid"), total)
        if total and paid is not None and paid > total:
            problems.append("the amount paid is more than the total")
        source = attempt(_choice, cell("source"), SOURCES, BookingSource, BookingSource.DIRECT, "source",
                         "Airbnb, Booking.com, Agoda, MakeMyTrip, Direct or Other")
        status = attempt(_choice, cell("status"), STATUSES, BookingStatus, BookingStatus.CONFIRMED, "status",
                         "Confirmed, Lead, Cancelled or Completed")
        reference = _text(cell("reference"))
        if len(reference) > 200:
            problems.append("the booking reference is longer than 200 characters")
        outcome.listing = listing.name if listing else _text(cell("listing"))
        outcome.guest, outcome.checkin, outcome.checkout = name, checkin, checkout
        outcome.status, outcome.source, outcome.reference = status or "", source or "", reference
        outcome.total, outcome.paid, outcome.warnings = total, paid, warnings
        if problems:
            raise RowError("; ".join(problems))
        return Row(outcome.row, listing, name, phone, email, checkin, checkout, guests, total, paid or Decimal(0),
                   source, reference, status, warnings)


class _ListingIndex:
    """The tenant's listings by name ("Garden Loft"), or by property and name ("Sunset Villa › Garden Loft",
    or a Property column) where two properties have a listing of that name."""

    def __init__(self):
        self.listings = list(Listing.objects.select_related("property").order_by("property__name", "name"))
        self.by_name: dict[str, list[Listing]] = {}
        self.by_full: dict[tuple[str, str], Listing] = {}
        for listing in self.listings:
            self.by_name.setdefault(_name_key(listing.name), []).append(listing)
            self.by_full[(_name_key(listing.property.name), _name_key(listing.name))] = listing

    def find(self, text: str, property_name: str = "") -> Listing:
        if not text:
            raise RowError("the listing is empty")
        if property_name:
            found = self.by_full.get((_name_key(property_name), _name_key(text)))
            if found is None:
                raise RowError(f"no listing named “{text}” at “{property_name}” ({self.available()})")
            return found
        for separator in ("›", ">", "|"):
            if separator in text:
                place, _, name = text.rpartition(separator)
                if found := self.by_full.get((_name_key(place), _name_key(name))):
                    return found
        if "·" in text:  # how the back office writes a listing: "Garden Loft · Sunset Villa"
            name, _, place = text.partition("·")
            if found := self.by_full.get((_name_key(place), _name_key(name))):
                return found
        named = self.by_name.get(_name_key(text), [])
        if len(named) == 1:
            return named[0]
        if named:
            raise RowError(f"{len(named)} listings are named “{text}” ({', '.join(map(_full, named))}): write it as "
                           f"“{_full(named[0])}”, or add a Property column")
        raise RowError(f"no listing named “{text}” ({self.available()})")

    def available(self) -> str:
        if not self.listings:
            return "there are no listings yet: add them under Bookings › Listings first"
        names = [listing.name if len(self.by_name[_name_key(listing.name)]) == 1 else _full(listing)
                 for listing in self.listings]
        more = len(names) - LISTINGS_NAMED
        return "listings: " + ", ".join(names[:LISTINGS_NAMED]) + (f", … and {more} more" if more > 0 else "")


def _name_key(text: str) -> str:
    return " ".join(str(text).split()).casefold()


def _full(listing: Listing) -> str:
    return f"{listing.property.name} › {listing.name}"


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():  # a workbook's 9876501234 or booking number 1042
        return str(int(value))
    return str(value).strip()


def _phone(value, warnings: list[str]) -> str:
    """E.164 of a mobile; a landline is dropped with a warning (no WhatsApp or SMS reaches it, EC-03)."""
    text = _text(value)
    if not text:
        return ""
    try:
        phone = normalize_phone(text)
    except ValidationError as exc:
        raise RowError(exc.messages[0].rstrip(".")) from None
    if not is_mobile(phone):
        warnings.append(f"the phone {display_phone(phone)} is a landline, not a mobile: the booking is imported "
                        "without it (WhatsApp and SMS cannot reach a landline); add the guest's mobile on their page")
        return ""
    return phone


def _email(value) -> str:
    text = _text(value)
    if not text:
        return ""
    try:
        validate_email(text)
    except ValidationError:
        raise RowError(f"“{text}” is not an email address") from None
    return text.lower()


NUMERIC_DATE = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?:[ T].*)?$")
ISO_DATE = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T].*)?$")
WORDED_DATE = ("%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d %b %y", "%d %B %y", "%a %d %b %Y", "%A %d %B %Y")


def _date(value, label: str, day_first: bool) -> dt.date:
    if isinstance(value, dt.datetime):  # a workbook's date cell
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    if not text:
        raise RowError(f"the {label} date is empty")
    parsed = _parse_date(text, day_first)
    if parsed is None or not 2000 <= parsed.year <= 2100:
        raise RowError(f"the {label} date “{text}” is not a date ({SAY_DATE})")
    return parsed


def _parse_date(text: str, day_first: bool) -> dt.date | None:
    try:
        if match := ISO_DATE.match(text):
            year, month, day = map(int, match.groups())
            return dt.date(year, month, day)
        if match := NUMERIC_DATE.match(text):
            first, second, year = int(match[1]), int(match[2]), int(match[3])
            day, month = (first, second) if day_first else (second, first)
            return dt.date(year + 2000 if year < 100 else year, month, day)
    except ValueError:
        return None
    words = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text, flags=re.IGNORECASE)
    words = re.sub(r"\s+\d{1,2}:\d{2}.*$", "", words)  # "5 Dec 2026 14:00"
    words = " ".join(re.sub(r"[,\-/.]", " ", words).split()).replace("Sept ", "Sep ")
    for pattern in WORDED_DATE:
        try:
            return dt.datetime.strptime(words, pattern).date()
        except ValueError:
            continue
    return None


def _date_order(table: Table, columns: dict[str, int]) -> tuple[bool, str]:
    """Day first (India) unless the file's own dates show month first (12/31/2026) and none shows day first;
    either way the report says how "05/12/2026" was read, so no date is swapped silently."""
    day_first_seen = month_first_seen = ambiguous = None
    for cells, number in zip(table.rows, table.row_numbers, strict=True):
        for name in ("checkin", "checkout"):
            value = cells[columns[name]] if columns[name] < len(cells) else None
            match = NUMERIC_DATE.match(value.strip()) if isinstance(value, str) else None
            if not match:
                continue
            first, second = int(match[1]), int(match[2])
            if first > 12 >= second:
                day_first_seen = day_first_seen or (value.strip(), number)
            elif second > 12 >= first:
                month_first_seen = month_first_seen or (value.strip(), number)
            elif first != second:
                ambiguous = ambiguous or value.strip()
    if month_first_seen and not day_first_seen:
        text, number = month_first_seen
        example = f": “{ambiguous}” is {_long(_parse_date(ambiguous, False))}" if ambiguous else ""
        return False, f"Dates are read month first (MM/DD/YYYY), as “{text}” on row {number} shows{example}."
    if ambiguous:
        return True, f"Dates are read day first (DD/MM/YYYY): “{ambiguous}” is {_long(_parse_date(ambiguous, True))}."
    return True, ""


def _long(date: dt.date | None) -> str:
    return f"{date.day} {date:%B %Y}" if date else "not a date"


def _guests(value) -> int:
    text = _text(value)
    if not text:
        return 1
    match = re.fullmatch(r"(\d+)(?:\.0+)?", text)
    if not match or not 1 <= int(match[1]) <= MAX_GUESTS:
        raise RowError(f"the number of guests “{text}” is not a whole number from 1 to {MAX_GUESTS}")
    return int(match[1])


GROUPED = re.compile(r"^\d{1,3}(?:(?:,\d{2})*,\d{3}|(?:,\d{3})+)(?:\.\d+)?$")  # 1,20,000.50 (India), 120,000.50
DECIMAL_COMMA = re.compile(r"^(?:\d{1,3}(?:\.\d{3})+|\d+),\d{1,2}$")  # 1.200,50 or 12,50 (a semicolon CSV)


def _amount(value, label: str) -> Decimal:
    """Rupees as a PMS writes them: 12500, 12,500.00, 1,25,000, ₹ 12,500, INR 12500, 12.500,00."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        amount = Decimal(str(value))
    else:
        text = re.sub(r"(?i)^(?:inr|rs\.?)|[₹\s\u00a0]", "", _text(value))
        negative = text.startswith("-")
        text = text.lstrip("-")
        if GROUPED.match(text):
            text = text.replace(",", "")
        elif DECIMAL_COMMA.match(text):
            text = text.replace(".", "").replace(",", ".")
        if not re.fullmatch(r"\d+(?:\.\d+)?", text):
            raise RowError(f"the {label} is not an amount ({SAY_AMOUNT})")
        amount = -Decimal(text) if negative else Decimal(text)
    try:
        amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    except InvalidOperation:
        raise RowError(f"the {label} is too large") from None
    if amount < 0:
        raise RowError(f"the {label} is negative")
    if amount > MAX_AMOUNT:
        raise RowError(f"the {label} is too large")
    return amount


PAID_WORDS = {"yes": True, "y": True, "paid": True, "true": True, "fullypaid": True,
              "no": False, "n": False, "unpaid": False, "false": False, "notpaid": False}


def _paid(value, total: Decimal | None) -> Decimal:
    """The amount paid, or a yes / no column meaning all of the total or nothing."""
    word = PAID_WORDS.get(_key(_text(value))) if isinstance(value, str) else None
    if word is not None:
        return (total or Decimal(0)) if word else Decimal(0)
    return _amount(value, "amount paid")


def _choice(value, words: dict[str, str], choices, default: str, label: str, say: str) -> str:
    text = _text(value)
    if not text:
        return default
    known = words | {_key(choice): choice for choice in choices.values} | {_key(lb): v for v, lb in choices.choices}
    found = known.get(_key(text))
    if found is None:
        raise RowError(f"the {label} “{text}” is not one we know (use {say})")
    return found


def _claim_reference(row: Row, claimed: dict[tuple, int]) -> None:
    """A reference is one stay: on a second row of the file it is an error (per source, and per listing)."""
    if not row.reference:
        return
    keys = [("source", row.source, row.reference), ("listing", row.listing.pk, row.reference)]
    for key in keys:
        if key in claimed:
            raise RowError(f"the booking reference “{row.reference}” is also on row {claimed[key]}: a reference "
                           "can be on one row only")
    for key in keys:
        claimed[key] = row.number


# --- writing a row ----------------------------------------------------------------------------------------------


def _apply(row: Row, outcome: RowResult, now: dt.datetime, dry_run: bool, known: _Known) -> None:
    existing = known.booking(row)
    if existing is not None:
        _update(existing, row, outcome, now)
        return
    today = now.astimezone(row.listing.property.tz).date()
    status = row.status
    if status == BookingStatus.CONFIRMED and row.checkout < today:
        status = BookingStatus.COMPLETED
        row.warnings.append(f"the stay ended on {row.checkout:%d %b %Y}: stored as completed, without messages")
    if status == BookingStatus.COMPLETED and row.checkin > today:
        raise RowError(f"a completed stay cannot start in the future (check-in {row.checkin:%d %b %Y})")
    guest, created = find_or_create_guest(name=row.guest_name, phone=row.phone, email=row.email, now=now)
    if not created and guest.name.casefold() != row.guest_name.casefold():
        row.warnings.append(f"the booking joins the history of the guest “{guest.name}”, who has this "
                            f"{'phone' if row.phone and guest.phone == row.phone else 'email'}")
    active = status in (BookingStatus.CONFIRMED, BookingStatus.LEAD)
    contact_needed = active and not (guest.phone or guest.email)
    fields = {"guest": guest, "listing": row.listing, "source": row.source, "checkin_date": row.checkin,
              "checkout_date": row.checkout, "guests_planned": row.guests, "total_amount": row.total,
              "amount_received": row.paid, "payment_status": _payment_status(row.total, row.paid),
              "external_reference": row.reference, "contact_needed": contact_needed}
    if status in bookings.HISTORY_STATUSES:
        booking = bookings.record_past_booking(status=status, now=now, **fields)
    else:
        booking = bookings.create_booking(confirm=status == BookingStatus.CONFIRMED, now=now, **fields)
    if contact_needed:
        row.warnings.append("no mobile or email: the booking waits for the guest's contact (send them the portal "
                            "link on the booking's page)")
        if status == BookingStatus.CONFIRMED:
            from portal.services import issue_portal_token

            issue_portal_token(booking)  # the link the host sends is there at once, as for a calendar booking
    outcome.action, outcome.status = Action.CREATE, status
    outcome.booking_id = None if dry_run else booking.pk
    outcome.message = f"new {status.lower()} booking" if dry_run else f"booking #{booking.pk} created"


class _Known:
    """The bookings the file's references made before, read in one query (a reference is on one row only)."""

    def __init__(self, reader: _RowReader, rows: list[tuple]):
        references = {_text(reader.cell(cells, "reference")) for cells in rows} - {""}
        self.by_source: dict[tuple[str, str], Booking] = {}
        self.by_listing: dict[tuple[int, str], Booking] = {}
        if references:
            for booking in Booking.objects.filter(external_reference__in=references):
                self.by_source[(booking.source, booking.external_reference)] = booking
                self.by_listing[(booking.listing_id, booking.external_reference)] = booking

    def booking(self, row: Row) -> Booking | None:
        """As bookings.services.existing_external_booking: by source and reference, else listing and reference.
        Without a reference: a booking of the same listing, dates and guest name that has none."""
        if row.reference:
            return (self.by_source.get((row.source, row.reference))
                    or self.by_listing.get((row.listing.pk, row.reference)))
        return (Booking.objects.filter(listing=row.listing, checkin_date=row.checkin, checkout_date=row.checkout,
                                       external_reference="", guest__name__iexact=row.guest_name)
                .order_by("pk").first())


def _update(booking: Booking, row: Row, outcome: RowResult, now: dt.datetime) -> None:
    """The export's word on a booking it made before: cancelled, moved or confirmed since; else nothing."""
    outcome.booking_id = booking.pk
    changes = []
    if row.status == BookingStatus.CANCELLED:
        if booking.status != BookingStatus.CANCELLED:
            bookings.cancel_booking(booking, reason="cancelled in the PMS export", now=now)
            changes.append("cancelled")
    elif row.status in (BookingStatus.CONFIRMED, BookingStatus.LEAD) and booking.status == BookingStatus.CANCELLED:
        row.warnings.append(f"booking #{booking.pk} is cancelled here but {row.status.lower()} in the file: not "
                            "changed (make a new booking if the stay stands)")
    elif row.status in (BookingStatus.CONFIRMED, BookingStatus.LEAD) and booking.status in (
            BookingStatus.CONFIRMED, BookingStatus.LEAD):
        before = (booking.checkin_date, booking.checkout_date)
        if before != (row.checkin, row.checkout):
            bookings.change_booking_dates(booking, checkin_date=row.checkin, checkout_date=row.checkout, now=now)
            changes.append(f"dates moved from {_stay(*before)} to {_stay(row.checkin, row.checkout)}")
        if booking.status == BookingStatus.LEAD and row.status == BookingStatus.CONFIRMED:
            bookings.confirm_booking(booking, now=now)
            changes.append("confirmed")
    if changes:
        outcome.action, outcome.message = Action.UPDATE, f"booking #{booking.pk}: {', '.join(changes)}"
    else:
        outcome.action, outcome.message = Action.UNCHANGED, f"already imported as booking #{booking.pk} — unchanged"


def _stay(checkin: dt.date, checkout: dt.date) -> str:
    return f"{checkin:%d %b}–{checkout:%d %b %Y}"


def _payment_status(total: Decimal, paid: Decimal) -> str:
    if paid <= 0:
        return PaymentStatus.UNPAID
    return PaymentStatus.PAID if paid >= total else PaymentStatus.PARTIAL
