"""A small, efficient HTTP/1.1 load generator (asyncio, raw sockets, keep-alive).

``python -m benchmarks.loadgen SPEC.json OUT.json``: ``concurrency`` clients each send
``POST path`` one after another for ``duration`` seconds over one kept-alive connection.
Bodies are taken in turn from ``bodies`` (cycling when they run out); every request gets
a fresh ``Idempotency-Key``. Writes the latencies (ms), HTTP statuses and the
``decision`` field of each reply to OUT.json. It runs in its own process so its CPU is
not the server's.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import sys
import time
import uuid


async def _client(spec: dict, bodies, deadline: float, out: dict) -> None:
    host, port = spec["host"], spec["port"]
    extra = "".join(f"{k}: {v}\r\n" for k, v in spec.get("headers", {}).items())
    reader = writer = None
    while time.perf_counter() < deadline:
        body = next(bodies).encode()
        head = (
            f"POST {spec['path']} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nIdempotency-Key: {uuid.uuid4().hex}\r\n{extra}\r\n"
        )
        start = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            writer.write(head.encode() + body)
            status_line = await reader.readline()
            if not status_line:
                raise ConnectionError("closed")
            status = int(status_line.split()[1])
            length, close = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                name = name.strip().lower()
                if name == "content-length":
                    length = int(value)
                elif name == "connection" and value.strip().lower() == "close":
                    close = True
            payload = await reader.readexactly(length) if length else b""
        except (OSError, ConnectionError, asyncio.IncompleteReadError, ValueError, IndexError):
            out["statuses"]["connection_error"] += 1
            out["decisions"]["error"] += 1
            if writer is not None:
                writer.close()
            reader = writer = None
            await asyncio.sleep(0.01)
            continue
        out["latencies"].append((time.perf_counter() - start) * 1000)
        out["statuses"][str(status)] += 1
        decision = "error"
        if 200 <= status < 300:
            with contextlib.suppress(ValueError):
                decision = json.loads(payload).get("decision", "error")
        out["decisions"][decision] += 1
        if close:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run(spec: dict) -> dict:
    out = {"latencies": [], "statuses": collections.Counter(), "decisions": collections.Counter()}
    bodies = itertools.cycle(spec["bodies"])
    start = time.perf_counter()
    deadline = start + spec["duration"]
    await asyncio.gather(*(_client(spec, bodies, deadline, out) for _ in range(spec["concurrency"])))
    out["elapsed_s"] = time.perf_counter() - start
    out["used_bodies"] = min(len(out["latencies"]), len(spec["bodies"]))
    return out


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        spec = json.load(f)
    out = asyncio.run(run(spec))
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f)


if __name__ == "__main__":
    main()
