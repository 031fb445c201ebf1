"""Logs without personal data or link secrets (issue #9, §10: PII never in logs): gunicorn's access log, and
Django's own request log lines ("Not Found: /guest/<token>").

The standard line carries the request line with its query string (a staff search `?q=` holds guests' names
and phones), the referer (a guest's portal link) and, when a format asks, any request header (Authorization,
Cookie). Here the query string and referer are dropped, the secret part of portal and unsubscribe links is
replaced by its name, and only the user agent is kept of the headers.
"""
from __future__ import annotations

import logging
import re

from gunicorn.glogging import Logger

_SECRET_PATHS = re.compile(r"^/(guest|unsubscribe)/[^/]+")


def scrub_path(path: str) -> str:
    return _SECRET_PATHS.sub(lambda match: f"/{match.group(1)}/<token>", path or "")


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        path = scrub_path(environ.get("PATH_INFO", ""))
        atoms.update(r=f"{environ.get('REQUEST_METHOD')} {path} {environ.get('SERVER_PROTOCOL')}", U=path, q="-", f="-")
        for key in [key for key in atoms if key.startswith("{") and key.endswith("}i") and key != "{user-agent}i"]:
            del atoms[key]
        return atoms


class HideLinkTokens(logging.Filter):
    """Django logs the path of every 4xx/5xx ("Not Found: /guest/…", django.request): a portal or unsubscribe
    link's token is a credential, so it is replaced by its name in the line's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(scrub_path(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True
