"""Email through the sendgrid library (v3 mail send), with HTML and text parts."""
from __future__ import annotations

import urllib.error

import python_http_client
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Content, From, Mail, To

from messaging.channels.base import ChannelClient, OutgoingMessage, SendResult


class SendGridChannel(ChannelClient):
    name = "email"

    def __init__(self, *, api_key: str, host: str, default_from: str, timeout: float = 10.0) -> None:
        self._client = SendGridAPIClient(api_key=api_key, host=host)
        self._client.client.timeout = timeout  # the library's default is to wait forever
        self._default_from = default_from

    def send(self, message: OutgoingMessage) -> SendResult:
        sender = message.sender or self._default_from
        name, _, address = sender.rpartition("<") if "<" in sender else ("", "", sender)
        mail = Mail(from_email=From(address.strip(" >"), name.strip() or None), to_emails=To(message.to),
                    subject=message.subject or "A message from your host")
        mail.add_content(Content("text/plain", message.body))
        if message.html:
            mail.add_content(Content("text/html", message.html))
        payload = mail.get()
        payload["custom_args"] = {"log_id": str(message.log_id)}
        if message.idempotency_key:
            payload["custom_args"]["atlas_key"] = message.idempotency_key  # echoed in every event webhook
        try:
            response = self._client.client.mail.send.post(request_body=payload)
        except python_http_client.exceptions.HTTPError as exc:
            status = exc.status_code
            return SendResult(
                ok=False, error_code=f"http_{status}", error_message=str(exc.body)[:500],
                permanent=400 <= status < 500 and status not in (408, 429),
            )
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return SendResult(ok=False, error_code="network", error_message=f"{type(exc).__name__}: {exc}"[:500])
        message_id = response.headers.get("X-Message-Id", "") if response.headers else ""
        return SendResult(ok=True, provider_message_id=message_id or f"sendgrid-{message.log_id}")
