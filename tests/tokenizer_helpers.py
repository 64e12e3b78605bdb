"""Shared by the tokenizer tests: the sample corpus and a small tokenizer trained on it."""

from __future__ import annotations

from pathlib import Path

from delta_plugins.tokenizer_sentencepiece import SentencePieceTokenizer

from delta_core.tokenizer.shell import ShellTokenizer
from delta_core.tokenizer.versions import train_tokenizer

DATA = Path(__file__).resolve().parent / "data"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

# A few lines of a developer's day, so the small vocabulary also knows git and friends.
EXTRA = [
    'git commit -m "fix: x" && git push origin HEAD:main 2>&1 | tee log',
    "git status",
    "git diff --stat HEAD~1",
    "ls -la ~/src",
    "cd ~/src/app && make test",
    "python -m pytest -x tests/",
    "docker run --rm -it -v $PWD:/w ubuntu:24.04 bash",
    "export PATH=$HOME/.local/bin:$PATH",
]


def sample_commands() -> list[str]:
    """The committed sample (NL2Bash and tldr lines, see data/*.SOURCE.md) plus EXTRA."""
    text = (DATA / "shell_commands_sample.txt").read_text(encoding="utf-8")
    return text.splitlines() + EXTRA


def train_small(root: Path, vocab_size: int = 700, commands: list[str] | None = None):
    """Train, store and activate a small sentencepiece tokenizer under ``root``."""
    return train_tokenizer(
        commands if commands is not None else sample_commands(),
        SentencePieceTokenizer(),
        root=root,
        vocab_size=vocab_size,
    )


def load_small(root: Path) -> ShellTokenizer:
    from delta_core.tokenizer.versions import load_tokenizer

    return load_tokenizer(root=root)


def nl2bash_commands() -> list[str]:
    return (SHARED_DATA / "nl2bash" / "all.cm").read_text(encoding="utf-8").splitlines()


def tldr_commands() -> list[str]:
    lines = (SHARED_DATA / "tldr" / "examples_common_linux.tsv").read_text(encoding="utf-8")
    return [row.split("\t")[3] for row in lines.splitlines()[1:]]
