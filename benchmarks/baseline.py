"""The naive baseline: a hand-written point-to-point integration, as a property vendor
would write it without the hub (issue 9).

One Flask endpoint, ``POST /entries`` ``{"token": "..."}``, served by gunicorn (gthread):
it calls the platform's identity and orders endpoints (RiderPass, signed) concurrently
through a thread pool with ``requests``, then writes the pass to the gate controller
(Hikvision ISAPI, two writes with digest auth), then inserts a row into SQLite. No policy,
audit, idempotency or pass lifecycle. ``python -m benchmarks.entry`` runs it beside the
hub against the same simulators; it is configured by ``BASELINE_*`` variables::

    BASELINE_RIDERPASS='{"base_url": ..., "key_id": ..., "signing_secret": ...}' \\
    BASELINE_HIKVISION='{"base_url": ..., "username": ..., "password": ...}' \\
    BASELINE_DB=/tmp/baseline.sqlite gunicorn -k gthread --threads 8 benchmarks.baseline:app
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import requests
from flask import Flask, jsonify, request
from requests.auth import HTTPDigestAuth

from last100_riderpass.signing import KEY_ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign_request

RIDERPASS = json.loads(os.environ.get("BASELINE_RIDERPASS", "{}"))
HIKVISION = json.loads(os.environ.get("BASELINE_HIKVISION", "{}"))
DB = os.environ.get("BASELINE_DB", "baseline.sqlite")
COMMUNITY = os.environ.get("BASELINE_COMMUNITY", "bench")

app = Flask(__name__)
pool = ThreadPoolExecutor(32)
_local = threading.local()


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
        _local.isapi = requests.Session()
        _local.isapi.auth = HTTPDigestAuth(HIKVISION.get("username", ""), HIKVISION.get("password", ""))
    return _local.session


def platform_call(path: str, body: dict) -> dict:
    data = json.dumps(body).encode()
    full = RIDERPASS["base_url"].rstrip("/") + "/v1" + path
    target = "/riderpass/v1" + path
    now = int(time.time())
    secret = base64.b64decode(RIDERPASS["signing_secret"])
    headers = {
        KEY_ID_HEADER: RIDERPASS["key_id"],
        TIMESTAMP_HEADER: str(now),
        SIGNATURE_HEADER: sign_request(secret, now, "POST", target, data),
        "Content-Type": "application/json",
    }
    reply = _session().post(full, data=data, headers=headers, timeout=5)
    reply.raise_for_status()
    return reply.json()


def isapi_write(path: str, body: dict) -> None:
    _session()
    reply = _local.isapi.post(HIKVISION["base_url"].rstrip("/") + path, json=body, timeout=5)
    reply.raise_for_status()


def grant(employee: str) -> str:
    now = datetime.now()
    card = str(secrets.randbelow(10**10)).zfill(10)
    window = {"enable": True, "beginTime": f"{now:%Y-%m-%dT%H:%M:%S}", "timeType": "local"}
    window["endTime"] = f"{now + timedelta(minutes=30):%Y-%m-%dT%H:%M:%S}"
    user = {"employeeNo": employee, "name": "rider", "userType": "visitor", "Valid": window, "doorRight": "1"}
    user["RightPlan"] = [{"doorNo": 1, "planTemplateNo": "1"}]
    isapi_write("/ISAPI/AccessControl/UserInfo/Record?format=json", {"UserInfo": user})
    card_info = {"employeeNo": employee, "cardNo": card, "cardType": "normalCard"}
    isapi_write("/ISAPI/AccessControl/CardInfo/Record?format=json", {"CardInfo": card_info})
    return card


def _db() -> sqlite3.Connection:
    db = sqlite3.connect(DB, timeout=30)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE IF NOT EXISTS entries (id TEXT, token TEXT, decision TEXT, card TEXT, at TEXT)")
    return db


@app.post("/entries")
def entries():
    token = request.get_json()["token"]
    credential = {"kind": "token", "value": token}
    who = pool.submit(platform_call, "/riders/verify", {"credential": credential})
    orders = pool.submit(
        platform_call, "/orders/active", {"community_id": COMMUNITY, "rider": {"credential": credential}}
    )
    card, decision = None, "manual_check"
    try:
        rider = who.result()["rider"]
        if rider["status"] == "active" and orders.result()["orders"]:
            card = grant(secrets.token_hex(8))
            decision = "granted"
    except (requests.RequestException, KeyError, ValueError):
        decision = "manual_check"
    entry_id = secrets.token_hex(8)
    db = _db()
    with db:
        db.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?)", (entry_id, token, decision, card, time.time()))
    db.close()
    return jsonify({"id": entry_id, "decision": decision, "card": card}), 201
