"""Reading an OTA's calendar export (RFC 5545, parsed by the `icalendar` library) into stays and blocks.

What the OTAs put in their exports (their help pages and real feeds):
- Airbnb: a reservation is `SUMMARY:Reserved` with `DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/
  reservations/details/HMXXXXXXXX` and `Phone Number (Last 4 Digits): 1234`; dates the host closed are
  `SUMMARY:Airbnb (Not available)`. All-day dates (`VALUE=DATE`), DTEND is the check-out day.
- Booking.com, Agoda: every period is `SUMMARY:CLOSED - Not available`, reservations included; they are blocks
  unless the feed says its unavailable dates are reservations (CalendarFeed.unavailable_is_reservation).
- Others (PMSes, Google calendars): anything not worded as a block is a stay.
A date-time is read in its own zone (TZID or UTC) and taken as a date in the listing's zone; a floating time
is the listing's local time.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from dataclasses import dataclass, field

from icalendar import Calendar

from intake.errors import FeedError

BLOCK_WORDS = re.compile(r"not available|unavailable|blocked|closed|owner stay|maintenance", re.IGNORECASE)
UNAVAILABLE = re.compile(r"not available|unavailable|closed", re.IGNORECASE)
RESERVATION_CODE = re.compile(
    r"(?:reservations/details/|reservation (?:code|id|number)\s*[:#]?\s*|confirmation (?:code|number)\s*[:#]?\s*)"
    r"([A-Z0-9]{5,20})",
    re.IGNORECASE,
)
PHONE_LAST4 = re.compile(r"last 4 digits\)?\s*[:=]?\s*(\d{4})", re.IGNORECASE)
MAX_PROBLEMS = 20  # shown to the host per read; more are counted, not listed


@dataclass(frozen=True)
class ParsedEvent:
    uid: str
    is_reservation: bool
    start: dt.date
    end: dt.date  # the check-out day (exclusive end, as RFC 5545 all-day events have it)
    reservation_code: str = ""
    phone_last4: str = ""
    # Worded as closed dates and taken as a stay only because the link says its closed dates are stays: it may
    # also be the echo of a stay booked elsewhere (the OTA closes dates it imported from our own export).
    from_closed_dates: bool = False

    @property
    def nights(self) -> int:
        return (self.end - self.start).days


@dataclass
class ParsedCalendar:
    events: list[ParsedEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # UIDs of events that were read but not usable (no end date, end before start): never "missing", so a
    # reservation whose event went bad is not cancelled for it.
    unreadable_uids: set[str] = field(default_factory=set)
    vevents: int = 0  # every VEVENT in the file, usable or not: 0 means "came back empty"

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        elif len(self.problems) == MAX_PROBLEMS:
            self.problems.append("… and more problems like these.")


def parse_calendar(data: bytes, tz: zoneinfo.ZoneInfo, *, unavailable_is_reservation: bool = False) -> ParsedCalendar:
    """The feed's events, or FeedError when the file is not a calendar at all (a web page, an error text)."""
    text = _text(data)
    head = text.lstrip()[:500].lower()
    if head.startswith("<") or "<html" in head:
        raise FeedError("The link returned a web page, not a calendar. Copy the calendar's export link "
                        "(it usually ends in .ics), not the address of the page you see it on.")
    if not head.startswith("begin:vcalendar"):
        raise FeedError("The link did not return a calendar (an iCal file starts with BEGIN:VCALENDAR). "
                        "Check that it is the calendar export link.")
    try:
        calendar = Calendar.from_ical(text)
    except (ValueError, KeyError, IndexError) as exc:
        raise FeedError(f"The calendar file is damaged and could not be read ({str(exc)[:120]}).") from None
    parsed = ParsedCalendar()
    seen: set[str] = set()
    for event in calendar.walk("VEVENT"):
        parsed.vevents += 1
        _read_event(event, tz, unavailable_is_reservation, parsed, seen)
    return parsed


def _text(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")  # never fails; a feed in another encoding then fails as "not a calendar"


def _read_event(event, tz, unavailable_is_reservation: bool, parsed: ParsedCalendar, seen: set[str]) -> None:
    summary = str(event.get("SUMMARY", "") or "").strip()
    description = str(event.get("DESCRIPTION", "") or "")
    uid = str(event.get("UID", "") or "").strip()[:500]
    label = f"“{summary or 'event'}”"
    try:
        start = _day(event.decoded("DTSTART"), tz) if event.get("DTSTART") is not None else None
    except (ValueError, TypeError):
        start = None
    if start is None:
        parsed.problem(f"{label} has no readable start date (DTSTART): skipped.")
        if uid:
            parsed.unreadable_uids.add(uid)
        return
    if not uid:  # RFC 5545 requires one; without it the event is known by its dates and wording
        uid = "no-uid-" + hashlib.sha256(f"{start}|{summary}|{description}".encode()).hexdigest()[:32]
    label = f"{label} starting {start:%d %b %Y}"
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return  # a cancelled event is as good as gone: the reservation is missed like a removed one
    end = _end(event, tz)
    if end is None:
        parsed.problem(f"{label} has no end date (DTEND): skipped. Ask the calendar's owner to fix it.")
        parsed.unreadable_uids.add(uid)
        return
    if end <= start:
        parsed.problem(f"{label} ends on {end:%d %b %Y}, not after it starts: skipped.")
        parsed.unreadable_uids.add(uid)
        return
    if uid in seen:
        parsed.problem(f"{label} repeats an earlier event's UID: only the first was used.")
        return
    seen.add(uid)
    code_match, last4_match = RESERVATION_CODE.search(description), PHONE_LAST4.search(description)
    is_block = bool(BLOCK_WORDS.search(summary)) and not (code_match or last4_match)
    from_closed_dates = is_block and unavailable_is_reservation and bool(UNAVAILABLE.search(summary))
    parsed.events.append(ParsedEvent(
        uid=uid, is_reservation=not is_block or from_closed_dates, start=start, end=end,
        reservation_code=code_match.group(1).upper() if code_match else "",
        phone_last4=last4_match.group(1) if last4_match else "", from_closed_dates=from_closed_dates,
    ))


def _day(value, tz: zoneinfo.ZoneInfo) -> dt.date:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:  # floating: the listing's own local time
            return value.date()
        return value.astimezone(tz).date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"not a date: {value!r}")


def _end(event, tz) -> dt.date | None:
    try:
        if event.get("DTEND") is not None:
            return _day(event.decoded("DTEND"), tz)
        if event.get("DURATION") is not None:
            start = event.decoded("DTSTART")
            return _day(start + event.decoded("DURATION"), tz)
    except (ValueError, TypeError):
        return None
    return None
