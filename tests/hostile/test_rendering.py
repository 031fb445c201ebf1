"""Guest-supplied text in messages (issue #9 item 5, §9.2): a name or description holding template syntax is
inserted, never parsed (pybars does not evaluate it), verbatim on text channels and HTML-escaped in email."""
from __future__ import annotations

import datetime as dt
import html
import json

from hypothesis import given

from messaging.rendering import render
from tests.factories import make_guest
from tests.hostile.strategies import HOSTILE, SCRIPT, TALLY, hostile_text

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 3, 1, 6, 0, tzinfo=UTC)
SECRET = "wifi-secret-9d41"  # reachable as {{wifi_password}}: it must appear only where the template asks for it


@HOSTILE
@given(name=hostile_text(huge=False), description=hostile_text(huge=False))
def test_values_are_inserted_never_parsed(name, description):
    source = "Hi {{guest_name}}: {{description}} ({{wifi_password}})"
    variables = {"guest_name": name, "description": description, "wifi_password": SECRET}
    text = render(source, variables)
    TALLY.record("message rendering", 200)
    assert text.text == f"Hi {name}: {description} ({SECRET})" and text.missing == []
    mail = render(source, variables, html=True).text
    assert SCRIPT not in mail and "<i data-hostile" not in mail
    assert html.unescape(mail) == f"Hi {name}: {description} ({SECRET})"


def test_a_guest_named_like_a_template_gets_their_name_verbatim_on_every_channel(book, tick, providers):
    """Real confirmations through the channel chain to the fake providers, one on WhatsApp and one by email
    (no phone): the name as typed, nothing it "asks for" resolved, and escaped in the email's HTML."""
    from bookings.models import Listing

    name = f"{{{{wifi_password}}}} {{{{#each x}}}}{SCRIPT}"
    by_whatsapp = book(guest=make_guest(name=name), now=NOW)
    by_email = book(guest=make_guest(name=name, phone="", email="template.name@example.com"), now=NOW)
    Listing.objects.filter(pk__in=[by_whatsapp.listing_id, by_email.listing_id]).update(wifi_password=SECRET)
    tick(NOW)
    [whatsapp] = [json.dumps(seen.body, ensure_ascii=False) for seen in providers.whatsapp.seen]
    assert "{{wifi_password}} {{#each x}}" + SCRIPT in whatsapp  # verbatim: a text channel is not HTML
    assert SECRET not in whatsapp
    [mail] = [seen.body for seen in providers.email.seen]
    parts = {part["type"]: part["value"] for part in mail["content"]}
    assert SECRET not in json.dumps(mail)
    assert "{{wifi_password}} {{#each x}}" + SCRIPT in parts["text/plain"]
    assert SCRIPT not in parts["text/html"] and "&lt;script&gt;hostile()&lt;/script&gt;" in parts["text/html"]
    TALLY.record("message rendering", 200)
    TALLY.record("message rendering", 200)
