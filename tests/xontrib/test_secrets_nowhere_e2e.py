"""End to end: secrets typed into a real xonsh are in no file under the Delta root.

Ten providers' token shapes, typed in bash syntax and in xonsh syntax into an interactive
xonsh with ``xontrib load delta``; then the tokenizer is trained, a dataset built and the
search index rebuilt, each by the ``delta`` program as a user runs it. No secret may appear in
the raw bytes of any file under ``DELTA_HOME``. Then a value no filter can know is a secret is
typed often enough to reach the tokenizer's vocabulary, found on disk, and forgotten with
``delta memory forget``: afterwards it is in no file either (tokenizer, dataset, search state),
and the command says what it touched.
"""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import pytest
from xonsh_pty import Xonsh, clean_env, write_rc

pytest.importorskip("sentencepiece")

_ALNUM = string.ascii_letters + string.digits


def _fake(prefix: str, n: int, alphabet: str = _ALNUM, seed: int = 1) -> str:
    x, out = seed, []
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        out.append(alphabet[(x >> 7) % len(alphabet)])
    return prefix + "".join(out)


SECRETS = {
    "github": _fake("ghp_", 36, seed=2),
    "aws": _fake("", 40, _ALNUM + "+/", seed=3),
    "stripe": _fake("sk_live_", 24, seed=4),
    "slack": "xoxb-" + _fake("", 11, string.digits, 5) + "-" + _fake("", 24, seed=6),
    "openai": _fake("sk-proj-", 48, seed=7),
    "sendgrid": "SG." + _fake("", 22, seed=8) + "." + _fake("", 43, seed=9),
    "telegram": _fake("", 9, string.digits, 10) + ":AA" + _fake("", 33, seed=11),
    "gitlab": _fake("glpat-", 20, seed=12),
    "huggingface": _fake("hf_", 34, string.ascii_letters, 13),
    "postgres": _fake("", 14, seed=14),
    "npm": _fake("npm_", 36, seed=15),
    "db-password": _fake("", 16, _ALNUM + "!#%", seed=16),
}

BASH_SYNTAX = [
    f"export GITHUB_TOKEN={SECRETS['github']}",
    f"AWS_SECRET_ACCESS_KEY={SECRETS['aws']} aws s3 ls",
    f"stripe listen --api-key {SECRETS['stripe']}",
    f"curl -H 'Authorization: Bearer {SECRETS['slack']}' https://slack.com/api/auth.test",
    f"psql postgresql://app:{SECRETS['postgres']}@db.internal:5432/shop",
    f"echo //registry.npmjs.org/:_authToken={SECRETS['npm']} >> .npmrc",
    f"curl -d bot={SECRETS['telegram']} https://tg.local/send",
]
XONSH_SYNTAX = [
    f"$OPENAI_API_KEY = '{SECRETS['openai']}'",
    f"${{'SENDGRID_API_KEY'}} = '{SECRETS['sendgrid']}'",
    "import os",
    f"os.environ['GITLAB_TOKEN'] = '{SECRETS['gitlab']}'",
    f'$HF_TOKEN = "{SECRETS["huggingface"]}"',
    f"${{'DB_PASSWORD'}} = '{SECRETS['db-password']}'",
]
BENIGN = [
    "echo build-started",
    "ls -la",
    "git status",
    "echo deploy-finished",
    "pwd",
    "echo tests-passed",
]
MISSED = "qZ7vR2xK9mL4pW8sT3nB"  # a plain word to every filter: only the user knows


def _delta(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "from delta_core.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, (args, out.stdout, out.stderr)
    return out.stdout


def _files_holding(root: Path, needle: str) -> list[Path]:
    return [f for f in root.rglob("*") if f.is_file() and needle.encode() in f.read_bytes()]


def _build_everything(env: dict[str, str]) -> None:
    _delta(env, "tokenizer", "train", "--vocab-size", "420")
    _delta(env, "tokenizer", "dataset", "build", "--replace", "--val-fraction", "0.2")
    _delta(env, "search", "--rebuild", "--json", "echo")


def test_typed_secrets_reach_no_file_and_forget_reaches_derived_files(tmp_path: Path) -> None:
    env = clean_env(tmp_path, DELTA_SEARCH_EMBEDDER="hashing")
    (tmp_path / "start").mkdir()
    sh = Xonsh(write_rc(tmp_path / "rc.xsh"), env, tmp_path / "start", timeout=60)
    for _ in range(3):
        for line in BENIGN:
            sh.run(line)
        for line in BASH_SYNTAX + XONSH_SYNTAX:
            sh.run(line)
    for _ in range(12):
        sh.run(f"echo {MISSED}")
    sh.exit()

    root = Path(env["DELTA_HOME"])
    _build_everything(env)
    assert list((root / "tokenizer").rglob("*.model")), "no tokenizer was trained"
    assert list((root / "datasets").rglob("*.bin")), "no dataset was built"
    assert list((root / "search").rglob("state-*.npz")), "no search state was written"
    for name, secret in SECRETS.items():
        assert _files_holding(root, secret) == [], name

    # The value no filter could know is on disk, in the store and in derived files...
    before = _files_holding(root, MISSED)
    assert any("search" in p.parts for p in before), before
    out = _delta(env, "memory", "forget", MISSED, "--yes")
    assert "forgot 12 records" in out, out
    assert "feedback:" in out, out  # the ghost text of it was taken (accepted) several times
    assert "tokenizer" in out or "dataset" in out or "search" in out, out
    # ...and after `forget` in none, neither whole nor in pieces of 8 characters.
    for i in range(len(MISSED) - 7):
        assert _files_holding(root, MISSED[i : i + 8]) == [], MISSED[i : i + 8]
    # What was derived can be built again, and the secrets still are nowhere.
    _build_everything(env)
    for secret in [*SECRETS.values(), MISSED]:
        assert _files_holding(root, secret) == []
