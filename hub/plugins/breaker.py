"""Circuit breakers, one per key, safe to share between threads.

A circuit is *closed* while calls go through; after ``failure_threshold`` failures in a
row it *opens* and calls fail fast for ``reset_after_s`` seconds; then it is *half-open*:
one trial call goes through while every other call still fails fast, and the trial's
outcome closes the circuit or opens it again.

Unlike pybreaker, the lock is held only to read and update a circuit, never during the
call itself, so riders' calls to one platform run side by side.

Two backends, chosen by :func:`circuit_breakers` from the hub's shared state
(:mod:`hub.core.shared`):

- :class:`CircuitBreakers` keeps the circuits in the process (the default); it measures
  time with the clock's ``monotonic``.
- :class:`SharedCircuitBreakers` keeps them in Redis, so a circuit one web process opened
  is open for all of them. Each circuit is a hash (``failures``, ``opened_at``,
  ``trial_since``) under ``<prefix>:breaker:<connection id>:<hook>``, its name in the set
  ``<prefix>:breakers``. Every operation is one Lua script, so it is atomic however many
  processes ask; the time comes in as an argument, the clock's wall time
  (``timestamp``), because monotonic counters are each process's own (the processes'
  clocks must agree, as NTP makes them). A circuit's hash expires
  ``max(7 days, 10 × reset_after_s)`` after its last change, which only forgets circuits
  nobody calls. When Redis cannot be asked the breakers fail open: calls go ahead, a
  failure or success is not counted, ``state`` says closed, ``states`` is empty (logged,
  see :mod:`hub.core.shared`).

Both take the same keys: a string, or a tuple of strings (the hub uses ``(connection id,
hook)``); in Redis a key is written as its parts joined by ``:`` (``:`` and ``%``
escaped) and ``states`` gives back the same strings and tuples.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Literal

from hub.core.clock import Clock
from hub.core.shared import RedisSharedState, SharedState, SharedStateUnavailable, key_name, key_parts

State = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class Admission:
    """Whether a call may go ahead now."""

    allowed: bool
    #: The call is the one trial of a half-open circuit; report it with ``trial=True``.
    trial: bool = False
    #: When refused: seconds until a call may go ahead again.
    retry_in_s: float = 0.0


@dataclass
class _Circuit:
    failures: int = 0  # consecutive failures
    opened_at: float | None = None  # monotonic time it opened; None while closed
    trial_since: float | None = None  # when the half-open trial went ahead


class CircuitBreakers:
    """A circuit per key, created on first use (the hub keys them by connection and hook)."""

    def __init__(self, clock: Clock, failure_threshold: int = 5, reset_after_s: float = 30) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if reset_after_s <= 0:
            raise ValueError("reset_after_s must be positive")
        self._clock = clock
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._circuits: dict[Hashable, _Circuit] = {}
        self._lock = threading.Lock()

    def admit(self, key: Hashable) -> Admission:
        """Ask before calling: may a call on ``key`` go ahead?"""
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            if circuit.opened_at is None:
                return Admission(True)
            now = self._clock.monotonic()
            waited = now - circuit.opened_at
            if waited < self.reset_after_s:
                return Admission(False, retry_in_s=self.reset_after_s - waited)
            # Half-open. A trial that has not reported back within reset_after_s is taken
            # as lost (a call that hung), so that one hung call cannot keep the circuit
            # from ever closing.
            if circuit.trial_since is not None and now - circuit.trial_since < self.reset_after_s:
                return Admission(False, retry_in_s=self.reset_after_s - (now - circuit.trial_since))
            circuit.trial_since = now
            return Admission(True, trial=True)

    def record_success(self, key: Hashable, trial: bool = False) -> None:
        """An admitted call succeeded."""
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            if circuit.opened_at is None:
                circuit.failures = 0
            elif trial:
                self._close(circuit)
            # Otherwise a call admitted before the circuit opened came back late; the
            # trial, not a straggler, decides when the circuit closes.

    def record_failure(self, key: Hashable, trial: bool = False) -> bool:
        """An admitted call failed. Returns whether this failure opened the circuit."""
        with self._lock:
            circuit = self._circuits.setdefault(key, _Circuit())
            now = self._clock.monotonic()
            if circuit.opened_at is None:
                circuit.failures += 1
                if circuit.failures >= self.failure_threshold:
                    circuit.opened_at = now
                    return True
            elif trial:
                circuit.opened_at, circuit.trial_since = now, None
                return True
            return False

    def reset(self, key: Hashable) -> None:
        """Close the circuit (e.g. a health check found the system working)."""
        with self._lock:
            self._close(self._circuits.setdefault(key, _Circuit()))

    def state(self, key: Hashable) -> State:
        with self._lock:
            return self._state(self._circuits.get(key))

    def states(self) -> dict[Hashable, State]:
        """The state of every circuit a call has gone through, by key."""
        with self._lock:
            return {key: self._state(circuit) for key, circuit in self._circuits.items()}

    def _state(self, circuit: _Circuit | None) -> State:
        if circuit is None or circuit.opened_at is None:
            return "closed"
        if self._clock.monotonic() - circuit.opened_at < self.reset_after_s:
            return "open"
        return "half_open"

    @staticmethod
    def _close(circuit: _Circuit) -> None:
        circuit.failures, circuit.opened_at, circuit.trial_since = 0, None, None


# -- circuits in Redis -----------------------------------------------------------------

# Each script gets the circuit's hash and the set of circuit names as KEYS, and the time
# (wall-clock seconds, as a string), the circuit's name and the settings as ARGV. A
# circuit seen for the first time is created closed and its name added to the set, as
# the in-process breakers' setdefault does. Times go back as strings: Lua numbers sent
# back to Redis are cut to integers.

_CIRCUIT = """
local key, names = KEYS[1], KEYS[2]
local now, name, reset, threshold, ttl = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local function touch()
  redis.call('PEXPIRE', key, ttl)
