"""PII never in the logs (issue #9 item 5, §10): a realistic flow — a guest and a booking made through the
staff API, the confirmation sent through the fake providers (WhatsApp refusing once, so the fallback runs),
status and STOP webhooks, every portal action, a low review, an unsubscribe — with every log record at every
level and everything written to stdout/stderr captured. The guest's name, phone and email appear in none."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import json
import logging

import time_machine
from django.contrib.auth.models import Group, User

from messaging.consent import unsubscribe_token
from messaging.models import CommunicationLog
from portal.models import GuestPortalToken
from tests.conftest import SchemaKeepingClient
from tests.hostile.strategies import TALLY, check
from tests.messaging.fakes import whatsapp_error
from tests.portal.conftest import UTC

NAME, PHONE, EMAIL = "Xiomara Quenby", "+919876504567", "Xiomara.Quenby@example.com"
FORMS_OF_PHONE = (PHONE, PHONE[1:], PHONE[3:], "98765 04567", "98765-04567", "+91 98765 04567")
FORBIDDEN = (*FORMS_OF_PHONE, EMAIL, EMAIL.lower(), "Xiomara", "Quenby")

CONFIRMED = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
CHECKIN_DAY = dt.datetime(2026, 3, 15, 9, 0, tzinfo=UTC)
IN_STAY = dt.datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
CHECKOUT_DAY = dt.datetime(2026, 3, 18, 2, 0, tzinfo=UTC)
LEFT = dt.datetime(2026, 3, 18, 5, 30, tzinfo=UTC)


class Everything(logging.Handler):
    """Every record of every logger, formatted with its arguments and traceback, whatever the levels."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


def test_the_guest_is_named_in_no_log_line_and_no_output(tenant, client, tick, providers, settings, capfd):
    settings.WHATSAPP_APP_SECRET = "wa-app-secret"
    # As with LOG_LEVEL=DEBUG, the most an operator can ask for: the root at DEBUG, the loggers the settings
    # pin (third-party clients that dump request payloads) at their pinned levels.
    handler = Everything()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        run_the_flow(tenant, client, tick, providers)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    out, err = capfd.readouterr()
    text = "\n".join(handler.lines) + out + err
    # The capture works: the refused issue report (422) and the unknown link (404) are both in it.
    assert sum(line.startswith("django.request WARNING") for line in handler.lines) >= 2, handler.lines
    for name in ("pywa", "httpx", "python_http_client"):  # and those clients never log at DEBUG
        assert logging.getLogger(name).getEffectiveLevel() >= logging.INFO, name
    leaked = [value for value in FORBIDDEN if value.lower() in text.lower()]
    TALLY.record("PII in logs", 200, leak=bool(leaked))
    assert not leaked, [line[:300] for line in text.splitlines() if any(v.lower() in line.lower() for v in leaked)][:8]


def run_the_flow(tenant, portal, tick, providers):
    user = User.objects.create_user("pii-frontdesk", password="pw-pii-1", is_staff=True)
    user.groups.add(Group.objects.get(name="frontdesk"))
    staff = SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant)
    staff.force_login(user)
    public = SchemaKeepingClient(HTTP_HOST="localhost", keep=tenant)
    from tests.factories import make_access_info, make_listing

    listing = make_listing(late_checkout_price=700)
    make_access_info(listing)
    with time_machine.travel(CONFIRMED, tick=False):
        guest = staff.post("/api/guests", {"name": NAME, "phone": "+91 98765 04567", "email": EMAIL},
                           content_type="application/json")
        assert guest.status_code == 201, guest.content
        booking = staff.post("/api/bookings", {"guest": guest.json()["id"], "listing": listing.pk, "checkin_date": "2026-03-15",
                                               "checkout_date": "2026-03-18", "guests_planned": 2, "total_amount": "8500"},
                             content_type="application/json")
        assert booking.status_code == 201, booking.content
        booking_id = booking.json()["id"]
        staff.get("/api/bookings", {"guest": guest.json()["id"]})
        staff.get(f"/api/guests/{guest.json()['id']}")
        staff.get("/api/guests", {"q": "Quenby"})
    providers.whatsapp.script.append(whatsapp_error(131026, message="Message undeliverable"))  # the fallback runs
    tick(CONFIRMED)
    tick(CONFIRMED + dt.timedelta(minutes=5))
    logs = list(CommunicationLog.objects.filter(booking_id=booking_id))
    assert logs and all(log.status != "PENDING" for log in logs)

    sent = [log for log in logs if log.provider_message_id]
    for log in sent:  # status webhooks, then the guest writes STOP
        body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "w", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp", "metadata": {"phone_number_id": "1000001"},
            "statuses": [{"id": log.provider_message_id, "status": "read", "timestamp": str(int(CONFIRMED.timestamp()) + 60),
                          "recipient_id": PHONE[1:]}],
            "messages": [{"from": PHONE[1:], "id": "wamid.in", "timestamp": str(int(CONFIRMED.timestamp()) + 90),
                          "type": "text", "text": {"body": "STOP"}}]}}]}]}).encode()
        signature = "sha256=" + hmac.new(b"wa-app-secret", body, hashlib.sha256).hexdigest()
        public.post("/api/webhooks/whatsapp", body, content_type="application/json", HTTP_X_HUB_SIGNATURE_256=signature)

    url = "/guest/" + GuestPortalToken.objects.get(booking_id=booking_id).token
    for moment, action, fields in (
        (CHECKIN_DAY, "", None), (CHECKIN_DAY, "/checkin", {}),
        (IN_STAY, "/issue", {"category": "plumbing", "urgency": "emergency", "description": f"{NAME} here, tap broken"}),
        (IN_STAY, "/addon", {"code": "LATE_CHECKOUT"}), (IN_STAY, "/issue", {"category": "nope"}),
        (CHECKOUT_DAY, "/damage", {"description": "Broke a glass"}),
    ):
        with time_machine.travel(moment, tick=False):
            response = portal.get(url) if fields is None else portal.post(url + action, fields)
        check(response, "PII flow")
        tick(moment)
    with time_machine.travel(LEFT, tick=False):
        staff.post(f"/api/bookings/{booking_id}/check-out")
    tick(LEFT)
    with time_machine.travel(LEFT + dt.timedelta(hours=3), tick=False):
        check(portal.post(url + "/review/submit", {"overall_rating": "1", "comment": "Dirty room"}), "PII flow")
    tick(LEFT + dt.timedelta(hours=3))
    tick(LEFT + dt.timedelta(days=2))
    unsubscribe = f"/unsubscribe/{unsubscribe_token(guest.json()['id'])}"
    portal.get(unsubscribe)
    portal.post(unsubscribe)
    with time_machine.travel(CONFIRMED, tick=False):
        portal.get("/guest/" + "0" * 32)  # a 404 is logged


def test_the_web_servers_access_log_names_no_one_and_keeps_no_link(monkeypatch, tmp_path):
    """`manage.py serve` runs gunicorn with a logger whose lines drop the query string (a staff search for a
    name or phone), the referer, request headers (Authorization) and environ variables (the cookies), and hide
    the token of portal links: in gunicorn's standard line and in a format that asks for all of those."""
    from types import SimpleNamespace

    from django.core.management import call_command
    from gunicorn.config import Config

    from atlas_guest.access_log import AccessLogger

    config = Config()
    standard = config.access_log_format
    log_file = tmp_path / "access.log"
    config.set("accesslog", str(log_file))
    config.set("access_log_format", standard + ' %(U)s %(q)s %({authorization}i)s %({HTTP_COOKIE}e)s '
                                               '%({Set-Cookie}o)s %({location}o)s %({content-type}o)s %(D)s %(B)s '
                                               '%(m)s %(H)s %(u)s %(nonsense)s')
    logger = AccessLogger(config)
    token = "0123456789abcdef0123456789abcdef"
    for path, query in (("/api/guests", "q=Xiomara+Quenby"), ("/api/guests", f"q={PHONE[1:]}"),
                        (f"/guest/{token}/issue", ""), (f"/unsubscribe/{token}", "")):
        environ = {"REQUEST_METHOD": "GET", "RAW_URI": f"{path}?{query}", "PATH_INFO": path, "QUERY_STRING": query,
                   "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "HTTP_COOKIE": f"sessionid={token}",
                   "HTTP_REFERER": f"http://alpha.localhost/guest/{token}", "HTTP_USER_AGENT": "Mozilla/5.0",
                   "HTTP_AUTHORIZATION": "Token secret-api-key"}
        response = SimpleNamespace(status="303 See Other", sent=512, headers=[
            ("Content-Type", "text/html"), ("Set-Cookie", f"csrftoken={token}"),
            ("Location", f"/guest/{token}#report")])
        logger.access(response, SimpleNamespace(headers=[("AUTHORIZATION", "Token secret-api-key")]), environ,
                      dt.timedelta(milliseconds=12))
    for handler in logger.access_log.handlers:
        handler.flush()
    text = log_file.read_text()
    assert text.count("\n") == 4
    assert '"GET /api/guests HTTP/1.1" 303 512' in text and "/guest/<token>/issue" in text and "Mozilla/5.0" in text
    assert "text/html 12000 512 GET HTTP/1.1" in text  # the atoms asked for are there
    for secret in (*FORBIDDEN, token, "secret-api-key"):
        assert secret.lower() not in text.lower(), secret

    started = []

    class Exited:
        pid, returncode = 1, 0

        def __init__(self, args, **kwargs):
            started.append(args)

        def poll(self):
            return 0

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr("subprocess.Popen", Exited)
    monkeypatch.setattr("signal.signal", lambda *args: None)  # serve's SIGTERM handler: not in the test process
    call_command("serve", "--port", "0")
    [web] = [args for args in started if "gunicorn" in args]
    assert web[web.index("--logger-class") + 1] == "atlas_guest.access_log.AccessLogger"


def test_djangos_request_log_hides_link_tokens(tenant):
    """"Not Found: /guest/<token>" (django.request) goes through the console handler's filter (settings.LOGGING,
    applied at start-up): the token, a credential, is never written."""
    from atlas_guest.access_log import HideLinkTokens

    token = "0123456789abcdef0123456789abcdef"
    [console] = [h for h in logging.getLogger().handlers if any(isinstance(f, HideLinkTokens) for f in h.filters)]
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        SchemaKeepingClient(HTTP_HOST="alpha.localhost", keep=tenant).get(f"/guest/{token}/review")
    finally:
        console.setStream(previous)
    text = stream.getvalue()
    assert "Not Found: /guest/<token>/review" in text and token not in text
