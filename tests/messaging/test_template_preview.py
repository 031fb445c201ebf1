"""The template editor's preview (RA-GUEST-001 §9.2 "pre-send preview with sample data", issue #7): a saved
template on its change page, an unsaved edit posted to the preview URL, syntax problems in words a host can act
on with nothing saved, the roles (§10.6) and one tenant never seeing another's templates (NFR 2); a saved edit
is a new version, so a message sent with the old one can still be rebuilt from the log (GX-PV-001)."""
import re
from html import unescape

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from messaging.catalogue import CATALOGUE
from messaging.models import MessageTemplate
from messaging.preview import preview, sample_variables
from messaging.rendering import render
from messaging.templates import publish_version
from tests.conftest import SchemaKeepingClient
from tests.factories import make_property
from tests.test_admin_backoffice import client_for, staff

PREVIEW_URL = "/admin/messaging/messagetemplate/preview/"


def change_url(template) -> str:
    return reverse("admin:messaging_messagetemplate_change", args=[template.pk])


def preview_block(response) -> str:
    """The text inside the preview box, tags stripped and entities decoded: what the host reads."""
    html = response.content.decode()
    match = re.search(r'<div id="template-preview">(.*?)<button', html, flags=re.S) or re.search(
        r'<div id="template-preview">(.*)', html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", match.group(1))))


def edit_data(template, **changes) -> dict:
    data = {"key": template.key, "event_type": template.event_type, "channel": template.channel,
            "category": template.category, "scope": template.scope, "language": template.language,
            "version": template.version, "is_active": "on", "subject": template.subject, "body": template.body,
            "html_body": template.html_body, "whatsapp_template_name": template.whatsapp_template_name,
            "property": template.property_id or ""}
    data.update(changes)
    return data


@pytest.fixture
def owner(tenant):
    return client_for(staff("owner"), tenant)


def platform(key: str) -> MessageTemplate:
    return MessageTemplate.objects.get(key=key, scope="PLATFORM")


def test_every_catalogue_template_renders_on_the_sample_with_nothing_left_over(tenant):
    """The sample fills every variable the catalogue uses, and the preview is what compose() sends."""
    for entry in CATALOGUE:
        result = preview(platform(entry.key))
        assert result.errors == [] and result.missing == [], entry.key
        assert result.text.strip() and "{{" not in result.text, entry.key
    confirmed = preview(platform("BOOKING_CONFIRMED_WA")).text
    for sample in ("Hi Priya Sharma!", "Sunset Villa", "15 Mar 2026 at 2:00 PM", "Deluxe Room 201 (Private room)",
                   "₹8,500", "Balance due: ₹3,000", "http://alpha.localhost:8000/guest/sample-preview",
                   "+91 98765 00000", "— Alpha Homestays"):
        assert sample in confirmed, sample
    assert sample_variables()["coupon_code"] == "ALPHA10-X7K9M2"  # the tenant's own prefix (white-label)


def test_change_page_shows_the_saved_template_rendered_on_sample_data(owner):
    template = platform("CHECKIN_INSTRUCTIONS_WA")
    response = owner.get(change_url(template))
    assert response.status_code == 200
    shown = preview_block(response)
    assert "Preview on sample data" in response.content.decode()
    assert "Hi Priya Sharma," in shown and "Access code: 4521" in shown
    assert "WiFi: SunsetVilla_5G / welcome2026" in shown
    assert "Our staff will meet you" not in shown  # the {{#if access_code}} branch was taken
    assert 'formaction="/admin/messaging/messagetemplate/preview/"' in response.content.decode()


def test_email_preview_has_subject_html_part_and_the_unsubscribe_footer(owner):
    template = platform("REVIEW_REMINDER_EMAIL")
    page = owner.get(change_url(template)).content.decode()
    assert 'sandbox=""' in page and "srcdoc=" in page  # the HTML part is shown in a sandbox: no script runs
    result = preview(template)
    assert result.subject and "{{" not in result.subject
    assert "Unsubscribe" in result.html and "Unsubscribe:" in result.text


def test_property_template_previews_with_its_own_property(owner):
    prop = make_property(name="Lakeview Cottage", address="7 Lake Road, Udaipur")
    template = publish_version(key="BOOKING_CONFIRMED_WA", scope="PROPERTY", property_id=prop.pk,
                               body="{{property_name}}, {{property_address}}")
    assert "Lakeview Cottage, 7 Lake Road, Udaipur" in preview_block(owner.get(change_url(template)))


def test_preview_of_an_unsaved_edit_renders_it_and_saves_nothing(owner):
    template = platform("BOOKING_CONFIRMED_WA")
    before = list(MessageTemplate.objects.values_list("pk", "body", "version", "is_active"))
    response = owner.post(PREVIEW_URL, edit_data(template, body="Namaste {{guest_name}}, see you on {{checkin_date}}!"))
    assert response.status_code == 200
    assert "Namaste Priya Sharma, see you on 15 Mar 2026!" in preview_block(response)
    assert "Nothing was saved" in response.content.decode()
    assert list(MessageTemplate.objects.values_list("pk", "body", "version", "is_active")) == before


def test_partial_preview_is_only_the_preview_box(owner):
    template = platform("BOOKING_CONFIRMED_WA")
    response = owner.post(PREVIEW_URL, edit_data(template, body="Hi {{guest_name}}", _partial="1"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="preview-text">Hi Priya Sharma</pre>' in html


def test_unknown_variable_is_left_as_written_with_a_warning(owner):
    template = platform("BOOKING_CONFIRMED_WA")
    response = owner.post(PREVIEW_URL, edit_data(template, body="Hi {{guest_nmae}}, welcome"))
    shown = preview_block(response)
    assert "Hi {{guest_nmae}}, welcome" in shown  # §9.2: left as-is ...
    assert "Left as written: {{guest_nmae}}" in shown  # ... with a warning
    assert "{{guest_nmae}} is not a variable we can fill" in shown  # and saving would refuse it


def test_syntax_error_is_a_sentence_and_nothing_is_saved(owner):
    template = platform("BOOKING_CONFIRMED_WA")
    broken = "{{#if balance_due}}Balance: {{balance_due}}"
    response = owner.post(PREVIEW_URL, edit_data(template, body=broken))
    assert response.status_code == 200
    shown = preview_block(response)
    assert "cannot be saved until these are fixed" in shown
    assert "Body: {{#if}} is never closed: add {{/if}}." in shown
    # The editor's own Save is refused too, and its page shows the same sentence in the preview box.
    saved = owner.post(change_url(template), edit_data(template, body=broken))
    assert saved.status_code == 200
    assert "Body: {{#if}} is never closed: add {{/if}}." in preview_block(saved)
    template.refresh_from_db()
    assert template.body == platform("BOOKING_CONFIRMED_WA").body and "{{/if}}" in template.body


def test_a_template_pybars_cannot_compile_is_a_message_not_a_500(owner):
    template = platform("BOOKING_CONFIRMED_WA")
    for body in ("{{", "{{#each}}x{{/each}}", "}}{{{", "{{#if guest_name}}{{else}}{{else}}{{/if}}", "x" * 60_000):
        response = owner.post(PREVIEW_URL, edit_data(template, body=body))
        assert response.status_code == 200, body[:40]
        assert "cannot be saved until these are fixed" in preview_block(response), body[:40]


def test_bad_form_data_is_a_400_with_the_field(owner):
    template = platform("BOOKING_CONFIRMED_WA")
    response = owner.post(PREVIEW_URL, edit_data(template, channel="PIGEON"))
    assert response.status_code == 400
    assert "Channel: Select a valid choice." in preview_block(response)


def test_preview_needs_post_and_a_csrf_token(tenant):
    client = SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant, enforce_csrf_checks=True)
    client.force_login(staff("owner"))
    template = platform("BOOKING_CONFIRMED_WA")
    assert client.get(PREVIEW_URL).status_code == 405
    assert client.post(PREVIEW_URL, edit_data(template)).status_code == 403  # no CSRF token
    page = client.get(change_url(template))
    token = page.cookies["csrftoken"].value
    assert client.post(PREVIEW_URL, edit_data(template, csrfmiddlewaretoken=token)).status_code == 200


def test_roles(tenant):
    template = platform("BOOKING_CONFIRMED_WA")
    frontdesk = client_for(staff("frontdesk"), tenant)
    assert frontdesk.post(PREVIEW_URL, edit_data(template)).status_code == 403
    assert frontdesk.get(change_url(template)).status_code == 403
    manager = client_for(staff("manager"), tenant)
    assert manager.post(PREVIEW_URL, edit_data(template, body="Hi {{guest_name}}")).status_code == 200
    anonymous = SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant)
    assert anonymous.post(PREVIEW_URL, edit_data(template)).status_code == 302  # to the login page


def test_preview_on_one_tenant_never_shows_another_tenants_templates(tenant, other_tenant, activate, owner):
    activate("beta")
    beta = publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="Beta's secret welcome {{guest_name}}")
    beta_property = make_property(name="Beta Only Villa")
    activate("alpha")
    # Beta's ids mean alpha's own rows here (or none): beta's text never appears.
    response = owner.get(change_url(beta))
    assert "Beta's secret welcome" not in response.content.decode()
    for template in MessageTemplate.objects.all():
        assert "Beta's secret" not in preview(template).text
    # A property id from beta is looked up in alpha's schema only.
    data = edit_data(platform("BOOKING_CONFIRMED_WA"), body="{{property_name}}", scope="PROPERTY",
                     property=beta_property.pk)
    response = owner.post(PREVIEW_URL, data)
    assert response.status_code == 400 and "Beta Only Villa" not in response.content.decode()


FRAGMENTS = st.sampled_from([
    "Hi ", "{{guest_name}}", "{{", "}}", "{{{", "}}}", "{{#if balance_due}}", "{{#if}}", "{{/if}}", "{{else}}",
    "{{#each guest_name}}", "{{/each}}", "{{#with listing_name}}", "{{/with}}", "{{this}}", "{{> partial}}",
    "{{!-- note --}}", "{{nope}}", "{{guest_name.first}}", "{{@index}}", "\\{{escaped}}", "<b>", "&", "₹", "\n",
])


# The tenant is only read (sample data, no writes): sharing it between examples is what we want.
@settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(FRAGMENTS, max_size=12), email=st.booleans())
def test_whatever_a_host_types_the_preview_answers_and_matches_the_send_path(tenant, parts, email):
    body = "".join(parts)
    template = MessageTemplate(key="K", event_type="guest.booking_confirmed", channel="EMAIL" if email else "WHATSAPP",
                               category="TRANSACTIONAL", body=body, subject=body if email else "")
    result = preview(template)  # never raises
    assert all(isinstance(problem, str) and problem for problem in result.errors)
    if not result.errors and not email:
        assert result.text == render(body, sample_variables()).text


# --- saving an edit: a new version (GX-PV-001: a sent message is rebuilt from its template and version) -------------


def test_an_edit_saved_in_the_editor_is_a_new_version_and_the_sent_one_keeps_its_text(owner, tenant):
    from messaging.models import CommunicationLog

    first = publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="Hi {{guest_name}}, you are booked!")
    sent = CommunicationLog.objects.create(event_type=first.event_type, template=first, template_key=first.key,
                                           template_version=first.version, channel=first.channel,
                                           idempotency_key="sent-with-the-first-version")
    response = owner.post(change_url(first), edit_data(first, body="Namaste {{guest_name}}, see you soon!",
                                                       _continue="1"))
    assert response.status_code == 302
    versions = list(MessageTemplate.objects.filter(key=first.key, scope="TENANT").order_by("version"))
    assert [(t.version, t.is_active) for t in versions] == [(first.version, False), (first.version + 1, True)]
    newer = versions[1]
    assert newer.body == "Namaste {{guest_name}}, see you soon!"
    assert response["Location"].endswith(change_url(newer))  # the editor goes on with the new version
    sent.refresh_from_db()
    assert (sent.template.version, sent.template.body) == (first.version, "Hi {{guest_name}}, you are booked!")
    assert "Hi Priya Sharma, you are booked!" in preview(sent.template).text  # rebuilt as it was sent
    page = owner.get(response["Location"]).content.decode()
    assert f"Saved as version {newer.version}." in unescape(page)


def test_switching_a_version_off_is_saved_in_place(owner):
    template = publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="Hi {{guest_name}}!")
    data = edit_data(template)
    del data["is_active"]  # an unticked box is not posted
    assert owner.post(change_url(template), data).status_code == 302
    versions = MessageTemplate.objects.filter(key=template.key, scope="TENANT").values_list("version", "is_active")
    assert list(versions) == [(template.version, False)]


def test_what_a_template_is_cannot_be_changed_once_saved(owner):
    template = publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="Hi {{guest_name}}!")
    owner.post(change_url(template), edit_data(template, key="SOMETHING_ELSE", channel="SMS", version="9",
                                                body="Hello {{guest_name}}!"))
    newest = MessageTemplate.objects.filter(scope="TENANT", is_active=True).get()
    assert (newest.key, newest.channel, newest.version) == (template.key, template.channel, template.version + 1)
    page = owner.get(change_url(newest)).content.decode()
    assert 'name="key"' in page and 'type="hidden" name="channel" value="WHATSAPP"' in page  # for the preview only
    assert 'id="id_key"' not in page and 'id="id_channel"' not in page


def test_adding_a_version_that_exists_is_a_message_not_a_500(owner):
    template = platform("BOOKING_CONFIRMED_WA")
    data = edit_data(template, body="Hi {{guest_name}}!")
    del data["is_active"]
    response = owner.post(reverse("admin:messaging_messagetemplate_add"), data)
    assert response.status_code == 200
    assert "already exists" in unescape(response.content.decode())
    assert MessageTemplate.objects.filter(key=template.key, scope=template.scope).count() == 1


def test_an_edit_saved_switched_off_leaves_the_active_version_alone(owner):
    first = publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="One {{guest_name}}")
    second = publish_version(key="BOOKING_CONFIRMED_WA", scope="TENANT", body="Two {{guest_name}}")
    data = edit_data(first, body="Three {{guest_name}}")
    del data["is_active"]
    assert owner.post(change_url(first), data).status_code == 302
    assert list(MessageTemplate.objects.filter(key=first.key, scope="TENANT").order_by("version").values_list(
        "version", "is_active", "body")) == [(first.version, False, "One {{guest_name}}"),
                                             (second.version, True, "Two {{guest_name}}"),
                                             (second.version + 1, False, "Three {{guest_name}}")]
