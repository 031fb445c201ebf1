"""Logs without personal data or link secrets (issue #9, §10: PII never in logs): gunicorn's access log, and
Django's own request log lines ("Not Found: /guest/<token>").

The standard line carries the request line with its query string (a staff search `?q=` holds guests' names
and phones), the referer (a guest's portal link) and, when a format asks, any request header (Authorization,
Cookie) or environ variable. Here the query string and referer are dropped, the secret part of portal and
unsubscribe links is replaced by its name, only the user agent is kept of the headers, and no environ variable.
"""
from __future__ import annotations

import logging
import os
import re
import traceback

from gunicorn.glogging import Logger

_SECRET_PATHS = re.compile(r"^/(guest|unsubscribe|calendar|stay)/[^/]+")


def scrub_path(path: str) -> str:
    return _SECRET_PATHS.sub(lambda match: f"/{match.group(1)}/<token>", path or "")


class AccessLogger(Logger):
    """gunicorn's logger, with access lines built from the atoms the format asks for, each made when asked:
    gunicorn's own builds all of them for every request, each request header and environ variable included,
    which is most of an access line's cost (NFR 3: a portal page view is a few milliseconds)."""

    def access(self, resp, req, environ, request_time):
        if not self.access_log_enabled:
            return
        try:
            self.access_log.info(self.cfg.access_log_format, self.atoms(resp, req, environ, request_time))
        except Exception:
            self.error(traceback.format_exc())

    def atoms(self, resp, req, environ, request_time):
        return Atoms(self, resp, environ, request_time)


# Response headers a format may show; not Set-Cookie (a session or CSRF secret) or Location (after a portal
# form, the link with its token).
_RESPONSE_HEADERS = frozenset({"content-type", "content-length", "content-encoding", "cache-control", "vary"})


class Atoms(dict):
    """One line's atoms (gunicorn's names), made when the format first asks for each. The query string and
    referer are "-", a portal or unsubscribe link's token is replaced by its name, of the request headers only
    the user agent is given and of the response headers only those above; environ variables are not given at
    all (they hold the cookies)."""

    def __init__(self, logger, resp, environ, request_time):
        # Not empty: logging formats with a mapping only when it is a non-empty one.
        super().__init__(h=environ.get("REMOTE_ADDR", "-"))
        self._logger, self._resp, self._environ, self._time = logger, resp, environ, request_time

    def __missing__(self, key: str):
        value = self._make(key.lower() if key.startswith("{") else key)
        self[key] = value
        return value

    def _make(self, key: str):
        environ, took = self._environ, self._time
        if key in ("l", "q", "f"):
            return "-"
        if key == "u":
            return self._logger._get_user(environ) or "-"
        if key == "t":
            return self._logger.now()
        if key == "r":
            return f"{environ.get('REQUEST_METHOD')} {self['U']} {environ.get('SERVER_PROTOCOL')}"
        if key == "U":
            return scrub_path(environ.get("PATH_INFO", ""))
        if key == "s":
            status = self._resp.status
            return status.split(None, 1)[0] if isinstance(status, str) else status
        if key in ("m", "H", "a"):
            return environ.get({"m": "REQUEST_METHOD", "H": "SERVER_PROTOCOL", "a": "HTTP_USER_AGENT"}[key], "-")
        if key in ("b", "B"):
            sent = getattr(self._resp, "sent", None)
            return sent if key == "B" else ("-" if sent is None else str(sent))
        if key in ("T", "D", "M", "L"):
            return {"T": took.seconds, "D": took.seconds * 1_000_000 + took.microseconds,
                    "M": took.seconds * 1000 + took.microseconds // 1000,
                    "L": "%d.%06d" % (took.seconds, took.microseconds)}[key]
        if key == "p":
            return f"<{os.getpid()}>"
        if key == "{user-agent}i":
            return environ.get("HTTP_USER_AGENT", "-")
        if key.startswith("{") and key.endswith("}o") and key[1:-2] in _RESPONSE_HEADERS:
            headers = self._resp.headers.items() if hasattr(self._resp.headers, "items") else self._resp.headers
            return next((v for k, v in headers if k.lower() == key[1:-2]), "-")
        return "-"  # other request headers (Authorization, Cookie), environ variables, unknown atoms


class HideLinkTokens(logging.Filter):
    """Django logs the path of every 4xx/5xx ("Not Found: /guest/…", django.request): a portal, unsubscribe,
    calendar or stay link's token is a credential, so it is replaced by its name in the line's arguments.
    httpx logs each outbound request's URL: an OTA calendar link carries its secret in the query string
    (Airbnb's `?s=`, Booking.com's `?t=`), so outbound URLs are logged without it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(_scrubbed(arg) for arg in record.args)
        return True


def _scrubbed(arg):
    if isinstance(arg, str):
        return scrub_path(arg)
    if type(arg).__name__ == "URL" and getattr(arg, "query", b""):  # httpx.URL
        return str(arg.copy_with(query=None)) + "?<hidden>"
    return arg
