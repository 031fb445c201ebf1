"""bench/portal.py, short: it runs end to end (set-up, the closed loop, the paced run, the paint in chromium)
and ends with the JSON line the issue asks for. No figure is asserted but the page's size (speed is the
bench's to measure, not a test's)."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import bench_env

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs chromium (make browser)")
def test_portal_bench_runs_and_ends_with_its_json_line():
    command = [sys.executable, "bench/portal.py", "--seconds", "2", "--bookings", "80", "--paced-seconds", "1",
               "--generator", "python"]
    run = subprocess.run(command, cwd=ROOT, env=bench_env("portal"), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert {"rps", "p95_ms", "bytes", "lcp_ms"} <= set(summary)
    assert summary["errors"] == 0 and summary["rps"] > 0 and summary["lcp_ms"] > 0
    assert 1_000 < summary["bytes"] < 50_000  # the page as transferred: our bar is under 50 KB
    assert "paced: latency p50" in run.stdout
