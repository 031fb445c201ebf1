"""Channels: WhatsApp (pywa), SMS (HTTP gateway) and email (sendgrid) when their credentials are set; the
sandbox channel otherwise, so the whole lifecycle runs on a laptop."""
from __future__ import annotations

import functools

from django.conf import settings

from messaging.channels.base import ChannelClient, OutgoingMessage, SendResult
from messaging.channels.sandbox import SandboxChannel


@functools.lru_cache(maxsize=None)
def _configured(channel: str, *key) -> ChannelClient:
    if channel == "WHATSAPP" and settings.WHATSAPP_TOKEN:
        from messaging.channels.whatsapp import WhatsAppChannel

        return WhatsAppChannel(token=settings.WHATSAPP_TOKEN, default_phone_id=settings.WHATSAPP_PHONE_ID,
                               api_base=settings.WHATSAPP_API_BASE, timeout=settings.PROVIDER_TIMEOUT_SECONDS)
    if channel == "SMS" and settings.SMS_GATEWAY_URL:
        from messaging.channels.sms import SmsGatewayChannel

        return SmsGatewayChannel(base_url=settings.SMS_GATEWAY_URL, api_key=settings.SMS_API_KEY,
                                 default_sender=settings.SMS_SENDER_ID, timeout=settings.PROVIDER_TIMEOUT_SECONDS)
    if channel == "EMAIL" and settings.SENDGRID_API_KEY:
        from messaging.channels.email import SendGridChannel

        return SendGridChannel(api_key=settings.SENDGRID_API_KEY, host=settings.SENDGRID_API_HOST,
                               default_from=settings.EMAIL_FROM, timeout=settings.PROVIDER_TIMEOUT_SECONDS)
    return SandboxChannel()


def client_for(channel: str) -> ChannelClient:
    """The provider for a channel, or the sandbox when no credentials are set. Keyed on the settings in
    force, so a test that points a provider at a fake server gets a client for that server."""
    key = {
        "WHATSAPP": (settings.WHATSAPP_TOKEN, settings.WHATSAPP_PHONE_ID, settings.WHATSAPP_API_BASE),
        "SMS": (settings.SMS_GATEWAY_URL, settings.SMS_API_KEY, settings.SMS_SENDER_ID),
        "EMAIL": (settings.SENDGRID_API_KEY, settings.SENDGRID_API_HOST, settings.EMAIL_FROM),
    }.get(channel, ())
    return _configured(channel, *key)


def is_sandbox(channel: str) -> bool:
    return isinstance(client_for(channel), SandboxChannel)


__all__ = ["ChannelClient", "OutgoingMessage", "SendResult", "client_for", "is_sandbox"]