end
local function close()
  redis.call('HSET', key, 'failures', 0)
  redis.call('HDEL', key, 'opened_at', 'trial_since')
  touch()
end
local circuit = redis.call('HMGET', key, 'failures', 'opened_at', 'trial_since')
local failures, opened_at, trial_since = circuit[1], circuit[2], circuit[3]
if not failures then
  redis.call('HSET', key, 'failures', 0)
  redis.call('SADD', names, name)
  touch()
  failures = '0'
end
"""

_ADMIT = (
    _CIRCUIT
    + """
if not opened_at then
  return {1, 0, '0'}
end
local waited = now - tonumber(opened_at)
if waited < reset then
  return {0, 0, tostring(reset - waited)}
end
-- Half-open. A trial that has not reported back within reset_after_s is taken as lost.
if trial_since and now - tonumber(trial_since) < reset then
  return {0, 0, tostring(reset - (now - tonumber(trial_since)))}
end
redis.call('HSET', key, 'trial_since', ARGV[1])
touch()
return {1, 1, '0'}
"""
)

_SUCCESS = (
    _CIRCUIT
    + """
if not opened_at then
  if failures ~= '0' then
    redis.call('HSET', key, 'failures', 0)
    touch()
  end
elseif ARGV[6] == '1' then
  close()
end
-- Otherwise a straggler admitted before the circuit opened: the trial decides.
return 0
"""
)

_FAILURE = (
    _CIRCUIT
    + """
if not opened_at then
  if redis.call('HINCRBY', key, 'failures', 1) >= threshold then
    redis.call('HSET', key, 'opened_at', ARGV[1])
    touch()
    return 1
  end
  touch()
elseif ARGV[6] == '1' then
  redis.call('HSET', key, 'opened_at', ARGV[1])
  redis.call('HDEL', key, 'trial_since')
  touch()
  return 1
end
return 0
"""
)

_RESET = (
    _CIRCUIT
    + """
close()
return 0
"""
)

# Reads only: a circuit nobody called is closed and is not created.
_STATE_OF = """
local function state_of(opened_at, now, reset)
  if not opened_at then
    return 'closed'
  elseif now - tonumber(opened_at) < reset then
    return 'open'
  end
  return 'half_open'
end
"""

_STATE = (
    _STATE_OF
    + """
return state_of(redis.call('HGET', KEYS[1], 'opened_at'), tonumber(ARGV[1]), tonumber(ARGV[2]))
"""
)

# KEYS[1]: the set of names; ARGV[3]: the prefix of the circuits' keys. A name whose
# hash expired is dropped from the set.
_STATES = (
    _STATE_OF
    + """
