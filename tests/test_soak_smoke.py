"""The soak keeps working: a run of ``python -m benchmarks.soak`` a few seconds long.

It starts the simulators and the hub (``last100 serve``) as separate processes, sends
the whole mix (entries of the three scenarios, lookups, exits, pushes, console pages,
the rider page) for a warm-up and one short cycle, then checks the JSON it writes. No
timed assertions, and memory growth over seconds means nothing, so the RSS limit is
lifted; what must hold is that every request succeeded, the server logged no error,
open files came back to where they were, and the audit chain verifies.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

KINDS = {
    "entry:pull",
    "entry:push",
    "entry:codes",
    "entry",
    "lookup",
    "exit",
    "push",
    "console",
    "rider_page",
    "health",
    "prepare",
}


def test_a_short_soak_sends_every_kind_of_request_without_errors(tmp_path: Path) -> None:
    args = ["--seconds", "5", "--warmup", "3", "--cycle", "5", "--max-rss-growth-mb", "100000"]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.soak", *args, "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "| **total** |" in done.stdout and "| open files |" in done.stdout

    report = json.loads((tmp_path / "soak-smoke.json").read_text())
    assert report["passed"] is True and report["problems"] == []
    assert set(report["by_kind"]) == KINDS
    for kind, row in report["by_kind"].items():
        assert row["requests"] > 0, kind
        assert row["errors"] == 0, (kind, report["error_examples"])
    assert report["errors"] == 0
    assert report["requests"] == sum(row["requests"] for row in report["by_kind"].values())
    assert report["server_log"]["errors"] == 0, report["server_log"]["first"]
    assert report["audit_verify"]["exit_status"] == 0
    assert report["audit_verify"]["output"].endswith(tuple("0123456789abcdef"))  # "...; latest record N, hash <hex>"
    assert "chain intact" in report["audit_verify"]["output"]
    assert len(report["quiet_samples"]) >= 2  # after the warm-up and after the cycle
    for figure in ("start", "end"):
        assert report[figure]["rss_mb"] > 0 and report[figure]["fds"] > 0, figure
    assert report["end"]["fds"] - report["start"]["fds"] <= report["settings"]["limits"]["fd_growth"]
