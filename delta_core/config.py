"""Configuration: ``config.toml`` under the Delta root, overridden by ``DELTA_*`` variables.

Every setting has a type, a default and an environment variable (``section.key`` ->
``DELTA_SECTION_KEY``). Invalid values fail with one line that names the setting and what
was expected, instead of a traceback.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delta_core.paths import Layout, delta_root


class ConfigError(ValueError):
    """A setting is invalid; the message is one line a user can act on."""


@dataclass(frozen=True)
class Setting:
    type: type
    default: Any
    help: str


# section.key -> Setting. Lists are comma-separated in environment variables.
SETTINGS: dict[str, Setting] = {
    "memory.record": Setting(bool, True, "record commands (`delta memory off` pauses)"),
    "memory.map_size_mb": Setting(int, 8, "initial LMDB map size of a day shard (grows)"),
    "memory.sync_interval": Setting(float, 1.0, "seconds between group fsyncs"),
    "collectors.disabled": Setting(list, [], "collectors to switch off"),
    "filters.disabled": Setting(list, [], "privacy filters to switch off"),
    "filters.secrets_action": Setting(str, "redact", "redact or drop commands with secrets"),
    "filters.ignore_commands": Setting(list, [], "regexes: matching commands are not stored"),
    "filters.ignore_cwds": Setting(
        list, [], "regexes: commands run in matching dirs are not stored"
    ),
    "tokenizer.name": Setting(str, "sentencepiece", "tokenizer plugin"),
    "tokenizer.vocab_size": Setting(int, 4096, "vocabulary size"),
    "train.trainer": Setting(str, "docker", "trainer plugin: docker or local"),
    "train.model_size": Setting(str, "small", "model size: tiny, small or base"),
    "train.docker_base_image": Setting(
        str,
        "pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime",
        "base image of the docker trainer (Python >= 3.11 with torch)",
    ),
    "suggest.enabled": Setting(bool, True, "suggestions in the shell"),
    "search.embedder": Setting(str, "minilm", "embedder plugin for `delta search`"),
    "search.background_interval": Setting(
        float, 600.0, "seconds between background catch-ups of the search index (0: off)"
    ),
    "search.key": Setting(
        str,
        "c-s",
        "xonsh key for the interactive search (read from $DELTA_SEARCH_KEY at load; empty: none)",
    ),
    "serve.listen": Setting(str, "", "HOST:PORT to serve a team over TCP (needs serve.token)"),
    "serve.token": Setting(str, "", "shared secret clients must send with --listen"),
    "serve.backend": Setting(
        str,
        "onnx-int8",
        "inference backend of delta serve, and the one the promotion gate evaluates: "
        "onnx-int8, onnx (fp32), torch",
    ),
    "serve.threads": Setting(int, 1, "compute threads of delta serve (0: all cores)"),
    "serve.auto_start": Setting(bool, True, "shells start delta serve when a model is promoted"),
    "serve.timeout_ms": Setting(int, 40, "how long a shell waits for a model suggestion"),
    "serve.idle_exit_s": Setting(
        int, 3600, "delta serve exits after this long without requests (0: never)"
    ),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_name(key: str) -> str:
    return "DELTA_" + key.replace(".", "_").upper()


def _coerce(key: str, value: Any, source: str) -> Any:
    want = SETTINGS[key].type
    if isinstance(value, str) and want is not str:
        text = value.strip()
        if want is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
        elif want is list:
            return [v.strip() for v in text.split(",") if v.strip()]
        else:
            try:
                return want(text)
            except ValueError:
                pass
        raise ConfigError(f"{source}: {key} must be {want.__name__}, got {value!r}")
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if want is list and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    if isinstance(value, want) and not (want is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{source}: {key} must be {want.__name__}, got {value!r}")


class Config:
    """Validated settings, read once; ``cfg["memory.record"]``."""

    def __init__(self, values: dict[str, Any], root: Path) -> None:
        self._values = values
        self.root = root
        self.layout = Layout(root)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def items(self) -> list[tuple[str, Any]]:
        return sorted(self._values.items())

    @classmethod
    def load(cls, root: Path | None = None, env: dict[str, str] | None = None) -> Config:
        """Read ``config.toml`` (if any) and the environment; raise :class:`ConfigError`."""
        env = os.environ if env is None else env
        root = Path(root) if root is not None else delta_root(env)
        values = {k: s.default for k, s in SETTINGS.items()}
        path = Layout(root).config_file
        if path.exists():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: not valid TOML ({exc})") from None
            for section, table in data.items():
                if not isinstance(table, dict):
                    raise ConfigError(f"{path}: [{section}] must be a table of settings")
                for name, value in table.items():
                    key = f"{section}.{name}"
                    if key not in SETTINGS:
                        raise ConfigError(f"{path}: unknown setting {key!r}; see `delta config`")
                    values[key] = _coerce(key, value, str(path))
        for key in SETTINGS:
            if env_name(key) in env:
                values[key] = _coerce(key, env[env_name(key)], env_name(key))
        if values["filters.secrets_action"] not in ("redact", "drop"):
            raise ConfigError("filters.secrets_action must be 'redact' or 'drop'")
        return cls(values, root)
