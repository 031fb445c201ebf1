"""The crash test, short (issue #9): bench/chaos.py with 300 messages and 2 SIGKILLs of a real django-q2
cluster (2 workers, ORM broker) delivering to fake providers. Nothing lost, nothing sent twice, every row
final. Runs the bench as a subprocess in its own database (`<DATABASE_URL's name>_chaos`, or
`atlas_chaos_test` on the embedded server), like `make bench` would."""
import json
import subprocess
import sys
from pathlib import Path

from tests.reliability.conftest import bench_env

ROOT = Path(__file__).resolve().parent.parent.parent


def test_sigkilled_cluster_delivers_every_message_exactly_once(tmp_path):
    out = tmp_path / "chaos.json"
    command = [sys.executable, "bench/chaos.py", "--messages", "300", "--tenants", "2", "--kills", "2",
               "--kill-min", "2", "--kill-max", "5", "--lease", "6", "--max-seconds", "150", "--out", str(out)]
    run = subprocess.run(command, cwd=ROOT, env=bench_env("chaos"), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    row = json.loads(out.read_text())["rows"][0]
    assert summary["rows"][0] == {k: row[k] for k in ("what", "tried", "lost", "duplicated", "stuck")}
    assert row["kills"] == 2  # the cluster really was killed twice mid-run
    assert (row["tried"], row["lost"], row["duplicated"], row["stuck"]) == (300, 0, 0, 0), row
    assert row["provider_requests"] >= 300 and row["webhooks_failed"] == 0
