"""The entry engine: a rider at a gate, decided in about the time of one upstream call.

1. Resolve the gate, its community and the platform connection.
2. Verify the rider and fetch active orders *concurrently*, each bounded by the
   connection's timeout. Orders the platform pushed within the connection's freshness
   window are used without a call; a signed entry code is verified locally and names its
   orders; the built-in cache reuses a verified identity for its lifetime.
3. Policy plugins vote (``hub_evaluate_entry``): deny beats manual beats allow.
4. Granted: the gate's access connection issues a pass valid until the order's expected
   delivery plus the exit grace, capped by the community's maximum.
5. Entry, pass, hook timings, audit records and outbox items are committed in one
   transaction; ``hub_entry_decided`` runs after the commit.

A platform or device that errors, times out or has an open circuit gives a manual check
with a reason, never an unchecked grant; without a verified rider there is no grant,
whatever the votes say. So does a single-use code (a signed entry code, a gate screen's
presence code) when the shared state that records used codes cannot be asked: the code
cannot be known unused (see :mod:`hub.core.shared`).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextvars
import dataclasses
import functools
import hashlib
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from hub.core.clock import Clock
from hub.core.errors import (
    CircuitOpen,
    Conflict,
    CredentialRejected,
    UpstreamError,
    UpstreamTimeout,
)
from hub.core.model import (
    AccessGrant,
    Community,
    Connection,
    Credential,
    CredentialKind,
    Decision,
    Entry,
    EntryContext,
    Gate,
    GrantRequest,
    HookCall,
    LockerAllocation,
    LockerBank,
    Notice,
    Order,
    PassKind,
    PluginKind,
    Problem,
    Reason,
    RiderClaim,
    RiderIdentity,
    Verdict,
    Visit,
)
from hub.core.outbox import OutboxItem
from hub.core.plugins import Hub
from hub.core.revocation import revoke_pass
from hub.core.shared import RedisSharedState, SharedState, SharedStateUnavailable
from hub.core.store import Store
from hub.core.tokens import PRESENCE_STEP_S, PresenceCodes
from hub.core.trace import current_trace, tracing

log = logging.getLogger(__name__)

T = TypeVar("T")

_NO_POLICY = Reason("no_policy", "无可用的通行规则，请门岗人工核验", "No entry rule applies; a guard will check you")
_NOT_VERIFIED = Reason(
    "rider_not_verified",
    "骑手身份尚未验证，请门岗人工核验",
    "Your identity could not be verified; a guard will check you",
)
_USED_CODE = Reason(
    "rider_not_verified",
    "此通行码已使用过，请在骑手App中重新生成",
    "This entry code was already used; show a new one from the rider app",
)
_NO_LOCKER = Reason(
    "locker_unavailable",
    "智能取餐柜暂无可用格口，请门岗协助",
    "No food locker is free right now; a guard will help you",
)
_DEVICE_DOWN = Reason(
    "gate_device_unavailable",
    "门禁设备暂时无法发放通行码，请门岗放行",
    "The gate device could not issue a pass; a guard will let you in",
)


@dataclass(frozen=True)
class EntryRequest:
    """A rider asking to enter at a gate."""

    gate_code: str
    connection_id: str
    credential: Credential
    order_ref: str | None = None
    #: The rotating code of the gate's screen, proving the rider is at the gate now.
    presence_code: str | None = None
    location: tuple[float, float] | None = None
    idempotency_key: str | None = None
    actor: str = "api"

    def fingerprint(self) -> str:
        """A digest of what was asked, to tell a retry from a different request that
        reuses an idempotency key. The credential enters only as a hash."""
        body = {
            "gate": self.gate_code,
            "connection": self.connection_id,
            "credential": [self.credential.kind.value, _digest(self.credential.value)],
            "order": self.order_ref,
            "presence": self.presence_code,
            "location": self.location,
        }
        return _digest(json.dumps(body, sort_keys=True))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Fetched:
    rider: RiderIdentity | None = None
    orders: tuple[Order, ...] = ()
    problems: list[Problem] = field(default_factory=list)


class UpstreamBusy(UpstreamError):
    """A connection already has as many calls under way as it may: the call was not made."""

    code = "upstream_busy"


class Bulkheads:
    """How many upstream calls each connection has under way, up to ``limit`` each.

    The entry path's thread pool is shared by every connection; when one upstream turns
    slow its calls would hold every thread, and the healthy connections' riders would
    wait behind them. With a bulkhead a connection never holds more than ``limit``
    threads; beyond that its calls fail at once and the entries become manual checks.
    """

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a bulkhead needs a limit of 1 or more, not {limit}")
        self.limit = limit
        self._lock = threading.Lock()
        self._busy: dict[str, int] = {}

    def enter(self, connection: Connection) -> Callable[[], None] | None:
        """Take a place for a call; returns the function that gives it back (call it
        once, when the call is over), or ``None`` when the connection has no place."""
        with self._lock:
            busy = self._busy.get(connection.id, 0)
            if busy >= self.limit:
                return None
            self._busy[connection.id] = busy + 1
        return functools.partial(self._leave, connection.id)

    def busy(self, connection_id: str) -> int:
        with self._lock:
            return self._busy.get(connection_id, 0)

    def _leave(self, connection_id: str) -> None:
        with self._lock:
            left = self._busy[connection_id] - 1
            if left:
                self._busy[connection_id] = left
            else:
                del self._busy[connection_id]


class EntryEngine:
    """Decides entries. Thread-safe; one instance serves the whole process."""

    def __init__(
        self,
        hub: Hub,
        store: Store,
        clock: Clock | None = None,
        *,
        presence: PresenceCodes | None = None,
        max_workers: int = 32,
        max_per_connection: int | None = None,
        shared: SharedState | None = None,
    ) -> None:
        self.hub = hub
        self.store = store
        self.clock = clock or Clock()
        self.presence = presence
        #: Where used single-use codes are recorded: Redis when configured, else the database.
        self.shared = shared or SharedState()
        self._pool = cf.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="last100-upstream")
        self._bulkheads = Bulkheads(max_per_connection or max(1, max_workers // 2))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the flow ----------------------------------------------------------------

    def decide(self, request: EntryRequest) -> Entry:
        """Decide one entry; the same idempotency key and request give the same entry.

        :raises NotFound: unknown gate code or connection.
        :raises Conflict: the idempotency key was used for a different request.
        """
        return self.submit(request)[0]

    def submit(self, request: EntryRequest) -> tuple[Entry, bool]:
        """Like :meth:`decide`, and say whether the entry was decided now (``True``) or
        is the replay of an earlier request with the same idempotency key (``False``)."""
        started = self.clock.monotonic()
        fingerprint = request.fingerprint()
        if request.idempotency_key:
            replay = self._replay(request.idempotency_key, fingerprint)
            if replay is not None:
                return replay, False

        gate = self.store.gate_by_code(request.gate_code)
        community = self.store.get_community(gate.community_id)
        platform = self.store.get_connection(request.connection_id)
        now = self.clock.now()

        with tracing() as trace:
            fetched = self._fetch(platform, request, gate, community, now)
            present = self._present(request, gate, platform, fetched, now)
            context = EntryContext(
                community=community,
                gate=gate,
                connection=platform,
                credential_kind=request.credential.kind,
                now=now,
                rider=fetched.rider,
                orders=fetched.orders,
                order_ref=request.order_ref,
                presence_verified=present,
                entries_last_hour=self._entries_last_hour(platform, fetched.rider, now),
                problems=tuple(fetched.problems),
            )
            decision, reasons = combine(self.hub.evaluate_entry(context), fetched.rider)
            entry_id = str(uuid.uuid4())
            access_pass = None
            locker = None
            if decision is Decision.GRANTED and community.policy.lockers_only:
                # Riders do not go in here: they leave the food in a locker by the gate.
                locker = self._allocate_locker(community, fetched, request.order_ref)
                if locker is None:
                    decision, reasons = Decision.MANUAL_CHECK, (_NO_LOCKER,)
            elif decision is Decision.GRANTED:
                access_pass = self._issue_pass(entry_id, gate, community, fetched, now)
                if access_pass is None:
                    decision, reasons = Decision.MANUAL_CHECK, (_DEVICE_DOWN,)

        entry = Entry(
            id=entry_id,
            community_id=community.id,
            gate_id=gate.id,
            connection_id=platform.id,
            decision=decision,
            reasons=reasons,
            created_at=now,
            decision_ms=round((self.clock.monotonic() - started) * 1000, 2),
            rider_ref=fetched.rider.platform_ref if fetched.rider else "",
            order_refs=tuple(o.ref for o in fetched.orders),
            access_pass=access_pass,
            locker=locker,
            hook_calls=trace.calls,
        )
        try:
            self.store.save_entry(
                entry,
                rider=fetched.rider,
                orders=fetched.orders,
                idempotency_key=request.idempotency_key,
                fingerprint=fingerprint,
                actions=trace.actions,
                outbox=self._side_effects(entry, fetched.rider, platform, community, gate),
                actor=request.actor,
            )
        except Conflict:
            # A concurrent twin of this request committed first: give back its entry and
            # take back the pass this one issued, so only one credential stays valid.
            self._withdraw(gate, access_pass)
            if request.idempotency_key:
                replay = self._replay(request.idempotency_key, fingerprint)
                if replay is not None:
                    return replay, False
            raise
        self.hub.entry_decided(entry)
        return entry, True

    # -- the rider leaves ----------------------------------------------------------

    def exit(self, entry_id: str, actor: str = "api") -> Entry:
        """Record that the rider of an entry left and take the pass back.

        The exit time is kept from the first call; the pass ends now in the hub's eyes
        whatever the device says. The gate's device is asked to revoke the pass (bounded
        by its connection's timeout); only its confirmation marks the pass revoked, and
        a failure is audited, counted on the pass and left to the expiry job (see
        :mod:`hub.core.revocation`). A call after a failed revocation tries the device
        again. A guard's pass (no device) is revoked at once.

        :raises NotFound: no entry has this id.
        """
        entry, _first = self.store.record_exit(entry_id, actor)
        grant = entry.access_pass
        if grant is None or entry.pass_revoked_at is not None:
            return entry
        gate = self.store.get_gate(entry.gate_id)
        device = self.store.get_connection(gate.access_connection_id) if gate.access_connection_id else None
        revoke_pass(
            self.hub,
            self.store,
            entry_id=entry.id,
            grant=grant,
            gate=gate,
            device=device,
            actor=actor,
            run=self._bounded,
        )
        return self.store.get_entry(entry.id)

    def _replay(self, key: str, fingerprint: str) -> Entry | None:
        found = self.store.find_idempotent(key)
        if found is None:
            return None
        entry, stored = found
        if stored != fingerprint:
            raise Conflict("this Idempotency-Key was already used for a different request")
        return entry

    # -- identity and orders -----------------------------------------------------

    def _fetch(
        self, platform: Connection, request: EntryRequest, gate: Gate, community: Community, now: datetime
    ) -> _Fetched:
        """The rider and their orders into this community. Whatever the source (the
        platform, pushes, a signed code), an order only counts when it is this rider's
        and goes to this community."""
        result = self._gather(platform, request, gate, community, now)
        if result.rider is not None and result.rider.single_use_id:
            try:
                if not self._claim(platform, result.rider, now):
                    result.rider = None
                    problem = Problem("hub_verify_rider", platform.id, "rejected", "code used before", _USED_CODE)
                    result.problems.append(problem)
            except SharedStateUnavailable as exc:
                _unclaimed(result, platform, exc)
        result.orders = _matching(result.orders, result.rider, community.platform_ref(platform))
        return result

    def _present(
        self, request: EntryRequest, gate: Gate, platform: Connection, fetched: _Fetched, now: datetime
    ) -> bool:
        """Whether the rider proved presence with the gate screen's current code; each
        code is accepted once per rider. When the code cannot be claimed (the shared
        state is down) the rider is not taken as verified: a guard checks them."""
        rider = fetched.rider
        if not request.presence_code or self.presence is None or rider is None:
            return False
        step = self.presence.step(gate.id, request.presence_code, now)
        if step is None:
            return False
        code_id = f"presence:{gate.id}:{step}:{rider.platform_ref}"
        until = now + timedelta(seconds=3 * PRESENCE_STEP_S)
        try:
            return self._claim_code(platform.id, code_id, until, now)
        except SharedStateUnavailable as exc:
            _unclaimed(fetched, platform, exc)
            return False

    def _claim(self, platform: Connection, rider: RiderIdentity, now: datetime) -> bool:
        """Accept a single-use credential once, across every process of the deployment."""
        until = rider.single_use_until or now + timedelta(days=1)
        return self._claim_code(platform.id, rider.single_use_id, until, now)

    def _claim_code(self, connection_id: str, code_id: str, until: datetime, now: datetime) -> bool:
        """Record a code as used until ``until``; ``False`` when it was used before. In
        Redis when the deployment shares its state there, else in the database.

        :raises SharedStateUnavailable: Redis did not answer (never taken as unused).
        """
        if isinstance(self.shared, RedisSharedState):
            return self.shared.claim(connection_id, code_id, until, now)
        return self.store.claim_single_use(connection_id, code_id, until)

    def _gather(
        self, platform: Connection, request: EntryRequest, gate: Gate, community: Community, now: datetime
    ) -> _Fetched:
        result = _Fetched()
        credential = request.credential
        fresh_since = now - timedelta(seconds=platform.freshness_s)
        refs = {request.order_ref} - {None}

        def verify() -> RiderIdentity:
            return self.hub.verify_rider(platform, credential, gate)

        if credential.kind is CredentialKind.ENTRY_CODE:
            # Signed entry codes are verified locally and name their orders: verify
            # first (no network), then look for pushed state of exactly those orders.
            result.rider = self._bounded(platform, "hub_verify_rider", verify, result.problems)
            if result.rider is None:
                return result
            refs |= set(result.rider.order_refs)
            pushed = self._pushed(platform, fresh_since, refs)
            if refs and refs <= {o.ref for o in pushed}:
                result.orders = pushed
                return result
            claim = RiderClaim(credential, result.rider.platform_ref)
            call = functools.partial(self.hub.active_orders, platform, claim, community)
            result.orders = tuple(self._bounded(platform, "hub_active_orders", call, result.problems) or ())
            return result

        pushed = self._pushed(platform, fresh_since, refs)
        if refs and refs <= {o.ref for o in pushed}:
            result.rider = self._bounded(platform, "hub_verify_rider", verify, result.problems)
            result.orders = pushed
            return result

        # Nothing usable was pushed: ask for identity and orders at the same time.
        ctx = contextvars.copy_context()
        rider_future = self._submit(platform, ctx.copy().run, verify)
        orders_future = self._submit(
            platform, ctx.copy().run, self.hub.active_orders, platform, RiderClaim(credential), community
        )
        deadline = time.monotonic() + platform.timeout_s
        result.rider = self._settle(platform, "hub_verify_rider", rider_future, result.problems, deadline)
        if result.rider is None:
            # Without a verified rider there is no grant: do not wait for the orders.
            orders_future.cancel()
            return result
        orders = self._settle(platform, "hub_active_orders", orders_future, result.problems, deadline)
        if orders is None:
            # The orders call failed, but recent pushes may still know this rider's orders.
            pushed = _attributed(self.store.fresh_orders(platform.id, fresh_since, rider_ref=result.rider.platform_ref))
            if pushed:
                result.problems = [p for p in result.problems if p.hook != "hub_active_orders"]
                orders = pushed
        result.orders = tuple(orders or ())
        return result

    def _pushed(self, platform: Connection, fresh_since: datetime, refs: set[str]) -> tuple[Order, ...]:
        if not refs:
            return ()
        return _attributed(self.store.fresh_orders(platform.id, fresh_since, refs=refs))

    def _entries_last_hour(self, platform: Connection, rider: RiderIdentity | None, now: datetime) -> int:
        if rider is None:
            return 0
        return self.store.count_entries(platform.id, rider.platform_ref, now - timedelta(hours=1))

    # -- calling upstream with a deadline ------------------------------------------

    def _bounded(self, connection: Connection, hook: str, call: Callable[[], T], problems: list[Problem]) -> T | None:
        future = self._submit(connection, contextvars.copy_context().run, call)
        return self._settle(connection, hook, future, problems)

    def _submit(self, connection: Connection, fn: Callable[..., Any], *args: Any) -> cf.Future:
        """Run an upstream call in the pool, unless its connection already has its share
        of the pool busy: then the call fails at once (:class:`UpstreamBusy`), so a slow
        upstream cannot take the threads every other connection needs."""
        release = self._bulkheads.enter(connection)
        if release is None:
            failed: cf.Future = cf.Future()
            failed.set_exception(UpstreamBusy(f"{connection.name} has {self._bulkheads.limit} calls under way already"))
            return failed
        future = self._pool.submit(fn, *args)
        future.add_done_callback(lambda _done: release())
        return future

    def _settle(
        self,
        connection: Connection,
        hook: str,
        future: cf.Future,
        problems: list[Problem],
        deadline: float | None = None,
    ) -> Any:
        """Wait for an upstream call until the deadline (``time.monotonic()``; by default
        the connection's timeout from now); turn failures into problems the policy
        plugins can read."""
        started_at = self.clock.now()
        wait = connection.timeout_s if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            return future.result(timeout=wait)
        except cf.TimeoutError:
            future.cancel()
            message = f"{connection.name} did not answer within {connection.timeout_s:g} s"
            _trace_unmade_call(connection, hook, started_at, connection.timeout_s * 1000, "timeout", message)
            problems.append(Problem(hook, connection.id, "timeout", message))
        except UpstreamBusy as exc:
            # Never reached the plugin: recorded here, or the entry would not show why.
            _trace_unmade_call(connection, hook, started_at, 0.0, "error", str(exc))
            problems.append(Problem(hook, connection.id, "error", str(exc)))
        except CredentialRejected as exc:
            reason = Reason("rider_not_verified", exc.reason_zh, exc.reason_en)
            problems.append(Problem(hook, connection.id, "rejected", str(exc), reason))
        except UpstreamTimeout as exc:
            problems.append(Problem(hook, connection.id, "timeout", str(exc)))
        except CircuitOpen as exc:
            problems.append(Problem(hook, connection.id, "circuit_open", str(exc)))
        except Exception as exc:  # any other failure of a plugin means "could not ask"
            log.warning("%s on %s failed: %s", hook, connection.id, exc)
            problems.append(Problem(hook, connection.id, "error", str(exc) or type(exc).__name__))
        return None

    # -- the pass ----------------------------------------------------------------

    def _issue_pass(
        self, entry_id: str, gate: Gate, community: Community, fetched: _Fetched, now: datetime
    ) -> AccessGrant | None:
        valid_until = pass_until(community, fetched.orders, now)
        if gate.access_connection_id is None:
            # No device at this gate: the guard checks the pass on the rider's phone.
            return AccessGrant(entry_id, PassKind.GUARD, secrets.token_hex(4).upper(), now, valid_until)
        device = self.store.get_connection(gate.access_connection_id)
        request = GrantRequest(
            grant_id=entry_id,
            rider_ref=fetched.rider.platform_ref if fetched.rider else "",
            valid_from=now,
            valid_until=valid_until,
            label=f"rider {entry_id[:8]}",
        )
        # A device failure is recorded in the trace; the entry falls back to a guard.
        return self._bounded(device, "hub_grant_access", lambda: self.hub.grant_access(device, gate, request), [])

    def _allocate_locker(
        self, community: Community, fetched: _Fetched, order_ref: str | None
    ) -> LockerAllocation | None:
        """A compartment for the rider's order in the first of the community's locker
        banks that has one; ``None`` when none could (full, or down)."""
        order = next((o for o in fetched.orders if o.ref == order_ref), fetched.orders[0] if fetched.orders else None)
        if order is None:
            return None
        for conn in self.store.connections_for_community(community.id):
            if not (conn.enabled and PluginKind.LOCKER in self.hub.plugin(conn.plugin).info.kinds):
                continue
            bank = LockerBank(conn.id, community.id, conn.name, conn.id)
            call = functools.partial(self.hub.allocate_locker, conn, bank, order)
            allocation = self._bounded(conn, "hub_allocate_locker", call, [])
            if allocation is not None:
                return dataclasses.replace(allocation, bank_id=bank.id)
        return None

    def _withdraw(self, gate: Gate, access_pass: AccessGrant | None) -> None:
        if access_pass is None or gate.access_connection_id is None:
            return
        try:
            self.hub.revoke_access(self.store.get_connection(gate.access_connection_id), gate, access_pass)
        except Exception:
            log.exception(
                "could not withdraw duplicate pass %s; it expires at %s", access_pass.grant_id, access_pass.valid_until
            )

    # -- side effects (delivered later from the outbox) -------------------------------

    def _side_effects(
        self, entry: Entry, rider: RiderIdentity | None, platform: Connection, community: Community, gate: Gate
    ) -> list[OutboxItem]:
        items: list[OutboxItem] = []
        if rider is None:
            return items
        if self.hub.implements(platform.plugin, "hub_notify_rider"):
            notice = notice_for(entry, gate)
            items.append(
                OutboxItem(
                    kind="notify_rider",
                    connection_id=platform.id,
                    payload={
                        "entry_id": entry.id,
                        "rider_ref": rider.platform_ref,
                        "notice": {"kind": notice.kind, "text_zh": notice.text_zh, "text_en": notice.text_en},
                    },
                    dedupe_key=f"notify_rider:{entry.id}",
                )
            )
        if entry.decision is Decision.GRANTED and community.policy.visitor_record and entry.access_pass:
            for conn in self.store.connections_for_community(community.id):
                if PluginKind.VISITOR in self.hub.plugin(conn.plugin).info.kinds:
                    visit = Visit(
                        entry_id=entry.id,
                        community_id=community.id,
                        gate_id=gate.id,
                        rider_ref=rider.platform_ref,
                        masked_name=rider.masked_name,
                        masked_phone=rider.masked_phone,
                        platform=platform.plugin,
                        started_at=entry.access_pass.valid_from,
                        ends_at=entry.access_pass.valid_until,
                    )
                    items.append(
                        OutboxItem(
                            kind="register_visitor",
                            connection_id=conn.id,
                            payload=_visit_payload(visit),
                            dedupe_key=f"register_visitor:{entry.id}:{conn.id}",
                        )
                    )
        return items


# -- pure helpers (kept outside the class so they are easy to test) ---------------------


def combine(verdicts: Sequence[Verdict], rider: RiderIdentity | None) -> tuple[Decision, tuple[Reason, ...]]:
    """Fold the policy votes: any deny wins over manual, manual over allow. No vote, or
    no verified rider, never grants."""
    for decision in (Decision.DENIED, Decision.MANUAL_CHECK):
        reasons = tuple(v.reason for v in verdicts if v.decision is decision and v.reason)
        if any(v.decision is decision for v in verdicts):
            return decision, _unique(reasons)
    if not verdicts:
        return Decision.MANUAL_CHECK, (_NO_POLICY,)
    if rider is None:
        return Decision.MANUAL_CHECK, (_NOT_VERIFIED,)
    return Decision.GRANTED, ()


def _unique(reasons: tuple[Reason, ...]) -> tuple[Reason, ...]:
    return tuple(dict.fromkeys(reasons))


def _matching(orders: Sequence[Order], rider: RiderIdentity | None, community_ref: str) -> tuple[Order, ...]:
    """Orders that are evidence for this rider at this community: an order carrying a
    different rider's ref, or bound for another community, never is."""
    if rider is None:
        return ()
    return tuple(
        o
        for o in orders
        if (not o.rider_ref or o.rider_ref == rider.platform_ref)
        and (not o.community_ref or o.community_ref == community_ref)
    )


def _attributed(orders: Sequence[Order]) -> tuple[Order, ...]:
    """Stored orders that say whose they are and where they go. The platform's answer to
    ``hub_active_orders`` is about this rider and community by construction; a stored
    report that names neither is evidence for nobody."""
    return tuple(o for o in orders if o.rider_ref and o.community_ref)


def _unclaimed(fetched: _Fetched, platform: Connection, exc: SharedStateUnavailable) -> None:
    """A single-use code could not be recorded as used: fail closed. Without a rider
    there is no grant, and the problem makes the fallback ask for a manual check (as for
    a platform that could not be asked) instead of a policy denying the rider. The
    shared state has logged the outage already, at most once a minute."""
    fetched.rider = None
    fetched.orders = ()
    fetched.problems.append(Problem("hub_verify_rider", platform.id, "error", str(exc)))


def pass_until(community: Community, orders: Sequence[Order], now: datetime) -> datetime:
    """How long a pass lives: until the latest expected delivery plus the exit grace,
    capped by the community's maximum, and never shorter than the grace itself."""
    policy = community.policy
    cap = now + timedelta(minutes=policy.max_pass_minutes)
    grace = timedelta(minutes=policy.exit_grace_minutes)
    etas = [o.eta for o in orders if o.eta is not None]
    until = min(cap, max(etas) + grace) if etas else cap
    return max(until, min(cap, now + grace))


def notice_for(entry: Entry, gate: Gate) -> Notice:
    if entry.decision is Decision.GRANTED:
        return Notice("gate_open", f"{gate.name}已为您开放通行", f"{gate.name} is open for you", {"gate_id": gate.id})
    if entry.decision is Decision.MANUAL_CHECK:
        return Notice(
            "manual_check", f"请在{gate.name}等待门岗核验", f"Please wait at {gate.name}: a guard will check you"
        )
    reason = entry.reasons[0] if entry.reasons else Reason("denied", "暂不能进入", "Entry refused")
    return Notice("denied", reason.zh, reason.en, {"code": reason.code})


def _visit_payload(visit: Visit) -> dict[str, Any]:
    return {
        "entry_id": visit.entry_id,
        "community_id": visit.community_id,
        "gate_id": visit.gate_id,
        "rider_ref": visit.rider_ref,
        "masked_name": visit.masked_name,
        "masked_phone": visit.masked_phone,
        "platform": visit.platform,
        "started_at": visit.started_at.isoformat(),
        "ends_at": visit.ends_at.isoformat(),
    }


def _trace_unmade_call(
    connection: Connection, hook: str, started_at: datetime, duration_ms: float, outcome: str, message: str
) -> None:
    """Record a call the plugin's wrappers never saw end (it timed out, or was never
    made) in the entry's trace."""
    trace = current_trace()
    if trace is not None:
        trace.add_call(HookCall(hook, connection.plugin, connection.id, started_at, duration_ms, outcome, message))
