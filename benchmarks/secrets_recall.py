"""Recall of the ``secrets`` filter on labelled secrets, false positives on benign commands.

    python benchmarks/secrets_recall.py [--data ../shared/data] [--gitleaks-repo DIR] [--show 10]

Every labelled set is split in two by a hash of its text (``split_of``): the rules were tuned
on the ``tune`` half only; the ``held`` half is the figure to report. Each set is measured with
the whole filter and, in the same run, with the filter as it was at ``--baseline-ref`` (main by
default: its hand-picked rules before gitleaks' set), loaded from git.

Positives (a line counts as caught when the filter fires *and* the secret text is gone):
  whispers      Skyscanner whispers' shell lines labelled noncompliant (compliant ones are
                reported as whispers-neg);
  gitleaks      gitleaks' own true positives (``tps``) of every rule, read out of its rule
                sources in a snapshot of github:gitleaks/gitleaks (``gitleaks_examples``; the
                ``fetch`` tool puts one at /work/.mirror/gitleaks+gitleaks/repo); its false
                positives (``fps``) are reported apart: most are near-misses of one rule that
                another rightly redacts (a value assigned to ``*_TOKEN``);
  checklist     the issue's list, built here: AWS secret/session variables, password options,
                assignments, headers, with random values (written with the rules: a coverage
                check, not an independent measure);
  detect-secrets  detect-secrets' config fixtures, labelled by hand below, typed as
                ``echo '<line>' >> file`` (config syntax; no target, there is no entropy rule).
Benign: every tldr example (common + linux) and every NL2Bash command; a command is a false
positive when any rule fires. The real personal histories of ../shared/data/public_histories
are counted apart, each altered command listed by rule (``--list-histories``) to be judged by
eye: a real password there is a true positive. Also the per-command cost of the filter and of the whole built-in
chain (mean, p99) against two baselines measured in the same run: ``str.lower`` alone and
every rule run without the keyword gate.
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import string
import subprocess
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delta_plugins.secret_rules import RULES as BUILTIN_RULES
from delta_plugins.secrets import RULES, SecretScanner, redact
from gitleaks_examples import extract

from delta_core.config import Config
from delta_core.memory.privacy import apply_filters, configure_filters
from delta_core.plugin.manager import Components, make_plugin_manager

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DEFAULT_GITLEAKS = Path("/work/.mirror/gitleaks+gitleaks/repo")


def split_of(set_name: str, text: str) -> str:
    """``tune`` or ``held``: a fixed half of every labelled set, by a hash of the text."""
    return "held" if zlib.crc32(f"{set_name}\0{text}".encode()) % 2 else "tune"


# (line, secret or "" for a negative), read off the fixture files by hand.
DETECT_SECRETS = (
    ("mimi=gX69YO4CvBsVjzAwYxdGyDd30t5+9ez31gKATtj4", "gX69YO4CvBsVjzAwYxdGyDd30t5+9ez31gKATtj4"),
    ("password = 123456789a1234", "123456789a1234"),
    ("aws_secret_key = 23456789a1", "23456789a1"),
    (
        "real_secret_which_isnt_an_i_d = vh987tyw9ehy8ghis7vwyhiwbwitefy7w3ASDGYDGUASDG",
        "vh987tyw9ehy8ghis7vwyhiwbwitefy7w3ASDGYDGUASDG",
    ),
    ("password = 12345678901234  # pragma: allowlist secret", "12345678901234"),
    ('key="ToCynx5Se4e2PtoZxEhW7lUJcOX15c54"', "ToCynx5Se4e2PtoZxEhW7lUJcOX15c54"),
    ("value: AKIATESTTESTTESTTEST", "AKIATESTTESTTESTTEST"),
    (
        "test_agent::allowlisted_api_key: 'ToCynx5Se4e2PtoZxEhW7lUJcOX15c54'",
        "ToCynx5Se4e2PtoZxEhW7lUJcOX15c54",
    ),
    (
        "low_entropy_binary_secret: !!binary MjNjcnh1IDJieXJpdXYyeXJpaTJidnl1MnI4OXkyb3UwMg==",
        "MjNjcnh1IDJieXJpdXYyeXJpaTJidnl1MnI4OXkyb3UwMg==",
    ),
    (
        "high_entropy_hex_binary_secret: !!binary MmIwMDA0MmY3NDgxYzdiMDU2YzRiNDEwZDI4ZjMzY2Y=",
        "MmIwMDA0MmY3NDgxYzdiMDU2YzRiNDEwZDI4ZjMzY2Y=",
    ),
    ("foreign_key_id = vh987tyw9ehy8ghis7vwyhiwbwitefy7w3ASDGYDGUASDG", ""),
    ("allowlisted_id: 'ToCynx5Se4e2PtoZxEhW7lUJcOX15c54'", ""),
    ("uuid_should_be_ignored: '203db13e-70c7-462b-9a3d-bf32640cb0be'", ""),
    ("some_value_here: not_secret", ""),
    ("other_value_here: 1234567890a", ""),
    ("keyA = 678912345", ""),
    ("foo=bår", ""),
)


def _rand(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def checklist(rng: random.Random, per: int = 5) -> list[tuple[str, str]]:
    """The issue's list of secrets in the contexts it names, with random values."""
    b64 = string.ascii_letters + string.digits + "+/"
    out = []
    for _ in range(per):
        pw = _rand(rng, rng.randint(8, 20), string.ascii_letters + string.digits + "!#%^*_+=.")
        tok = _rand(rng, 32)
        aws = _rand(rng, 40, b64)
        out += [
            (f"export AWS_SECRET_ACCESS_KEY={aws}", aws),
            (f"AWS_SESSION_TOKEN={_rand(rng, 120, b64)} aws s3 ls", ""),
            (f"aws configure set aws_secret_access_key {aws}", aws),
            (f"mysql -u root -p{pw} shop", pw),
            (f"mysqldump -uadmin -p'{pw}' --all-databases > dump.sql", pw),
            (f"sshpass -p '{pw}' ssh deploy@10.0.0.5", pw),
            (f"sshpass -p{pw} scp file host:", pw),
            (f"psql --host=db --username=app --password={pw}", pw),
            (f"curl -u admin:{pw} https://jenkins.local/api/json", pw),
            (f"curl --user 'ci:{pw}' -X POST https://ci.local/build", pw),
            (f"export API_TOKEN={tok}", tok),
            (f'export DB_PASSWORD="{pw}"', pw),
            (f"GITHUB_SECRET={tok} ./deploy.sh", tok),
            (f"OPENAI_API_KEY={tok} python app.py", tok),
            (f"$MY_PASSWD = '{pw}'", pw),
            (f"set -gx SLACK_API_KEY {tok}", tok),
            (f"docker run -e POSTGRES_PASSWORD={pw} postgres:16", pw),
            (f'curl -H "Authorization: Bearer {tok}" https://api.example.com', tok),
            (f"curl -H 'Authorization: token {tok}' https://api.github.com/user", tok),
            (f"http GET https://api.example.com Authorization:'Bearer {tok}'", tok),
            (f"git clone https://oauth2:{tok}@gitlab.example.com/grp/app.git", tok),
            (f"psql postgresql://app:{pw}@db.internal:5432/shop", pw),
            (f"docker login -u bob -p {pw} registry.example.com", pw),
            (f"echo '{pw}' | docker login --username bob --password-stdin", pw),
        ]
    # The session token is the value: fill in the secret part of the second template.
    return [(line, sec or line.split("=", 1)[1].split()[0]) for line, sec in out]


