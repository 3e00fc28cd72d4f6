"""A Meituan simulator: a Flask app speaking the wire protocol the adapter speaks.

It checks ``app_id``, the ``timestamp`` tolerance and ``sig`` on every API request the
way the platform does, answers in Meituan's envelope with Meituan's error codes, serves
the public endpoints the adapter uses and the partner endpoints at their default paths,
and sends signed, form-encoded callbacks to ``push_url`` when an order or a rider
changes.

Admin endpoints for the demo and the tests live under ``/_sim/`` (no signature):

- ``GET  /_sim/state`` — riders, orders, published profiles, notices, delay.
- ``POST /_sim/orders/<order_id>`` ``{"status": 8, "logistics_status": 40}`` — change an
  order and send its callback.
- ``POST /_sim/riders/<rider_id>`` ``{"suspended": true}`` — suspend or reinstate a
  rider and send a rider-status callback.
- ``POST /_sim/delay`` ``{"seconds": 2.0, "slow_body": false}`` — answer API requests
  that much later; with ``slow_body`` send the headers at once and trickle the body over
  that many seconds. ``{"seconds": 0}`` turns it off.

Run it alone with ``python -m last100_meituan.simulator --port 8090``.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from flask import Flask, Response, g, jsonify, request
from werkzeug.serving import run_simple

from hub.demo import COMMUNITY_ID, DEMO_RIDERS, Simulator
from last100_meituan.client import RIDER_ACTIVE, RIDER_SUSPENDED, Endpoints, FieldNames
from last100_meituan.signing import query_params, sign, signature_matches, url_without_query

DEMO_APP_ID = "demo-meituan-app"
DEMO_APP_SECRET = "demo-meituan-secret"
#: The store ids ``poi/getids`` lists (the adapter only uses it as a signed ping).
DEMO_POI_IDS = ("demo-poi-1",)

#: How far a request's timestamp may be from the simulator's clock. Public material on
#: the food-delivery API does not state its limit; Meituan's delivery open platform
#: documents ten minutes, so the simulator uses that.
REQUEST_TOLERANCE_S = 600

# Meituan's error codes (public) and the partner codes this simulator uses (the
# adapter's defaults for codes_credential_rejected and codes_order_not_found).
MISSING_PARAMETER = 701  # 缺少参数，数据不完整
UNKNOWN_APP_ID = 702  # app_id不存在
BAD_SIGNATURE = 703  # 签名验证错误
CREDENTIAL_REJECTED = 4001
UNKNOWN_RIDER = 4003
UNKNOWN_ORDER = 4004

_SYSTEM_PARAMS = ("app_id", "timestamp", "sig")


@dataclass
class SimRider:
    """A rider the simulator knows. ``phone`` is what the platform sends (a privacy
    number, not masked); the adapter masks it."""

    ref: str
    token: str
    code: str  # what a rider types on the hub's rider page
    name: str
    phone: str
    suspended: bool = False


@dataclass
class SimOrder:
    """An order being delivered; ``community_ref`` is the community's id at Meituan."""

    order_id: str
    rider_ref: str
    community_ref: str
    building: str
    status: int = 4  # merchant confirmed
    logistics_status: int = 20  # rider picked the food up
    delivery_time: int = 0
    utime: int = 0
    recipient_address: str = "上海市徐汇区示例路 100 号 3 号楼 502"
    recipient_phone: str = "13900001111_5678"


@dataclass
class SimState:
    """Everything the simulator holds, behind one lock (the server is threaded)."""

    riders: list[SimRider]
    orders: dict[str, SimOrder]
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    delay_s: float = 0.0
    slow_body: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def rider_by(self, attribute: str, value: str) -> SimRider | None:
        return next((r for r in self.riders if value and getattr(r, attribute) == value), None)

    def snapshot(self) -> dict[str, Any]:
        return {
            "riders": [asdict(r) for r in self.riders],
            "orders": [asdict(o) for o in self.orders.values()],
            "profiles": self.profiles,
            "notices": self.notices,
            "delay": {"seconds": self.delay_s, "slow_body": self.slow_body},
        }


