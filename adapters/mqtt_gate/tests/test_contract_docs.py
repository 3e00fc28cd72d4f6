"""The README's topic contract against the code: every example payload reads back, and
shows the fields the hub writes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from last100_mqtt_gate.wire import Ack, Command, DoorEvent, GrantSpec

README = Path(__file__).parent.parent / "README.md"
_EXAMPLE = re.compile(r"<!-- contract: (\w+) -->\n```json\n(.*?)\n```", re.DOTALL)


def examples(kind: str) -> list[str]:
    return [body for found, body in _EXAMPLE.findall(README.read_text(encoding="utf-8")) if found == kind]


def test_the_readme_shows_every_command_an_ack_of_each_kind_and_an_event() -> None:
    assert sorted(json.loads(e)["cmd"] for e in examples("command")) == ["grant", "open", "revoke"]
    assert sorted(json.loads(e)["ok"] for e in examples("ack")) == [False, True]
    assert len(examples("event")) == 1


@pytest.mark.parametrize("kind", ["command", "ack", "event"])
def test_every_example_reads_back(kind: str) -> None:
    for example in examples(kind):
        if kind == "command":
            Command.from_wire(example)
        elif kind == "ack":
            Ack.from_wire(example)
        else:
            DoorEvent.from_wire(example, "ctrl-0007")


def test_the_examples_have_exactly_the_fields_the_hub_writes() -> None:
    sent = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    window = GrantSpec("G-1", "C", sent, sent + timedelta(minutes=30))
    written = {
        "grant": Command("c", "grant", "1", sent, sent, window),
        "revoke": Command("c", "revoke", "1", sent, sent, GrantSpec("G-1", "C"), reason="revoked by the hub"),
        "open": Command("c", "open", "1", sent, sent, reason="why"),
    }

    for example in examples("command"):
        shown = json.loads(example)
        wire = written[shown["cmd"]].to_wire()
        assert set(shown) == set(wire), shown["cmd"]
        assert set(shown.get("grant", {})) == set(wire.get("grant", {})), shown["cmd"]


def test_the_grant_example_carries_the_documented_credential_example() -> None:
    [grant] = [json.loads(e) for e in examples("command") if json.loads(e)["cmd"] == "grant"]

    # The README's credential example: secret example-credential-secret-0123456789, G-1001.
    assert (grant["grant"]["id"], grant["grant"]["credential"]) == ("G-1001", "8493312E36DF9FBFAD8CCC65C4EBD428")
