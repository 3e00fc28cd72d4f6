from __future__ import annotations

from datetime import timedelta

import pytest

from hub.core.engine import EntryEngine
from hub.core.errors import NotFound
from hub.core.model import CommunityPolicy, Decision
from hub.core.tokens import PRESENCE_STEP_S, GateCodes, PresenceCodes
from tests.engine_fakes import NOON_SHANGHAI, build_world, request


def test_a_signed_gate_code_verifies_to_the_gate_code():
    codes = GateCodes("key-1")
    assert codes.verify(codes.sign("sunny-north")) == "sunny-north"


@pytest.mark.parametrize("tamper", ["sunny-north", "sunny-east.{sig}", "{signed}x", "", "..."])
def test_forged_or_guessed_gate_codes_are_unknown(tamper):
    codes = GateCodes("key-1")
    signed = codes.sign("sunny-north")
    attempt = tamper.format(signed=signed, sig=signed.split(".", 1)[1])
    with pytest.raises(NotFound, match="no gate has this code"):
        codes.verify(attempt)


def test_another_deployments_key_does_not_verify():
    with pytest.raises(NotFound):
        GateCodes("key-2").verify(GateCodes("key-1").sign("sunny-north"))


def test_presence_code_is_valid_one_step_either_side_and_no_further():
    codes = PresenceCodes("key-1")
    shown = codes.current("north", NOON_SHANGHAI)
    step = codes.step("north", shown, NOON_SHANGHAI)

    assert codes.step("north", shown, NOON_SHANGHAI + timedelta(seconds=PRESENCE_STEP_S)) == step
    assert codes.step("north", shown, NOON_SHANGHAI - timedelta(seconds=PRESENCE_STEP_S)) == step
    assert codes.step("north", shown, NOON_SHANGHAI + timedelta(seconds=3 * PRESENCE_STEP_S)) is None
    assert codes.step("east", shown, NOON_SHANGHAI) is None  # every gate has its own codes


@pytest.fixture
def present_world(tmp_path):
    w = build_world(tmp_path, CommunityPolicy(require_presence=True))
    w.engine = EntryEngine(w.hub, w.store, w.clock, presence=PresenceCodes("key-1"))
    yield w
    w.engine.close()
    w.store.dispose()


def test_the_gate_screens_code_proves_presence_once_per_rider(present_world):
    w = present_world
    shown = PresenceCodes("key-1").current("g1", w.clock.now())

    first = w.engine.decide(request(presence_code=shown))
    again = w.engine.decide(request(presence_code=shown))
    without = w.engine.decide(request())

    assert first.decision is Decision.GRANTED
    assert [r.code for r in again.reasons] == ["presence_required"]
    assert [r.code for r in without.reasons] == ["presence_required"]


def test_an_old_screen_code_does_not_prove_presence(present_world):
    w = present_world
    shown = PresenceCodes("key-1").current("g1", w.clock.now())
    w.clock.advance(seconds=3 * PRESENCE_STEP_S)

    entry = w.engine.decide(request(presence_code=shown))

    assert [r.code for r in entry.reasons] == ["presence_required"]
