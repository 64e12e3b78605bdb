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

PLACEHOLDER = re.compile(r"\{\{([^}]*)\}\}")
#: What a person would have typed for tldr's most common placeholders (the rest keep their
#: own name, which reads as a real argument: ``project_name`` -> ``project-name``).
VALUES = {
    "file": "notes.txt",
    "directory": "src",
    "command": "ls -la",
    "username": "ada",
    "user": "ada",
    "package": "requests",
    "package_name": "requests",
    "name": "demo",
    "password": "$DB_PASSWORD",
    "file_or_directory": "src",
    "value": "42",
    "port": "8080",
    "host": "db.internal",
    "hostname": "db.internal",
    "file2 ...": "b.txt",
    "version": "1.4.2",
    "target": "build",
    "domain": "example.org",
    "image": "nginx:1.27",
    "url": "https://example.org/api",
    "container_name": "web",
    "container": "web",
    "ip_address": "192.168.1.20",
    "key": "api_url",
    "repository": "ada/delta",
    "sdX": "sdb",
    "sdXY": "sdb1",
    "sdXN": "sdb1",
    "n": "5",
    "pattern": "TODO",
    "search_pattern": "TODO",
    "regex": "^error",
    "tag": "v1.4.2",
    "output_file": "out.txt",
    "input_file": "data.csv",
    "branch_name": "feature/login",
    "branch": "feature/login",
    "number": "3",
    "unit": "nginx.service",
    "message": "fix login redirect",
    "subcommand": "status",
    "database_name": "shop",
    "file1": "a.txt",
    "source": "src",
    "destination": "backup",
    "binary": "./app",
    "string": "hello",
    "variable": "PATH",
    "pid": "4242",
    "group_name": "developers",
    "bucket_name": "ada-backups",
    "remote_name": "origin",
    "task_id": "17",
    "keyword": "timeout",
    "profile_name": "work",
}


def fill(match: re.Match[str]) -> str:
    """A realistic value for one ``{{...}}``: an option's short form, a path's last part,
    a common placeholder's stand-in (:data:`VALUES`), else the placeholder's own name."""
    inner = match.group(1)
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]  # {{[-t|--tag]}}: the option, in its first spelling
    first = inner.split("|")[0].strip()
    if first.startswith("-") or not first:
        return first
    last = first.split("/")[-1] or first
    return VALUES.get(first, VALUES.get(last, last.replace("_", "-")))


def plausible(cmd: str) -> bool:
    """A line a person could have typed: not a prompt or a fragment, quotes balanced."""
    return (
        bool(cmd)
        and len(cmd) < 120
        and not cmd.startswith(("$", "<", "#", "|"))
        and cmd.count('"') % 2 == 0
        and cmd.count("'") % 2 == 0
    )


def tldr_commands(data: Path) -> list[str]:
    out = []
    with open(data / "tldr" / "examples_common_linux.tsv", encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
            cmd = PLACEHOLDER.sub(fill, row["example_command"])
            if "{{" not in cmd and plausible(cmd):
                out.append(cmd)
    return out


def main() -> None:
    data = Path(sys.argv[1])
    rng = random.Random(2026)
    nl2bash = [c.strip() for c in (data / "nl2bash" / "all.cm").read_text().splitlines()]
    corpus = [c for c in nl2bash if plausible(c)] + tldr_commands(data)
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
