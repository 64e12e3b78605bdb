from __future__ import annotations

import pytest

from delta_core.config import Config, ConfigError


def test_defaults_without_a_file(tmp_path):
    cfg = Config.load(tmp_path, {})
    assert cfg["memory.record"] is True
    assert cfg["train.trainer"] == "docker"


def test_file_and_environment(tmp_path):
    (tmp_path / "config.toml").write_text(
        '[memory]\nmap_size_mb = 8\n[filters]\nignore_commands = ["^ls"]\n'
    )
    cfg = Config.load(tmp_path, {"DELTA_MEMORY_RECORD": "off", "DELTA_FILTERS_DISABLED": "a, b"})
    assert cfg["memory.map_size_mb"] == 8
    assert cfg["memory.record"] is False
    assert cfg["filters.ignore_commands"] == ["^ls"]
    assert cfg["filters.disabled"] == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "env", "needle"),
    [
        ("[memory]\nmap_size_mb = 'big'\n", {}, "memory.map_size_mb must be int"),
        ("[memory]\nnope = 1\n", {}, "unknown setting 'memory.nope'"),
        ("not toml ===", {}, "not valid TOML"),
        ("", {"DELTA_MEMORY_RECORD": "maybe"}, "DELTA_MEMORY_RECORD: memory.record must be bool"),
        ("[filters]\nsecrets_action = 'shout'\n", {}, "'redact' or 'drop'"),
    ],
)
def test_invalid_settings_give_one_line_errors(tmp_path, text, env, needle):
    (tmp_path / "config.toml").write_text(text)
    with pytest.raises(ConfigError) as exc:
        Config.load(tmp_path, env)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_delta_home_relocates_everything(tmp_path):
    cfg = Config.load(None, {"DELTA_HOME": str(tmp_path / "x")})
    assert cfg.layout.shards == tmp_path / "x" / "memory" / "shards"
