"""Who gets in (issue #9 item 5, NFR 2, §8.2): guessed portal tokens never match and are looked up by digest;
another tenant's ids, tokens, links and API keys get nothing through ANY URL of either urlconf (enumerated
from the resolvers, so a URL added later is covered); a session of one tenant is nobody on another."""
from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re

import pytest
import time_machine
from django.apps import apps
from django.contrib.admindocs.views import extract_views_from_urlpatterns, simplify_regex
from django.contrib.auth.models import Group, User
from django.db import connection
from django.urls import get_resolver
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token

from tests.conftest import SchemaKeepingClient
from tests.hostile.strategies import HOSTILE, TALLY, check
from tests.portal.conftest import CHECKIN

UTC = dt.timezone.utc
IN_STAY = dt.datetime(2026, 3, 16, 14, 0, tzinfo=UTC)
BETA_PK = 900_001  # ids no row of alpha has: an answer naming them can only come from beta
BETA_NAME, BETA_EMAIL, BETA_PHONE = "Bhavani Zutshi", "bhavani.zutshi@example.com", "+919876504321"
OPEN_API = ("/api/docs/", "/api/schema/")  # the API's description: public by design (drf-spectacular)
BETA_MARKERS = (BETA_NAME.encode(), BETA_EMAIL.encode(), BETA_PHONE.encode(), b"98765 04321", b"Zutshi Lake House")


# --- token guessing ---------------------------------------------------------------------------------------------


class Statements:
    """Every statement sent to the database with its parameters (CaptureQueriesContext shows placeholders)."""

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.seen.append(f"{sql} {params!r}")
        return execute(sql, params, many, context)

    def text(self) -> str:
        return " ".join(self.seen)


@HOSTILE
@given(guess=st.text("0123456789abcdef", min_size=32, max_size=32))
def test_guessed_tokens_never_match_and_are_looked_up_by_digest(stay, client, guess):
    real = stay()
    statements = Statements()
    with connection.execute_wrapper(statements), time_machine.travel(IN_STAY, tick=False):
        response = client.get(f"/guest/{guess}")
    check(response, "token guessing")
    if guess != real.token:
        assert response.status_code == 404
    # The raw token never reaches the database: only its SHA-256, compared by a unique index (no prefix
    # comparison in Python whose time could tell how much of a guess was right).
    assert guess not in statements.text()
    assert hashlib.sha256(guess.encode()).hexdigest() in statements.text()


@HOSTILE
@given(guess=st.one_of(st.text(min_size=1, max_size=80).filter(lambda t: "/" not in t and "?" not in t and "#" not in t),
                       st.text("0123456789abcdefABCDEF", min_size=31, max_size=33)))
def test_malformed_tokens_are_refused_without_a_lookup(stay, client, guess):
    stay()
    statements = Statements()
    with connection.execute_wrapper(statements), time_machine.travel(IN_STAY, tick=False):
        response = client.get(f"/guest/{guess}")
    check(response, "token guessing")
    assert response.status_code == 404
    if not re.fullmatch(r"[0-9a-f]{32}", guess):
        assert "token_hash" not in statements.text()


def test_a_tokens_neighbours_do_not_open_it(stay, client):
    """One character off, in each position: 32 near misses, all refused."""
    s = stay()
    for i in range(32):
        near = s.token[:i] + ("0" if s.token[i] != "0" else "1") + s.token[i + 1:]
        with time_machine.travel(IN_STAY, tick=False):
            assert check(client.get(f"/guest/{near}"), "token guessing") == 404
    with time_machine.travel(IN_STAY, tick=False):
        assert client.get(s.url).status_code == 200


# --- cross-tenant through every URL -----------------------------------------------------------------------------


def all_paths(urlconf: str) -> list[str]:
    """Every URL of the urlconf as a path pattern ("/api/bookings/<pk>"), less DRF's format-suffix twins."""
    found = extract_views_from_urlpatterns(get_resolver(urlconf).url_patterns)
    return sorted({simplify_regex(regex) for _view, regex, _ns, _name in found} - {""})


def fill(pattern: str, values: dict) -> str | None:
    if "format>" in pattern or "drf_format_suffix" in pattern:
        return None  # the same views as the pattern without the suffix

    def value(match: re.Match) -> str:
        name = match.group(1).split(":")[-1]
        if name == "token" and pattern.startswith("/unsubscribe"):
            return values["unsubscribe"]
        return str(values.get(name, values["default"]))

    return re.sub(r"<([^>]+)>", value, pattern).replace("\\", "")


@pytest.fixture
def beta_world(activate, tenant):
    """In beta: a guest, a booking with its portal link, a user with an API token and a session, all
    with ids no alpha row has and names no alpha row contains."""
    from bookings.services import create_booking
    from messaging.consent import unsubscribe_token
    from portal.services import issue_portal_token
    from tests.factories import make_access_info, make_guest, make_listing, make_property

    beta = activate("beta")
    guest = make_guest(pk=BETA_PK, name=BETA_NAME, email=BETA_EMAIL, phone=BETA_PHONE)
    listing = make_listing(make_property(pk=BETA_PK, name="Zutshi Lake House"), pk=BETA_PK)
    make_access_info(listing)
    booking = create_booking(pk=BETA_PK, guest=guest, listing=listing, checkin_date=CHECKIN, checkout_date=CHECKIN + dt.timedelta(days=3),
                             guests_planned=2, total_amount=8500, now=dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC))
    booking_pk = booking.pk
    assert booking_pk == BETA_PK  # so /api/bookings/<pk> and the admin's object URLs name it
    token = issue_portal_token(booking).token
    user = User.objects.create_user("beta-owner", password="pw-beta-1", is_staff=True, is_superuser=True)
    user.groups.add(Group.objects.get(name="owner"))
    api_key = Token.objects.create(user=user).key
    beta_session = SchemaKeepingClient(HTTP_HOST=beta.get_primary_domain().domain, keep=tenant,
                                       raise_request_exception=False)
    beta_session.force_login(user)
    unsubscribe = unsubscribe_token(guest.pk)
    counts = table_counts()
    connection.set_tenant(tenant)
    return {"tenant": beta, "token": token, "unsubscribe": unsubscribe, "api_key": api_key, "booking": booking_pk,
            "session": beta_session, "counts": counts}


