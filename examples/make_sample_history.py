"""Build examples/sample_history.jsonl: a small demo history in Delta's export format.

Commands come from NL2Bash (MIT; Lin et al., LREC 2018) and tldr-pages examples (CC BY 4.0,
the tldr-pages team and contributors), both under ../shared/data with their SOURCE.md. They
have no session order, so sessions are assembled here: a project directory per session, a
few habits repeated (git, ls, cd), and the corpus commands in between. Deterministic.

    python examples/make_sample_history.py ../shared/data > examples/sample_history.jsonl
"""

from __future__ import annotations

import csv
import json
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

PLACEHOLDER = re.compile(r"\{\{(?:\[[^]]*\]|([^}]*))\}\}")


def tldr_commands(data: Path) -> list[str]:
    out = []
    with open(data / "tldr" / "examples_common_linux.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            cmd = PLACEHOLDER.sub(
                lambda m: (m.group(1) or "x").split("/")[-1], row["example_command"]
            )
            if "{{" not in cmd and len(cmd) < 120:
                out.append(cmd)
    return out


def main() -> None:
    data = Path(sys.argv[1])
    rng = random.Random(2026)
    nl2bash = [c.strip() for c in (data / "nl2bash" / "all.cm").read_text().splitlines()]
    corpus = [c for c in nl2bash if c and len(c) < 120] + tldr_commands(data)
    projects = ["~/src/delta", "~/src/website", "~/notes", "~/src/infra"]
    habits = [
        "git status",
        "ls",
        "git diff",
        "git add -A",
        "make test",
        "ls -la",
        "git log --oneline -5",
    ]
    favourites = rng.sample(corpus, 60)
    t = datetime(2026, 10, 1, 8, 30, tzinfo=UTC)
    for s in range(60):
        t += timedelta(hours=rng.choice([2, 3, 5, 16, 20]))
        cwd = f"/home/ada/{rng.choice(projects)[2:]}"
        session = f"sample-{s:03d}"
        for _ in range(rng.randint(10, 40)):
            r = rng.random()
            cmd = (
                rng.choice(habits)
                if r < 0.35
                else rng.choice(favourites)
                if r < 0.7
                else rng.choice(corpus)
            )
            if cmd == "git add -A":
                cmd = f"git commit -m '{rng.choice(['fix', 'docs', 'wip', 'tests'])}'"
            t += timedelta(seconds=rng.randint(3, 240))
            exit_ = 0 if rng.random() < 0.92 else rng.choice([1, 2, 127])
            emit(cmd, cwd, exit_, round(rng.expovariate(2.0), 3), t, session)
    # a last session starts a project, so that searching "initialize a repository" has its
    # answer in the demo memory (appended: the sessions above are unchanged)
    t += timedelta(hours=3)
    cwd = "/home/ada/src"
    for i, cmd in enumerate(NEW_PROJECT):
        emit(cmd, cwd, 0, 0.05, t + timedelta(seconds=20 * i), "sample-060")
        if cmd.startswith("cd "):
            cwd = "/home/ada/src/tool"


NEW_PROJECT = [
    "mkdir -p tool",
    "cd tool",
    "git init",
    "git add -A",
    "git commit -m 'first commit'",
    "git remote add origin git@example.com:ada/tool.git",
    "git push -u origin main",
]


def emit(cmd: str, cwd: str, exit_: int, duration: float, t: datetime, session: str) -> None:
    print(
        json.dumps(
            {
                "command": cmd,
                "cwd": cwd,
                "exit": exit_,
                "duration": duration,
                "timestamp": t.isoformat(),
                "session": session,
                "host": "laptop",
                "user": "ada",
                "shell": "xonsh",
                "extra": {},
            }
        )
    )


if __name__ == "__main__":
    main()
