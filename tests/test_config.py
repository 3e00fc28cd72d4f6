from __future__ import annotations

from pathlib import Path

import pytest

from hub.core.config import ConfigError, load_config
from hub.core.errors import PluginError
from hub.runtime import configured_plugins


def test_defaults_put_sqlite_in_the_instance_folder(tmp_path):
    config = load_config(tmp_path, env={})
    assert config.effective_database_url == f"sqlite:///{(tmp_path / 'last100.sqlite').resolve()}"
    assert config.port == 8100 and config.host == "127.0.0.1"


def test_file_then_environment_then_arguments(tmp_path):
    (tmp_path / "last100.toml").write_text('port = 9000\nthreads = 4\ndisable_plugins = ["a"]\n')
    env = {"LAST100_THREADS": "12", "LAST100_DISABLE_PLUGINS": "x, y", "LAST100_TRACE_PLUGINS": "1"}

    config = load_config(tmp_path, env=env, host="0.0.0.0")

    assert config.port == 9000  # file
    assert config.threads == 12  # environment beats file
    assert config.disable_plugins == ("x", "y")
    assert config.trace_plugins is True
    assert config.host == "0.0.0.0"  # arguments beat everything


def test_explicit_config_file_must_exist(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path, config_file=tmp_path / "missing.toml", env={})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port = 'eighty'", "setting 'port'"),
        ("colour = 'blue'", "unknown setting"),
        ("trace_plugins = 'maybe'", "expected true or false"),
        ("port = ", "last100.toml"),
        ("catalog_cache_s = -1", "setting 'catalog_cache_s': expected 0 or more seconds"),
        ("catalog_cache_s = 'soon'", "setting 'catalog_cache_s'"),
    ],
)
def test_bad_configuration_names_the_problem(tmp_path, content, message):
    (tmp_path / "last100.toml").write_text(content + "\n")
    with pytest.raises(ConfigError, match=message):
        load_config(tmp_path, env={})


def test_missing_keys_say_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="last100 init"):
        load_config(tmp_path, env={}).require_secrets()


def test_secrets_are_not_in_the_repr(tmp_path):
    config = load_config(tmp_path, env={"LAST100_SECRET_KEYS": "k1", "LAST100_SECRET_KEY": "s3cr3t"})
    assert "k1" not in repr(config) and "s3cr3t" not in repr(config)


def test_configured_plugins_are_imported_by_path():
    plugins = configured_plugins(["hub.demo:demo_plugins"])
    assert [(p.hub_plugin_info().name, source) for p, source in plugins] == [
        ("example-gate", "config:hub.demo:demo_plugins"),
    ]


def test_a_configured_plugin_that_cannot_be_imported_stops_the_hub():
    with pytest.raises(PluginError, match="no_such_module"):
        configured_plugins(["no_such_module:factory"])


def test_production_example_is_valid_configuration(tmp_path):
    example = Path(__file__).resolve().parents[1] / "config" / "production.example.toml"
    config = load_config(tmp_path, config_file=example, env={})
    assert config.database_url.startswith("postgresql+psycopg://")
    # The scale-out layout of docs/deployment.md: nothing shared lives in one process.
    assert config.workers > 1 and config.worker_max_requests > 0
    assert config.shared_state_url.startswith("redis://")
    assert config.rate_limit_storage_url.startswith("redis://")
    assert config.celery_broker_url.startswith(("redis://", "amqp://"))
    assert config.log_format == "json" and config.metrics_token


def test_the_verification_cache_holds_as_many_riders_as_configured(tmp_path):
    from hub.core.clock import Clock
    from hub.plugins import VerificationCache, find_builtin
    from hub.runtime import build_hub

    config = load_config(tmp_path, env={}, verification_cache_size=2)
    cache = find_builtin(build_hub(config, Clock()).pm.get_plugins(), VerificationCache)
    assert cache.maxsize == 2

    with pytest.raises(ConfigError, match="verification_cache_size must be 1 or more"):
        build_hub(load_config(tmp_path, env={}, verification_cache_size=0), Clock())