local now, reset, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local found = {}
for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local circuit = redis.call('HMGET', prefix .. name, 'failures', 'opened_at')
  if circuit[1] then
    found[#found + 1] = name
    found[#found + 1] = state_of(circuit[2], now, reset)
  else
    redis.call('SREM', KEYS[1], name)
  end
end
return found
"""
)

#: How long an untouched circuit is kept in Redis, at least.
_KEEP_S = 7 * 24 * 3600

_FAILING_OPEN = "the circuit breakers fail open: calls go ahead, outcomes are not counted"


def circuit_name(key: Hashable) -> str:
    """The stable string form of a breaker key: a string as it is (``:`` and ``%``
    escaped), a tuple of strings as its parts joined by ``:``."""
    parts = key if isinstance(key, tuple) else (key,)
    if not parts or not all(isinstance(part, str) for part in parts):
        raise TypeError(f"a circuit's key is a string or a tuple of strings, not {key!r}")
    return key_name(*parts)


def circuit_key(name: str) -> Hashable:
    """The key :func:`circuit_name` wrote as ``name``."""
    parts = key_parts(name)
    return parts[0] if len(parts) == 1 else parts


class SharedCircuitBreakers(CircuitBreakers):
    """The same circuits, kept in Redis and shared by every process (see the module's
    docstring). Refuses no call when Redis cannot be asked."""

    def __init__(
        self, shared: RedisSharedState, clock: Clock, failure_threshold: int = 5, reset_after_s: float = 30
    ) -> None:
        super().__init__(clock, failure_threshold, reset_after_s)
        self._shared = shared
        self._names = shared.key("breakers")
        self._prefix = shared.key("breaker") + ":"
        self._keep_ms = str(int(max(_KEEP_S, 10 * reset_after_s) * 1000))
        self._lua_admit = shared.script(_ADMIT)
        self._lua_success = shared.script(_SUCCESS)
        self._lua_failure = shared.script(_FAILURE)
        self._lua_reset = shared.script(_RESET)
        self._lua_state = shared.script(_STATE)
        self._lua_states = shared.script(_STATES)

    def admit(self, key: Hashable) -> Admission:
        try:
            allowed, trial, retry_in = self._change(self._lua_admit, key)
        except SharedStateUnavailable:
            return Admission(True)
        return Admission(bool(allowed), trial=bool(trial), retry_in_s=float(retry_in.decode()))

    def record_success(self, key: Hashable, trial: bool = False) -> None:
        with contextlib.suppress(SharedStateUnavailable):  # fail open: not counted
            self._change(self._lua_success, key, trial)

    def record_failure(self, key: Hashable, trial: bool = False) -> bool:
        try:
            return bool(self._change(self._lua_failure, key, trial))
        except SharedStateUnavailable:
            return False

    def reset(self, key: Hashable) -> None:
        with contextlib.suppress(SharedStateUnavailable):
            self._change(self._lua_reset, key)

    def state(self, key: Hashable) -> State:
        args = [self._now(), self.reset_after_s]
        try:
            found = self._run(lambda: self._lua_state(keys=[self._prefix + circuit_name(key)], args=args))
        except SharedStateUnavailable:
            return "closed"
        return found.decode()

    def states(self) -> dict[Hashable, State]:
        args = [self._now(), self.reset_after_s, self._prefix]
        try:
            found = self._run(lambda: self._lua_states(keys=[self._names], args=args))
        except SharedStateUnavailable:
            return {}
        pairs = iter(item.decode() for item in found)
        return {circuit_key(name): state for name, state in zip(pairs, pairs, strict=True)}

    def _change(self, script: Callable[..., Any], key: Hashable, trial: bool = False) -> Any:
        name = circuit_name(key)
        args = [self._now(), name, self.reset_after_s, self.failure_threshold, self._keep_ms, int(trial)]
        return self._run(lambda: script(keys=[self._prefix + name, self._names], args=args))

    def _run(self, operation: Callable[[], Any]) -> Any:
        return self._shared.run("circuit breakers", operation, _FAILING_OPEN)

    def _now(self) -> str:
        return repr(self._clock.timestamp())


def circuit_breakers(
    clock: Clock, failure_threshold: int = 5, reset_after_s: float = 30, shared: SharedState | None = None
) -> CircuitBreakers:
    """Circuit breakers kept where ``shared`` says: in Redis, or in this process."""
    if isinstance(shared, RedisSharedState):
        return SharedCircuitBreakers(shared, clock, failure_threshold, reset_after_s)
    return CircuitBreakers(clock, failure_threshold, reset_after_s)
