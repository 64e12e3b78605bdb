"""Configuration: ``config.toml`` under the Delta root, overridden by ``DELTA_*`` variables.

Every setting has a type, a default and an environment variable (``section.key`` ->
``DELTA_SECTION_KEY``). Invalid values fail with one line that names the setting and what
was expected, instead of a traceback.
"""

from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from delta_core.paths import Layout, delta_root, home_problem


class ConfigError(ValueError):
    """A setting is invalid; the message is one line a user can act on."""


@dataclass(frozen=True)
class Setting:
    type: type
    default: Any
    help: str
    #: inclusive bounds of a number (None: unbounded on that side); floats must be finite
    low: float | None = None
    high: float | None = None
    #: the only values a string may take (empty: any)
    choices: tuple[str, ...] = ()


# section.key -> Setting. Lists are comma-separated in environment variables.
SETTINGS: dict[str, Setting] = {
    "memory.record": Setting(bool, True, "record commands (`delta memory off` pauses)"),
    "memory.map_size_mb": Setting(
        int, 8, "initial LMDB map size of a day shard (grows)", low=1, high=65536
    ),
    "memory.sync_interval": Setting(
        float, 1.0, "seconds between group fsyncs", low=0.05, high=3600
    ),
    "collectors.disabled": Setting(list, [], "collectors to switch off"),
    "filters.disabled": Setting(list, [], "privacy filters to switch off"),
    "filters.secrets_action": Setting(
        str, "redact", "redact or drop commands with secrets", choices=("redact", "drop")
    ),
    "filters.secrets_rules": Setting(
        str,
        "all",
        "secret rules: all (built-in + gitleaks) or built-in (the hand-picked ones)",
        choices=("all", "built-in"),
    ),
    "filters.ignore_commands": Setting(list, [], "regexes: matching commands are not stored"),
    "filters.ignore_cwds": Setting(
        list, [], "regexes: commands run in matching dirs are not stored"
    ),
    "tokenizer.name": Setting(str, "sentencepiece", "tokenizer plugin"),
    "tokenizer.vocab_size": Setting(int, 4096, "vocabulary size", low=16, high=1_000_000),
    "train.trainer": Setting(str, "docker", "trainer plugin: docker or local"),
    "train.model_size": Setting(
        str, "small", "model size: tiny, small or base", choices=("tiny", "small", "base")
    ),
    "train.docker_base_image": Setting(
        str,
        "pytorch/pytorch:2.7.1-cuda12.8-cudnn9-runtime",
        "base image of the docker trainer (Python >= 3.11 with torch)",
    ),
    "train.docker_context": Setting(
        str,
        "",
        "Delta source tree (a clone or unpacked sdist) the docker trainer builds from",
    ),
    "suggest.enabled": Setting(bool, True, "suggestions in the shell"),
    "learn.auto_retrain": Setting(
        bool, True, "retrain in the background once enough new commands arrived"
    ),
    "learn.retrain_after": Setting(
        int, 500, "new commands that make a background retrain due", low=1
    ),
    "learn.retrain_size": Setting(
        str, "tiny", "model size of a background retrain", choices=("tiny", "small", "base")
    ),
    "learn.retrain_steps": Setting(int, 600, "training steps of a background retrain", low=1),
    "search.embedder": Setting(str, "minilm", "embedder plugin for `delta search`"),
    "search.background_interval": Setting(
        float,
        600.0,
        "seconds between background catch-ups of the search index (0: off)",
        low=0,
        high=7 * 86400,
    ),
    "search.key": Setting(
        str,
        "c-s",
        "xonsh key for the interactive search (read from $DELTA_SEARCH_KEY at load; empty: none)",
    ),
    "search.filter_mode": Setting(
        str,
        "global",
        "filter the search window opens with: global, host, session, directory, workspace "
        "(Ctrl-R cycles them)",
        choices=("global", "host", "session", "directory", "workspace"),
    ),
    "serve.listen": Setting(str, "", "HOST:PORT to serve a team over TCP (needs serve.token)"),
    "serve.token": Setting(str, "", "shared secret clients must send with --listen"),
    "serve.backend": Setting(
        str,
        "onnx-int8",
        "inference backend of delta serve, and the one the promotion gate evaluates: "
        "onnx-int8, onnx (fp32), torch",
    ),
    "serve.threads": Setting(
        int, 1, "compute threads of delta serve (0: all cores)", low=0, high=1024
    ),
    "serve.auto_start": Setting(bool, True, "shells start delta serve when a model is promoted"),
    "serve.timeout_ms": Setting(
        int, 40, "how long a shell waits for a model suggestion", low=1, high=60_000
    ),
    "serve.idle_exit_s": Setting(
        int,
        3600,
        "delta serve exits after this long without requests (0: never)",
        low=0,
        high=365 * 86400,
    ),
    "serve.read_timeout_s": Setting(
        float,
        5.0,
        "a frame once begun, and a TCP client's token, must arrive within this",
        low=0.1,
        high=3600,
    ),
    "serve.idle_timeout_s": Setting(
        float,
        600.0,
        "delta serve closes a connection silent this long (shells reconnect)",
        low=1,
        high=365 * 86400,
    ),
    "serve.max_clients": Setting(
        int,
        256,
        "connections delta serve holds on its Unix socket (TCP: a quarter)",
        low=1,
        high=65536,
    ),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_name(key: str) -> str:
    return "DELTA_" + key.replace(".", "_").upper()


def _coerce(key: str, value: Any, source: str) -> Any:
    """``value`` as the setting's type, within its bounds; else :class:`ConfigError`."""
    out = _typed(key, value, source)
    setting = SETTINGS[key]
    if setting.type in (int, float):
        if not math.isfinite(out):
            raise ConfigError(f"{source}: {key} must be a finite number, got {value!r}")
        low, high = setting.low, setting.high
        if (low is not None and out < low) or (high is not None and out > high):
            raise ConfigError(f"{source}: {key} must be {_bounds(low, high)}, got {value!r}")
    if setting.choices and out not in setting.choices:
        quoted = [repr(c) for c in setting.choices]
        either = " or ".join([", ".join(quoted[:-1]), quoted[-1]] if len(quoted) > 1 else quoted)
        raise ConfigError(f"{source}: {key} must be {either}, got {value!r}")
    return out


def _bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _typed(key: str, value: Any, source: str) -> Any:
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
        problem = home_problem(root, "DELTA_HOME" if env.get("DELTA_HOME") else "the Delta folder")
        if problem is not None:
            raise ConfigError(problem)
        path = Layout(root).config_file
        if path.exists():
            if path.is_dir():
                raise ConfigError(f"{path} is a directory, not a config file: remove it")
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: not valid TOML ({exc})") from None
            except OSError as exc:
                raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
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
        return cls(values, root)
