"""SMS through an HTTP gateway: POST {base}/messages with a bearer key; 2xx answers {"id": "..."}.
Long texts are sent as one concatenated message; the gateway splits them (§3.4: "within 160 chars or
concatenated")."""
from __future__ import annotations

import httpx

from messaging.channels.base import ChannelClient, OutgoingMessage, SendResult

GSM_SEGMENT = 160


def segments(text: str) -> int:
    """How many SMS parts a text takes (153 characters per part once concatenated; 70/67 for Unicode)."""
    unicode = any(ord(ch) > 127 for ch in text)
    single, part = (70, 67) if unicode else (GSM_SEGMENT, 153)
    return 1 if len(text) <= single else -(-len(text) // part)


class SmsGatewayChannel(ChannelClient):
    name = "sms"

    def __init__(self, *, base_url: str, api_key: str, default_sender: str, timeout: float = 10.0) -> None:
        self._client = httpx.Client(base_url=base_url, timeout=timeout, headers={"Authorization": f"Bearer {api_key}"})
        self._default_sender = default_sender

    def send(self, message: OutgoingMessage) -> SendResult:
        payload = {
            "to": message.to,
            "from": message.sender or self._default_sender,
            "text": message.body,
            "parts": segments(message.body),
            "reference": message.idempotency_key or str(message.log_id),  # echoed in the gateway's callbacks
        }
        headers = {"Idempotency-Key": message.idempotency_key} if message.idempotency_key else None
        try:
            response = self._client.post("/messages", json=payload, headers=headers)
        except httpx.HTTPError as exc:
            return SendResult(ok=False, error_code="network", error_message=f"{type(exc).__name__}: {exc}"[:500])
        if response.status_code < 300:
            try:
                return SendResult(ok=True, provider_message_id=str(response.json()["id"]))
            except (ValueError, KeyError):
                return SendResult(ok=False, error_code="bad_response", error_message=response.text[:500])
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        return SendResult(
            ok=False, error_code=f"http_{response.status_code}", error_message=response.text[:500], permanent=permanent,
            retry_in_seconds=60.0 if response.status_code == 429 else None,
        )
