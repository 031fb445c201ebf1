"""Fake provider servers on 127.0.0.1: the real pywa / sendgrid / SMS client code talks to them over HTTP."""
from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


_ids = itertools.count(1)


@dataclass
class Reply:
    status: int = 200
    body: dict | list | str | None = None
    headers: dict = field(default_factory=dict)
    hang_seconds: float = 0.0  # longer than the client's timeout: the client gives up
    drop: bool = False  # close the connection without answering


@dataclass
class Seen:
    method: str
    path: str
    headers: dict
    body: dict | list | str | None


class FakeProvider:
    """Answers each request with the next scripted Reply, or with `default(seen)` when the script is empty."""

    def __init__(self, default: Callable[[Seen], Reply]) -> None:
        self.default = default
        self.script: list[Reply] = []
        self.seen: list[Seen] = []
        self._release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                fake.seen.append(seen)
                reply = fake.script.pop(0) if fake.script else fake.default(seen)
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if reply.hang_seconds:
                    fake._release.wait(reply.hang_seconds)
                payload = json.dumps(reply.body).encode() if not isinstance(reply.body, str) else reply.body.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a timeout)
                    self.close_connection = True

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()


def whatsapp_ok(seen: Seen) -> Reply:
    to = (seen.body or {}).get("to", "") if isinstance(seen.body, dict) else ""
    return Reply(200, {"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                       "messages": [{"id": f"wamid.{next(_ids)}"}]})


def whatsapp_error(code: int, status: int = 400, message: str = "error") -> Reply:
    return Reply(status, {"error": {"message": message, "type": "OAuthException", "code": code,
                                    "error_data": {"details": message}, "fbtrace_id": "trace"}})


def sms_ok(seen: Seen) -> Reply:
    return Reply(202, {"id": f"sms-{next(_ids)}"})


def sendgrid_ok(seen: Seen) -> Reply:
    return Reply(202, "", headers={"X-Message-Id": f"sg{next(_ids)}"})
