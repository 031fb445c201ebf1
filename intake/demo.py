"""The demo host's sample Airbnb calendar: shaped as Airbnb's export is (see intake.ical), with dates relative
to today so that the demo always has stays ahead. Served at /calendar/demo/airbnb.ics when ATLAS_DEMO is set
(make run), and read directly by the demo seed."""
from __future__ import annotations

import datetime as dt

DEMO_FEED_PATH = "/calendar/demo/airbnb.ics"
# (days from today to check-in, nights, reservation code, last 4 digits of the guest's phone); None: a block
DEMO_EVENTS = (
    (3, 2, "HMDEMO4821", "0142"),
    (12, 4, "HMDEMO7730", "0198"),
    (26, 3, None, None),
)


def demo_airbnb_feed(today: dt.date) -> bytes:
    lines = ["BEGIN:VCALENDAR", "PRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN", "CALSCALE:GREGORIAN", "VERSION:2.0"]
    for offset, nights, code, last4 in DEMO_EVENTS:
        start = today + dt.timedelta(days=offset)
        end = start + dt.timedelta(days=nights)
        lines += ["BEGIN:VEVENT", f"DTSTAMP:{today:%Y%m%d}T000000Z", f"DTSTART;VALUE=DATE:{start:%Y%m%d}",
                  f"DTEND;VALUE=DATE:{end:%Y%m%d}"]
        if code:
            lines += [f"UID:demo-{code.lower()}@airbnb.com",
                      f"DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/details/{code}\\n"
                      f"Phone Number (Last 4 Digits): {last4}",
                      "SUMMARY:Reserved"]
        else:
            lines += [f"UID:demo-block-{offset}@airbnb.com", "SUMMARY:Airbnb (Not available)"]
        lines.append("END:VEVENT")
    lines.append("END:VCALENDAR")
    return ("\r\n".join(lines) + "\r\n").encode()