def table_counts() -> dict[str, int]:
    """Rows per model of the tenant apps, in the schema set now: what a request could have changed."""
    tenant_apps = {"guests", "bookings", "operations", "messaging", "portal", "reviews", "coupons", "personalization"}
    return {m._meta.label: m.objects.count() for m in apps.get_models() if m._meta.app_label in tenant_apps}


def test_nothing_of_another_tenant_through_any_url(tenant, beta_world, activate):
    from tests.factories import make_guest

    make_guest()  # alpha has data of its own, so its pages are not empty
    alpha_owner = User.objects.create_user("alpha-owner", password="pw-alpha-1", is_staff=True, is_superuser=True)
    alpha_owner.groups.add(Group.objects.get(name="owner"))
    host = tenant.get_primary_domain().domain
    anonymous = SchemaKeepingClient(HTTP_HOST=host, keep=tenant, raise_request_exception=False)
    owner = SchemaKeepingClient(HTTP_HOST=host, keep=tenant, raise_request_exception=False)
    owner.force_login(alpha_owner)
    beta_key = SchemaKeepingClient(HTTP_HOST=host, keep=tenant, raise_request_exception=False,
                                   HTTP_AUTHORIZATION=f"Token {beta_world['api_key']}")
    # beta's session cookie, presented on alpha's domain
    beta_cookie = SchemaKeepingClient(HTTP_HOST=host, keep=tenant, raise_request_exception=False)
    beta_cookie.cookies = copy.deepcopy(beta_world["session"].cookies)  # alpha's answers may expire it: a copy
    values = {"default": BETA_PK, "token": beta_world["token"], "unsubscribe": beta_world["unsubscribe"],
              "app_label": "guests", "source": "pms", "name": "revenue", "url": "guests/guest/"}
    tried = 0
    with time_machine.travel(IN_STAY, tick=True):
        for pattern in all_paths("atlas_guest.urls"):
            path = fill(pattern, values)
            if path is None or path.startswith("/admin/") and path.endswith(("/add/", f"/{BETA_PK}/")):
                continue  # an empty form names no one; a bare object URL redirects to its /change/, tried below
            staff_only = (path.startswith(("/admin/", "/api/")) and not path.startswith(("/api/webhooks", *OPEN_API))
                          and path not in ("/admin/login/", "/admin/logout/"))
            for who, client in (("anonymous", anonymous), ("alpha owner", owner), ("beta API key", beta_key),
                                ("beta session", beta_cookie)):
                if who != "alpha owner" and path.startswith("/admin/") and path != "/admin/":
                    continue  # without a session of this tenant: the same redirect to the login page, whatever the path
                response = client.get(path)
                check(response, "cross-tenant", forbidden=BETA_MARKERS)
                if staff_only and who.startswith("beta"):
                    assert response.status_code in (301, 302, 401, 403, 404), (who, path, response.status_code)
                if who != "beta session" and (not path.startswith("/admin") or path.endswith("/delete/")):
                    posted = client.post(path, {"post": "yes"})
                    check(posted, "cross-tenant", forbidden=BETA_MARKERS)
                    tried += 1
                tried += 1
        public = SchemaKeepingClient(HTTP_HOST="localhost", keep=tenant, raise_request_exception=False)
        public_beta_key = SchemaKeepingClient(HTTP_HOST="localhost", keep=tenant, raise_request_exception=False,
                                              HTTP_AUTHORIZATION=f"Token {beta_world['api_key']}")
        for pattern in all_paths("atlas_guest.urls_public"):
            path = fill(pattern, values)
            if path is None or path.startswith("/admin/") and path != "/admin/":
                continue
            for client in (public, public_beta_key):
                check(client.get(path), "cross-tenant", forbidden=BETA_MARKERS)
                check(client.post(path, {}), "cross-tenant", forbidden=BETA_MARKERS)
                tried += 2
    # The control: on its own domain, beta's session does see these markers, so their absence above means something.
    own = beta_world["session"].get(f"/api/guests/{BETA_PK}", HTTP_HOST=beta_world["tenant"].get_primary_domain().domain)
    assert own.status_code == 200 and BETA_NAME.encode() in own.content
    activate("beta")
    assert table_counts() == beta_world["counts"]  # nothing of beta's changed
    assert tried > 200


def test_a_beta_unsubscribe_link_for_an_alpha_guest_id_unsubscribes_no_one(tenant, activate, client):
    """The link is signed with its schema: the same guest id on another tenant's domain is nobody."""
    from guests.models import GuestConsent
    from messaging.consent import unsubscribe_token
    from tests.factories import make_guest

    alpha_guest = make_guest()
    activate("beta")
    forged = unsubscribe_token(alpha_guest.pk)  # a valid link, of beta, for the same id
    connection.set_tenant(tenant)
    assert check(client.get(f"/unsubscribe/{forged}"), "cross-tenant") == 404
    assert check(client.post(f"/unsubscribe/{forged}"), "cross-tenant") == 404
    assert not GuestConsent.objects.filter(guest=alpha_guest).exists()
    TALLY.record("cross-tenant", 404)
