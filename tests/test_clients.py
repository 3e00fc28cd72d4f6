"""The per-connection plumbing plugins share: ClientCache and load_settings."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import replace
from unittest import mock

import pytest
from marshmallow import Schema, fields, validate

from hub.core.clients import ClientCache, load_settings
from hub.core.errors import SettingsError
from hub.core.model import Connection


class Maker:
    """Makes a fresh object per call and remembers every call."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.made: list[tuple[str, dict, float]] = []
        self.delay_s = delay_s
        self._lock = threading.Lock()

    def __call__(self, connection: Connection) -> object:
        time.sleep(self.delay_s)
        with self._lock:
            self.made.append((connection.id, dict(connection.settings), connection.timeout_s))
        return object()


def connection(connection_id: str = "c1", timeout_s: float = 3.0, **settings: object) -> Connection:
    return Connection(
        connection_id, "acme", "Acme", settings=settings or {"url": "https://a.test"}, timeout_s=timeout_s
    )


def test_the_object_is_made_once_and_then_reused() -> None:
    make = Maker()
    cache = ClientCache(make)

    first = cache.get(connection())
    again = cache.get(connection())

    assert first is again
    assert len(make.made) == 1


def test_changed_settings_make_a_new_object() -> None:
    make = Maker()
    cache = ClientCache(make)

    old = cache.get(connection(url="https://a.test"))
    new = cache.get(connection(url="https://b.test"))

    assert new is not old
    assert cache.get(connection(url="https://b.test")) is new
    assert [settings for _, settings, _ in make.made] == [{"url": "https://a.test"}, {"url": "https://b.test"}]


def test_a_change_inside_a_nested_setting_makes_a_new_object() -> None:
    make = Maker()
    cache = ClientCache(make)
    field_map = {"name": "{masked_name}"}

    old = cache.get(connection(field_map=field_map))
    field_map["phone"] = "{masked_phone}"

    assert cache.get(connection(field_map=field_map)) is not old


def test_a_changed_timeout_makes_a_new_object() -> None:
    make = Maker()
    cache = ClientCache(make)

    old = cache.get(connection(timeout_s=3.0))
    new = cache.get(connection(timeout_s=1.5))

    assert new is not old
    assert [timeout for _, _, timeout in make.made] == [3.0, 1.5]


def test_a_changed_timeout_keeps_the_object_when_it_is_not_tracked() -> None:
    make = Maker()
    cache = ClientCache(make, track_timeout=False)

    old = cache.get(connection(timeout_s=3.0))

    assert cache.get(connection(timeout_s=1.5)) is old
    assert len(make.made) == 1


def test_each_connection_id_has_its_own_object() -> None:
    make = Maker()
    cache = ClientCache(make)

    one, two = cache.get(connection("c1")), cache.get(connection("c2"))

    assert one is not two
    assert cache.get(connection("c1")) is one and cache.get(connection("c2")) is two
    assert [connection_id for connection_id, _, _ in make.made] == ["c1", "c2"]


def test_concurrent_first_calls_make_the_object_once() -> None:
    make = Maker(delay_s=0.01)
    cache = ClientCache(make)
    start = threading.Barrier(20)
    got: list[object] = []

    def call() -> None:
        start.wait()
        got.append(cache.get(connection()))

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(got) == 20 and len({id(o) for o in got}) == 1
    assert len(make.made) == 1


def test_the_replaced_object_is_passed_to_on_replace() -> None:
    replaced: list[object] = []
    cache = ClientCache(Maker(), on_replace=replaced.append)

    old = cache.get(connection(url="https://a.test"))
    cache.get(connection(url="https://a.test"))
    assert replaced == []

    new = cache.get(connection(url="https://b.test"))

    assert replaced == [old]
    assert new is not old


def test_the_replaced_object_is_let_go_of_even_when_the_new_settings_fail() -> None:
    replaced: list[object] = []

    def make(c: Connection) -> object:
        if c.settings.get("url") == "bad":
            raise SettingsError("invalid settings")
        return object()

    cache = ClientCache(make, on_replace=replaced.append)
    old = cache.get(connection(url="https://a.test"))

    with pytest.raises(SettingsError):
        cache.get(connection(url="bad"))

    assert replaced == [old]
    assert cache.get(connection(url="https://a.test")) is not old


def test_an_object_made_before_a_fork_is_made_anew_and_left_to_the_parent() -> None:
    make = Maker()
    replaced: list[object] = []
    cache = ClientCache(make, on_replace=replaced.append)
    parent = cache.get(connection())

    with mock.patch("hub.core.clients.os.getpid", return_value=os.getpid() + 1):
        child = cache.get(connection())
        assert cache.get(connection()) is child

    assert child is not parent
    assert replaced == []  # the parent process's object is not closed from the child


def test_discard_forgets_one_connection() -> None:
    replaced: list[object] = []
    cache = ClientCache(Maker(), on_replace=replaced.append)
    one, two = cache.get(connection("c1")), cache.get(connection("c2"))

    cache.discard("c1")
    cache.discard("unknown")

    assert replaced == [one]
    assert cache.get(connection("c1")) is not one
    assert cache.get(connection("c2")) is two


def test_close_passes_every_object_to_the_closer_and_the_cache_stays_usable() -> None:
    replaced: list[object] = []
    closed: list[object] = []
    cache = ClientCache(Maker(), on_replace=replaced.append)
    made = {cache.get(connection("c1")), cache.get(connection("c2"))}

    cache.close(closed.append)

    assert set(closed) == made and replaced == []
    assert cache.get(connection("c1")) not in made

    cache.close()
    assert len(replaced) == 1


# -- load_settings -----------------------------------------------------------------------


class AcmeSettings(Schema):
    url = fields.Url(required=True)
    api_key = fields.String(required=True, validate=validate.Length(min=8), metadata={"secret": True})
    retries = fields.Integer(load_default=2)
    names = fields.Dict(keys=fields.String(validate=validate.OneOf(["rider", "order"])), load_default=dict)


def test_load_settings_validates_and_fills_in_defaults() -> None:
    values = load_settings(AcmeSettings, connection(url="https://a.test", api_key="k" * 8))

    assert values == {"url": "https://a.test", "api_key": "k" * 8, "retries": 2, "names": {}}


def test_load_settings_names_each_wrong_setting_and_what_is_wrong() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(AcmeSettings, connection("acme-1", url="not a url", api_key="abc12", names={"x": "y"}))

    assert set(caught.value.errors) == {"url", "api_key", "names"}
    message = str(caught.value)
    assert message.startswith("invalid settings for connection acme-1: api_key: ")
    assert "url: Not a valid URL." in message
    assert "names: x: key: Must be one of: rider, order." in message
    assert "abc12" not in message  # the values given are not repeated


def test_load_settings_names_a_missing_setting() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(AcmeSettings, replace(connection(), settings={"api_key": "k" * 8}))

    assert set(caught.value.errors) == {"url"}
    assert "url: Missing data for required field." in str(caught.value)
