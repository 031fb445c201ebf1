"""Crash test (issue #9): a real django-q2 cluster delivers N due messages through the real provider clients
to fake providers on 127.0.0.1 while the bench kills the whole cluster with SIGKILL at random moments.

    .venv/bin/python bench/chaos.py                       # 10,000 messages, 5 kills
    .venv/bin/python bench/chaos.py --messages 300 --kills 2 --tenants 2     # the short version (the test)
    .venv/bin/python bench/chaos.py --faults              # + provider faults and database faults rows

What it does:
  * seeds `--tenants` tenants with one booking and one due message (the booking confirmation) per guest;
    every guest has a unique phone (+91 98765 0XXXX) and email, so a recipient identifies a message;
  * starts fake WhatsApp (pywa), SMS gateway and SendGrid servers that count every *accepted* request per
    message and, like the real providers, post signed status webhooks (echoing the request's tracker /
    reference / custom_args) to the app, served in this process by Django's own WSGI server;
    one guest in ten is not on WhatsApp (falls back to SMS), one in twenty has no SMS either (email);
  * runs `manage.py qcluster` (2 workers, ORM broker) in its own process group and SIGKILLs the group
    `--kills` times at random moments, restarting it each time; the bench polls for due tenants every
    2 s while the queue is idle (the cluster's own poll runs every 30 s);
  * at the end: lost (no provider accepted it), duplicated (accepted more than once), stuck (not final).

`--faults` adds two rows: provider faults (timeouts, 429, 5xx, dropped connections, accepted without a
status) driven through deliver_due with an explicit clock, and database faults (pg_terminate_backend on
the cluster's connections every few seconds while it delivers).

Runs in its own database: DATABASE_URL (created if missing) or `atlas_chaos` on the embedded server.
Writes bench/results/chaos.json; the last line printed is JSON.
"""
from __future__ import annotations

import argparse
import base64
import collections
import datetime as dt
import hashlib
import hmac
import itertools
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "atlas_guest.settings")
os.environ.setdefault("ATLAS_EMBEDDED_DB", "atlas_chaos")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from atlas_guest.db import ensure_database  # noqa: E402  (no Django needed)
from tests.messaging.fakes import FakeProvider, Reply, Seen  # noqa: E402  (no Django needed)

UTC = dt.timezone.utc
PREFIX = "chaos_"
WA_SECRET, SMS_SECRET = "chaos-wa-secret", "chaos-sms-secret"
FINAL = ("SENT", "DELIVERED", "READ", "ALL_CHANNELS_FAILED", "OPTED_OUT", "BOUNCED")
_PHONE = re.compile(r"(\d{4})$")
_EMAIL = re.compile(r"^c(\d+)@example\.com$")


def say(text: str) -> None:
    print(text, flush=True)


def phone_of(n: int) -> str:
    return f"+91987650{n:04d}"  # +91 98765 0XXXX: 10,000 distinct fake numbers


def email_of(n: int) -> str:
    return f"c{n}@example.com"


# --- fake providers that count and report ---------------------------------------------------------------


