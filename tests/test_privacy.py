"""Privacy (PIPL): no raw phone number and no full rider name reaches the logs, the
database or any page, and no face photo is stored.

One deployment per database (a SQLite file, and a PostgreSQL schema of its own when the
server is there): the real app, the built-in plugins, and the Meituan, Ele.me and
RiderPass adapters talking to their simulators on loopback. Each simulated platform
knows a rider by a **full name and a raw phone number**, as platforms hold them: Meituan
hands its partners the rider's phone (a privacy number) and name unmasked and expects
them masked; the Ele.me and RiderPass riders here carry raw values where their protocols
promise masked ones, as a careless platform would. Meituan also knows the customer's
phone. Then everything that carries personal data happens, with every logger recording
at DEBUG: entries through the API and the rider page, pushes (genuine ones carrying
the rider's name and phone, as Ele.me's delivery messages do, and forged ones), the
outbox delivered, feedback with a reporter's contact through the API, the rider page and
the console. Afterwards the raw values are searched for in:

- every log record (message, arguments and traceback);
- every column of every table (as text, JSON decoded, phone digits with their
  separators removed);
- every page each console role can open (operator, manager, guard), the rider pages,
  the gate screen, and the API's replies.

A reporter's contact is personal data the hub keeps on purpose: whole in
``feedback.contact`` (so an operator can reveal it, audited, and the retention purge
blanks it), masked everywhere else. It is searched for everywhere but there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import LargeBinary, create_engine, inspect, text
from standardwebhooks import Webhook
from werkzeug.serving import make_server

from hub.core import apikeys
from hub.core.clock import Clock
from hub.core.config import Config
from hub.core.db import Base
from hub.core.delivery import deliver_due
from hub.core.engine import EntryEngine
from hub.core.model import Building, Community, CommunityPolicy, Connection, Gate, Zone
from hub.core.plugins import Hub, secret_fields
from hub.core.secrets import generate_key
from hub.core.store import Store
from hub.core.users import hash_password
from hub.demo import DemoRider
from hub.plugins import builtin_plugins
from hub.runtime import Runtime
from hub.web import create_app
from last100_eleme import simulator as eleme_sim
from last100_eleme.messages import sign_push
from last100_eleme.plugin import ElemePlugin
from last100_hikvision.plugin import HikvisionPlugin
from last100_meituan import simulator as meituan_sim
from last100_meituan.plugin import MeituanPlugin
from last100_meituan.signing import sign as meituan_sign
from last100_riderpass import simulator as riderpass_sim
from last100_riderpass.plugin import RiderPassPlugin
from tests.console_world import csrf_of, login
from tests.engine_fakes import FakeGate
from tests.process_world import postgres_schema
from tests.rider_world import form_token

PASSWORD = "correct horse battery"
COMMUNITY = "sunny"

# -- the personal data ----------------------------------------------------------------------------
# Distinctive values, so that finding one is never a coincidence.

MT_NAME, MT_PHONE = "欧阳明远", "13971842635_3344"  # Meituan: a privacy number with its extension
MT_CUSTOMER_PHONE = "13768204917_8877"
EL_NAME, EL_PHONE = "司马光华", "13652970814"
RP_NAME, RP_PHONE = "上官婉儿", "+86 135 8246 1379"
CONTACT = "赵大海 133 2957 4186"  # a reporter's contact, as typed

#: name: what must never appear. A name's hidden part (all but the first character) is
#: searched for, so that a half-masked name counts too; a phone by its last eight
#: digits (the mask keeps three and four), separators ignored.
RIDER_NEEDLES = {
    "Meituan rider's name": MT_NAME[1:],
    "Meituan rider's phone": "71842635",
    "Meituan customer's phone": "68204917",
    "Ele.me rider's name": EL_NAME[1:],
    "Ele.me rider's phone": "52970814",
    "RiderPass rider's name": RP_NAME[1:],
    "RiderPass rider's phone": "82461379",
}
CONTACT_NEEDLES = {"reporter's name": "大海", "reporter's phone": "29574186"}

#: Where a reporter's contact is kept whole, by design (see the module docstring).
CONTACT_KEPT_IN = {("feedback", "contact")}


def leaks(text: str, needles: dict[str, str]) -> list[str]:
    """The needles found in ``text``: as written, JSON-unescaped, and (for digits) with
    the separators people put between digits removed."""
    forms = {text}
    with contextlib.suppress(ValueError, TypeError, RecursionError):
        forms.add(json.dumps(json.loads(text), ensure_ascii=False))
    forms |= {re.sub(r"(?<=\d)[\s\-_()（）]+(?=\d)", "", form) for form in list(forms)}
    forms |= {form.encode().decode("unicode_escape", "ignore") for form in list(forms) if "\\u" in form}
    return [what for what, needle in needles.items() if any(needle in form for form in forms)]


# -- the deployment -------------------------------------------------------------------------------


@dataclass
class Deployment:
    runtime: Runtime
    app: Any
    db_url: str
    connect_args: dict[str, Any]
    riderpass_keys: riderpass_sim.SimulatorKeys
    pages: dict[str, str] = field(default_factory=dict)  # url -> body, everything read

    @property
    def store(self) -> Store:
        return self.runtime.store

    def client(self) -> FlaskClient:
        client = self.app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh"
        return client

    def read(self, client: FlaskClient, url: str, *, who: str) -> int:
        reply = client.get(url)
        assert reply.status_code < 500, (who, url, reply.status_code)
        self.pages[f"{who} GET {url}"] = reply.get_data(as_text=True)
        return reply.status_code


def _serve(app: Any, servers: list) -> str:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    servers.append(server)
    return f"http://127.0.0.1:{server.server_port}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> Iterator[tuple[str, dict[str, Any]]]:
    """A database of the test's own: a SQLite file, or a fresh PostgreSQL schema
    (skipped when the server is not reachable, unless LAST100_REQUIRE_POSTGRES=1)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hub.sqlite'}", {}
        return
    with postgres_schema("t") as url:
        yield url, {}


@pytest.fixture
def deployment(database, tmp_path, caplog) -> Iterator[Deployment]:
    caplog.set_level(logging.DEBUG)  # every logger, from the first line on
    # Some test configurations quiet the simulators' request logs; here they must speak.
    for noisy in ("werkzeug", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=noisy)
    url, connect_args = database
    servers: list = []
    clock = Clock()  # real time: the simulators check the hub's timestamps with theirs
    store = Store(url, [generate_key()], clock=clock, connect_args=connect_args)
    store.upgrade()
    hub = Hub()
    for plugin in [
        *builtin_plugins(clock),
        MeituanPlugin(),
        ElemePlugin(clock=lambda: clock.now().timestamp()),
        RiderPassPlugin(clock=clock),
        HikvisionPlugin(clock=clock),
        FakeGate(),
    ]:
        hub.register(plugin)
    engine = EntryEngine(hub, store, clock, max_workers=4)
    config = Config(instance_path=tmp_path, secret_keys=("k",), secret_key="privacy", gate_key="privacy-gate-key")
    runtime = Runtime(config, clock, store, hub, engine)
    app = create_app(runtime=runtime)
    now = clock.now()

    # Meituan: the rider's name and privacy number unmasked, and the customer's phone.
    mt_state = meituan_sim.SimState(
        riders=[meituan_sim.SimRider("MT-R1", "mt-token", "428613", MT_NAME, MT_PHONE)],
        orders={
            "MT-O1": meituan_sim.SimOrder(
                "MT-O1",
                "MT-R1",
                "MT-C-1",
                "3",
                utime=int(now.timestamp()),
                delivery_time=int((now + timedelta(minutes=10)).timestamp()),
                recipient_phone=MT_CUSTOMER_PHONE,
            )
        },
    )
    mt_url = _serve(meituan_sim.create_app(state=mt_state), servers)
    # Ele.me and RiderPass: raw values where the protocols promise masked ones.
    el_rider = DemoRider("el-token", "EL-R1", EL_NAME, EL_PHONE, order_ref="EL-O1")
    el_url = _serve(eleme_sim.create_app(riders=[el_rider], community_id="EL-C-1"), servers)
    keys = riderpass_sim.SimulatorKeys.generate("hub-privacy")
    rp_url = _serve(
        riderpass_sim.create_app(
            keys,
            riders=[riderpass_sim.SimRider("rp-token", "RP-R1", RP_NAME, RP_PHONE)],
            orders=[
                riderpass_sim.SimOrder(
                    "RP-O1", "RP-R1", COMMUNITY, "delivering", now, building="3", eta=now + timedelta(minutes=10)
                )
            ],
        ),
        servers,
    )

    store.add_community(
        Community(
            COMMUNITY,
            "阳光花园",
            policy=CommunityPolicy(visitor_record=True),
            buildings=(Building("b3", "3号楼", "3"),),
            platform_refs={"mt": "MT-C-1", "el": "EL-C-1"},
        )
    )
    store.add_zone(COMMUNITY, Zone("parking", "parking", "北门停车区", ((31.19, 121.43),)))
    raw_settings = {
        "mt": (
            "meituan",
            {"app_id": meituan_sim.DEMO_APP_ID, "app_secret": meituan_sim.DEMO_APP_SECRET, "base_url": mt_url},
        ),
        "el": ("eleme", eleme_sim.demo_settings(el_url)),
        "rp": ("riderpass", keys.settings(rp_url)),
        "hik": (
            "hikvision",
            {
                "base_url": "http://127.0.0.1:9",
                "username": "admin",
                "password": "hik-pass",
                "card_secret": "hik-privacy-card-secret-0001",
                "push_token": "hik-privacy-token",
            },
        ),
        "gatectl": ("fakegate", {}),
    }
    for connection_id, (plugin, raw) in raw_settings.items():
        settings = hub.validate_settings(plugin, raw)
        connection = Connection(connection_id, plugin, f"{plugin} connection", settings, timeout_s=5.0)
        store.add_connection(connection, secret_fields(hub.plugin(plugin).info), [COMMUNITY])
    store.add_gate(Gate("north", COMMUNITY, "北门", "sunny-north", "1", "gatectl"))
    store.add_gate(Gate("east", COMMUNITY, "东门", "sunny-east", "2", "hik"))
    hashed = hash_password(PASSWORD)
    store.add_user("olga", hashed, "operator", (), ())
    store.add_user("anna", hashed, "manager", (COMMUNITY,), ())
    store.add_user("gus", hashed, "guard", (COMMUNITY,), ())

    yield Deployment(runtime, app, url, connect_args, keys)

    for server in servers:
        server.shutdown()
        server.server_close()
    engine.close()
    store.dispose()


# -- what happens in a day ----------------------------------------------------------------------


def enter_through_the_api(d: Deployment, key: str) -> list[dict]:
    client, signed = d.client(), d.runtime.gate_codes.sign("sunny-north")
    replies = []
    for connection, token in (("mt", "mt-token"), ("el", "el-token"), ("rp", "rp-token")):
        reply = client.post(
            "/api/v1/entries",
            json={"gate_code": signed, "connection": connection, "credential": {"kind": "token", "value": token}},
            headers={"Authorization": f"Bearer {key}"},
        )
        assert reply.status_code == 201, reply.get_data(as_text=True)
        d.pages[f"api POST entries {connection}"] = reply.get_data(as_text=True)
        replies.append(reply.json)
    return replies


def enter_through_the_rider_page(d: Deployment) -> None:
    client, signed = d.client(), d.runtime.gate_codes.sign("sunny-north")
    for connection, code in (("mt", "428613"), ("el", "EL1"), ("rp", "rp-token")):
        page = client.get(f"/g/{signed}").get_data(as_text=True)
        form = {"connection": connection, "kind": "typed_code", "code": code, "csrf": form_token(page)}
        reply = client.post(f"/g/{signed}", data=form)
        assert reply.status_code == 303, reply.get_data(as_text=True)
        d.read(client, reply.headers["Location"], who="rider")


def push_everything(d: Deployment) -> None:
    client, now = d.client(), d.runtime.clock.now()
    stamp = str(int(now.timestamp()))

    # Meituan: the order delivered, and the rider suspended, the rider's name and phone
    # in the callback (fields this adapter does not read).
    url = "http://localhost/api/v1/push/mt"
    for fields in (
        {"order_id": "MT-O1", "status": "8", "logistics_status": "40", "recipient_phone": MT_CUSTOMER_PHONE},
        {"rider_id": "MT-R1", "rider_status": "2", "rider_name": MT_NAME, "rider_phone": MT_PHONE},
    ):
        form = {**fields, "app_id": meituan_sim.DEMO_APP_ID, "timestamp": stamp}
        form["sig"] = meituan_sign(url, form, meituan_sim.DEMO_APP_SECRET)
        assert client.post("/api/v1/push/mt", data=form).status_code == 200
        forged = {**form, "sig": "0" * 32}
        assert client.post("/api/v1/push/mt", data=forged).status_code == 401

    # Ele.me: a delivery-state message naming the rider, as Ele.me's do.
    message = {
        "orderId": "EL-O1",
        "state": "delivering",
        "updateAt": int(now.timestamp() * 1000),
        "riderId": "EL-R1",
        "communityId": "EL-C-1",
        "name": EL_NAME,
        "phone": EL_PHONE,
    }
    fields = {
        "requestId": "privacy-1",
        "type": 55,
        "appId": int(eleme_sim.SIM_APP_ID),
        "message": json.dumps(message, ensure_ascii=False),
        "timestamp": int(now.timestamp() * 1000),
    }
    for body in (sign_push(fields, eleme_sim.SIM_SECRET), {**sign_push(fields, "wrong"), "requestId": "forged"}):
        client.post("/api/v1/push/el", data=json.dumps(body, ensure_ascii=False), content_type="application/json")

    # RiderPass: an order update whose address names the customer, and a forged one.
    payload = {
        "type": "order.status_changed",
        "timestamp": now.isoformat(),
        "data": {
            "order": {
                "ref": "RP-O1",
                "status": "arrived",
                "rider_ref": "RP-R1",
                "community_id": COMMUNITY,
                "building": "3",
                "address": "3号楼 502",
            }
        },
    }
    body = json.dumps(payload, ensure_ascii=False)
    headers = {
        "webhook-id": "msg_privacy_1",
        "webhook-timestamp": stamp,
        "webhook-signature": Webhook(d.riderpass_keys.push_secret).sign("msg_privacy_1", now, body),
        "content-type": "application/json",
    }
    assert client.post("/api/v1/push/rp", data=body.encode(), headers=headers).status_code == 200
    forged = body.replace("arrived", f"arrived {RP_NAME} {RP_PHONE}")
    assert client.post("/api/v1/push/rp", data=forged.encode(), headers=headers).status_code == 401


def report_feedback(d: Deployment, key: str) -> None:
    client, signed = d.client(), d.runtime.gate_codes.sign("sunny-north")
    reply = client.post(
        f"/api/v1/communities/{COMMUNITY}/feedback",
        json={
            "connection": "mt",
            "external_ref": "fb-1",
            "category": "access",
            "body": "扫码器坏了",
            "contact": CONTACT,
        },
        headers={"Authorization": f"Bearer {key}"},
    )
    assert reply.status_code == 201, reply.get_data(as_text=True)
    d.pages["api POST feedback"] = reply.get_data(as_text=True)

    page = client.get(f"/g/{signed}/report").get_data(as_text=True)
    form = {"category": "parking", "body": "没有地方停车", "contact": CONTACT, "csrf": form_token(page)}
    assert client.post(f"/g/{signed}/report", data=form).status_code == 303

    console = d.client()
    assert login(console, "olga", PASSWORD).status_code == 303
    page = console.get("/admin/feedback/new").get_data(as_text=True)
    form = {
        "community": COMMUNITY,
        "source": "resident",
        "category": "conduct",
        "body": "骑手态度很好",
        "contact": CONTACT,
        "csrf_token": csrf_of(page),
    }
    assert console.post("/admin/feedback/new", data=form).status_code == 303


def read_every_page(d: Deployment, key: str) -> None:
    """GET every page of the console as each role, the rider pages, the gate screen and
    the API's reads; every answer is kept for the search."""
    store = d.store
    entries = [e.id for e in store.list_entries(limit=100)]
    reports = [r.id for r in store.list_feedback(limit=100)]
    assert len(entries) >= 6 and len(reports) == 3
    values = {
        "community_id": [COMMUNITY],
        "building_id": ["b3"],
        "zone_id": ["parking"],
        "gate_id": ["north", "east"],
        "fmt": ["svg"],
        "connection_id": ["mt", "el", "rp", "hik", "gatectl"],
        "entry_id": entries,
        "feedback_id": [str(r) for r in reports],
    }
    console_rules = [
        rule
        for rule in d.app.url_map.iter_rules()
        if "GET" in rule.methods and rule.rule.startswith("/admin") and rule.endpoint != "admin.login_code"
    ]
    for who in ("olga", "anna", "gus"):
        client = d.client()
        assert login(client, who, PASSWORD).status_code == 303
        opened = 0
        for rule in console_rules:
            for args in _combinations(sorted(rule.arguments), values):
                opened += d.read(client, rule.build(args, append_unknown=False)[1], who=who) == 200
        assert opened >= (20 if who != "gus" else 2), (who, opened)

    rider, signed = d.client(), d.runtime.gate_codes.sign("sunny-north")
    for url in [f"/g/{signed}", f"/g/{signed}/report", f"/g/{signed}/report/sent"] + [
        f"/g/{signed}/entries/{entry}{suffix}" for entry in entries for suffix in ("", ".json")
    ]:
        d.read(rider, url, who="rider")
    d.read(rider, f"/screen/{d.runtime.gate_codes.screen_token('sunny-north')}", who="screen")

    api = d.client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    for url in [f"/api/v1/entries/{entry}" for entry in entries] + [
        f"/api/v1/communities/{COMMUNITY}/profile",
        f"/api/v1/communities/{COMMUNITY}/feedback/mt/fb-1",
    ]:
        assert d.read(api, url, who="api") == 200


def _combinations(names: list[str], values: dict[str, list[str]]) -> list[dict[str, str]]:
    combos: list[dict[str, str]] = [{}]
    for name in names:
        combos = [{**combo, name: value} for combo in combos for value in values[name]]
    return combos


