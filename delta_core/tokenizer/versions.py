"""Trained tokenizers on disk: versioned directories, the active version, loading one.

Layout under ``<root>/tokenizer/``::

    active                      the active version, one line
    <version>/                  one trained tokenizer (0700)
        spm.model               the plugin's files
        tokenizer_config.json   name, version, vocabulary size, reserved ids, what it saw

A version is ``<plugin>-<hash>``, the hash of the files the plugin wrote: training twice on
the same history gives the same version (and the same ids), and a dataset or a model that
records a version can always tell whether it was made with the tokenizer it is given.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delta_core.paths import Layout, private_dir, write_private
from delta_core.tokenizer.format import CONTROL_SYMBOLS, SESSION_FORMAT
from delta_core.tokenizer.lossless import ESC
from delta_core.tokenizer.pretokenizer import PRETOKENIZER_VERSION

if TYPE_CHECKING:
    from delta_core.context import DeltaContext
    from delta_core.tokenizer.shell import ShellTokenizer

CONFIG_FILE = "tokenizer_config.json"
ACTIVE_FILE = "active"
FORMAT = "delta-tokenizer-v1"
ESCAPE_SCHEME = f"delta-escape-v1 (U+{ord(ESC):04X})"


class TokenizerError(ValueError):
    """No usable tokenizer; the message is one line a user can act on."""


@dataclass(frozen=True)
class TokenizerInfo:
    """A trained tokenizer directory and its ``tokenizer_config.json``."""

    version: str
    directory: Path
    config: dict[str, Any]


def _home(root: Path | str | None) -> Path:
    return Layout(root).tokenizer


def _digest(directory: Path) -> str:
    h = hashlib.blake2b(digest_size=6)
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name != CONFIG_FILE:
            h.update(path.name.encode() + b"\0")
            h.update(path.read_bytes())
    return h.hexdigest()


def read_config(directory: Path) -> dict[str, Any]:
    """The ``tokenizer_config.json`` of ``directory``; :class:`TokenizerError` when unusable."""
    path = Path(directory) / CONFIG_FILE
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TokenizerError(f"{directory} is not a tokenizer: no {CONFIG_FILE}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenizerError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise TokenizerError(f"{path}: not a {FORMAT} tokenizer config")
    return config


def list_versions(root: Path | str | None = None) -> list[TokenizerInfo]:
    """Every trained tokenizer under ``root``, oldest first."""
    home = _home(root)
    found = []
    if home.is_dir():
        for d in home.iterdir():
            if d.is_dir() and not d.name.startswith(".") and (d / CONFIG_FILE).exists():
                try:
                    found.append(TokenizerInfo(d.name, d, read_config(d)))
                except TokenizerError:
                    continue
    return sorted(found, key=lambda i: (i.config.get("created_ns", 0), i.version))


def active_version(root: Path | str | None = None) -> str | None:
    """The version ``delta`` uses now, or None when none was trained."""
    path = _home(root) / ACTIVE_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return text or None


def set_active(version: str, root: Path | str | None = None) -> None:
    """Make ``version`` the active tokenizer (it must exist)."""
    home = _home(root)
    if not (home / version / CONFIG_FILE).exists():
        known = ", ".join(i.version for i in list_versions(root)) or "none"
        raise TokenizerError(f"no tokenizer version {version!r} (known: {known})")
    write_private(home / ACTIVE_FILE, version + "\n")


def train_tokenizer(
    texts: Iterable[str],
    plugin: Any,
    *,
    root: Path | str | None = None,
    vocab_size: int = 4096,
    activate: bool = True,
    trained_on: dict[str, Any] | None = None,
) -> TokenizerInfo:
    """Train ``plugin`` (a :class:`~delta_core.plugin.protocols.Tokenizer`) on ``texts``.

    The result is stored as a new version (or found to equal an existing one) and, with
    ``activate``, becomes the active tokenizer. ``trained_on`` is recorded in the config
    (how many commands, since when …). Raises ``ValueError`` with one line on failure.
    """
    home = private_dir(_home(root))
    tmp = home / f".training-{time.time_ns()}"
    private_dir(tmp)
    try:
        plugin.train(texts, tmp, vocab_size, control_symbols=CONTROL_SYMBOLS)
        version = f"{plugin.name}-{_digest(tmp)}"
        target = home / version
        if target.exists():
            shutil.rmtree(tmp)
        else:
            try:
                tmp.rename(target)
            except OSError:
                if not target.exists():  # else: the same training finished meanwhile
                    raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if not (target / CONFIG_FILE).exists():
        tok = plugin.load(target)
        config = {
            "format": FORMAT,
            "name": plugin.name,
            "version": version,
            "vocab_size": tok.vocab_size,
            "requested_vocab_size": int(vocab_size),
            "special_ids": tok.special_ids,
            "control_symbols": list(CONTROL_SYMBOLS),
            "pretokenizer": PRETOKENIZER_VERSION,
            "session_format": SESSION_FORMAT,
            "escape": ESCAPE_SCHEME,
            "trained_on": dict(trained_on or {}),
            "created_ns": time.time_ns(),
        }
        write_private(target / CONFIG_FILE, json.dumps(config, indent=2, sort_keys=True) + "\n")
    if activate:
        set_active(version, root)
    return TokenizerInfo(version, target, read_config(target))


def _plugins(context: DeltaContext | None) -> dict[str, Any]:
    if context is not None:
        return context.components.tokenizers
    from delta_core.plugin.manager import Components, make_plugin_manager

    return Components.from_manager(make_plugin_manager()).tokenizers


def load_tokenizer(
    version: str | None = None,
    *,
    root: Path | str | None = None,
    context: DeltaContext | None = None,
) -> ShellTokenizer:
    """Load a trained tokenizer: ``version``, or the active one when None.

    The tokenizer plugin named in its config does the loading. The result has ``encode``,
    ``encode_batch``, ``decode``, ``special_ids``, ``vocab_size`` and ``version``.
    """
    if root is None and context is not None:
        root = context.config.root
    if version is None:
        version = active_version(root)
        if version is None:
            raise TokenizerError("no tokenizer trained yet; run `delta tokenizer train`")
    directory = _home(root) / version
    if not directory.is_dir():
        known = ", ".join(i.version for i in list_versions(root)) or "none"
        raise TokenizerError(f"no tokenizer version {version!r} (known: {known})")
    config = read_config(directory)
    plugins = _plugins(context)
    plugin = plugins.get(config.get("name", ""))
    if plugin is None:
        raise TokenizerError(
            f"tokenizer {version} needs the plugin {config.get('name')!r}, which is not installed"
        )
    try:
        tok = plugin.load(directory)
    except ValueError as exc:
        raise TokenizerError(str(exc)) from None
    tok.version = version
    tok.config = config
    missing = [s for s in CONTROL_SYMBOLS if s.strip("<>") not in tok.special_ids]
    if missing:
        raise TokenizerError(f"tokenizer {version} lacks reserved symbols {missing}; retrain it")
    return tok
