"""A calendar server on 127.0.0.1 that answers as the OTAs' export links do: the feed with an ETag and a
Last-Modified, 304 when the client sends them back, and the failures a real link shows (404, 5xx, a login
page, a huge body, a redirect loop, no answer at all)."""
from __future__ import annotations

import hashlib
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FEEDS = Path(__file__).parent / "feeds"
LAST_MODIFIED = "Tue, 01 Dec 2026 04:30:12 GMT"


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/calendar; charset=utf-8"
    etag: bool = True  # Airbnb sends one; some servers do not
    hang: bool = False  # never answer (the client's timeout ends it)
    redirect_to: str = ""
    stream_bytes: int = 0  # a body this long, sent in chunks with no Content-Length


def feed_file(name: str) -> bytes:
    return (FEEDS / name).read_bytes()


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.conditional: Counter[str] = Counter()  # requests that carried If-None-Match / If-Modified-Since
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = self.path.split("?")[0]
                server.hits[path] += 1
                route = server.routes.get(path)
                if route is None:
                    return self._send(404, b"Not found", "text/plain")
                if route.hang:
                    server._release.wait(30)
                    self.close_connection = True
                    return None
                if route.redirect_to:
                    self.send_response(302)
                    self.send_header("Location", route.redirect_to)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if route.stream_bytes:
                    return self._stream(route.stream_bytes)
                tag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                sent_tag, sent_since = self.headers.get("If-None-Match"), self.headers.get("If-Modified-Since")
                if sent_tag or sent_since:
                    server.conditional[path] += 1
                if route.status == 200 and route.etag and sent_tag == tag:
                    self.send_response(304)
                    self.send_header("ETag", tag)
                    self.end_headers()
                    return None
                headers = {"ETag": tag, "Last-Modified": LAST_MODIFIED} if route.etag else {}
                return self._send(route.status, route.body, route.content_type, headers)

            def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(body)))
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

            def _stream(self, size: int):
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/calendar")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    chunk = b"X" * 65536
                    for _ in range(size // len(chunk)):
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):  # the client stopped reading at its cap
                    pass
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def serve(self, path: str, route: Route | None = None, **kw) -> str:
        self.routes[path] = route or Route(**kw)
        return self.url + path

    def close(self) -> None:
        self._release.set()
        self.server.shutdown()
        self.server.server_close()