class Providers:
    """The three fakes. `accepted[n]` counts the requests accepted for guest n's message, on any channel.
    `fault` (a callable on the request) can replace an answer with a fault."""

    def __init__(self, seed: int) -> None:
        self.lock = threading.Lock()
        self.accepted: collections.Counter[int] = collections.Counter()
        self.requests = 0
        self.webhooks: queue.Queue = queue.Queue()
        self.webhook_url = ""
        self.silent: set[str] = set()  # provider ids accepted without a status (the "no status" fault)
        self.fault = None
        self.rng = random.Random(seed)
        self.ids = itertools.count(1)
        self.run = f"{random.Random().getrandbits(32):08x}"  # provider ids never repeat across runs
        self.whatsapp = FakeProvider(self._whatsapp)
        self.sms = FakeProvider(self._sms)
        self.email = FakeProvider(self._email)
        for fake in (self.whatsapp, self.sms, self.email):
            fake.seen = _Discard()  # keep memory flat over 10,000 requests

    def _accept(self, n: int | None, channel: str, provider_id: str, echo: dict) -> None:
        with self.lock:
            if n is not None:
                self.accepted[n] += 1
        if self.webhook_url:
            self.webhooks.put((time.monotonic() + 0.3, channel, provider_id, echo))

    def _faulty(self, seen: Seen) -> Reply | None:
        with self.lock:
            self.requests += 1
        return self.fault(seen) if self.fault else None

    def _whatsapp(self, seen: Seen) -> Reply:
        body = seen.body if isinstance(seen.body, dict) else {}
        to = str(body.get("to", ""))
        n = _number(_PHONE, to)
        if (fault := self._faulty(seen)) is not None:
            return fault
        if n is not None and n % 10 == 7:  # not on WhatsApp: permanent, falls back to SMS at once
            return Reply(400, {"error": {"message": "not a WhatsApp user", "code": 131026, "type": "OAuthException",
                                         "error_data": {"details": "x"}, "fbtrace_id": "t"}})
        provider_id = f"wamid.chaos{self.run}.{next(self.ids)}"
        self._accept(n, "whatsapp", provider_id, {"tracker": body.get("biz_opaque_callback_data", "")})
        return Reply(200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                           "messages": [{"id": provider_id}]})

    def _sms(self, seen: Seen) -> Reply:
        body = seen.body if isinstance(seen.body, dict) else {}
        n = _number(_PHONE, str(body.get("to", "")))
        if (fault := self._faulty(seen)) is not None:
            return fault
        if n is not None and n % 20 == 17:  # the gateway refuses the number: permanent, falls back to email
            return Reply(400, {"error": "unroutable number"})
        provider_id = f"sms-chaos{self.run}-{next(self.ids)}"
        self._accept(n, "sms", provider_id, {"reference": body.get("reference", "")})
        return Reply(202, {"id": provider_id})

    def _email(self, seen: Seen) -> Reply:
        body = seen.body if isinstance(seen.body, dict) else {}
        try:
            address = body["personalizations"][0]["to"][0]["email"]
        except (KeyError, IndexError, TypeError):
            address = ""
        n = _number(_EMAIL, address)
        if (fault := self._faulty(seen)) is not None:
            return fault
        provider_id = f"sgchaos{self.run}{next(self.ids)}"
        self._accept(n, "email", provider_id, dict(body.get("custom_args") or {}))
        return Reply(202, "", headers={"X-Message-Id": provider_id})

    def close(self) -> None:
        for fake in (self.whatsapp, self.sms, self.email):
            fake.close()


class _Discard(list):
    def append(self, item) -> None:
        pass


def _number(pattern: re.Pattern, text: str) -> int | None:
    match = pattern.search(text)
    return int(match.group(1)) if match else None