def database_cells(url: str, connect_args: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(table, column, value as text) of every cell of every table."""
    engine = create_engine(url, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            for table in inspect(connection).get_table_names():
                columns = [c["name"] for c in inspect(connection).get_columns(table)]
                for row in connection.execute(text(f'SELECT * FROM "{table}"')):
                    for column, value in zip(columns, row, strict=True):
                        if value is None:
                            continue
                        if isinstance(value, bytes | memoryview):
                            value = bytes(value).decode("utf-8", "replace")
                        elif not isinstance(value, str):
                            value = json.dumps(value, ensure_ascii=False, default=str)
                        yield table, column, value
    finally:
        engine.dispose()


def log_texts(caplog) -> Iterator[tuple[str, str]]:
    for record in caplog.records:
        parts = [record.getMessage(), repr(record.args)]
        if record.exc_info:
            parts.append(logging.Formatter().formatException(record.exc_info))
        yield record.name, "\n".join(parts)


# -- the test --------------------------------------------------------------------------------------


def test_no_raw_phone_or_full_name_reaches_the_logs_the_database_or_a_page(deployment: Deployment, caplog):
    d = deployment
    _stored, key = apikeys.create(d.store, "privacy", ("*",), ("*",), actor="test")

    replies = enter_through_the_api(d, key)
    enter_through_the_rider_page(d)
    push_everything(d)
    deliver_due(d.runtime.hub, d.store, d.runtime.clock)
    report_feedback(d, key)
    read_every_page(d, key)

    # The scenario did what it says: the riders were verified and let in.
    assert {r["decision"] for r in replies} == {"granted"}
    assert {e.rider_ref for e in d.store.list_entries(limit=100)} >= {"MT-R1", "EL-R1", "RP-R1"}

    found = [
        f"log {name}: {what}"
        for name, logged in log_texts(caplog)
        for what in leaks(logged, RIDER_NEEDLES | CONTACT_NEEDLES)
    ]
    for table, column, value in database_cells(d.db_url, d.connect_args):
        needles = RIDER_NEEDLES if (table, column) in CONTACT_KEPT_IN else RIDER_NEEDLES | CONTACT_NEEDLES
        found += [f"database {table}.{column}: {what}" for what in leaks(value, needles)]
    for page, body in d.pages.items():
        found += [f"page {page}: {what}" for what in leaks(body, RIDER_NEEDLES | CONTACT_NEEDLES)]

    assert found == [], "\n".join(found)
    # The search looked where the data is: the pages show the riders masked, and the
    # contact is whole where it is kept on purpose.
    shown = "\n".join(d.pages.values())
    for masked in ("欧***", "139****2635", "司***", "136****0814", "上***", "135****1379", "133****4186"):
        assert masked in shown, masked
    cells = database_cells(d.db_url, d.connect_args)
    kept = [value for table, column, value in cells if (table, column) == ("feedback", "contact")]
    assert len(kept) == 3 and all(leaks(value, CONTACT_NEEDLES) for value in kept)
    # Log records were captured, the loopback servers' threads included.
    assert {"werkzeug", "urllib3.connectionpool"} <= {record.name for record in caplog.records}


def test_the_search_finds_what_it_looks_for():
    assert leaks("王*, 139****2635", RIDER_NEEDLES) == []
    assert leaks(f"rider {MT_NAME}", RIDER_NEEDLES) == ["Meituan rider's name"]
    assert leaks("call 139-7184-2635", RIDER_NEEDLES) == ["Meituan rider's phone"]
    assert leaks(json.dumps({"phone": "+86 135 8246 1379"}), RIDER_NEEDLES) == ["RiderPass rider's phone"]
    assert leaks(json.dumps({"name": EL_NAME}), RIDER_NEEDLES) == ["Ele.me rider's name"]


# -- face photos ----------------------------------------------------------------------------------

FACE = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00FACE-PHOTO-OF-A-RIDER-7f3a\xff\xd9"


def test_no_column_of_the_schema_can_hold_a_photo():
    """No model or hook of the hub carries an image: ``RiderIdentity``, ``AccessEvent``,
    ``PushEvent`` and the rest hold text, numbers and times only, and no plugin returns a
    face-photo reference (none has a field for one). So the proof is the schema: no
    column is binary, so a face picture has nowhere to be stored."""
    binary = [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    ]

    assert binary == []


def test_a_face_terminals_pushed_picture_is_never_stored(deployment: Deployment, caplog):
    """A Hikvision face terminal posts each event with the face picture it took; the hub
    reads the event and drops the picture."""
    d = deployment
    now = d.runtime.clock.now().astimezone()
    event = {
        "dateTime": now.isoformat(timespec="seconds"),
        "eventType": "AccessControllerEvent",
        "AccessControllerEvent": {
            "majorEventType": 5,
            "subEventType": 1,
            "cardNo": "7128676793",
            "doorNo": 2,
            "serialNo": 991,
            "picturesNumber": 1,
        },
    }
    body = (
        b'--B\r\nContent-Disposition: form-data; name="event_log"\r\nContent-Type: application/json\r\n\r\n'
        + json.dumps(event).encode()
        + b'\r\n--B\r\nContent-Disposition: form-data; name="Picture"; filename="face.jpg"\r\n'
        + b"Content-Type: image/jpeg\r\n\r\n"
        + FACE
        + b"\r\n--B--\r\n"
    )

    reply = d.client().post(
        "/api/v1/push/hik?token=hik-privacy-token", data=body, content_type="multipart/form-data; boundary=B"
    )

    assert reply.status_code == 200, reply.get_data(as_text=True)
    marker = FACE.decode("latin-1")
    assert [
        f"{t}.{c}"
        for t, c, value in database_cells(d.db_url, d.connect_args)
        if "FACE-PHOTO" in value or marker in value
    ] == []
    assert [r.name for r in caplog.records if "FACE-PHOTO" in r.getMessage()] == []
    applied = d.store.list_audit(action_prefix="push.applied")
    assert [record.subject for record in applied] == ["hik"]  # the event itself was taken
