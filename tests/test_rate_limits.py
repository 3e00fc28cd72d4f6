"""Rate limits (hub/web/limits.py): entries per gate, per rider and per API key on the
API and the rider page, and sign-ins per client address on the console.

Each limit lets N through and refuses the N+1st, counts per key (another gate, rider,
key or address is not affected), starts again after its window, answers 429 with
``Retry-After`` in the form of the page or API it was sent to, and writes nothing for a
refused request but one audit record per key and window. Counters in Redis are tested
against the real server (``LAST100_TEST_REDIS_URL``, default the local one): skipped
when it cannot be reached, unless ``LAST100_REQUIRE_REDIS=1`` (set in CI), which makes
that a failure.
"""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from hub.core.config import Config, ConfigError
from hub.runtime import Runtime
from hub.web import create_app
from hub.web.limits import PER_API_KEY, PER_GATE, PER_RIDER, SIGN_IN_PER_ADDRESS, limiter_of
from tests.api.conftest import Api, add_second_community
from tests.console_world import PASSWORD, csrf_of
from tests.engine_fakes import World, build_world
from tests.rider_world import form_token

#: Every limit off unless a test turns it on.
OFF = {"rate_limit_per_gate": "", "rate_limit_per_rider": "", "rate_limit_per_api_key": "", "rate_limit_sign_in": ""}


def make_config(tmp_path, **settings: str) -> Config:
    values = {**OFF, "rate_limit_key_prefix": f"test-{uuid.uuid4().hex}", **settings}
    return Config(instance_path=tmp_path, secret_keys=("k",), secret_key="s", gate_key="gate-key", **values)


def api_for(world: World, config: Config, key: str | None = None) -> Api:
    """The API of a web process with ``config``, and an API key (a new one by default)."""
    runtime = Runtime(config, world.clock, world.store, world.hub, world.engine)
    api = Api(create_app(runtime=runtime).test_client(), world, runtime, key=key or "")
    api.key = key or api.new_key("platform-a", ("plat",), ("c1",))
    return api


@pytest.fixture
def world(tmp_path) -> Iterator[World]:
    w = build_world(tmp_path)
    add_second_community(w)
    yield w
    w.engine.close()
    w.store.dispose()


@pytest.fixture
def limited(world, tmp_path):
    """``limited(**settings)``: the API with these limits (and no others)."""
    return lambda **settings: api_for(world, make_config(tmp_path, **settings))


def enter(api: Api, token: str = "tok-1", gate: str = "north-code", key: str | None = None):
    body = api.entry_body(gate_code=api.sign(gate), credential={"kind": "token", "value": token})
    return api.post_entry(body, key=key)


def refused(reply, limit: str) -> int:
    """Check a 429 in the API's error shape; the seconds to wait."""
    assert reply.status_code == 429, reply.get_data(as_text=True)
    error = reply.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert error["details"]["limit"] == limit
    seconds = int(reply.headers["Retry-After"])
    assert 1 <= seconds <= 60
    assert error["details"]["retry_after"] == seconds
    assert f"try again in {seconds} s" in error["message"]
    return seconds


def limit_records(api: Api) -> list[tuple[str, str, dict]]:
    with api.world.store.transaction() as session:
        rows = session.execute(
            text("SELECT actor, subject, data FROM audit_log WHERE action = 'rate_limit.exceeded' ORDER BY id")
        )
        return [(actor, subject, json.loads(data) if isinstance(data, str) else data) for actor, subject, data in rows]


# -- per gate -----------------------------------------------------------------------------


def test_the_gate_limit_lets_n_entries_through_and_refuses_the_next(limited):
    api = limited(rate_limit_per_gate="3/minute")

    assert [enter(api, f"tok-{n}").status_code for n in range(3)] == [201, 201, 201]

    refused(enter(api, "tok-9"), PER_GATE)


def test_the_gate_limit_is_per_gate(limited):
    api = limited(rate_limit_per_gate="2/minute")
    for n in range(2):
        enter(api, f"tok-{n}")
    refused(enter(api, "tok-x"), PER_GATE)

    assert enter(api, "tok-x", gate="east-code").status_code == 201


def test_requests_that_could_not_enter_do_not_use_up_a_gates_allowance(limited):
    api = limited(rate_limit_per_gate="2/minute")
    other_community = api.new_key("platform-b", ("plat",), ("c2",))
    for _ in range(3):
        assert enter(api, key=other_community).status_code == 403  # a key of another community
        assert api.post_entry(api.entry_body(gate_code="north-code.forged")).status_code == 404
        assert enter(api, key="l100_nobody_nothing").status_code == 401
        assert api.post_entry(api.entry_body(connection=7)).status_code == 422

    assert [enter(api, f"tok-{n}").status_code for n in range(2)] == [201, 201]
    refused(enter(api, "tok-9"), PER_GATE)


def test_the_rider_page_and_the_api_share_a_gates_count(limited):
    api = limited(rate_limit_per_gate="2/minute")
    assert enter(api, "tok-a").status_code == 201
    assert submit(api.client, api.sign(), code="tok-b").status_code == 303

    refused(enter(api, "tok-c"), PER_GATE)
    page = submit(api.client, api.sign(), code="tok-d")
    assert page.status_code == 429
    assert "This gate is taking too many entries just now." in page.get_data(as_text=True)


# -- per rider ----------------------------------------------------------------------------


def test_the_rider_limit_counts_one_credential_across_gates(limited):
    api = limited(rate_limit_per_rider="2/minute")
    assert enter(api, "tok-1").status_code == 201
    assert enter(api, "tok-1", gate="east-code").status_code == 201

    refused(enter(api, "tok-1"), PER_RIDER)
    refused(enter(api, "tok-1", gate="east-code"), PER_RIDER)
    assert enter(api, "tok-2").status_code == 201  # another rider


def test_denied_entries_count_for_a_rider_too(limited):
    api = limited(rate_limit_per_rider="2/minute")
    denied = [enter(api, "not-a-rider") for _ in range(2)]
    assert [r.get_json()["decision"] for r in denied] == ["denied", "denied"]

    refused(enter(api, "not-a-rider"), PER_RIDER)


def test_the_counters_keep_no_rider_data(limited):
    api = limited(rate_limit_per_rider="1/minute", rate_limit_per_gate="5/minute")
    enter(api, "tok-secret-credential")
    refused(enter(api, "tok-secret-credential"), PER_RIDER)

    keys = list(limiter_of(api.client.application).storage.storage)
    assert any(PER_RIDER in k for k in keys) and any("north-code" in k for k in keys)
    assert not [k for k in keys if "secret" in k or "tok-" in k]
    assert "tok-secret" not in json.dumps(limit_records(api))


def test_the_rider_page_shows_its_form_again_with_the_reason(limited):
    api = limited(rate_limit_per_rider="1/minute")
    assert submit(api.client, api.sign()).status_code == 303

    again = submit(api.client, api.sign())

    assert again.status_code == 429
    assert 1 <= int(again.headers["Retry-After"]) <= 60
    html = again.get_data(as_text=True)
    assert "You have tried too many times. Wait" in html
    assert 'value="tok-1"' in html  # what the rider typed is kept
    assert again.headers["Cache-Control"] == "no-store"  # the rider page's headers
    assert submit(api.client, api.sign(), code="tok-2").status_code == 303


# -- per API key --------------------------------------------------------------------------


def test_the_api_key_limit_counts_every_request_of_a_key(limited):
    api = limited(rate_limit_per_api_key="3/minute")
    assert enter(api, "tok-1").status_code == 201
    assert api.post_entry(api.entry_body(connection=7)).status_code == 422
    assert enter(api, "tok-2", gate="west-code").status_code == 403

    refused(enter(api, "tok-3"), PER_API_KEY)
    other = api.new_key("platform-b", ("plat",), ("c1",))
    assert enter(api, "tok-3", key=other).status_code == 201


def test_requests_without_a_valid_key_are_answered_401_not_counted(limited):
    api = limited(rate_limit_per_api_key="1/minute")
    for _ in range(3):
        assert enter(api, key="l100_nobody_nothing").status_code == 401
        assert api.client.post("/api/v1/entries", json=api.entry_body()).status_code == 401
    assert enter(api).status_code == 201


# -- every limit --------------------------------------------------------------------------


def test_a_limit_starts_again_after_its_window(limited):
    api = limited(rate_limit_per_gate="2 per 1 second")
    enter(api, "tok-1")
    enter(api, "tok-2")
    seconds = refused(enter(api, "tok-3"), PER_GATE)

    time.sleep(seconds + 0.05)

    assert enter(api, "tok-3").status_code == 201


def test_a_refused_request_writes_nothing_and_a_flood_is_audited_once(limited):
    api = limited(rate_limit_per_gate="1/minute")
    enter(api, "tok-1")
    before, calls = api.counts(), api.world.platform.calls.upstream

    for n in range(5):
        refused(enter(api, f"tok-{n + 2}"), PER_GATE)

    after = api.counts()
    assert after == {**before, "audit_log": before["audit_log"] + 1}
    assert api.world.platform.calls.upstream == calls  # no upstream call either
    [(actor, subject, data)] = limit_records(api)
    assert (actor, subject) == ("api:platform-a", PER_GATE)
    assert data["gate"] == "north-code" and data["limit"] == "1 per 1 minute"


def test_limits_are_read_from_the_configuration_and_checked(tmp_path, world):
    with pytest.raises(ConfigError, match="rate_limit_per_rider"):
        api_for(world, make_config(tmp_path, rate_limit_per_rider="ten a minute"))
    with pytest.raises(ConfigError, match="rate_limit_storage_url"):
        api_for(world, make_config(tmp_path, rate_limit_storage_url="carrier-pigeon://loft"))

    unlimited = api_for(world, make_config(tmp_path))  # every limit empty: off
    assert {enter(unlimited).status_code for _ in range(15)} == {201}


def test_the_defaults_leave_room_for_a_busy_gate():
    config = Config()
    assert (config.rate_limit_per_gate, config.rate_limit_per_rider) == ("60/minute", "10/minute")
    assert (config.rate_limit_per_api_key, config.rate_limit_sign_in) == ("6000/minute", "30/minute")
    assert config.rate_limit_storage_url == "memory://"


# -- console sign-in ----------------------------------------------------------------------


def sign_in(client, password: str):
    token = csrf_of(client.get("/admin/login").get_data(as_text=True))
    return client.post("/admin/login", data={"username": "olga", "password": password, "csrf_token": token})


def test_sign_in_is_limited_per_client_address(cw, tmp_path):
    rw = cw.rw
    config = make_config(tmp_path, rate_limit_sign_in="2/minute")
    app = create_app(runtime=Runtime(config, rw.world.clock, rw.world.store, rw.world.hub, rw.world.engine))
    office = app.test_client()
    office.environ_base.update({"REMOTE_ADDR": "10.1.2.3", "HTTP_ACCEPT_LANGUAGE": "en"})
    assert sign_in(office, "wrong password!").status_code == 401
    assert sign_in(office, "wrong password!").status_code == 401
    failures = cw.store.login_failures(cw.clock.now().replace(year=2000), address="10.1.2.3", limit=100)

    page = sign_in(office, PASSWORD)

    assert page.status_code == 429
    assert 1 <= int(page.headers["Retry-After"]) <= 60
    html = page.get_data(as_text=True)
    assert "Too many sign-in attempts from your network. Wait" in html
    assert 'value="olga"' in html  # the form again, with the username typed
    assert cw.store.login_failures(cw.clock.now().replace(year=2000), address="10.1.2.3", limit=100) == failures
    assert office.get("/admin/login").status_code == 200  # reading the page is not counted
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "10.9.9.9"
    assert sign_in(elsewhere, PASSWORD).status_code == 303
    [(actor, subject, data)] = [(r.actor, r.subject, r.data) for r in cw.store.list_audit(action_prefix="rate_limit.")]
    assert (actor, subject, data["address"]) == ("anonymous", SIGN_IN_PER_ADDRESS, "10.1.2.3")


# -- Redis (the redis_url fixture is in tests/conftest.py) ---------------------------------


def test_two_web_processes_share_their_counts_in_redis(world, tmp_path, redis_url):
    """Each test's counters have a key prefix of their own, and expire with their window."""
    config = make_config(tmp_path, rate_limit_storage_url=redis_url, rate_limit_per_gate="2/minute")
    one = api_for(world, config)
    two = api_for(world, config, key=one.key)

    assert enter(one, "tok-1").status_code == 201
    assert enter(two, "tok-2").status_code == 201

    refused(enter(one, "tok-3"), PER_GATE)
    refused(enter(two, "tok-3"), PER_GATE)
    assert enter(two, "tok-3", gate="east-code").status_code == 201
    assert len(limit_records(one)) == 1  # noted once for both processes


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_when_redis_is_down_the_limits_fail_open_to_counting_in_the_process(world, tmp_path, caplog):
    config = make_config(
        tmp_path, rate_limit_storage_url=f"redis://127.0.0.1:{closed_port()}/0", rate_limit_per_gate="2/minute"
    )
    api = api_for(world, config)

    with caplog.at_level(logging.WARNING, logger="flask-limiter"):
        assert [enter(api, f"tok-{n}").status_code for n in range(2)] == [201, 201]

    assert "Rate limit storage unreachable - falling back to in-memory storage" in caplog.text
    refused(enter(api, "tok-9"), PER_GATE)  # still limited, counted in this process


# -- helpers for the rider page -------------------------------------------------------------


def submit(client, signed: str, **fields: str):
    page = f"/g/{signed}"
    html = client.get(page, headers={"Accept-Language": "en"}).get_data(as_text=True)
    data = {"csrf": form_token(html), "connection": "plat", "kind": "typed_code", "code": "tok-1", **fields}
    return client.post(page, data=data, headers={"Accept-Language": "en"})