class WebhookSender(threading.Thread):
    """Posts the providers' status callbacks ~0.3 s after acceptance, batched and signed as each provider
    batches and signs them (WhatsApp: many statuses per POST; SendGrid: a list of events; the SMS gateway:
    a list of statuses)."""

    BATCH = 200

    def __init__(self, providers: Providers, sendgrid_key) -> None:
        super().__init__(daemon=True)
        import httpx

        self.providers, self.key = providers, sendgrid_key
        self.client = httpx.Client(timeout=30.0, headers={"Host": "localhost"})
        self.posted = self.failed = 0
        self.stop = threading.Event()

    def run(self) -> None:
        waiting: list = []
        while not self.stop.is_set():
            try:
                while len(waiting) < self.BATCH * 3:
                    waiting.append(self.providers.webhooks.get(timeout=0.05))
            except queue.Empty:
                pass
            ready = [item for item in waiting if item[0] <= time.monotonic()]
            if not ready:
                continue
            waiting = [item for item in waiting if item[0] > time.monotonic()]
            by_channel: dict[str, list] = collections.defaultdict(list)
            for _due, channel, provider_id, echo in ready:
                if provider_id not in self.providers.silent:
                    by_channel[channel].append((provider_id, echo))
            for channel, items in by_channel.items():
                for i in range(0, len(items), self.BATCH):
                    chunk = items[i:i + self.BATCH]
                    for _try in range(3):  # a real provider retries a webhook the app did not take
                        try:
                            self._post(channel, chunk)
                            self.posted += len(chunk)
                            break
                        except Exception:
                            time.sleep(0.5)
                    else:
                        self.failed += len(chunk)

    def _post(self, channel: str, items: list) -> None:
        ts = str(int(time.time()))
        url = self.providers.webhook_url
        if channel == "whatsapp":
            statuses = []
            for provider_id, echo in items:
                status = {"id": provider_id, "status": "delivered", "timestamp": ts, "recipient_id": "0"}
                if echo.get("tracker"):
                    status["biz_opaque_callback_data"] = echo["tracker"]
                statuses.append(status)
            body = json.dumps({"object": "whatsapp_business_account", "entry": [{"id": "waba", "changes": [
                {"field": "messages", "value": {"messaging_product": "whatsapp", "metadata": {"phone_number_id": "1"},
                                                "statuses": statuses}}]}]}).encode()
            sig = "sha256=" + hmac.new(WA_SECRET.encode(), body, hashlib.sha256).hexdigest()
            response = self.client.post(f"{url}/api/webhooks/whatsapp", content=body,
                                        headers={"X-Hub-Signature-256": sig, "Content-Type": "application/json"})
        elif channel == "sms":
            rows = []
            for provider_id, echo in items:
                item = {"provider_message_id": provider_id, "status": "DELIVERED", "timestamp": ts}
                if echo.get("reference"):
                    item["reference"] = echo["reference"]
                rows.append(item)
            body = json.dumps(rows).encode()
            sig = hmac.new(SMS_SECRET.encode(), body, hashlib.sha256).hexdigest()
            response = self.client.post(f"{url}/api/webhooks/message-status", content=body,
                                        headers={"X-Signature": sig, "Content-Type": "application/json"})
        else:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.asymmetric import ec

            body = json.dumps([{"sg_message_id": f"{provider_id}.filter0001", "event": "delivered", "timestamp": int(ts),
                                "email": "x@example.com", **echo} for provider_id, echo in items])
            sig = base64.b64encode(self.key.sign((ts + body).encode(), ec.ECDSA(hashes.SHA256()))).decode()
            response = self.client.post(f"{url}/api/webhooks/sendgrid", content=body.encode(), headers={
                "X-Twilio-Email-Event-Webhook-Signature": sig, "X-Twilio-Email-Event-Webhook-Timestamp": ts,
                "Content-Type": "application/json"})
        response.raise_for_status()


def sendgrid_keys():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key, "".join(public.decode().strip().splitlines()[1:-1])


# --- database and seeding -------------------------------------------------------------------------------


def setup(tenants: int, messages: int) -> list[str]:
    from django.core.management import call_command
    from django_q.models import OrmQ, Schedule, Task
    from django_tenants.utils import schema_context

    from tenants.models import ProviderMessageRoute, Tenant
    from tenants.services import create_tenant, public_tenant

    say("setup: migrating the public schema")
    call_command("migrate_schemas", "--shared", verbosity=0)
    public_tenant()
    for old in Tenant.objects.filter(schema_name__startswith=PREFIX):
        old.delete(force_drop=True)
    ProviderMessageRoute.objects.filter(schema_name__startswith=PREFIX).delete()  # a previous run's ids
    OrmQ.objects.all().delete()
    Task.objects.all().delete()
    Schedule.objects.exclude(name__startswith="lifecycle-poll").delete()  # no nightly jobs in the way
    schemas = []
    per_tenant = messages // tenants
    for t in range(tenants):
        tenant = create_tenant(slug=f"{PREFIX}{t}".replace("_", "-"), name=f"Chaos Homestays {t}", coupon_prefix="CHAOS")
        schemas.append(tenant.schema_name)
        with schema_context(tenant.schema_name):
            seed_tenant(range(t * per_tenant, (t + 1) * per_tenant))
        say(f"setup: tenant {t + 1}/{tenants} with {per_tenant} due messages")
    return schemas