def demo_state(clock: Callable[[], float] = time.time) -> SimState:
    """The demo's riders (:data:`hub.demo.DEMO_RIDERS`), each rider's order delivered into
    :data:`hub.demo.COMMUNITY_ID`. The first rider has a privacy number with an extension,
    so the masking shows in the demo."""
    now = int(clock())
    riders = []
    orders = {}
    for index, demo in enumerate(DEMO_RIDERS):
        # Platforms send real (or privacy) numbers; rebuild one that masks like the demo's.
        phone = "13812345678_1234" if index == 0 else demo.masked_phone.replace("*", "0")
        riders.append(
            SimRider(
                ref=demo.platform_ref,
                token=demo.token,
                code=f"{index + 1:06d}",
                name=demo.masked_name,
                phone=phone,
                suspended=demo.suspended,
            )
        )
        if demo.order_ref:
            orders[demo.order_ref] = SimOrder(
                order_id=demo.order_ref,
                rider_ref=demo.platform_ref,
                community_ref=COMMUNITY_ID,
                building="3",
                delivery_time=now + 8 * 60,
                utime=now,
            )
    return SimState(riders=riders, orders=orders)


def _ok(data: Any) -> Response:
    return jsonify({"data": data})


def _ng(code: int, msg: str) -> Response:
    return jsonify({"data": "ng", "error": {"code": code, "msg": msg}})


def _partner_order(order: SimOrder, names: FieldNames) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "status": order.status,
        "logistics_status": order.logistics_status,
        "utime": order.utime,
        "delivery_time": order.delivery_time,
        names.rider_ref: order.rider_ref,
        names.community_ref: order.community_ref,
        names.building: order.building,
    }


def create_app(
    *,
    app_id: str = DEMO_APP_ID,
    app_secret: str = DEMO_APP_SECRET,
    push_url: str | None = None,
    state: SimState | None = None,
    clock: Callable[[], float] = time.time,
    tolerance_s: float = REQUEST_TOLERANCE_S,
) -> Flask:
    """The simulator app.

    :param push_url: where callbacks go (the hub's push endpoint for the connection);
        ``None`` sends none.
    :param state: what the simulator holds; by default :func:`demo_state`.
    :param clock: Unix time in seconds, for timestamps checked and sent.
    """
    state = state if state is not None else demo_state(clock)
    paths, names = Endpoints(), FieldNames()
    app = Flask(__name__)
    app.json.ensure_ascii = False  # Meituan's messages are Chinese, sent as such
    app.extensions["meituan_simulator"] = state

    def params() -> dict[str, str] | None:
        """Query and form parameters together; ``None`` when one name is in both."""
        query, form = request.args.to_dict(), request.form.to_dict()
        if query.keys() & form.keys():
            return None
        return {**query, **form}

    @app.before_request
    def authenticate() -> Response | None:
        if request.path.startswith("/_sim/"):
            return None
        with state.lock:
            delay_s, slow_body = state.delay_s, state.slow_body
        if delay_s and not slow_body:
            time.sleep(delay_s)
        given = params()
        if given is None:
            return _ng(MISSING_PARAMETER, "参数重复：同一参数同时出现在URL和表单中")
        missing = [name for name in _SYSTEM_PARAMS if not given.get(name)]
        if missing:
            return _ng(MISSING_PARAMETER, f"缺少参数，数据不完整: {','.join(missing)}")
        if given["app_id"] != app_id:
            return _ng(UNKNOWN_APP_ID, "app_id不存在")
        try:
            skew = abs(clock() - int(given["timestamp"]))
        except ValueError:
            return _ng(MISSING_PARAMETER, "timestamp 不是合法的时间戳")
        if skew > tolerance_s:
            return _ng(BAD_SIGNATURE, "签名验证错误：timestamp 超出允许的时间误差")
        if not signature_matches(request.base_url, given, app_secret):
            return _ng(BAD_SIGNATURE, "签名验证错误")
        g.params = given  # what the endpoints read: checked, and query and form in one
        return None

    @app.after_request
    def trickle(response: Response) -> Response:
        with state.lock:
            delay_s, slow_body = state.delay_s, state.slow_body
        if request.path.startswith("/_sim/") or not (delay_s and slow_body):
            return response
        body = response.get_data()
        pieces = max(1, min(10, len(body)))
        step = -(-len(body) // pieces)

        def dribble() -> Iterator[bytes]:
            for start in range(0, len(body), step):
                yield body[start : start + step]
                time.sleep(delay_s / pieces)

        slow = Response(dribble(), status=response.status_code, content_type=response.content_type)
        slow.headers["Content-Length"] = str(len(body))
        return slow

    # -- public endpoints ------------------------------------------------------------

    @app.get(paths.ping)
    def poi_ids() -> Response:
        return _ok(list(DEMO_POI_IDS))

    @app.get(paths.order_detail)
    def order_detail() -> Response:
        with state.lock:
            order = state.orders.get(g.params.get("order_id", ""))
            if order is None:
                return _ng(UNKNOWN_ORDER, "订单不存在")
            return _ok(
                {
                    "order_id": order.order_id,
                    "wm_order_id_view": order.order_id,
                    "app_poi_code": DEMO_POI_IDS[0],
                    "status": order.status,
                    "ctime": order.utime,
                    "utime": order.utime,
                    "delivery_time": order.delivery_time,
                    "recipient_address": order.recipient_address,
                    "recipient_phone": order.recipient_phone,
                }
            )

    @app.get(paths.logistics_status)
    def logistics_status() -> Response:
        with state.lock:
            order = state.orders.get(g.params.get("order_id", ""))
            if order is None:
                return _ng(UNKNOWN_ORDER, "订单不存在")
            return _ok({"status": order.logistics_status, "time": order.utime})

    # -- partner endpoints -----------------------------------------------------------

    def rider_from_credential(given: dict[str, str]) -> SimRider | Response:
        kind = given.get(names.credential_type)
        if kind not in ("token", "code"):
            return _ng(MISSING_PARAMETER, f"{names.credential_type} 只能是 token 或 code")
        rider = state.rider_by(kind, given.get(names.credential, ""))
        return rider if rider is not None else _ng(CREDENTIAL_REJECTED, "骑手凭证无效或已过期")

    @app.post(paths.rider_verify)
    def rider_verify() -> Response:
        with state.lock:
            rider = rider_from_credential(g.params)
            if isinstance(rider, Response):
                return rider
            return _ok(
                {
                    names.rider_ref: rider.ref,
                    names.rider_name: rider.name,
                    names.rider_phone: rider.phone,
                    names.rider_status: RIDER_SUSPENDED if rider.suspended else RIDER_ACTIVE,
                }
            )

    @app.post(paths.rider_orders)
    def rider_orders() -> Response:
        given = g.params
        community_ref = given.get(names.community_ref)
        if not community_ref:
            return _ng(MISSING_PARAMETER, f"缺少参数，数据不完整: {names.community_ref}")
        with state.lock:
            if given.get(names.rider_ref):
                rider_ref = given[names.rider_ref]
            else:
                rider = rider_from_credential(given)
                if isinstance(rider, Response):
                    return rider
                rider_ref = rider.ref
            return _ok(
                [
                    _partner_order(o, names)
                    for o in state.orders.values()
                    if o.rider_ref == rider_ref and o.community_ref == community_ref
                ]
            )

    @app.post(paths.community_profile)
    def community_profile() -> Response:
        given = g.params
        community_ref = given.get(names.community_ref)
        try:
            profile = json.loads(given.get("profile", ""))
        except ValueError:
            profile = None
        if not community_ref or not isinstance(profile, dict):
            return _ng(MISSING_PARAMETER, f"缺少参数，数据不完整: {names.community_ref}, profile")
        version = given.get("version", "")
        with state.lock:
            state.profiles[community_ref] = {"version": version, "profile": profile}
        return _ok({"profile_id": f"MTP-{community_ref}-{version}"})

    @app.post(paths.rider_notice)
    def rider_notice() -> Response:
        given = g.params
        with state.lock:
            if state.rider_by("ref", given.get(names.rider_ref, "")) is None:
                return _ng(UNKNOWN_RIDER, "骑手不存在")
            notice_id = f"MTN-{len(state.notices) + 1}"
            state.notices.append(
                {"notice_id": notice_id, **{k: v for k, v in given.items() if k not in _SYSTEM_PARAMS}}
            )
        return _ok({"notice_id": notice_id})

    # -- admin -----------------------------------------------------------------------

    def send_callback(fields: dict[str, Any]) -> dict[str, Any]:
        """Send a signed, form-encoded callback to ``push_url``; report what came back."""
        if not push_url:
            return {"sent": False}
        form = {k: str(v) for k, v in fields.items() if v is not None and str(v) != ""}
        form.update(app_id=app_id, timestamp=str(int(clock())))
        form["sig"] = sign(url_without_query(push_url), {**query_params(push_url), **form}, app_secret)
        try:
            answer = requests.post(push_url, data=form, timeout=(2, 5))
        except requests.exceptions.RequestException as exc:
            return {"sent": False, "error": type(exc).__name__}
        return {"sent": True, "status": answer.status_code, "body": answer.text[:500]}

    @app.get("/_sim/state")
    def sim_state() -> Response:
        with state.lock:
            return jsonify(state.snapshot())

    @app.post("/_sim/orders/<order_id>")
    def sim_order(order_id: str) -> tuple[Response, int] | Response:
        change = request.get_json(silent=True) or {}
        with state.lock:
            order = state.orders.get(order_id)
            if order is None:
                return jsonify({"error": f"no order {order_id}"}), 404
            if "status" in change:
                order.status = int(change["status"])
            if "logistics_status" in change:
                order.logistics_status = int(change["logistics_status"])
            order.utime = int(clock())
            callback = _partner_order(order, names) | {"time": order.utime}
            current = asdict(order)
        # Outside the lock: the hub may call back into the simulator while handling it.
        return jsonify({"order": current, "callback": send_callback(callback)})

    @app.post("/_sim/riders/<rider_ref>")
    def sim_rider(rider_ref: str) -> tuple[Response, int] | Response:
        change = request.get_json(silent=True) or {}
        with state.lock:
            rider = state.rider_by("ref", rider_ref)
            if rider is None:
                return jsonify({"error": f"no rider {rider_ref}"}), 404
            rider.suspended = bool(change.get("suspended", rider.suspended))
            suspended = rider.suspended
            callback = {
                names.rider_ref: rider.ref,
                names.rider_status: RIDER_SUSPENDED if suspended else RIDER_ACTIVE,
                "time": int(clock()),
            }
        return jsonify({"rider": rider_ref, "suspended": suspended, "callback": send_callback(callback)})

    @app.post("/_sim/delay")
    def sim_delay() -> Response:
        change = request.get_json(silent=True) or {}
        with state.lock:
            state.delay_s = max(0.0, float(change.get("seconds", 0)))
            state.slow_body = bool(change.get("slow_body", False))
            return jsonify({"seconds": state.delay_s, "slow_body": state.slow_body})

    return app


def demo_simulator() -> Simulator:
    """The simulator the demo serves (entry point ``last100.simulators: meituan``)."""
    return Simulator(
        plugin="meituan",
        name="Meituan (simulated)",
        app=lambda push_url: create_app(push_url=push_url or None),
        settings=lambda base_url: {"app_id": DEMO_APP_ID, "app_secret": DEMO_APP_SECRET, "base_url": base_url},
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m last100_meituan.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--push-url", default=None, help="where to send callbacks (the hub's push endpoint)")
    args = parser.parse_args(argv)
    base_url = f"http://{args.host}:{args.port}"
    settings = demo_simulator().settings(base_url)
    print("Meituan simulator; connection settings for the hub:")
    print(json.dumps(settings, ensure_ascii=False, indent=2))
    run_simple(args.host, args.port, create_app(push_url=args.push_url), threaded=True)


if __name__ == "__main__":
    main()
