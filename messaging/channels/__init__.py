"""Channels: the sandbox now; WhatsApp (pywa), SMS (HTTP gateway) and email (sendgrid) when configured."""
from __future__ import annotations

from messaging.channels.base import ChannelClient, OutgoingMessage, SendResult
from messaging.channels.sandbox import SandboxChannel

_sandbox = SandboxChannel()


def client_for(channel: str) -> ChannelClient:
    """The configured provider for a channel, or the sandbox when no credentials are set."""
    return _sandbox


__all__ = ["ChannelClient", "OutgoingMessage", "SendResult", "client_for"]
