"""Prometheus metrics: defined once here for every process (web, scheduler, worker).

Counted where it happens:

- ``last100_entry_decisions_total{decision}``: entries decided — ``granted``, ``denied``,
  ``manual_check`` (an idempotent replay is not decided again, so not counted).
- ``last100_entry_decision_duration_seconds{decision}``: an entry's ``decision_ms``.
- ``last100_upstream_call_duration_seconds{connection, hook, outcome}``: every capability
  hook call (the Timing plugin); outcome ``ok``, ``cache``, ``error``, ``timeout``,
  ``circuit_open`` or ``rejected``.
- ``last100_upstream_call_errors_total{connection, hook, outcome}``: the calls of those
  whose outcome is neither ``ok`` nor ``cache``.
- ``last100_job_duration_seconds{job, outcome}``: job runs in this process (``ok`` or
  ``error``; a run that handled items of which some failed is ``ok``).

Read when scraped (*):

- ``last100_circuit_breaker_state{connection}``: 0 closed, 1 half-open, 2 open.
- ``last100_outbox_items{status}``: outbox items ``pending``, ``done``, ``dead``.
- ``last100_job_last_run_duration_seconds{job}``: each job's latest finished run.
- ``last100_job_last_run_start_timestamp_seconds{job}``: when its latest run started.
- ``last100_metrics_source_up{source}``: 1 when the source (``circuits``, ``outbox``,
  ``jobs``) could be read, else 0.

(*) Read when scraped by :class:`HubCollector` in the process that answers: the
breakers as the Resilience plugin's ``states()`` gives them, the rest from the
database (jobs run by ``last100 scheduler`` or workers, which nobody scrapes, are seen
there). Labels hold connection ids, hook names and job ids — few — never a rider's or a
credential's value.

**Several processes.** Under gunicorn (``last100 serve --workers N``) each worker
counts in files of ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds up every
worker's files (:class:`prometheus_client.multiprocess.MultiProcessCollector`): any
worker answers for all. The directory must exist, be emptied before the workers start
and be set before they import ``prometheus_client``: :func:`prepare_multiprocess_dir`
does that in gunicorn's master. No gauge is kept in a process's files (the gauges
above are computed at scrape time), so no multiprocess gauge mode is needed; a dead
worker's counters and histograms stay counted (they are totals), and its live-gauge
files, were there any, are removed by :func:`mark_process_dead`. Process metrics
(``process_*``, ``python_gc_*``) are only shown with one process.

``prometheus_client`` is imported on first use, never when this module is imported,
so a gunicorn master that imported the hub still chooses the multiprocess mode before
any metric exists.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
PREFIX = "last100_"

#: Entries and upstream calls: a gate's budget is about 10 s, a cached answer takes ms.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0)
#: Jobs run from milliseconds (an empty outbox) to minutes (a large reconciliation).
JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)

DECISIONS = ("granted", "denied", "manual_check")
CIRCUIT_STATES = {"closed": 0, "half_open": 1, "open": 2}
OUTBOX_STATUSES = ("pending", "done", "dead")
#: Outcomes of an upstream call that are no error (see hub.plugins.timing.outcome_of).
NOT_ERRORS = frozenset({"ok", "cache"})


@dataclass(frozen=True)
class _Metrics:
    decisions: Any
    decision_seconds: Any
    upstream_seconds: Any
    upstream_errors: Any
    job_seconds: Any


_lock = threading.Lock()
_defined: _Metrics | None = None


def _metrics() -> _Metrics:
    """The metrics of this process, defined (in the default registry) on first use."""
    global _defined
    if _defined is not None:
        return _defined
    with _lock:
        if _defined is None:
            from prometheus_client import Counter, Histogram

            decisions = Counter(PREFIX + "entry_decisions", "Entries decided, by decision.", ["decision"])
            decision_seconds = Histogram(
                PREFIX + "entry_decision_duration_seconds",
                "Time to decide an entry: from the request to the decision, before it is stored.",
                ["decision"],
                buckets=LATENCY_BUCKETS,
            )
            for decision in DECISIONS:  # every decision shows, at 0 until one happens
                decisions.labels(decision)
                decision_seconds.labels(decision)
            _defined = _Metrics(
                decisions=decisions,
                decision_seconds=decision_seconds,
                upstream_seconds=Histogram(
                    PREFIX + "upstream_call_duration_seconds",
                    "Duration of calls to platforms and devices (capability hooks), by outcome.",
                    ["connection", "hook", "outcome"],
                    buckets=LATENCY_BUCKETS,
                ),
                upstream_errors=Counter(
                    PREFIX + "upstream_call_errors",
                    "Calls to platforms and devices that failed (error, timeout, circuit_open, rejected).",
                    ["connection", "hook", "outcome"],
                ),
                job_seconds=Histogram(
                    PREFIX + "job_duration_seconds",
                    "Duration of scheduled job runs in this process, by outcome (ok, error).",
                    ["job", "outcome"],
                    buckets=JOB_BUCKETS,
                ),
            )
    return _defined


# -- observing ---------------------------------------------------------------------------


def observe_decision(decision: str, seconds: float) -> None:
    """One entry decided (``decision``: a :class:`~hub.core.model.Decision` value)."""
    metrics = _metrics()
    metrics.decisions.labels(decision).inc()
    metrics.decision_seconds.labels(decision).observe(max(0.0, seconds))


def observe_upstream_call(connection_id: str, hook: str, outcome: str, seconds: float) -> None:
    """One capability hook call through ``connection_id`` that ended with ``outcome``."""
    metrics = _metrics()
    metrics.upstream_seconds.labels(connection_id, hook, outcome).observe(max(0.0, seconds))
    if outcome not in NOT_ERRORS:
        metrics.upstream_errors.labels(connection_id, hook, outcome).inc()


def observe_job(job_id: str, outcome: str, seconds: float) -> None:
    """One run of a job in this process; ``outcome``: ``ok`` or ``error``."""
    _metrics().job_seconds.labels(job_id, outcome).observe(max(0.0, seconds))


# -- several processes -----------------------------------------------------------------------


def multiprocess_dir() -> str | None:
    """The directory of the multiprocess mode, when this process is in it."""
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir() -> tuple[Path, bool]:
    """Make the multiprocess mode ready before gunicorn forks its workers: the
    directory the operator set in ``PROMETHEUS_MULTIPROC_DIR`` (created if missing, its
    ``*.db`` files from an earlier run removed), or else a new temporary directory,
    which is then set in the environment the workers inherit.

    Returns the directory and whether it was made here (remove it when the server
    stops, :func:`remove_multiprocess_dir`)."""
    given = multiprocess_dir()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        made = False
    else:
        path = Path(tempfile.mkdtemp(prefix="last100-metrics-"))
        os.environ[MULTIPROC_ENV] = str(path)
        made = True
    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        # Imported before the variable was set (by a plugin, say): choose again, so
        # the metrics the workers make count in files.
        values.ValueClass = values.get_value_class()
    return path, made


def remove_multiprocess_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
    if os.environ.get(MULTIPROC_ENV) == str(path):
        del os.environ[MULTIPROC_ENV]


def mark_process_dead(pid: int) -> None:
    """A worker exited (gunicorn's ``child_exit``): drop its live gauges' files."""
    if multiprocess_dir():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


# -- read when scraped -----------------------------------------------------------------------


class HubCollector:
    """The gauges read when ``/metrics`` is scraped, in the answering process: each
    connection's circuit (``circuits()``: connection id → ``closed``/``half_open``/
    ``open``; ``connections()``: the ids to show at 0 when never called), the outbox's
    depth and each job's latest run (``store``: ``outbox_counts()`` and
    ``last_job_runs()``). A source that fails is left out and reported as
    ``last100_metrics_source_up 0`` (and logged); the rest is still shown."""

    def __init__(
        self,
        store: Any,
        circuits: Callable[[], Mapping[str, str]],
        connections: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self._store = store
        self._circuits = circuits
        self._connections = connections

    def describe(self) -> list[Any]:
        return []  # nothing to check at registration: the families are made when collecting

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily(
            PREFIX + "metrics_source_up",
            "Whether a source of the metrics read at scrape time answered.",
            labels=["source"],
        )
        for source, read in (("circuits", self._circuit_family), ("outbox", self._outbox_family)):
            try:
                families = read(GaugeMetricFamily)
            except Exception as exc:
                log.warning("metrics: cannot read %s: %s", source, exc)
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        try:
            families = self._job_families(GaugeMetricFamily)
        except Exception as exc:
            log.warning("metrics: cannot read jobs: %s", exc)
            up.add_metric(["jobs"], 0)
        else:
            up.add_metric(["jobs"], 1)
            yield from families
        yield up

    def _circuit_family(self, gauge: Any) -> list[Any]:
        family = gauge(
            PREFIX + "circuit_breaker_state",
            "Circuit breaker of each connection (worst of its hooks): 0 closed, 1 half-open, 2 open.",
            labels=["connection"],
        )
        states = dict(self._circuits())
        for connection_id in sorted(set(self._connections()) | set(states)):
            family.add_metric([connection_id], CIRCUIT_STATES.get(states.get(connection_id, "closed"), 0))
        return [family]

    def _outbox_family(self, gauge: Any) -> list[Any]:
        family = gauge(PREFIX + "outbox_items", "Outbox items by status (pending, done, dead).", labels=["status"])
        counts = self._store.outbox_counts()
        for status in sorted(set(OUTBOX_STATUSES) | set(counts)):
            family.add_metric([status], counts.get(status, 0))
        return [family]

    def _job_families(self, gauge: Any) -> list[Any]:
        duration = gauge(
            PREFIX + "job_last_run_duration_seconds",
            "Duration of each job's latest finished run, as recorded in the database.",
            labels=["job"],
        )
        started = gauge(
            PREFIX + "job_last_run_start_timestamp_seconds",
            "When each job's latest run started (Unix time), as recorded in the database.",
            labels=["job"],
        )
        for job_id, run in sorted(self._store.last_job_runs().items()):
            start, end = _utc(run.get("started_at")), _utc(run.get("ended_at"))
            if start is None:
                continue
            started.add_metric([job_id], start.timestamp())
            if end is not None:
                duration.add_metric([job_id], max(0.0, (end - start).total_seconds()))
        return [duration, started]


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


class _Forward:
    """Another registry's metrics, inside the registry of one scrape."""

    def __init__(self, registry: Any) -> None:
        self._registry = registry

    def collect(self) -> Iterator[Any]:
        return self._registry.collect()


def exposition(extra: Iterable[Any] = ()) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, with its content type: this process's
    (or, in the multiprocess mode, every process's) and the ``extra`` collectors'."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    _metrics()  # defined, so a process that has observed nothing yet shows them at 0
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        from prometheus_client.multiprocess import MultiProcessCollector

        MultiProcessCollector(registry)
    else:
        registry.register(_Forward(REGISTRY))
    for collector in extra:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST
