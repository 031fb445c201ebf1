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
    template_variables: tuple[str, ...] = ()  # the variables the template uses, in order of appearance
    sender: str = ""  # WhatsApp phone id, SMS sender id or "Name <address>" for email
    free_text_allowed: bool = False  # inside WhatsApp's 24-hour customer-service window
    # The attempt's key (CommunicationLog.send_key), sent in the provider's own field and echoed in its
    # status webhooks: a send whose result was never recorded is recognised by it (issue #9).
    idempotency_key: str = ""


@dataclass
class SendResult:
    ok: bool
    provider_message_id: str = ""
    error_code: str = ""
    error_message: str = ""
    # A permanent failure (landline, unknown user) moves to the next channel at once (EC-03).
    permanent: bool = False
    retry_in_seconds: float | None = None  # a throughput limit: try this channel again soon
    marketing_opt_out: bool = False  # WhatsApp 131050: the user stopped marketing messages
    note: str = ""


class ChannelClient:
    name = "base"

    def send(self, message: OutgoingMessage) -> SendResult:
        raise NotImplementedError

    def send_many(self, messages: list[OutgoingMessage]) -> list[SendResult]:
        return [self.send(message) for message in messages]