def gitleaks(repo: Path) -> tuple[list[tuple[str, str]], list[str], int]:
    """gitleaks' tps as (text, secret) and fps, from its rule sources; and how many were skipped.

    The secret of a generated example is its random part; of a literal one, the secret
    gitleaks' own rule finds in it (as compiled here) or, failing that, the whole text.
    """
    got = extract(repo)
    own = {r.name: SecretScanner((r,)) for r in RULES if r.source == "gitleaks"}
    pos, neg = [], []
    for e in got.examples:
        if not e.positive:
            neg.append(e.text)
            continue
        secret = max(e.secrets, key=len) if e.secrets else ""
        if not secret and e.rule in own:
            found = own[e.rule].scan(e.text)
            secret = e.text[found[0].start : found[0].end] if found else ""
        pos.append((e.text, secret or e.text))
    return pos, neg, got.skipped


def bare(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Each distinct generated secret alone after a neutral command: no keyword, no name.

    What a provider's shape alone gives away (its prefix: ``ghp_``, ``SG.``, ``dp.pt.``); a
    semi-generic gitleaks rule (32 hex digits next to "mailgun") cannot fire here, nor should it.
    """
    seen: dict[str, None] = {}
    for _line, secret in items:
        if 16 <= len(secret) <= 200 and "\n" not in secret and secret not in seen:
            seen[secret] = None
    return [(f"mytool send {s}", s) for s in seen]


def histories(data: Path) -> list[str]:
    """Every command of the public personal histories (fish, zsh extended, plain lines)."""
    out: list[str] = []
    for path in sorted((data / "public_histories/raw").glob("*.txt")):
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.stem.endswith("fish"):
            out += [ln[7:] for ln in text.splitlines() if ln.startswith("- cmd: ")]
        else:
            out += [re.sub(r"^: \d+:\d+;", "", ln) for ln in text.splitlines() if ln.strip()]
    return out


def whispers(data: Path) -> tuple[list[tuple[str, str]], list[str]]:
    path = data / "secrets_whispers_fixtures/shell_command_lines_labeled.tsv"
    pos, neg = [], []
    with path.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["label"] == "noncompliant":
                pos.append((row["command_line"], "YXNkZmZmZmZm_HARDcoded"))
            else:
                neg.append(row["command_line"])
    return pos, neg


def benign(data: Path) -> dict[str, list[str]]:
    with (data / "tldr/examples_common_linux.tsv").open(encoding="utf-8") as fh:
        tldr = [row["example_command"] for row in csv.DictReader(fh, delimiter="\t")]
    nl2bash = (data / "nl2bash/all.cm").read_text(encoding="utf-8").splitlines()
    return {"tldr": tldr, "nl2bash": nl2bash}


def caught(scanner: SecretScanner, line: str, secret: str) -> bool:
    findings = scanner.scan(line)
    return bool(findings) and secret not in redact(line, findings)


def _builtin_chain() -> list:
    """The built-in filters as a context configures them (defaults, no config file)."""
    pm = make_plugin_manager({"DELTA_PLUGINS": ""})
    filters = list(Components.from_manager(pm).privacy_filters.values())
    configure_filters(filters, Config.load(Path("/nonexistent-delta-root"), env={}))
    return filters


def cost(
    scanner: SecretScanner, builtin: SecretScanner, commands: list[str], base_name: str
) -> dict[str, tuple[float, float]]:
    """Mean and p99 microseconds per command: the filter, the chain and three baselines."""

    def ungated(cmd: str) -> None:
        for rule in RULES:
            for m in rule.pattern.finditer(cmd):
                if rule.accept is not None:
                    rule.accept(m)

    chain = _builtin_chain()

    def whole_chain(cmd: str) -> None:
        apply_filters(chain, cmd, "/home/ada/src")

    out = {}
    for name, fn in (
        ("str.lower only", str.lower),
        ("all rules, no gate", ungated),
        (base_name, builtin.scan),
        ("secrets filter", scanner.scan),
        ("whole built-in chain", whole_chain),
    ):
        times = []
        for cmd in commands:
            t0 = time.perf_counter_ns()
            fn(cmd)
            times.append(time.perf_counter_ns() - t0)
        times.sort()
        out[name] = (sum(times) / len(times) / 1000, times[int(len(times) * 0.99)] / 1000)
    return out


def scanner_at(ref: str):
    """The secrets scanner as it was at git ``ref`` (its two modules, loaded under a new name).

    The baseline the issue measured: the filter before gitleaks' rules and the additions.
    """
    import importlib.util
    import subprocess
    import tempfile
    import types

    repo = Path(__file__).resolve().parents[1]
    pkg = types.ModuleType("delta_plugins_at_ref")
    pkg.__path__ = []  # a namespace of our own
    sys.modules[pkg.__name__] = pkg
    tmp = Path(tempfile.mkdtemp(prefix="delta-secrets-ref-"))
    # secret_rules reads gitleaks' stop words from the data file beside it: that file at ref.
    (tmp / "data").mkdir()
    (tmp / "data" / "gitleaks_rules.json").write_text(
        subprocess.run(
            ["git", "-C", str(repo), "show", f"{ref}:plugins/data/gitleaks_rules.json"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    for name in ("secret_rules", "secrets"):
        src = subprocess.run(
            ["git", "-C", str(repo), "show", f"{ref}:plugins/{name}.py"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.replace("delta_plugins.", "delta_plugins_at_ref.")
        path = tmp / f"{name}.py"
        path.write_text(src)
        spec = importlib.util.spec_from_file_location(f"delta_plugins_at_ref.{name}", path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return sys.modules["delta_plugins_at_ref.secrets"].SecretScanner()


def _recall(scanner: SecretScanner, items: list[tuple[str, str]]) -> tuple[int, list[str]]:
    misses = [line for line, secret in items if not caught(scanner, line, secret)]
    return len(items) - len(misses), misses


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--gitleaks-repo", type=Path, default=DEFAULT_GITLEAKS)
    ap.add_argument("--show", type=int, default=5, help="misses / false positives to print")
    ap.add_argument("--list-histories", action="store_true", help="print every altered command")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--baseline-ref",
        default="main",
        help="git ref whose secrets filter is the baseline column (default: main)",
    )
    args = ap.parse_args(argv)
    console = Console()
    scanner = SecretScanner()
    try:
        builtin = scanner_at(args.baseline_ref)
        base_name = f"filter at {args.baseline_ref}"
    except (OSError, subprocess.CalledProcessError, ImportError, AttributeError) as exc:
        console.print(f"baseline at {args.baseline_ref} not loadable ({exc}); built-in rules")
        builtin = SecretScanner(BUILTIN_RULES)
        base_name = "built-in rules only"
    rng = random.Random(args.seed)

    w_pos, w_neg = whispers(args.data)
    g_pos, g_neg, skipped = gitleaks(args.gitleaks_repo)
    positives = {
        "whispers": w_pos,
        "gitleaks": g_pos,
        "checklist": checklist(rng),
        "detect-secrets": [(f"echo '{line}' >> config", s) for line, s in DETECT_SECRETS if s],
        "gitleaks-bare (not in totals)": bare(g_pos),
    }
    negatives = {
        "whispers-neg": w_neg,
        "detect-secrets-neg": [f"echo '{line}' >> config" for line, s in DETECT_SECRETS if not s],
        "gitleaks-fps": g_neg,
        **benign(args.data),
    }

    table = Table(
        title=f"secrets filter: recall ({len(RULES)} rules; {skipped} gitleaks items not evaluated)"
    )
    for col in ("set", "half", "lines", "all rules", base_name):
        table.add_column(col, justify="right" if col not in ("set", "half") else "left")
    misses: list[tuple[str, str]] = []
    totals: dict[str, list[int]] = {}
    for name, items in positives.items():
        for half in ("tune", "held"):
            part = [it for it in items if split_of(name, it[0]) == half]
            if not part:
                continue
            hit, missed = _recall(scanner, part)
            b_hit, _ = _recall(builtin, part)
            if half == "held":
                misses += [(name, m) for m in missed]
            if "not in totals" not in name:
                t = totals.setdefault(half, [0, 0, 0])
                t[0], t[1], t[2] = t[0] + len(part), t[1] + hit, t[2] + b_hit
            table.add_row(
                name,
                half,
                str(len(part)),
                f"{hit} ({100 * hit / len(part):.2f}%)",
                f"{b_hit} ({100 * b_hit / len(part):.2f}%)",
            )
    for half, (n, hit, b_hit) in totals.items():
        table.add_row(
            "all sets",
            half,
            str(n),
            f"{hit} ({100 * hit / n:.2f}%)",
            f"{b_hit} ({100 * b_hit / n:.2f}%)",
            style="bold",
        )
    console.print(table)

    table = Table(title="secrets filter: commands flagged among benign and negative examples")
    for col in ("set", "commands", "all rules", base_name):
        table.add_column(col, justify="right" if col != "set" else "left")
    fps: list[tuple[str, str, str]] = []
    benign_fp = benign_all = 0
    for name, lines in negatives.items():
        flagged = b_flagged = 0
        for line in lines:
            found = scanner.scan(line)
            b_flagged += bool(builtin.scan(line))
            if found:
                flagged += 1
                fps.append((name, ",".join(f.rule for f in found), line))
        if name in ("tldr", "nl2bash"):
            benign_fp, benign_all = benign_fp + flagged, benign_all + len(lines)
        table.add_row(
            name,
            str(len(lines)),
            f"{flagged} ({100 * flagged / len(lines):.3f}%)",
            f"{b_flagged} ({100 * b_flagged / len(lines):.3f}%)",
        )
    table.add_row(
        "benign (tldr + nl2bash)",
        str(benign_all),
        f"{benign_fp} ({100 * benign_fp / benign_all:.3f}%)",
        "",
        style="bold",
    )
    console.print(table)
    console.print(
        "flagged by rule (tldr + nl2bash):",
        dict(Counter(r for n, r, _l in fps if n in ("tldr", "nl2bash")).most_common()),
    )

    hist = histories(args.data)
    altered = [(",".join(f.rule for f in found), c) for c in hist if (found := scanner.scan(c))]
    b_altered = sum(bool(builtin.scan(c)) for c in hist)
    console.print(
        f"public_histories: {len(altered)} of {len(hist)} commands altered"
        f" ({100 * len(altered) / max(len(hist), 1):.3f}%; {base_name}: {b_altered});"
        " by rule:",
        dict(Counter(r for r, _c in altered).most_common()),
    )
    if args.list_histories:
        for rule, c in altered:
            console.print(f"  [{rule}] {c[:200]!r}", highlight=False, markup=False)

    commands = benign(args.data)["tldr"] + benign(args.data)["nl2bash"]
    table = Table(title=f"cost per command, {len(commands)} benign commands (µs)")
    for col in ("what", "mean", "p99", "mean vs filter"):
        table.add_column(col, justify="right" if col != "what" else "left")
    figures = cost(scanner, builtin, commands, base_name)
    base = figures["secrets filter"][0]
    for name, (mean, p99) in figures.items():
        table.add_row(name, f"{mean:.2f}", f"{p99:.2f}", f"{mean / base:.2f}x")
    console.print(table)

    for name, line in misses[: args.show]:
        console.print(f"[red]missed[/] {name}: {line[:160]!r}", markup=True, highlight=False)
    for name, rule, line in [f for f in fps if f[0] in ("tldr", "nl2bash")][: args.show]:
        console.print(f"[yellow]flagged[/] {name} ({rule}): {line[:160]!r}", highlight=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
