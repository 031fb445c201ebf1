"""The load run, short (issue #9 item 4): bench/load.py for a few seconds with a few clients, the real
gunicorn and django-q2 cluster of `manage.py serve` on their own database, while the publisher books stays
and brings touchpoints due. The bar is the bench's own: no 5xx, nothing unanswered, no touchpoint lost, no
message sent twice or left stuck."""
import json
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import bench_env

ROOT = Path(__file__).resolve().parent.parent.parent


def test_portal_and_api_under_load_while_publishing_nothing_fails_or_is_lost(tmp_path):
    out = tmp_path / "load.json"
    command = [sys.executable, "bench/load.py", "--clients", "4", "--seconds", "8", "--stays", "20",
               "--publish-every", "1", "--per-round", "5", "--grace", "90", "--out", str(out)]
    run = subprocess.run(command, cwd=ROOT, env=bench_env("load"), capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert summary["5xx"] == 0 and summary["unanswered"] == 0
    assert set(summary["families"]) >= {"portal page", "API bookings list", "API booking detail"}
    work = summary["publishing"]
    assert work["published"] == work["advanced"]  # every touchpoint brought due was published
    assert (work["lost"], work["duplicated"], work["stuck"]) == (0, 0, 0)
    # Stays booked through the API during the load all got their confirmation, and every message the cluster
    # wrote meanwhile reached a final state.
    assert work["booked"] > 0 and work["confirmations"] == work["booked"]
    assert work["messages"] >= work["booked"] and work["final"] == work["messages"]
    rows = json.loads(out.read_text())["rows"]
    assert rows[0]["tried"] == summary["requests"] > 0