def seed_tenant(numbers: range, now: dt.datetime | None = None) -> None:
    """One confirmed booking and one due booking-confirmation message per guest, written directly (the
    lifecycle engine's own benchmark covers how they come to exist)."""
    from django.db import transaction

    from bookings.models import Booking, BookingStatus, Listing, ListingAccessInfo, Property
    from guests.models import Guest
    from messaging import events as ev
    from messaging.models import CommunicationLog
    from messaging.wakeups import note_due

    now = now or dt.datetime.now(UTC)
    with transaction.atomic():
        prop = Property.objects.create(name="Chaos Villa", address="1 MG Road, Bengaluru", contact_phone="+919876500000")
        listings = Listing.objects.bulk_create([Listing(property=prop, name=f"Room {n}") for n in range(10)])
        ListingAccessInfo.objects.bulk_create([ListingAccessInfo(listing=l, access_code="1234") for l in listings])
        guests = Guest.objects.bulk_create([Guest(name=f"Guest {n}", phone=phone_of(n), email=email_of(n)) for n in numbers])
        bookings = Booking.objects.bulk_create([
            Booking(guest=g, listing=listings[i % len(listings)], status=BookingStatus.CONFIRMED, confirmed_at=now,
                    checkin_date=dt.date(2026, 12, 20), checkout_date=dt.date(2026, 12, 22), total_amount=5000,
                    final_amount=5000)
            for i, g in enumerate(guests)
        ])
        CommunicationLog.objects.bulk_create([
            CommunicationLog(booking=b, guest_id=b.guest_id, event_type=ev.GUEST_BOOKING_CONFIRMED, channel="WHATSAPP",
                             status="PENDING", idempotency_key=f"{b.pk}:{ev.GUEST_BOOKING_CONFIRMED}:1",
                             next_attempt_at=now - dt.timedelta(seconds=1), created_at=now)
            for b in bookings
        ])
        note_due(now - dt.timedelta(seconds=1), now)


def status_counts(schemas: list[str]) -> collections.Counter:
    from django.db import connection

    counts: collections.Counter = collections.Counter()
    with connection.cursor() as cursor:
        for schema in schemas:
            cursor.execute(f'SELECT status, count(*) FROM "{schema}".messaging_communicationlog GROUP BY status')
            counts.update(dict(cursor.fetchall()))
    return counts


# --- the cluster ----------------------------------------------------------------------------------------


class Cluster:
    def __init__(self, env: dict, workers: int) -> None:
        # ERROR: the seeded bookings have no portal link, and the renderer warns about it for every message.
        self.env = {**os.environ, **env, "Q_WORKERS": str(workers), "LOG_LEVEL": "ERROR"}
        self.process: subprocess.Popen | None = None
        self.log_path = Path(tempfile.gettempdir()) / "atlas-chaos-cluster.log"  # the cluster's own output
        self.log = open(self.log_path, "wb")

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=self.env,
                                        stdout=self.log, stderr=self.log, start_new_session=True)

    def kill(self) -> None:
        """SIGKILL the whole process group: the sentinel, its workers, monitor and pusher at once."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def poll_when_idle() -> None:
    """What the cluster's 30 s poll does, every 2 s here, only while no task waits in the queue."""
    from django.utils import timezone
    from django_q.models import OrmQ

    from messaging.tasks import poll_due_tenants

    if not OrmQ.objects.filter(lock__lte=timezone.now()).exists():
        poll_due_tenants()


