"""Changing a community's entry policy: the one set of rules that ``last100 communities
add|set-policy`` and the console's policy form both apply.

:func:`edit_policy` takes changes as they were typed (text from a form or a command
line) or already parsed, checks every one, and either returns the new policy or raises
:class:`InvalidPolicy` naming each wrong field, so that nothing is saved on any error.
Each surface words the problems itself: the command line in English with its option
names, the console in the reader's language.
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Iterable, Mapping
from datetime import time
from typing import Any

from hub.core.errors import HubError
from hub.core.model import CommunityPolicy
from hub.core.rows import policy_to_json

#: The numbers of a policy, with the smallest and largest value each may take.
LIMITS: Mapping[str, tuple[int, int]] = {
    "max_pass_minutes": (1, 240),
    "exit_grace_minutes": (0, 60),
    "max_entries_per_hour": (1, 100),
    "retention_days": (1, 3650),
}
#: The yes-or-no rules of a policy.
FLAGS = ("require_active_order", "require_presence", "lockers_only", "visitor_record")
#: The opening hours: both or neither.
TIMES = ("opening", "closing")
#: Every field :func:`edit_policy` changes.
EDITABLE = frozenset({"allowed_platforms", *TIMES, *LIMITS, *FLAGS})

_CLOCK = re.compile(r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$")
_WHOLE = re.compile(r"^[+-]?[0-9]+$")


class Problem(enum.StrEnum):
    """What is wrong with one field."""

    NOT_A_NUMBER = "not_a_number"  # not a whole number
    OUT_OF_RANGE = "out_of_range"  # outside LIMITS
    NOT_A_TIME = "not_a_time"  # not HH:MM
    BOTH_OR_NEITHER = "both_or_neither"  # an opening time without a closing one, or the reverse


@dataclasses.dataclass(frozen=True)
class PolicyProblem:
    """One wrong field: ``field`` is a :class:`CommunityPolicy` field name, ``value``
    what was given (as text)."""

    field: str
    problem: Problem
    value: str = ""

    @property
    def limits(self) -> tuple[int, int] | None:
        """The allowed range of a number field."""
        return LIMITS.get(self.field)

    def __str__(self) -> str:
        if self.problem is Problem.OUT_OF_RANGE:
            low, high = LIMITS[self.field]
            return f"{self.field} must be from {low} to {high}, not {self.value}"
        if self.problem is Problem.NOT_A_NUMBER:
            return f"{self.field} must be a whole number, not {self.value!r}"
        if self.problem is Problem.NOT_A_TIME:
            return f"{self.field}: {self.value!r} is not a time like 06:30"
        return "give both an opening and a closing time, or neither"


class InvalidPolicy(HubError):
    """Some changes to a policy are wrong; ``problems`` names each (one per field)."""

    code = "invalid_policy"

    def __init__(self, problems: Iterable[PolicyProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    def by_field(self) -> dict[str, PolicyProblem]:
        return {p.field: p for p in self.problems}


def parse_clock(value: str) -> time:
    """A wall-clock time written ``HH:MM`` (``6:30`` too).

    :raises ValueError: anything else.
    """
    found = _CLOCK.match(value.strip())
    if found is None:
        raise ValueError(f"{value!r} is not a time like 06:30")
    return time(int(found.group(1)), int(found.group(2)))


def edit_policy(base: CommunityPolicy, changes: Mapping[str, Any]) -> CommunityPolicy:
    """``base`` with ``changes`` made; fields not in ``changes`` stay as they are.

    - numbers (:data:`LIMITS`): an ``int`` or its text, inside its limits;
    - ``opening`` and ``closing``: a :class:`~datetime.time`, ``"HH:MM"``, or ``None`` /
      ``""`` for none; changed together (a missing one counts as none), and either both
      are given or neither (always open);
    - :data:`FLAGS`: booleans;
    - ``allowed_platforms``: plugin names or connection ids; empty allows every platform.

    :raises InvalidPolicy: naming every wrong field; nothing is changed.
    :raises ValueError: a field that is not a policy's (a programming error).
    """
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValueError(f"not policy fields: {', '.join(sorted(unknown))}")
    problems: list[PolicyProblem] = []
    values: dict[str, Any] = {}
    for name in LIMITS:
        if name in changes:
            number = _number(name, changes[name], problems)
            if number is not None:
                values[name] = number
    for name in FLAGS:
        if name in changes:
            values[name] = bool(changes[name])
    if any(name in changes for name in TIMES):
        opening = _clock(changes.get("opening"), "opening", problems)
        closing = _clock(changes.get("closing"), "closing", problems)
        if opening is not False and closing is not False and (opening is None) != (closing is None):
            problems.append(PolicyProblem("opening" if opening is None else "closing", Problem.BOTH_OR_NEITHER))
        values.update(opening=opening, closing=closing)
    if "allowed_platforms" in changes:
        given = changes["allowed_platforms"]
        names = [given] if isinstance(given, str) else list(given)
        values["allowed_platforms"] = frozenset(n.strip() for n in names if n.strip())
    if problems:
        raise InvalidPolicy(problems)
    return dataclasses.replace(base, **values)


def policy_changes(before: CommunityPolicy, after: CommunityPolicy) -> dict[str, dict[str, Any]]:
    """The fields that differ, as ``{field: {"before": ..., "after": ...}}`` in the JSON
    form the store keeps (times ``"HH:MM"``, platforms a sorted list): for the audit log."""
    old, new = policy_to_json(before), policy_to_json(after)
    return {name: {"before": old[name], "after": new[name]} for name in sorted(new) if old.get(name) != new[name]}


def _number(name: str, given: Any, problems: list[PolicyProblem]) -> int | None:
    if isinstance(given, bool) or not isinstance(given, int | str):
        raise ValueError(f"{name} must be given as an int or text, not {type(given).__name__}")
    text = str(given).strip()
    if isinstance(given, str) and not _WHOLE.match(text):
        problems.append(PolicyProblem(name, Problem.NOT_A_NUMBER, text))
        return None
    number = int(text)
    low, high = LIMITS[name]
    if not low <= number <= high:
        problems.append(PolicyProblem(name, Problem.OUT_OF_RANGE, text))
        return None
    return number


def _clock(given: Any, name: str, problems: list[PolicyProblem]) -> time | bool | None:
    """The time, ``None`` for none, or ``False`` when it is wrong (a problem is added)."""
    if given is None or isinstance(given, time):
        return given
    if given.strip() == "":
        return None
    try:
        return parse_clock(given)
    except ValueError:
        problems.append(PolicyProblem(name, Problem.NOT_A_TIME, given.strip()))
        return False
