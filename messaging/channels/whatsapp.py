"""WhatsApp through pywa (the Cloud API). Business-initiated messages go out as approved templates with
named body parameters; inside the 24-hour customer-service window the rendered text is sent instead, and
error 131047 (window closed) falls back to the template at once."""
from __future__ import annotations

import logging

import httpx
from pywa import WhatsApp
from pywa.errors import WhatsAppError
from pywa.types.templates import BodyText, TemplateLanguage

from messaging.channels.base import ChannelClient, OutgoingMessage, SendResult

logger = logging.getLogger(__name__)

WINDOW_CLOSED = 131047  # free text outside the 24-hour window
MARKETING_STOPPED = 131050  # the user stopped marketing messages
THROUGHPUT = 130429  # too many messages per second for this number
# The message can never reach this user on WhatsApp: fall back at once (EC-03).
PERMANENT = {131026, 131021, 131030, 131051, 131052, 132000, 132001, 132012, 100}
THROTTLE_RETRY_SECONDS = 30.0


class WhatsAppChannel(ChannelClient):
    name = "whatsapp"

    def __init__(self, *, token: str, default_phone_id: str, api_base: str = "", timeout: float = 10.0,
                 language: str = "en") -> None:
        self._token, self._default_phone_id = token, default_phone_id
        self._api_base, self._timeout, self._language = api_base, timeout, TemplateLanguage(language)
        self._clients: dict[str, WhatsApp] = {}

    def _client(self, phone_id: str) -> WhatsApp:
        if phone_id not in self._clients:
            session = httpx.Client(timeout=self._timeout)
            client = WhatsApp(phone_id=phone_id, token=self._token, session=session)
            if self._api_base:
                session.base_url = self._api_base  # pywa sets the Graph API URL in its constructor (GUIDE)
            self._clients[phone_id] = client
        return self._clients[phone_id]

    def send(self, message: OutgoingMessage) -> SendResult:
        client = self._client(message.sender or self._default_phone_id)
        note = ""
        try:
            if message.free_text_allowed:
                try:
                    sent = client.send_message(to=message.to, text=message.body, tracker=message.idempotency_key or None)
                    return SendResult(ok=True, provider_message_id=sent.id)
                except WhatsAppError as exc:
                    if exc.code != WINDOW_CLOSED:
                        raise
                    note = "window closed: sent as template"
            sent = client.send_template(
                to=message.to, name=message.template_name, language=self._language,
                params=[BodyText.params(**self._params(message))] if message.template_variables else None,
                tracker=message.idempotency_key or None,  # biz_opaque_callback_data: echoed in status webhooks
            )
            return SendResult(ok=True, provider_message_id=sent.id, note=note)
        except WhatsAppError as exc:
            return self._failure(exc)
        except httpx.HTTPError as exc:  # timeouts, refused or dropped connections: try again later
            return SendResult(ok=False, error_code="network", error_message=f"{type(exc).__name__}: {exc}"[:500])

    @staticmethod
    def _params(message: OutgoingMessage) -> dict[str, str]:
        values = message.variables or {}
        return {name: str(values.get(name, "")) or "-" for name in message.template_variables}

    @staticmethod
    def _failure(exc: WhatsAppError) -> SendResult:
        result = SendResult(ok=False, error_code=str(exc.code), error_message=exc.message[:500])
        if exc.code == THROUGHPUT:
            result.retry_in_seconds = THROTTLE_RETRY_SECONDS
        elif exc.code == MARKETING_STOPPED:
            result.marketing_opt_out, result.permanent = True, True
        elif exc.code in PERMANENT or (exc.status_code is not None and 400 <= exc.status_code < 500 and exc.status_code != 429):
            result.permanent = True
        return result
