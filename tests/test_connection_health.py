"""The connection health job, with a controlled clock: each checkable connection's
health is stored with its latency and circuit, changes are audited once, a check that
raises or hangs is bounded, and the console's dashboard shows the latest check."""

from __future__ import annotations

import re
import threading
import time
from html import unescape

import pytest

from hub import hookimpl
from hub.core.errors import UpstreamError
from hub.core.health import HEALTH_ACTOR, ConnectionHealth, check_connections
from hub.core.jobs import JobContext
from hub.core.model import Connection, Health, Order, PluginInfo
from hub.core.scheduler import MISFIRE_GRACE_S, build_scheduler, run_job
from hub.plugins import Resilience, find_builtin
from tests.engine_fakes import build_world


class Checked:
    """A plugin whose health check answers what ``answers`` says for a connection: a
    ``Health``, an exception to raise, or a callable run first (to sleep or to move the
    clock). ``hub_get_order`` fails, to open a circuit."""

    def __init__(self) -> None:
        self.answers: dict[str, object] = {}
        self.before: dict[str, object] = {}
        self.checked: list[str] = []
        self._lock = threading.Lock()

    @hookimpl
    def hub_plugin_info(self) -> PluginInfo:
        return PluginInfo(name="checked", kinds={"platform"}, version="1.0")

    @hookimpl
    def hub_check_connection(self, connection: Connection) -> Health:
        with self._lock:
            self.checked.append(connection.id)
        if connection.id in self.before:
            self.before[connection.id]()
        answer = self.answers.get(connection.id, Health(ok=True))
        if isinstance(answer, Exception):
            raise answer
        return answer

    @hookimpl
    def hub_get_order(self, connection: Connection, order_ref: str) -> Order | None:
        raise UpstreamError(f"{connection.name} is down")


@pytest.fixture
def checked():
    return Checked()


@pytest.fixture
def world(tmp_path, checked):
    """The engine world (``plat`` and ``gatectl``, whose plugins have no health check)
    plus ``a`` and ``b`` of the checked plugin and ``off``, switched off."""
    world = build_world(tmp_path, extra_plugins=[checked])
    for connection in (
        Connection("a", "checked", "Check A", timeout_s=0.5),
        Connection("b", "checked", "Check B", timeout_s=0.5),
        Connection("off", "checked", "Switched off", enabled=False),
    ):
        world.store.add_connection(connection, (), ["c1"])
    yield world
    world.engine.close()
    world.store.dispose()


def job(world):
    spec = next(s for s in world.hub.jobs() if s.id == "connections.health")
    return spec, JobContext(world.hub, world.store, world.clock)


def run(world):
    spec, context = job(world)
    return run_job(spec, context)


def changes(world) -> list[tuple[str, str]]:
    return [(r.action, r.subject) for r in reversed(world.store.list_audit(limit=200)) if r.action.startswith("conn")]


def test_each_checkable_connection_is_checked_and_recorded(world, checked):
    checked.answers["b"] = Health(ok=True, message="version 3.2", latency_ms=42.0)
    checked.before["a"] = lambda: world.clock.advance(0.12)

    result = run(world)

    assert result.ok and result.items == 2
    assert sorted(checked.checked) == ["a", "b"]  # not plat, gatectl (no check) nor off
    stored = world.store.connection_health()
    assert set(stored) == {"a", "b"}
    assert stored["a"] == ConnectionHealth("a", True, "", pytest.approx(120.0), "closed", world.clock.now())
    assert (stored["b"].message, stored["b"].latency_ms) == ("version 3.2", 42.0)  # the plugin's own figure
    assert world.store.last_job_runs()["connections.health"]["items"] == 2
    assert changes(world) == []


def test_a_change_is_audited_once_and_the_recovery_too(world, checked):
    checked.answers["a"] = Health(ok=False, message="app_secret was refused")
    for _ in range(3):
        run(world)
        world.clock.advance(60)
    checked.answers["a"] = Health(ok=True)
    run(world)
    world.clock.advance(60)
    run(world)

    assert changes(world) == [("connection.unhealthy", "a"), ("connection.recovered", "a")]
    unhealthy = next(r for r in world.store.list_audit(limit=200) if r.action == "connection.unhealthy")
    assert unhealthy.actor == HEALTH_ACTOR and unhealthy.data["message"] == "app_secret was refused"
    assert world.store.connection_health()["a"].ok is True


def test_a_check_that_raises_is_a_failing_health_in_the_hubs_words(world, checked):
    checked.answers["a"] = RuntimeError("refused at https://user:s3cret@api.example")
    checked.answers["b"] = UpstreamError("Check B: app_secret was refused")

    result = run(world)

    assert result.ok
    stored = world.store.connection_health()
    assert (stored["a"].ok, stored["a"].message) == (False, "Check A failed unexpectedly (RuntimeError)")
    assert (stored["b"].ok, stored["b"].message) == (False, "Check B: app_secret was refused")
    assert "s3cret" not in repr(world.store.list_audit(limit=200))
    assert changes(world) == [("connection.unhealthy", "a"), ("connection.unhealthy", "b")]


