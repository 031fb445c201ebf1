import datetime as dt

import pytest

from tests.lifecycle.conftest import book, no_task_queue, tick  # noqa: F401  (shared fixtures)
from tests.messaging.fakes import FakeProvider, sendgrid_ok, sms_ok, whatsapp_ok

UTC = dt.timezone.utc


@pytest.fixture
def providers(settings):
    """All three providers configured and pointed at fake servers on 127.0.0.1."""
    wa, sms, mail = FakeProvider(whatsapp_ok), FakeProvider(sms_ok), FakeProvider(sendgrid_ok)
    settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_ID, settings.WHATSAPP_API_BASE = "wa-test-token", "1000001", wa.url
    settings.SMS_GATEWAY_URL, settings.SMS_API_KEY, settings.SMS_SENDER_ID = sms.url, "sms-test-key", "SUNSET"
    settings.SENDGRID_API_KEY, settings.SENDGRID_API_HOST = "SG.test-key", mail.url
    settings.EMAIL_FROM = "stays@example.com"
    settings.PROVIDER_TIMEOUT_SECONDS = 0.5
    yield type("Providers", (), {"whatsapp": wa, "sms": sms, "email": mail})
    for fake in (wa, sms, mail):
        fake.close()
