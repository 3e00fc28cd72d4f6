"""Where the hub's CPU goes per decision under load: py-spy on ``last100 serve``.

``python -m benchmarks.profile_entry [--scenario pull] [--concurrency 16] [--seconds 30]``
starts the simulators and the hub as ``benchmarks.entry`` does, drives entries for
``--seconds`` while ``py-spy record --gil`` samples the thread of the hub's process that
holds the GIL (its Python CPU time: the process is bound by the GIL), and prints the
functions with the most of it per decision, by own time and by inclusive time. Needs
``py-spy`` (``pip install py-spy``; as root, or with ptrace allowed). Writes the raw
stacks (``--out``/profile-<scenario>.txt) for a flame graph (e.g. speedscope).
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from benchmarks.entry import ROOT, Bench, drive, parse_args

RATE = 100  # samples per second
OURS = ("hub/", "last100_")


def _package(function: str) -> str:
    """The top-level package (or standard-library module) a function belongs to."""
    where = function.rpartition("(")[2].rstrip(")")
    return where.split("/", 1)[0] if "/" in where else where.removesuffix(".py")


def _function(frame: str) -> str:
    """``name (path/file.py:123)`` without the line, so a function's lines add up."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rstrip(')')})" if where else frame


def top(stacks: Path, decisions: int, count: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    packages: collections.Counter[str] = collections.Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        samples = int(n)
        total += samples
        frames = [_function(f) for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if frames:
            own[frames[-1]] += samples
            packages[_package(frames[-1])] += samples
        for frame in set(frames):
            inclusive[frame] += samples

    def ms(samples: int) -> float:
        return samples / RATE * 1000 / max(decisions, 1)

    lines = [f"{total} samples at {RATE} Hz = {ms(total):.1f} ms of GIL held per decision ({decisions} decisions)"]
    ours = collections.Counter({f: n for f, n in inclusive.items() if f.split("(")[-1].startswith(OURS)})
    tables = (
        ("own time, by package", packages),
        ("own time", own),
        ("inclusive time, the hub's and adapters' functions", ours),
    )
    for title, counter in tables:
        lines.append(f"\ntop {count} by {title} (ms per decision, share of samples):")
        for frame, samples in counter.most_common(count):
            lines.append(f"  {ms(samples):6.2f} ms  {samples / max(total, 1):5.1%}  {frame}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", default="pull", choices=("pull", "push", "codes"))
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        parser.error("py-spy is not installed (pip install py-spy)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stacks = out / f"profile-{args.scenario}.txt"
    with tempfile.TemporaryDirectory(prefix="last100-profile-") as tmp:
        bench = Bench(parse_args(["--duration", str(args.seconds)]), Path(tmp))
        try:
            bench.start_simulators()
            bench.start_hub()
            count = int(args.seconds * 400) + 100
            bodies = bench.bodies(args.scenario, count)
            headers = {"Authorization": f"Bearer {bench.api_key}"}
            record = [py_spy, "record", "-p", str(bench.hub_pid), "-r", str(RATE), "-d", str(int(args.seconds))]
            record += ["-f", "raw", "-o", str(stacks), "--nonblocking", "--gil"]
            spy = threading.Thread(target=subprocess.run, args=(record,), kwargs={"capture_output": True})
            spy.start()
            raw = drive(
                bench.workdir, bench.hub_port, "/api/v1/entries", headers, bodies, args.concurrency, args.seconds
            )
            spy.join()
        finally:
            bench.procs.stop()
    decisions = len(raw["latencies"])
    print(json.dumps({"scenario": args.scenario, "concurrency": args.concurrency, "decisions": dict(raw["decisions"])}))
    print(top(stacks, decisions, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
