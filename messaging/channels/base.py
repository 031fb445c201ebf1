from __future__ import annotations

from dataclasses import dataclass


@dataclass
class OutgoingMessage:
    log_id: int
    booking_id: int | None
    channel: str
    event_type: str
    to: str
    body: str
    subject: str = ""
    html: str = ""
    template_key: str = ""
    template_name: str = ""  # the approved WhatsApp template this maps to
    variables: dict | None = None


@dataclass
class SendResult:
    ok: bool
    provider_message_id: str = ""
    error_code: str = ""
    error_message: str = ""
    # A permanent failure (landline, unknown user) moves to the next channel at once (EC-03).
    permanent: bool = False


class ChannelClient:
    name = "base"

    def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError

    def send_many(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        return [self.send(message) for message in messages]