def serve_webhooks():
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = ThreadedWSGIServer(("127.0.0.1", 0), Quiet)
    server.daemon_threads = True
    server.set_app(WSGIHandler())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def run_cluster(what: str, args, providers: Providers, schemas: list[str], cluster: Cluster, kills: int,
                db_faults: bool = False) -> dict:
    """Start the cluster, kill it `kills` times at random moments, then let it finish; return the row."""
    from django.db import connection

    rng = random.Random(args.seed + 1)
    total = sum(status_counts(schemas).values())
    started = time.monotonic()
    terminated = 0
    cluster.start()
    killed = 0
    next_kill = time.monotonic() + rng.uniform(args.kill_min, args.kill_max)
    next_terminate = time.monotonic() + rng.uniform(1.0, 3.0)
    last_report = 0.0
    while True:
        time.sleep(0.5)
        now = time.monotonic()
        if killed < kills and now >= next_kill:
            cluster.kill()
            killed += 1
            counts = status_counts(schemas)
            say(f"  {what}: SIGKILL {killed}/{kills} at {now - started:.1f} s "
                f"(accepted {sum(providers.accepted.values())}, pending {counts.get('PENDING', 0)}); restarting")
            cluster.start()
            next_kill = now + rng.uniform(args.kill_min, args.kill_max)
        if db_faults and now >= next_terminate and now - started < args.fault_seconds:
            with connection.cursor() as cursor:  # from a second connection: drop every other session
                cursor.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                               "AND backend_type = 'client backend'")
                terminated += cursor.fetchone()[0]
            next_terminate = now + rng.uniform(1.0, 3.0)
        try:
            poll_when_idle()
        except Exception:
            connection.close()
        counts = status_counts(schemas)
        pending = counts.get("PENDING", 0)
        if now - last_report > 5:
            say(f"  {what}: {now - started:.0f} s, accepted {sum(providers.accepted.values())}, "
                f"pending {pending}/{total}, {dict(counts)}")
            last_report = now
        if killed >= kills and not pending and (not db_faults or now - started >= args.fault_seconds):
            break
        if now - started > args.max_seconds:
            say(f"  {what}: gave up waiting after {args.max_seconds} s")
            break
    time.sleep(1.0)  # late webhooks
    cluster.stop()
    row = summarize(what, providers, schemas, total)
    row["seconds"] = round(time.monotonic() - started, 1)
    row["kills"] = killed
    row["lease_seconds"] = args.lease
    if db_faults:
        row["connections_terminated"] = terminated
    return row


def summarize(what: str, providers: Providers, schemas: list[str], total: int, expected: set[int] | None = None) -> dict:
    counts = status_counts(schemas)
    expected = expected if expected is not None else set(range(total))
    lost = sum(1 for n in expected if providers.accepted.get(n, 0) == 0)
    duplicated = sum(1 for n in expected if providers.accepted.get(n, 0) > 1)
    stuck = sum(v for k, v in counts.items() if k not in FINAL)
    return {"what": what, "tried": total, "lost": lost, "duplicated": duplicated, "stuck": stuck,
            "extra_sends": sum(max(0, providers.accepted.get(n, 0) - 1) for n in expected),
            "statuses": dict(counts), "provider_requests": providers.requests}


# --- provider faults, with an explicit clock ------------------------------------------------------------


