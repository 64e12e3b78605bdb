"""The public plugin API: everything a plugin may import from Delta, in one place.

A plugin (built-in under ``plugins/`` or a third party's package with an entry point in group
``delta``) imports from this module only; the engine's rooms behind it may move without
breaking it. ``.ci/run`` checks that rule for the built-in plugins (import-linter, contract
"plugins use the public API only" in pyproject.toml).

What is here:

- the hook marker :data:`hookimpl` (hook specifications: :mod:`delta_core.plugin.hookspecs`);
- the component protocols and the values they exchange (:mod:`delta_core.plugin.protocols`),
  with :class:`BaseSuggester` for suggesters that need only ``suggest``;
- :class:`Record`, the one value every part of Delta exchanges;
- the configuration (:class:`Config`) and private file helpers (:func:`private_dir`,
  :func:`write_private`);
- for importers: the text-input helpers of :mod:`delta_core.imports.text_input` and the
  JSON Lines reader;
- for tokenizers: the shell pre-tokenizer and :class:`ShellTokenizer`;
- for trainers: the command lines of a training process (:mod:`delta_core.learn.train.launch`);
- for embedders: :func:`stemmed_words`;
- the built-in suggesters, :class:`HistorySuggester` and :class:`ModelSuggester`.

This module imports the rooms it re-exports (the training launcher and the pre-tokenizer's
counts on first use, see ``_LAZY``) and nothing imports it but plugins.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from delta_core.config import Config, ConfigError
from delta_core.imports.text_input import (
    MAX_EPOCH_S,
    MIN_EPOCH_S,
    NS,
    LocalOffsets,
    column_names,
    decode_entry,
    env_path,
    epoch_ns,
    histfile_for,
    is_truncated,
    iter_rows,
    open_sqlite_readonly,
    parse_file,
    read_bytes,
    split_lines,
    text,
    truncated_problem,
    unique_paths,
    xdg_data_home,
    xonsh_data_dir,
)
from delta_core.memory.jsonl import read_jsonl_file
from delta_core.paths import private_dir, write_private
from delta_core.plugin.hookspecs import hookimpl
from delta_core.plugin.protocols import (
    Action,
    BaseSuggester,
    Collector,
    Embedder,
    Finding,
    Importer,
    ImportProblem,
    PrivacyFilter,
    RecentCommands,
    Suggester,
    SuggesterRole,
    Suggestion,
    SuggestQuery,
    TokenEmbedder,
    Tokenizer,
    Trainer,
    TrainJob,
    Verdict,
)
from delta_core.records.record import Record
from delta_core.search.words import stemmed_words
from delta_core.session.model_suggester import ModelSuggester
from delta_core.suggest.history_suggester import HistorySuggester

if TYPE_CHECKING:
    from delta_core.learn.train.launch import (
        cpu_env,
        cuda_device_count,
        single_command,
        torchrun_command,
        train_argv,
    )
    from delta_core.tokenizer.pretokenizer import ATOMIC_UNITS, sorted_counts, unit_counts
    from delta_core.tokenizer.shell import ShellTokenizer

# Imported on first use: every plugin imports this module when the shell's recorder starts,
# and only training (a model or a tokenizer) or loading a tokenizer needs these.
_LAZY = {
    "cpu_env": "delta_core.learn.train.launch",
    "cuda_device_count": "delta_core.learn.train.launch",
    "single_command": "delta_core.learn.train.launch",
    "torchrun_command": "delta_core.learn.train.launch",
    "train_argv": "delta_core.learn.train.launch",
    "ATOMIC_UNITS": "delta_core.tokenizer.pretokenizer",
    "sorted_counts": "delta_core.tokenizer.pretokenizer",
    "unit_counts": "delta_core.tokenizer.pretokenizer",
    "ShellTokenizer": "delta_core.tokenizer.shell",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


#: The folder of the installed ``delta_core`` package (its source checkout is its parent).
PACKAGE_DIR = Path(__file__).resolve().parent

__all__ = [
    "ATOMIC_UNITS",
    "MAX_EPOCH_S",
    "MIN_EPOCH_S",
    "NS",
    "PACKAGE_DIR",
    "Action",
    "BaseSuggester",
    "Collector",
    "Config",
    "ConfigError",
    "Embedder",
    "Finding",
    "HistorySuggester",
    "ImportProblem",
    "Importer",
    "LocalOffsets",
    "ModelSuggester",
    "PrivacyFilter",
    "RecentCommands",
    "Record",
    "ShellTokenizer",
    "SuggestQuery",
    "Suggester",
    "SuggesterRole",
    "Suggestion",
    "TokenEmbedder",
    "Tokenizer",
    "TrainJob",
    "Trainer",
    "Verdict",
    "column_names",
    "cpu_env",
    "cuda_device_count",
    "decode_entry",
    "env_path",
    "epoch_ns",
    "histfile_for",
    "hookimpl",
    "is_truncated",
    "iter_rows",
    "open_sqlite_readonly",
    "parse_file",
    "private_dir",
    "read_bytes",
    "read_jsonl_file",
    "single_command",
    "sorted_counts",
    "split_lines",
    "stemmed_words",
    "text",
    "torchrun_command",
    "train_argv",
    "truncated_problem",
    "unique_paths",
    "unit_counts",
    "write_private",
    "xdg_data_home",
    "xonsh_data_dir",
]
