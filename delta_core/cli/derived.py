"""What forgetting does to the files derived from the history, beyond the shards and the index.

``delta memory forget`` and ``delta memory prune --filters`` rewrite the store; the text they
remove may also sit in what was built from it: a tokenizer's vocabulary (``spm.model`` holds
pieces of frequent strings), a dataset's token files, the tokenizer copy each model carries,
the search state (its distinct commands), and the shell's note of its last suggestion. This
module finds every such file that still holds the text and deals with it:

* a tokenizer version holding it is deleted, and ``tokenizer/stale.json`` says a new one must
  be trained (``delta tokenizer train``); the active pointer is cleared if it named that one;
* a dataset holding it is deleted (``delta train`` builds it again);
* in a model, each file holding it is deleted and ``needs_retraining.json`` flags the model: it
  was trained on the forgotten text;
* a search embedder's state is deleted (``delta search --rebuild`` or the next sync rebuilds);
* a shell's ``run/last-suggestion-*`` note is deleted.

"Holds the text" means the raw bytes contain it, or any 8-character piece of it (a tokenizer
keeps pieces, not whole strings). Every action is reported, never the text itself.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from delta_core.paths import Layout, write_private

PIECE = 8  # a forgotten text's pieces this long are searched for as well
MAX_BYTES = 1 << 30  # larger files are model weights, which hold no text


@dataclass(frozen=True)
class Touched:
    """One derived thing that held forgotten text, and what was done to it."""

    kind: str  # tokenizer, dataset, model, search, shell
    path: Path
    action: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path.name}: {self.action}"


def needles(texts: Iterable[str]) -> list[bytes]:
    """The byte strings to look for: each text, and its pieces of ``PIECE`` characters."""
    out: set[bytes] = set()
    for text in texts:
        text = text.strip()
        if not text:
            continue
        forms = {text, text.replace(" ", "\u2581")}  # sentencepiece writes spaces as ▁
        for form in forms:
            if len(form) <= PIECE:
                out.add(form.encode())
            else:
                out.update(form[i : i + PIECE].encode() for i in range(len(form) - PIECE + 1))
    return sorted(out)


def _holds(path: Path, wanted: list[bytes]) -> bool:
    try:
        if path.stat().st_size > MAX_BYTES:
            return False
        data = path.read_bytes()
    except OSError:
        return False
    return any(w in data for w in wanted)


def _dir_holds(directory: Path, wanted: list[bytes]) -> bool:
    return any(p.is_file() and _holds(p, wanted) for p in directory.rglob("*"))


def scrub(layout: Layout, texts: Iterable[str]) -> list[Touched]:
    """Remove ``texts`` from everything derived from the history under ``layout``."""
    wanted = needles(texts)
    if not wanted:
        return []
    touched: list[Touched] = []
    touched += _tokenizers(layout, wanted)
    for d in _subdirs(layout.datasets):
        if _dir_holds(d, wanted):
            shutil.rmtree(d, ignore_errors=True)
            touched.append(Touched("dataset", d, "deleted (rebuilt by the next training)"))
    for d in _subdirs(layout.models):
        removed = [p for p in sorted(d.rglob("*")) if p.is_file() and _holds(p, wanted)]
        if removed:
            for p in removed:
                p.unlink(missing_ok=True)
            flag = {
                "reason": "trained on text that was forgotten; retrain before serving it",
                "at": time.time(),
                "files_removed": [str(p.relative_to(d)) for p in removed],
            }
            write_private(d / "needs_retraining.json", json.dumps(flag, indent=1) + "\n")
            touched.append(
                Touched("model", d, f"{len(removed)} file(s) deleted, flagged for retraining")
            )
    for d in _subdirs(layout.root / "search"):
        if _dir_holds(d, wanted):
            shutil.rmtree(d, ignore_errors=True)
            touched.append(Touched("search", d, "state deleted (rebuilt by the next search)"))
    run = layout.root / "run"
    if run.is_dir():
        for p in sorted(run.iterdir()):
            if p.is_file() and _holds(p, wanted):
                p.unlink(missing_ok=True)
                touched.append(Touched("shell", p, "last-suggestion note deleted"))
    return touched


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def _tokenizers(layout: Layout, wanted: list[bytes]) -> list[Touched]:
    home = layout.tokenizer
    touched = []
    for d in _subdirs(home):
        if _dir_holds(d, wanted):
            shutil.rmtree(d, ignore_errors=True)
            touched.append(Touched("tokenizer", d, "deleted; train a new one"))
    if touched:
        removed = {t.path.name for t in touched}
        # The active pointer (and any other small file naming a deleted version) goes too.
        for pointer in (p for p in home.iterdir() if p.is_file() and p.name != "stale.json"):
            try:
                if pointer.read_text(encoding="utf-8").strip() in removed:
                    pointer.unlink()
            except (OSError, UnicodeDecodeError):
                continue
        write_private(
            home / "stale.json",
            json.dumps(
                {"reason": "forgotten text was in its vocabulary", "removed": sorted(removed)}
            )
            + "\n",
        )
    return touched
