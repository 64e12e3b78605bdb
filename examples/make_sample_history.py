"""Build examples/sample_history.jsonl: a small demo history in Delta's export format.

Every command is written here (no corpus text): a developer, Ada, works on three projects.
A task is a branch for one module, edits, tests until green, commit and push; infra days
also look after servers; habits (``git status``, ``ls``) and one-off commands fall in
between. Modules and branches recombine from task to task, so a name recurs within a
session more than across them — what a memory that reads the session can use. The last
session stops right after a test failed. Deterministic (seeded).

    python examples/make_sample_history.py > examples/sample_history.jsonl
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

#: The projects the demo user works on: directory, package, its modules (file stems).
PROJECTS = {
    "ledger": (
        "ledger",
        [
            "rounding",
            "accounts",
            "invoices",
            "currency",
            "reports",
            "ledger",
            "taxes",
            "export",
            "importer",
            "audit",
            "budget",
            "payments",
        ],
    ),
    "website": (
        "site",
        [
            "routes",
            "auth",
            "templates",
            "forms",
            "models",
            "search",
            "sitemap",
            "feeds",
            "cache",
            "admin",
            "api",
            "mailer",
        ],
    ),
    "infra": (
        "deploy",
        [
            "inventory",
            "dns",
            "backups",
            "monitoring",
            "certs",
            "firewall",
            "users",
            "secrets_sync",
            "nginx",
            "postgres",
            "metrics",
            "alerts",
        ],
    ),
}
TOPICS = ["fix", "refactor", "speedup", "tests", "typing", "cleanup", "logging", "docs"]
HOSTS = ["web1.internal", "web2.internal", "db1.internal", "ci.internal"]
SERVICES = ["nginx", "postgresql", "gunicorn", "redis-server"]
HABITS = ["git status", "ls", "git diff", "ls -la", "git log --oneline -5", "clear"]
#: Things Ada runs now and then, whatever the project.
ONE_OFFS = [
    "df -h",
    "du -sh * | sort -h",
    "htop",
    "docker ps",
    "docker compose up -d",
    "docker compose logs -f --tail 100",
    "curl -I https://example.org",
    "curl -s https://api.example.org/health | jq .",
    "tar -czf backup.tar.gz notes/",
    "grep -rn TODO .",
    "find . -name '*.pyc' -delete",
    "python -m http.server 8000",
    "pip install -e '.[dev]'",
    "pip list --outdated",
    "python -m venv .venv",
    "source .venv/bin/activate",
    "make lint",
    "ruff check .",
    "mypy .",
    "git stash",
    "git stash pop",
    "git fetch --prune",
    "git log --graph --oneline --all -20",
    "git branch -d old-experiment",
    "gh pr create --fill",
    "gh pr status",
    "rg 'def main' -g '*.py'",
    "wc -l **/*.py",
    "watch -n 2 kubectl get pods",
    "kubectl logs deploy/api --tail 50",
    "ssh-add -l",
    "ping -c 3 db1.internal",
    "dig +short example.org",
    "sudo apt update",
    "sudo apt upgrade -y",
    "man rsync",
    "rsync -av --delete notes/ backup:notes/",
    "echo $PATH | tr : '\\n'",
    "history | tail -20",
    "top -o %MEM",
]


def task(rng: random.Random, project: str) -> list[tuple[str, int]]:
    """One piece of work in a project, as (command, exit status): a branch for one module,
    edit, test until green, commit and push. The module and branch are new combinations each
    time, so their names recur only within the session: history alone has not seen
    ``git add ledger/taxes.py`` before it is typed, a model that read the session has."""
    pkg, modules = PROJECTS[project]
    mod, topic = rng.choice(modules), rng.choice(TOPICS)
    branch = f"{topic}/{mod.replace('_', '-')}"
    src, test = f"{pkg}/{mod}.py", f"tests/test_{mod}.py"
    out = [("git switch main", 0), ("git pull", 0), (f"git switch -c {branch}", 0)]
    out.append((f"vim {src}", 0))
    for _ in range(rng.choice([0, 1, 1, 2])):  # red, edit again
        out += [(f"pytest {test}", 1), (f"vim {src}", 0)]
    out.append((f"pytest {test}", 0))
    if rng.random() < 0.5:
        out.append(("git diff", 0))
    out += [
        (f"git add {src} {test}", 0),
        (f"git commit -m '{mod}: {topic}'", 0),
        (f"git push -u origin {branch}", 0),
    ]
    return out


def ops(rng: random.Random) -> list[tuple[str, int]]:
    """Looking after a server: its service's log, a restart, the status after."""
    host, svc = rng.choice(HOSTS), rng.choice(SERVICES)
    return [
        (f"ssh {host}", 0),
        (f"journalctl -u {svc} -n 50", 0),
        (f"sudo systemctl restart {svc}", 0),
        (f"systemctl status {svc}", 0),
    ]


def main() -> None:
    rng = random.Random(2026)
    t = datetime(2026, 10, 1, 8, 30, tzinfo=UTC)
    for s in range(90):
        t += timedelta(hours=rng.choice([2, 3, 5, 16, 20]))
        project = rng.choice(list(PROJECTS))
        cwd = f"/home/ada/src/{project}"
        session = f"sample-{s:03d}"
        steps: list[tuple[str, int]] = [(f"cd ~/src/{project}", 0)]
        for _ in range(rng.randint(1, 3)):
            steps += ops(rng) if project == "infra" and rng.random() < 0.4 else task(rng, project)
        for cmd, exit_ in steps:
            # now and then something else between the steps: a habit, a favourite, a one-off
            while rng.random() < 0.3:
                r = rng.random()
                other = rng.choice(HABITS) if r < 0.6 else rng.choice(ONE_OFFS)
                t += timedelta(seconds=rng.randint(3, 240))
                emit(other, cwd, 0, round(rng.expovariate(2.0), 3), t, session)
            t += timedelta(seconds=rng.randint(3, 240))
            emit(cmd, cwd, exit_, round(rng.expovariate(2.0), 3), t, session)
    # a last session starts a project, so that searching "initialize a repository" has its
    # answer in the demo memory
    t += timedelta(hours=3)
    cwd = "/home/ada/src"
    for i, cmd in enumerate(NEW_PROJECT):
        emit(cmd, cwd, 0, 0.05, t + timedelta(seconds=20 * i), "sample-090")
        if cmd.startswith("cd "):
            cwd = "/home/ada/src/tool"
    # and the memory ends in the middle of a task, its test just failed: the README's demo
    # asks what comes next (after a failure, back to the module: the model reads the exit
    # status; history's successor counts mix the red and the green runs of that test)
    t += timedelta(hours=2)
    cwd = "/home/ada/src/ledger"
    for i, (cmd, exit_) in enumerate(LAST_TASK):
        emit(cmd, cwd, exit_, 0.4, t + timedelta(seconds=40 * i), "sample-091")


NEW_PROJECT = [
    "mkdir -p tool",
    "cd tool",
    "git init",
    "git add -A",
    "git commit -m 'first commit'",
    "git remote add origin git@example.com:ada/tool.git",
    "git push -u origin main",
]
LAST_TASK = [
    ("cd ~/src/ledger", 0),
    ("git switch main", 0),
    ("git pull", 0),
    ("git switch -c speedup/taxes", 0),
    ("vim ledger/taxes.py", 0),
    ("pytest tests/test_taxes.py", 1),
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
