from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import SchemaKeepingClient

IST = dt.timezone(dt.timedelta(hours=5, minutes=30))
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=IST)  # the feeds' stays are all ahead of this


@pytest.fixture(autouse=True)
def no_task_queue(monkeypatch):
    """Ticks and feed syncs are run explicitly where a test needs them; nothing is queued."""
    monkeypatch.setattr("messaging.tasks.request_tick", lambda schema: None)
    monkeypatch.setattr("intake.tasks.request_feed_sync", lambda schema: None)


@pytest.fixture(scope="session")
def feed_server():
    from tests.intake.feedserver import FeedServer

    server = FeedServer()
    yield server
    server.close()


@pytest.fixture
def feeds(feed_server, settings):
    """The local calendar server, reachable (it is on loopback, which production refuses), routes fresh."""
    settings.CALENDAR_FEEDS_ALLOW_PRIVATE = True
    feed_server.routes.clear()
    feed_server.hits.clear()
    feed_server.conditional.clear()
    return feed_server


@pytest.fixture
def client(tenant):
    return SchemaKeepingClient(HTTP_HOST=tenant.get_primary_domain().domain, keep=tenant)
