"""Strategies and helpers shared by the property-based and fuzz tests."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Examples per property under the CI profile (tests/property/conftest.py registers it).
CI_EXAMPLES = 60


def examples(n: int) -> settings:
    """Settings asking for ``n`` examples under the CI profile, and proportionally more
    under a bigger one, for tests that are slow per example (HTTP and database)."""
    scale = max(1, settings.default.max_examples // CI_EXAMPLES)
    return settings(max_examples=n * scale)


def shared_world(n: int) -> settings:
    """:func:`examples` for a test whose examples share one world (a function-scoped
    fixture: a hub with its database), which Hypothesis' health check would refuse. The
    properties of such tests hold in any state the earlier examples left."""
    return settings(examples(n), suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


# -- values ---------------------------------------------------------------------------------

#: Instants around the worked examples' time, to the second.
instants = st.integers(min_value=1_700_000_000, max_value=1_900_000_000).map(lambda s: datetime.fromtimestamp(s, UTC))

#: Identifiers as systems send them: short, printable, no separators that matter.
refs = st.text(st.characters(codec="ascii", categories=("L", "N"), include_characters="-_"), min_size=1, max_size=24)

#: Any text, including Chinese, full-width digits, emoji and combining marks.
any_text = st.text(max_size=64)

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)

#: Extreme numbers that break naive time arithmetic (``fromtimestamp``, ``astimezone``).
hostile_numbers = st.sampled_from(
    [0, -1, 2**31, 2**63, -(2**63), 10**20, 10**400, -(10**400), 1e300, -1e300, 1.5, 253402300800]
)

#: Time strings a hostile or buggy sender may put where an RFC 3339 time belongs.
_odd_times = st.sampled_from(
    [
        "0001-01-01T00:00:00+05:00",  # before year 1 in UTC
        "9999-12-31T23:59:59-05:00",  # after year 9999 in UTC
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2026-01-05T12:00:00",  # no offset
        "2026-02-30T00:00:00Z",
        "2026-01-05T24:00:00Z",
        "",
        "now",
        "２０２６-01-05T12:00:00Z",
    ]
)
#: UTC offsets as senders write them, to the minute.
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
#: The first and last instants of the years datetime holds, at any offset: converting
#: them to UTC overflows (Hypothesis' own datetimes() rarely goes there).
edge_times = st.builds(
    lambda year, first, offset: (
        (datetime(year, 1, 1) if first else datetime(year, 12, 31, 23, 59, 59)).replace(tzinfo=offset).isoformat()
    ),
    st.sampled_from([1, 9999]),
    st.booleans(),
    offsets,
)
hostile_times = _odd_times | edge_times | edge_times | st.datetimes(timezones=offsets).map(datetime.isoformat)

#: Text that trips naive string handling: digits int() cannot read, NUL, huge, empty.
hostile_text = st.sampled_from(["", " ", "²", "１２３", "٣", "\x00", "\ud800", "-", "1e3", "0x10", "a" * 5000, "null"])


# -- mutations --------------------------------------------------------------------------------


def _looks_like_time(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def replacements_for(value: Any) -> st.SearchStrategy[Any]:
    """What to put in place of ``value``: mostly hostile values of its own kind (a time
    for a time, a number for a number), sometimes anything at all."""
    if isinstance(value, bool) or value is None:
        return json_values
    if isinstance(value, int | float):
        return hostile_numbers | hostile_numbers | json_values
    if isinstance(value, str) and _looks_like_time(value):
        return hostile_times | hostile_times | json_values
    if isinstance(value, str):
        return hostile_text | st.text(max_size=20) | json_values
    return json_values | hostile_text


def places(value: Any, path: tuple = ()) -> list[tuple]:
    """The path of every value in a JSON document, the root's (``()``) first."""
    found = [path]
    if isinstance(value, dict):
        for key, inner in value.items():
            found += places(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += places(inner, (*path, index))
    return found


@st.composite
def mutated(draw: st.DrawFn, document: Any, replacements: st.SearchStrategy[Any] | None = None) -> Any:
    """``document`` with one to three of its values replaced (or keys removed); by
    default each by a hostile value of its own kind (:func:`replacements_for`)."""
    result = copy.deepcopy(document)

    def replacing(value: Any) -> Any:
        return draw(replacements if replacements is not None else replacements_for(value))

    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(places(result)))
        if not path:
            result = replacing(result)
            continue
        parent = result
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.integers(0, 3)) == 0:
            del parent[path[-1]]
        else:
            parent[path[-1]] = replacing(parent[path[-1]])
    return result


@st.composite
def one_byte_changed(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` with exactly one byte replaced by a different one."""
    last = len(data) - 1
    index = draw(st.integers(0, last) | st.sampled_from([0, last]))
    byte = draw(st.integers(0, 255).filter(lambda b: b != data[index]))
    return data[:index] + bytes([byte]) + data[index + 1 :]


@st.composite
def one_char_changed(draw: st.DrawFn, text: str, alphabet: st.SearchStrategy[str] | None = None) -> str:
    """``text`` with exactly one character replaced by a different one (from
    ``alphabet``, by default any character). The first and last characters are picked
    more often: encodings hide their surprises at the edges (base64's padding bits)."""
    last = len(text) - 1
    index = draw(st.integers(0, last) | st.sampled_from([0, last]))
    char = draw((alphabet if alphabet is not None else st.characters()).filter(lambda c: c != text[index]))
    return text[:index] + char + text[index + 1 :]
