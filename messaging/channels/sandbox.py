"""The sandbox channel: with no provider credentials, messages are recorded for the host to read in the
admin (Messaging › Sandbox messages) instead of leaving the machine. Local development only."""
from __future__ import annotations

from messaging.channels.base import ChannelClient, OutgoingMessage, SendResult
from messaging.models import SandboxMessage


class SandboxChannel(ChannelClient):
    name = "sandbox"

    def send(self, message: OutgoingMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        rows = SandboxMessage.objects.bulk_create(
            [
                SandboxMessage(
                    log_id=m.log_id,
                    booking_id=m.booking_id,
                    channel=m.channel,
                    event_type=m.event_type,
                    to=m.to,
                    subject=m.subject,
                    body=m.body,
                )
                for m in messages
            ]
        )
        return [SendResult(ok=True, provider_message_id=f"sandbox-{row.pk}") for row in rows]
