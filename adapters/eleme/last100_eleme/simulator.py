"""A simulated Ele.me Open Platform, for the demo, for tests and for trying the adapter.

It speaks the wire protocol of :mod:`last100_eleme.client`: it checks every envelope
(``nop``, ``app_key``, the timestamp within :data:`REQUEST_TOLERANCE_S`, the signature,
the access token) and answers with Ele.me's error codes, in that order. It serves the
public ``eleme.user.getUser`` and ``eleme.order.getOrder`` and the partner actions under
their default names (:mod:`last100_eleme.partner`), and sends signed push messages to
``push_url`` when an order or rider changes.

Simulator-only admin endpoints (never part of Ele.me):

- ``GET /_sim/state`` — riders, orders, published profiles, notices, pushes sent, delay.
- ``POST /_sim/orders/<order_id>/state`` with ``{"deliveryState": "completed"}`` and/or
  ``{"status": "settled"}`` — change an order and push the change.
- ``POST /_sim/riders/<rider_id>/suspension`` with ``{"suspended": true}`` — suspend or
  reinstate a rider and push the partner rider-status message.
- ``POST /_sim/delay`` with ``{"seconds": 2.5, "mode": "headers"}`` — answer API calls
  late (``headers``: nothing for that long; ``body``: headers at once, then the body
  trickled out over that long). ``{"seconds": 0}`` turns it off.

Run it alone with ``python -m last100_eleme.simulator --port 8201``.
"""

from __future__ import annotations

import argparse
import hmac
import itertools
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import requests
from flask import Flask, Response, abort, jsonify, request

from hub.demo import COMMUNITY_ID, DEMO_RIDERS, DemoRider, Simulator
from last100_eleme.client import NOP_VERSION
from last100_eleme.messages import sign_push
from last100_eleme.partner import DEFAULT_ACTIONS, DEFAULT_FIELDS, DEFAULT_RIDER_PUSH_TYPE
from last100_eleme.signing import canonical_json, request_signature

SIM_APP_KEY = "sim-app-key"
SIM_SECRET = "sim-secret"
SIM_TOKEN = "sim-access-token"
SIM_APP_ID = "62933118"
SIM_SHOP_ID = 968861
SIM_USER_ID = 62864532

#: How far a request's ``metas.timestamp`` may be from the simulator's clock. Ele.me does
#: not publish its tolerance; five minutes is what its SDKs' clock advice implies.
REQUEST_TOLERANCE_S = 300

#: Push types for delivery states. Public message examples show 51-56 (from
#: ``tobeAssignedMerchant`` to ``completed``), 60 (``exception``) and 71 (``selfDelivery``);
#: other states travel as 57 here. The adapter reads the ``state`` of any type 51-76.
DELIVERY_PUSH_TYPES: Mapping[str, int] = {
    "tobeAssignedMerchant": 51,
    "tobeAssignedCourier": 52,
    "tobeFetched": 53,
    "arrived": 54,
    "delivering": 55,
    "completed": 56,
    "exception": 60,
    "selfDelivery": 71,
}
OTHER_DELIVERY_PUSH_TYPE = 57

#: Push types for order statuses (accepted, cancelled, finished); others travel as 12.
ORDER_PUSH_TYPES: Mapping[str, int] = {"valid": 12, "invalid": 14, "settled": 18}

_F = DEFAULT_FIELDS
_FINAL_STATUSES = {"invalid", "settled"}
_FINAL_DELIVERY = {"completed", "cancelled", "noMoreDelivery", "reject"}


class _Refusal(Exception):
    """An Ele.me error answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class SimRider:
    rider_id: str
    token: str
    code: str  # what the rider types on the hub's rider page
    masked_name: str
    masked_phone: str
    suspended: bool = False


@dataclass
class SimOrder:
    order_id: str
    rider_id: str
    community_id: str
    status: str
    delivery_state: str
    building: str
    address: str
    eta_ms: int
    update_ms: int

    def to_wire(self) -> dict[str, Any]:
        """The order as ``eleme.order.getOrder`` and the partner orders action show it:
        public ``OOrder`` fields plus the partner extension."""
        return {
            "id": self.order_id,
            _F.order_id: self.order_id,
            _F.order_status: self.status,
            "shopId": SIM_SHOP_ID,
            _F.address: self.address,
            _F.delivery_state: self.delivery_state,
            _F.rider_id: self.rider_id,
            _F.community_id: self.community_id,
            _F.building: self.building,
            _F.eta: self.eta_ms,
            _F.updated_at: self.update_ms,
        }


@dataclass
class SimState:
    """Everything the simulator knows; guarded by ``lock``."""

    riders: dict[str, SimRider]
    orders: dict[str, SimOrder]
    profiles: dict[str, Any] = field(default_factory=dict)
    notices: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    delay_s: float = 0.0
    delay_mode: str = "headers"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def rider_by(self, params: Mapping[str, Any]) -> SimRider | None:
        """The rider a request names by id, token or typed code."""
        for key, attr in ((_F.rider_id, "rider_id"), (_F.token, "token"), (_F.typed_code, "code")):
            value = params.get(key)
            if isinstance(value, str):
                return next((r for r in self.riders.values() if getattr(r, attr) == value), None)
        raise _Refusal("VALIDATION_FAILED", f"one of {_F.rider_id}, {_F.token} or {_F.typed_code} is required")


def seed(riders: Iterable[DemoRider], community_id: str, now_ms: int) -> SimState:
    """The demo riders, each with its order (if it has one) being delivered to building 3
    of ``community_id``."""
    sim_riders = {
        r.platform_ref: SimRider(
            rider_id=r.platform_ref,
            token=r.token,
            code="EL" + "".join(c for c in r.platform_ref if c.isdigit()),
            masked_name=r.masked_name,
            masked_phone=r.masked_phone,
            suspended=r.suspended,
        )
        for r in riders
    }
    orders = {
        r.order_ref: SimOrder(
            order_id=r.order_ref,
            rider_id=r.platform_ref,
            community_id=community_id,
            status="valid",
            delivery_state="delivering",
            building="3",
            address="上海市徐汇区示例路 100 号 阳光花园 3 号楼",
            eta_ms=now_ms + 8 * 60 * 1000,
            update_ms=now_ms,
        )
        for r in riders
        if r.order_ref
    }
    return SimState(sim_riders, orders)


def _trickle(body: bytes, seconds: float) -> Iterator[bytes]:
    """``body`` in twenty pieces spread over ``seconds`` (a slow body: every gap is short,
    the whole is long)."""
    step = max(1, math.ceil(len(body) / 20))
    pieces = [body[i : i + step] for i in range(0, len(body), step)]
    for n, piece in enumerate(pieces):
        if n:
            time.sleep(seconds / len(pieces))
        yield piece


def create_app(
    *,
    app_key: str = SIM_APP_KEY,
    secret: str = SIM_SECRET,
    token: str = SIM_TOKEN,
    app_id: str = SIM_APP_ID,
    push_url: str | None = None,
    riders: Iterable[DemoRider] = DEMO_RIDERS,
    community_id: str = COMMUNITY_ID,
    tolerance_s: float = REQUEST_TOLERANCE_S,
    clock: Callable[[], float] = time.time,
) -> Flask:
    """A simulated Ele.me for one app.

    :param push_url: where to send push messages; ``None`` sends none.
    :param riders: the riders to seed, with their orders into ``community_id``.
    :param clock: wall-clock seconds; checks request timestamps and dates pushes.
    """
    app = Flask(__name__)
    state = seed(riders, community_id, int(clock() * 1000))
    app.extensions["eleme_simulator"] = state
    push_ids = itertools.count(int(clock() * 1000) * 1000)

    # -- the NOP endpoint ----------------------------------------------------------------

    def check(envelope: Any) -> tuple[str, dict[str, Any]]:
        """The action and params of a well-formed, authentic envelope, checked in the
        order the platform does: shape, app, time, signature, token."""
        if not isinstance(envelope, dict) or envelope.get("nop") != NOP_VERSION:
            raise _Refusal("ILLEGAL_REQUEST", f"not a NOP {NOP_VERSION} envelope")
        metas, params = envelope.get("metas"), envelope.get("params")
        action, given_token, signature = envelope.get("action"), envelope.get("token"), envelope.get("signature")
        if not isinstance(metas, dict) or not isinstance(params, dict):
            raise _Refusal("ILLEGAL_REQUEST", "metas and params must be objects")
        if not all(isinstance(v, str) for v in (envelope.get("id"), action, given_token, signature)):
            raise _Refusal("ILLEGAL_REQUEST", "id, action, token and signature must be strings")
        if metas.get("app_key") != app_key:
            raise _Refusal("ILLEGAL_REQUEST", "unknown app_key")
        timestamp = metas.get("timestamp")
        if not isinstance(timestamp, int) or isinstance(timestamp, bool) or abs(clock() - timestamp) > tolerance_s:
            raise _Refusal("INVALID_TIMESTAMP", "timestamp is missing or too far from the platform's clock")
        expected = request_signature(action, given_token, metas, params, secret)
        if not hmac.compare_digest(expected.encode(), signature.encode()):
            raise _Refusal("INVALID_SIGNATURE", "signature does not match")
        if not hmac.compare_digest(given_token.encode(), token.encode()):
            raise _Refusal("UNAUTHORIZED", "access token is invalid or expired")
        return action, params

    def answer(raw: bytes) -> dict[str, Any]:
        try:
            envelope = json.loads(raw)
        except ValueError:
            return {"id": None, "result": None, "error": {"code": "ILLEGAL_REQUEST", "message": "body is not JSON"}}
        request_id = envelope.get("id") if isinstance(envelope, dict) else None
        try:
            action, params = check(envelope)
            handler = actions.get(action)
            if handler is None:
                raise _Refusal("METHOD_NOT_ALLOWED", f"no such action: {action}")
            with state.lock:
                result = handler(params)
        except _Refusal as refusal:
            return {"id": request_id, "result": None, "error": {"code": refusal.code, "message": refusal.message}}
        return {"id": request_id, "result": result, "error": None}

    @app.post("/api/v1/")
    @app.post("/api/v1")
    def api() -> Response:
        with state.lock:
            delay_s, mode = state.delay_s, state.delay_mode
        if delay_s and mode == "headers":
            time.sleep(delay_s)
        body = canonical_json(answer(request.get_data())).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Content-Length": str(len(body))}
        if delay_s and mode == "body":
            return Response(_trickle(body, delay_s), headers=headers)
        return Response(body, headers=headers)

    # -- actions (called with state.lock held) -----------------------------------------------

    def text(params: Mapping[str, Any], key: str) -> str:
        value = params.get(key)
        if not isinstance(value, str) or not value:
            raise _Refusal("VALIDATION_FAILED", f"{key} is required")
        return value

    def get_user(params: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "userId": SIM_USER_ID,
            "userName": "last100-simulator",
            "authorizedShops": [{"id": SIM_SHOP_ID, "name": "模拟门店 Simulated shop"}],
        }

    def get_order(params: Mapping[str, Any]) -> dict[str, Any] | None:
        order = state.orders.get(text(params, "orderId"))
        return order.to_wire() if order else None

    def verify(params: Mapping[str, Any]) -> dict[str, Any]:
        rider = state.rider_by(params)
        if rider is None:
            return {_F.valid: False, _F.reason: "unknown or expired credential"}
        return {
            _F.valid: True,
            _F.rider_id: rider.rider_id,
            _F.masked_name: rider.masked_name,
            _F.masked_phone: rider.masked_phone,
            _F.suspended: rider.suspended,
        }

    def active_orders(params: Mapping[str, Any]) -> dict[str, Any]:
        community = text(params, _F.community_id)
        rider = state.rider_by(params)
        if rider is None:
            return {_F.rider_id: None, _F.orders: []}
        orders = [
            o.to_wire()
            for o in state.orders.values()
            if o.rider_id == rider.rider_id
            and o.community_id == community
            and o.status not in _FINAL_STATUSES
            and o.delivery_state not in _FINAL_DELIVERY
        ]
        return {_F.rider_id: rider.rider_id, _F.orders: orders}

    def publish_profile(params: Mapping[str, Any]) -> dict[str, Any]:
        community = text(params, _F.community_id)
        profile = params.get(_F.profile)
        if not isinstance(profile, dict) or not isinstance(profile.get("version"), int):
            raise _Refusal("VALIDATION_FAILED", f"{_F.profile} must be an object with a version")
        state.profiles[community] = profile
        return {_F.profile_ref: f"{community}-v{profile['version']}"}

    def send_notice(params: Mapping[str, Any]) -> dict[str, Any]:
        rider_id = text(params, _F.rider_id)
        if rider_id not in state.riders:
            raise _Refusal("VALIDATION_FAILED", f"unknown rider {rider_id}")
        notice = {
            "riderId": rider_id,
            "kind": text(params, _F.notice_kind),
            "textZh": text(params, _F.notice_zh),
            "textEn": text(params, _F.notice_en),
            "data": params.get(_F.notice_data) or {},
            "messageId": f"N{len(state.notices) + 1:06d}",
        }
        state.notices.append(notice)
        return {_F.message_id: notice["messageId"]}

    actions: dict[str, Callable[[Mapping[str, Any]], Any]] = {
        "eleme.user.getUser": get_user,
        "eleme.order.getOrder": get_order,
        DEFAULT_ACTIONS["verify_action"]: verify,
        DEFAULT_ACTIONS["orders_action"]: active_orders,
        DEFAULT_ACTIONS["profile_action"]: publish_profile,
        DEFAULT_ACTIONS["notice_action"]: send_notice,
    }

    # -- pushes ------------------------------------------------------------------------------

    def push(type_: int, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one signed push message to ``push_url`` and say how it was answered."""
        fields = {
            "requestId": str(next(push_ids)),
            "type": type_,
            "appId": int(app_id),
            "message": canonical_json(message),
            "shopId": SIM_SHOP_ID,
            "timestamp": int(clock() * 1000),
            "userId": SIM_USER_ID,
        }
        record: dict[str, Any] = {"type": type_, "requestId": fields["requestId"], "message": dict(message)}
        if push_url:
            try:
                reply = requests.post(
                    push_url,
                    data=canonical_json(sign_push(fields, secret)).encode("utf-8"),
                    headers={"Content-Type": "application/json; charset=utf-8"},
                    timeout=(2, 10),
                )
                record.update(status=reply.status_code, reply=reply.text[:500])
            except requests.RequestException as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
        with state.lock:
            state.pushes.append(record)
        return record

    def delivery_message(order: SimOrder) -> dict[str, Any]:
        rider = state.riders.get(order.rider_id)
        return {
            "orderId": order.order_id,
            "shopId": SIM_SHOP_ID,
            "state": order.delivery_state,
            "subState": "noSubstate",
            "name": rider.masked_name if rider else "",
            "phone": rider.masked_phone if rider else "",
            _F.updated_at: order.update_ms,
            _F.rider_id: order.rider_id,
            _F.community_id: order.community_id,
        }

    def status_message(order: SimOrder) -> dict[str, Any]:
        return {
            "orderId": order.order_id,
            "state": order.status,
            "shopId": SIM_SHOP_ID,
            "updateTime": order.update_ms // 1000,
            "role": 3,
            _F.rider_id: order.rider_id,
            _F.community_id: order.community_id,
        }

    # -- admin ---------------------------------------------------------------------------------

    @app.get("/_sim/state")
    def sim_state() -> Response:
        with state.lock:
            return jsonify(
                riders=[asdict(r) for r in state.riders.values()],
                orders=[o.to_wire() for o in state.orders.values()],
                profiles=state.profiles,
                notices=state.notices,
                pushes=state.pushes,
                delay={"seconds": state.delay_s, "mode": state.delay_mode},
            )

    @app.post("/_sim/orders/<order_id>/state")
    def change_order(order_id: str) -> Response:
        body = request.get_json(silent=True) or {}
        changes = {k: body[k] for k in ("status", "deliveryState") if isinstance(body.get(k), str) and body[k]}
        if not changes:
            abort(400, "give a status and/or a deliveryState")
        with state.lock:
            order = state.orders.get(order_id) or abort(404, f"no order {order_id}")
            order.status = changes.get("status", order.status)
            order.delivery_state = changes.get("deliveryState", order.delivery_state)
            order.update_ms = int(clock() * 1000)
            messages = []
            if "status" in changes:
                messages.append((ORDER_PUSH_TYPES.get(order.status, 12), status_message(order)))
            if "deliveryState" in changes:
                type_ = DELIVERY_PUSH_TYPES.get(order.delivery_state, OTHER_DELIVERY_PUSH_TYPE)
                messages.append((type_, delivery_message(order)))
            wire = order.to_wire()
        # Pushed outside the lock: the receiver may call back into the simulator.
        return jsonify(order=wire, pushes=[push(t, m) for t, m in messages])

    @app.post("/_sim/riders/<rider_id>/suspension")
    def change_rider(rider_id: str) -> Response:
        body = request.get_json(silent=True) or {}
        if not isinstance(body.get("suspended"), bool):
            abort(400, "give suspended: true or false")
        with state.lock:
            rider = state.riders.get(rider_id) or abort(404, f"no rider {rider_id}")
            rider.suspended = body["suspended"]
            message = {_F.rider_id: rider.rider_id, _F.suspended: rider.suspended, _F.updated_at: int(clock() * 1000)}
            wire = asdict(rider)
        return jsonify(rider=wire, pushes=[push(DEFAULT_RIDER_PUSH_TYPE, message)])

    @app.post("/_sim/delay")
    def change_delay() -> Response:
        body = request.get_json(silent=True) or {}
        seconds, mode = body.get("seconds"), body.get("mode", "headers")
        if not isinstance(seconds, int | float) or seconds < 0 or mode not in ("headers", "body"):
            abort(400, 'give seconds >= 0 and mode "headers" or "body"')
        with state.lock:
            state.delay_s, state.delay_mode = float(seconds), mode
        return jsonify(delay={"seconds": float(seconds), "mode": mode})

    return app


def demo_settings(base_url: str) -> dict[str, Any]:
    """Connection settings for a simulator created with the default credentials."""
    return {
        "base_url": base_url,
        "app_key": SIM_APP_KEY,
        "secret": SIM_SECRET,
        "token": SIM_TOKEN,
        "app_id": SIM_APP_ID,
    }


def demo_simulator() -> Simulator:
    """The simulator the demo serves (entry point ``eleme`` in ``last100.simulators``)."""
    return Simulator(
        plugin="eleme",
        name="Ele.me (simulated)",
        app=lambda push_url: create_app(push_url=push_url or None),
        settings=demo_settings,
    )


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator until interrupted."""
    from werkzeug.serving import make_server

    parser = argparse.ArgumentParser(prog="python -m last100_eleme.simulator", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8201, help="0 picks a free port")
    parser.add_argument("--push-url", help="where to send push messages (the hub's push URL for the connection)")
    args = parser.parse_args(argv)
    server = make_server(args.host, args.port, create_app(push_url=args.push_url), threaded=True)
    base_url = f"http://{args.host}:{server.server_port}"
    print(f"Simulated Ele.me on {base_url}; connection settings:")
    print(json.dumps(demo_settings(base_url), indent=2))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
