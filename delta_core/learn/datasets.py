"""Token datasets on disk: ``train.bin``/``val.bin`` and ``meta.json`` under ``datasets/<name>/``.

The ``.bin`` files are the packed session streams of :mod:`delta_core.tokenizer.format` as
little-endian ``uint16`` (vocabularies under 65,536) or ``uint32``, so a trainer memory-maps
them and takes random windows (nanoGPT style); ``meta.json`` (format ``delta-tokens-v1``)
says how to read them and which tokenizer made them. A dataset is only ever written by one
tokenizer version: writing over it with another is refused unless asked to replace it, and
:func:`open_dataset` refuses a tokenizer other than the one recorded.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from delta_core.paths import private_dir, write_private
from delta_core.tokenizer.format import SESSION_FORMAT, SessionEncoder, TurnLike, describe_format

if TYPE_CHECKING:
    from delta_core.learn.extraction import Session
    from delta_core.tokenizer.shell import ShellTokenizer

FORMAT = "delta-tokens-v1"
META_FILE = "meta.json"
#: Commands encoded per step while writing (bounds memory on a big history).
STEP_COMMANDS = 50_000


class DatasetError(ValueError):
    """A dataset cannot be written or used as asked; one line a user can act on."""


def dtype_for(vocab_size: int) -> np.dtype:
    """``uint16`` while every id fits, else ``uint32`` (little-endian either way)."""
    return np.dtype("<u2") if vocab_size < 65_536 else np.dtype("<u4")


def read_meta(directory: Path | str) -> dict[str, Any]:
    """The ``meta.json`` of a dataset directory; :class:`DatasetError` when unusable."""
    path = Path(directory) / META_FILE
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{directory} is not a dataset: no {META_FILE}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise DatasetError(f"{path}: not a {FORMAT} dataset")
    return meta


def check_tokenizer(meta: dict[str, Any], tok: ShellTokenizer, where: Path | str = "") -> None:
    """Refuse a tokenizer other than the one that made the dataset described by ``meta``."""
    made_with = meta.get("tokenizer_version")
    if made_with != tok.version:
        raise DatasetError(
            f"dataset {where} was built with tokenizer {made_with}, not {tok.version}; "
            "rebuild it with `delta tokenizer dataset build --replace`"
        )


def _items(seq: Sequence[Any]) -> list[Sequence[TurnLike | str]]:
    # A bare command is a session of one command; a Session gives its records.
    return [[s] if isinstance(s, str) else getattr(s, "records", s) for s in seq]


def _write_split(
    path: Path,
    enc: SessionEncoder,
    sessions: list[Sequence[TurnLike | str]],
    dtype: np.dtype,
    progress: Callable[[int], None] | None,
) -> dict[str, Any]:
    tokens = 0
    examples = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        batch: list[Sequence[TurnLike | str]] = []
        size = 0

        def flush() -> None:
            nonlocal tokens, batch, size
            if batch:
                ids = enc.encode_sessions(batch)
                fh.write(ids.astype(dtype).tobytes())
                tokens += int(ids.size)
                if progress is not None:
                    progress(size)
                batch, size = [], 0

        for s in sessions:
            batch.append(s)
            size += len(s)
            examples += len(s)
            if size >= STEP_COMMANDS:
                flush()
        flush()
        fh.flush()
        os.fsync(fh.fileno())
    return {
        "file": path.name,
        "tokens": tokens,
        "examples": examples,
        "sessions": len(sessions),
        "bytes": path.stat().st_size,
    }


def write_dataset(
    directory: Path | str,
    tok: ShellTokenizer,
    train: Sequence[Session | Sequence[TurnLike | str] | str],
    val: Sequence[Session | Sequence[TurnLike | str] | str],
    *,
    replace: bool = False,
    split_time_ns: int | None = None,
    extra_meta: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the two splits of a dataset made with ``tok``; return its ``meta``.

    Each split is a sequence of sessions; a session is a :class:`~delta_core.learn.extraction.Session`,
    a sequence of records/turns/commands, or one bare command string. An existing dataset
    made with another tokenizer is refused unless ``replace``. The files appear atomically:
    a reader sees the old dataset or the new one, never half of one. ``progress`` is called
    with numbers of commands written.
    """
    directory = Path(directory)
    if (directory / META_FILE).exists() and not replace:
        try:
            check_tokenizer(read_meta(directory), tok, directory)
        except DatasetError as exc:
            raise DatasetError(str(exc).replace("rebuild it", "replace it")) from None
    private_dir(directory.parent)
    tmp = directory.parent / f".{directory.name}.{time.time_ns()}.tmp"
    private_dir(tmp)
    try:
        dtype = dtype_for(tok.vocab_size)
        enc = SessionEncoder(tok)
        splits = {
            name: _write_split(tmp / f"{name}.bin", enc, _items(part), dtype, progress)
            for name, part in (("train", train), ("val", val))
        }
        meta = {
            "format": FORMAT,
            "dtype": dtype.name,
            "byte_order": "little",
            "vocab_size": tok.vocab_size,
            "tokenizer_version": tok.version,
            "tokenizer_name": tok.config.get("name", ""),
            "session_format": SESSION_FORMAT,
            "layout": describe_format(),
            "special_ids": dict(tok.special_ids),
            "splits": splits,
            "split_time_ns": split_time_ns,
            "created_ns": time.time_ns(),
            **(extra_meta or {}),
        }
        write_private(tmp / META_FILE, json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if directory.exists():
            old = directory.parent / f".{directory.name}.{time.time_ns()}.old"
            directory.rename(old)
            tmp.rename(directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(directory)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return meta


def write_dataset_from_sessions(
    directory: Path | str,
    tok: ShellTokenizer,
    sessions: Sequence[Sequence[TurnLike | str] | str],
    *,
    val_fraction: float = 0.1,
    replace: bool = False,
    extra_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write a dataset from ready-made sessions (e.g. a corpus), the last ones as validation.

    ``sessions`` are in order (oldest first); a bare string is a one-command session, so a
    plain list of commands works. At least one session goes to each split when there are
    two or more.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise DatasetError(f"the validation fraction must be in [0, 1), got {val_fraction}")
    n_val = round(len(sessions) * val_fraction)
    if val_fraction > 0 and len(sessions) >= 2:
        n_val = min(max(n_val, 1), len(sessions) - 1)
    cut = len(sessions) - n_val
    meta = {"source": {"kind": "sessions", "sessions": len(sessions)}, **(extra_meta or {})}
    return write_dataset(
        directory, tok, sessions[:cut], sessions[cut:], replace=replace, extra_meta=meta
    )


def open_dataset(
    directory: Path | str, tok: ShellTokenizer | None = None
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """``(meta, {"train": ids, "val": ids})`` with read-only memory maps of the splits.

    With ``tok``, a dataset made by another tokenizer version raises :class:`DatasetError`.
    """
    directory = Path(directory)
    meta = read_meta(directory)
    if tok is not None:
        check_tokenizer(meta, tok, directory)
    dtype = np.dtype(meta.get("dtype", "uint16")).newbyteorder("<")
    arrays = {}
    for name, info in meta.get("splits", {}).items():
        path = directory / info.get("file", f"{name}.bin")
        if not path.exists():
            raise DatasetError(f"{directory}: {path.name} is missing")
        if path.stat().st_size == 0:
            arrays[name] = np.zeros(0, dtype=dtype)
        else:
            arrays[name] = np.memmap(path, dtype=dtype, mode="r")
    return meta, arrays