def test_a_check_that_hangs_is_given_up_at_the_connections_timeout(world, checked):
    release = threading.Event()
    checked.before["a"] = lambda: release.wait(10)

    started = time.monotonic()
    result = run(world)
    took = time.monotonic() - started
    release.set()

    assert result.ok and took < 3
    stored = world.store.connection_health()
    assert (stored["a"].ok, stored["a"].message, stored["a"].latency_ms) == (
        False,
        "Check A did not answer in 0.5 s",
        None,
    )
    assert stored["b"].ok  # checked meanwhile


def test_an_answer_later_than_the_timeout_counts_as_failing(world, checked):
    checked.before["a"] = lambda: world.clock.advance(0.8)  # the clock says 0.8 s passed

    run(world)

    stored = world.store.connection_health()["a"]
    assert (stored.ok, stored.latency_ms) == (False, pytest.approx(800.0))
    assert stored.message == "Check A answered after 0.8 s, later than its 0.5 s limit"


def test_checks_run_side_by_side_a_few_at_a_time(world, checked):
    for name in "cdefg":
        world.store.add_connection(Connection(name, "checked", f"Check {name}", timeout_s=2), ())
    running, most = [0], [0]
    lock = threading.Lock()

    def slow():
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.1)
        with lock:
            running[0] -= 1

    for name in "abcdefg":
        checked.before[name] = slow

    report = check_connections(world.hub, world.store, world.clock, concurrency=3)

    assert report.checked == 7 and most[0] == 3


def test_the_circuit_recorded_is_the_one_the_checking_process_saw(world, checked):
    resilience = find_builtin(world.hub.pm.get_plugins(), Resilience)
    connection = world.store.get_connection("a")
    for _ in range(5):
        with pytest.raises(UpstreamError):
            world.hub.get_order(connection, "O1")
    assert resilience.state("a") == "open"
    checked.answers["a"] = Health(ok=False, message="down")

    run(world)
    assert world.store.connection_health()["a"].circuit == "open"
    checked.answers["a"] = Health(ok=True)
    world.clock.advance(60)
    run(world)

    # A healthy check closes the connection's circuits in this process (Resilience).
    assert world.store.connection_health()["a"].circuit == "closed"
    assert resilience.state("a") == "closed"


def test_the_job_runs_every_minute_as_one_instance(world):
    spec, context = job(world)

    scheduled = build_scheduler([spec], context, blocking=False).get_job("connections.health")

    assert (spec.trigger, dict(spec.trigger_args)) == ("interval", {"seconds": 60})
    assert (scheduled.coalesce, scheduled.max_instances, scheduled.misfire_grace_time) == (True, 1, MISFIRE_GRACE_S)


# -- the dashboard ---------------------------------------------------------------------------


def row_of(html: str, connection_id: str) -> str:
    return re.search(rf'<tr data-connection="{connection_id}".*?</tr>', html, re.S)[0]


def test_the_dashboard_shows_each_connections_latest_check(cw):
    store = cw.store
    store.record_connection_health("plat", Health(False, "app_secret was refused", 812.4), "open", actor="t")
    cw.clock.advance(30)
    store.record_connection_health("door", Health(True, "", 85.0), "closed", actor="t")

    html = unescape(cw.sign_in("anna").get("/admin/").get_data(as_text=True))

    checks = dict(re.findall(r'data-connection="([^"]+)" data-circuit="\w+" data-check="(\w+)"', html))
    assert checks == {"door": "ok", "gatectl": "none", "plat": "failing"}
    plat = row_of(html, "plat")
    assert "Failing" in plat and "812 ms" in plat and "app_secret was refused" in plat
    assert "Checked at 2026-01-05 12:00:00" in plat  # Shanghai time
    assert 'data-scheduler-circuit="open"' in plat and "Circuit in the scheduler: Paused after failures" in plat
    door = row_of(html, "door")
    assert "Answering" in door and "85 ms" in door and "Checked at 2026-01-05 12:00:30" in door
    assert "Not checked yet" in row_of(html, "gatectl")
    assert "is the scheduler running?" not in html


def test_an_old_check_says_the_scheduler_may_be_stopped(cw):
    cw.store.record_connection_health("plat", Health(True, "", 10.0), "closed", actor="t")
    cw.clock.advance(minutes=11)

    html = unescape(cw.sign_in("anna").get("/admin/").get_data(as_text=True))

    assert "No check for a while: is the scheduler running?" in row_of(html, "plat")


def test_the_latest_check_speaks_chinese(cw):
    cw.store.record_connection_health("plat", Health(False, "down", 5.0), "half_open", actor="t")

    html = unescape(cw.sign_in("anna").get("/admin/?lang=zh").get_data(as_text=True))

    plat = row_of(html, "plat")
    assert "检查失败" in plat and "5 毫秒" in plat and "检查时间：2026-01-05 12:00:00" in plat
    assert "调度器中的熔断状态：正在重试" in plat
    assert "尚未检查" in row_of(html, "gatectl")