def provider_faults(args, providers: Providers) -> dict:
    """Every request has a chance of a fault; deliver_due / fall_back_undelivered run with a clock moved
    forward by 15 minutes a round (the §3.6 retry waits) until nothing is pending."""
    from django.db import connection
    from django_tenants.utils import schema_context

    import messaging.tasks
    from messaging.delivery import deliver_due, fall_back_undelivered
    from tenants.models import Tenant
    from tenants.services import create_tenant

    messaging.tasks.request_tick = lambda schema: None
    schema = f"{PREFIX}faults"
    for old in Tenant.objects.filter(schema_name=schema):
        old.delete(force_drop=True)
    create_tenant(slug=schema.replace("_", "-"), name="Chaos Faults", coupon_prefix="CHAOS")
    count = args.fault_messages
    start = 5000  # guest numbers apart from the crash test's (the counters are reset anyway)
    providers.accepted.clear()
    providers.requests = 0
    now = dt.datetime.now(UTC)
    with schema_context(schema):
        seed_tenant(range(start, start + count), now)
    rng = random.Random(args.seed + 2)
    kinds = collections.Counter()

    def fault(seen: Seen) -> Reply | None:
        roll = rng.random()
        if roll < 0.08:
            kinds["timeout"] += 1
            return Reply(200, {}, hang_seconds=1.0)
        if roll < 0.16:
            kinds["429"] += 1
            return Reply(429, {"error": {"message": "slow down", "code": 130429, "type": "OAuthException",
                                         "error_data": {"details": "x"}, "fbtrace_id": "t"}})
        if roll < 0.24:
            kinds["5xx"] += 1
            return Reply(503, {"error": {"message": "unavailable", "code": 2, "type": "OAuthException",
                                         "error_data": {"details": "x"}, "fbtrace_id": "t"}})
        if roll < 0.32:
            kinds["dropped"] += 1
            return Reply(drop=True)
        return None

    providers.fault = fault
    providers.webhook_url = ""  # statuses are not needed here: the clock, not the webhook, drives
    rounds = 0
    with schema_context(schema):
        from django.conf import settings

        settings.PROVIDER_TIMEOUT_SECONDS = 0.3
        from messaging.channels import _configured

        _configured.cache_clear()
        while rounds < 200:
            rounds += 1
            handled = fall_back_undelivered(now) + deliver_due(now, 200)
            while handled:
                handled = fall_back_undelivered(now) + deliver_due(now, 200)
            pending = status_counts([schema]).get("PENDING", 0)
            if not pending:
                break
            now += dt.timedelta(minutes=15)
        from operations.models import HostNotification

        told = HostNotification.objects.filter(kind="ALL_CHANNELS_FAILED").count()
        failed = status_counts([schema]).get("ALL_CHANNELS_FAILED", 0)
    providers.fault = None
    row = summarize("provider faults (timeouts, 429, 503, dropped connections; deliver_due with an explicit clock)",
                    providers, [schema], count, set(range(start, start + count)))
    # A message that ended ALL_CHANNELS_FAILED with the host told is accounted for, not lost.
    row["lost"] = max(0, row["lost"] - min(failed, told))
    row["faults"] = dict(kinds)
    row["all_channels_failed_host_told"] = told
    row["rounds"] = rounds
    connection.set_schema_to_public()
    return row


