"""Where the database is (atlas_guest/db.py): DATABASE_URL when set, else the embedded server, and a unix-socket
URL (pgserver's) turned into settings that psycopg and dbshell both understand (GUIDE: measured facts).

No database is touched: the embedded server is replaced by a stub. Marked `external` with the tenancy tests.
"""
import environ
import pytest

from atlas_guest import db

pytestmark = pytest.mark.external


def test_a_socket_url_puts_the_socket_directory_in_host():
    config = db.fix_socket_host(environ.Env.db_url_config("postgresql://postgres:@/atlas_guest?host=/some/dir"))
    assert config["HOST"] == "/some/dir"
    assert "host" not in config["OPTIONS"]
    assert (config["NAME"], config["USER"]) == ("atlas_guest", "postgres")


def test_a_socket_url_keeps_its_other_options():
    url = "postgresql://postgres:@/atlas_guest?host=/some/dir&sslmode=disable"
    config = db.fix_socket_host(environ.Env.db_url_config(url))
    assert config["HOST"] == "/some/dir"
    assert config["OPTIONS"] == {"sslmode": "disable"}


def test_a_tcp_url_is_left_as_it_is():
    parsed = environ.Env.db_url_config("postgresql://postgres@127.0.0.1:5432/atlas_h_tests")
    config = db.fix_socket_host(dict(parsed))
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("127.0.0.1", 5432, "atlas_h_tests")
    assert config.get("OPTIONS", {}) == {}


def test_an_explicit_host_wins_over_a_host_option():
    config = db.fix_socket_host({"HOST": "db.internal", "OPTIONS": {"host": "/some/dir"}})
    assert config["HOST"] == "db.internal"


def test_socket_dir_of_reads_the_host_parameter():
    assert db.socket_dir_of("postgresql://postgres:@/atlas_guest?host=/some/dir") == "/some/dir"
    assert db.socket_dir_of("postgresql://postgres@127.0.0.1:5432/atlas_guest") is None


@pytest.fixture
def embedded(monkeypatch):
    """Stand-in for the embedded server: records whether it was started."""
    started: list[bool] = []

    def fake_url() -> str:
        started.append(True)
        return "postgresql://postgres:@/atlas_guest?host=/embedded/run"

    monkeypatch.setattr(db, "embedded_database_url", fake_url)
    return started


def test_database_url_prefers_database_url_and_never_starts_the_embedded_server(monkeypatch, embedded):
    monkeypatch.setenv("DATABASE_URL", "postgresql://atlas@db.example.com:5432/atlas_guest")
    assert db.database_url() == "postgresql://atlas@db.example.com:5432/atlas_guest"
    assert embedded == []


@pytest.mark.parametrize("value", [None, ""], ids=["unset", "empty"])
def test_database_url_falls_back_to_the_embedded_server(monkeypatch, embedded, value):
    if value is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", value)
    assert db.database_url() == "postgresql://postgres:@/atlas_guest?host=/embedded/run"
    assert embedded == [True]