# --- main -----------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--tenants", type=int, default=4)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kill-min", type=float, default=3.0, help="seconds of cluster uptime before a kill, at least")
    parser.add_argument("--kill-max", type=float, default=12.0)
    parser.add_argument("--lease", type=int, default=10, help="DELIVERY_LEASE_SECONDS for the cluster")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--faults", action="store_true", help="also the provider-faults and database-faults rows")
    parser.add_argument("--fault-messages", type=int, default=1000)
    parser.add_argument("--fault-seconds", type=float, default=20.0, help="how long connections are terminated")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "chaos.json"))
    args = parser.parse_args()
    if args.messages > 10_000:
        parser.error("at most 10,000 messages: one fake phone number (+91 98765 0XXXX) per message")

    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    ensure_database()
    providers = Providers(args.seed)
    sg_key, sg_public = sendgrid_keys()
    provider_env = {
        "WHATSAPP_TOKEN": "chaos-token", "WHATSAPP_PHONE_ID": "1", "WHATSAPP_API_BASE": providers.whatsapp.url,
        "WHATSAPP_APP_SECRET": WA_SECRET, "WHATSAPP_MESSAGES_PER_SECOND": "1000000", "WHATSAPP_DAILY_LIMIT": "100000000",
        "SMS_GATEWAY_URL": providers.sms.url, "SMS_API_KEY": "chaos-key", "SMS_WEBHOOK_SECRET": SMS_SECRET,
        "SENDGRID_API_KEY": "SG.chaos", "SENDGRID_API_HOST": providers.email.url, "SENDGRID_WEBHOOK_PUBLIC_KEY": sg_public,
        "PROVIDER_TIMEOUT_SECONDS": "2", "DELIVERY_LEASE_SECONDS": str(args.lease),
    }
    os.environ.update(provider_env)
    import django

    django.setup()
    import logging

    from django.conf import settings

    # Expected noise under faults: the webhook endpoint's 500s while its connection is terminated (the
    # provider retries), pywa's advice on timeouts, and the seeded bookings' missing portal link.
    for name, level in (("django.request", logging.CRITICAL), ("pywa.api", logging.ERROR),
                        ("messaging.rendering", logging.ERROR)):
        logging.getLogger(name).setLevel(level)

    provider_env["DATABASE_URL"] = settings.DATABASE_URL
    schemas = setup(args.tenants, args.messages)
    total = sum(status_counts(schemas).values())
    server, providers.webhook_url = serve_webhooks()
    senders = [WebhookSender(providers, sg_key) for _ in range(3)]
    for sender in senders:
        sender.start()
    cluster = Cluster(provider_env, args.workers)
    say(f"cluster output: {cluster.log_path}")
    say(f"crash test: {total} due messages, {args.tenants} tenants, a {args.workers}-worker cluster, "
        f"{args.kills} SIGKILLs, lease {args.lease} s")
    rows = [run_cluster(f"SIGKILL of the whole django-q2 cluster ({args.workers} workers) at random moments",
                        args, providers, schemas, cluster, args.kills)]
    rows[0]["webhooks_posted"] = sum(s.posted for s in senders)
    rows[0]["webhooks_failed"] = sum(s.failed for s in senders)
    if args.faults:
        say("database faults: pg_terminate_backend on every other connection every 1-3 s while the cluster delivers")
        schemas = setup(args.tenants, args.messages)  # the same messages again, under a different fault
        providers.accepted.clear()
        providers.requests = 0
        posted = sum(s.posted for s in senders)
        rows.append(run_cluster(f"pg_terminate_backend on every other connection (cluster and webhook endpoint) every "
                                f"1-3 s for {args.fault_seconds:.0f} s", args, providers, schemas, cluster, 0, db_faults=True))
        rows[-1]["webhooks_posted"] = sum(s.posted for s in senders) - posted
        say("provider faults: 32% of requests time out, get 429/503 or have the connection dropped")
        rows.append(provider_faults(args, providers))
    for sender in senders:
        sender.stop.set()
    server.shutdown()
    providers.close()
    for row in rows:
        row["notes"] = _notes(row)
    command = ".venv/bin/python bench/chaos.py " + " ".join(sys.argv[1:])
    write_results(args.out, rows, command)
    for row in rows:
        say(f"{row['what']}: tried {row['tried']}, lost {row['lost']}, duplicated {row['duplicated']}, "
            f"stuck {row['stuck']}")
    say(f"reproduce: {command}")
    print(json.dumps({"command": command, "rows": [{k: r[k] for k in ("what", "tried", "lost", "duplicated", "stuck")}
                                                   for r in rows]}))


def write_results(out: str, rows: list[dict], command: str) -> None:
    """bench/results/chaos.json, through the report script when it is there (it regenerates RELIABILITY.md)."""
    default = Path(out).resolve() == (ROOT / "bench" / "results" / "chaos.json").resolve()
    if default:
        try:
            from bench.reliability_report import save_results
        except ImportError:
            pass
        else:
            save_results("chaos", rows, command)
            say("wrote bench/results/chaos.json and RELIABILITY.md")
            return
    date = dt.datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    Path(out).write_text(json.dumps({"rows": rows, "command": command, "date": date}, indent=2) + "\n")


def _notes(row: dict) -> str:
    bits = [f"final statuses {row['statuses']}", f"{row['provider_requests']} provider requests"]
    for key in ("kills", "lease_seconds", "seconds", "webhooks_posted", "webhooks_failed", "connections_terminated", "faults",
                "all_channels_failed_host_told", "rounds"):
        if key in row:
            bits.append(f"{key.replace('_', ' ')}: {row[key]}")
    return "; ".join(bits)


if __name__ == "__main__":
    main()
