"""Regenerates the shipped gitleaks rule data (``data/gitleaks_rules.json``) from a gitleaks.toml.

    python -m delta_plugins.gitleaks_import PATH/TO/gitleaks.toml [--commit SHA] [--out FILE]

gitleaks (https://github.com/gitleaks/gitleaks, MIT) writes its rules for Go's RE2. Python's
``re`` differs in a few places, translated here once so that the filter loads plain Python
patterns at start-up:

* a flag group in the middle of a pattern (``ab(?i)cd``) applies to the rest of its group in
  RE2 and is an error in Python: it becomes a scoped group ``ab(?i:cd)``;
* ``\\z`` (end of text) is ``\\Z``; ``\\Q…\\E`` is a quoted literal; ``\\x{41}`` is ``\\x41``/``\\u0041``;
* ``(?<name>…)`` is ``(?P<name>…)``;
* inside a character class a bare ``[`` and the pairs ``&&``, ``--``, ``||``, ``~~`` are literal in
  RE2 but reserved in Python (a FutureWarning today): they are escaped; POSIX classes
  (``[:alnum:]``) become ranges;
* RE2's ``\\w``, ``\\d``, ``\\s`` and ``\\b`` are ASCII: every pattern is compiled with ``re.ASCII``.

What cannot be translated (Unicode classes ``\\pL``) or does not compile is *reported* — printed
and listed under ``not_compiled`` in the output — never dropped in silence. Rules that only look at
file paths (``pkcs12-file``) or only apply to one kind of file (``path = …\\.tf$``) do not apply to
a command line; they are listed under ``not_applicable`` with the reason.

Update procedure: fetch gitleaks' ``config/gitleaks.toml`` at the commit you want, run this
module on it with ``--commit``, run ``python benchmarks/secrets_recall.py`` and the secrets tests,
and commit the new JSON (the LICENSE next to it stays gitleaks' MIT notice).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tomllib
import warnings
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"
OUT = DATA / "gitleaks_rules.json"

_POSIX = {
    "alnum": "0-9A-Za-z",
    "alpha": "A-Za-z",
    "ascii": "\\x00-\\x7f",
    "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f",
    "digit": "0-9",
    "graph": "!-~",
    "lower": "a-z",
    "print": " -~",
    "punct": "!-/:-@\\[-`{-~",
    "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z",
    "word": "0-9A-Za-z_",
    "xdigit": "0-9A-Fa-f",
}


class Untranslatable(ValueError):
    """A construct of RE2 that Python's ``re`` has no equivalent for."""


def _class_end(p: str, i: int) -> tuple[str, int]:
    """Translate the character class starting at ``p[i] == '['``; return it and the index after."""
    out = ["["]
    i += 1
    if i < len(p) and p[i] == "^":
        out.append("^")
        i += 1
    if i < len(p) and p[i] == "]":  # a leading ] is literal
        out.append("\\]")
        i += 1
    while i < len(p):
        c = p[i]
        if c == "\\":
            esc = p[i : i + 2]
            if esc[1:2] in ("p", "P"):
                raise Untranslatable("Unicode class \\p")
            if esc == "\\x" and p[i + 2 : i + 3] == "{":
                close = p.index("}", i)
                out.append(_hex_escape(p[i + 3 : close]))
                i = close + 1
                continue
            out.append(esc)
            i += 2
            continue
        if c == "]":
            out.append("]")
            return "".join(out), i + 1
        if c == "[":
            m = re.match(r"\[:(\^?)([a-z]+):\]", p[i:])
            if m:
                if m.group(1) or m.group(2) not in _POSIX:
                    raise Untranslatable(f"POSIX class {m.group(0)}")
                out.append(_POSIX[m.group(2)])
                i += len(m.group(0))
                continue
            out.append("\\[")
            i += 1
            continue
        if c in "&-|~" and p[i + 1 : i + 2] == c:
            out.append("\\" + c + "\\" + c)
            i += 2
            continue
        out.append(c)
        i += 1
    raise Untranslatable("unterminated character class")


def _hex_escape(digits: str) -> str:
    n = int(digits, 16)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def translate(p: str) -> str:
    """A Python ``re`` pattern with the meaning of the RE2 pattern ``p``."""
    out: list[str] = []
    # Per open group: the scoped flag groups opened inside it, closed when it closes; RE2's flags
    # hold to the end of the group across ``|``, so each alternative reopens them.
    opened: list[list[str]] = [[]]
    i = 0
    while i < len(p):
        c = p[i]
        if c == "\\":
            esc = p[i : i + 2]
            if esc == "\\z":
                out.append("\\Z")
            elif esc == "\\Q":
                end = p.find("\\E", i + 2)
                end = len(p) if end == -1 else end
                out.append(re.escape(p[i + 2 : end]))
                i = end + 2
                continue
            elif esc in ("\\p", "\\P"):
                raise Untranslatable("Unicode class \\p")
            elif esc == "\\x" and p[i + 2 : i + 3] == "{":
                close = p.index("}", i)
                out.append(_hex_escape(p[i + 3 : close]))
                i = close + 1
                continue
            else:
                out.append(esc)
            i += 2
            continue
        if c == "[":
            cls, i = _class_end(p, i)
            out.append(cls)
            continue
        if c == "(":
            flags = re.match(r"\(\?([imsU-]+)\)", p[i:])
            if flags:
                if "U" in flags.group(1):
                    raise Untranslatable("ungreedy flag (?U)")
                at_start = not out or (len(out) == 1 and out[0] == "^")
                if at_start and len(opened) == 1 and "-" not in flags.group(1):
                    out.insert(0, flags.group(0))  # a global flag group, as Python wants it
                else:
                    out.append(f"(?{flags.group(1)}:")
                    opened[-1].append(f"(?{flags.group(1)}:")
                i += len(flags.group(0))
                continue
            named = re.match(r"\(\?<([A-Za-z_]\w*)>", p[i:])
            if named:
                out.append(f"(?P<{named.group(1)}>")
                i += len(named.group(0))
                opened.append([])
                continue
            out.append("(")
            opened.append([])
            i += 1
            continue
        if c == ")":
            out.append(")" * len(opened.pop()) + ")")
            if not opened:
                raise Untranslatable("unbalanced )")
            i += 1
            continue
        if c == "|" and opened[-1]:
            out.append(")" * len(opened[-1]) + "|" + "".join(opened[-1]))
            i += 1
            continue
        out.append(c)
        i += 1
    out.append(")" * len(opened.pop()))
    return "".join(out)


def compile_pattern(p: str) -> re.Pattern[str]:
    """Compile a translated pattern as the filter does; warnings count as errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return re.compile(p, re.ASCII)


def _allowlist(raw: dict, rule_id: str, problems: list[str]) -> dict | None:
    """The parts of one allowlist that can apply to a command line, or None if none can."""
    condition = raw.get("condition", "OR").upper()
    has_paths = bool(raw.get("paths")) or bool(raw.get("commits"))
    if condition == "AND" and has_paths:
        return None  # needs a file path to match as well: never true for a command line
    regexes = []
    for rx in raw.get("regexes", []):
        try:
            t = translate(rx)
            compile_pattern(t)
            regexes.append(t)
        except (Untranslatable, re.error, FutureWarning, ValueError) as e:
            problems.append(f"{rule_id}: allowlist regex {rx!r}: {e}")
    stopwords = [s.lower() for s in raw.get("stopwords", [])]
    if not regexes and not stopwords:
        return None
    return {
        "target": raw.get("regexTarget", "secret"),
        "condition": condition,
        "regexes": regexes,
        "stopwords": stopwords,
    }


def convert(config: dict, commit: str = "") -> dict:
    """The shipped JSON document for a parsed gitleaks.toml."""
    problems: list[str] = []
    rules, not_compiled, not_applicable = [], [], []
    for raw in config.get("rules", []):
        rid = raw["id"]
        if "regex" not in raw:
            not_applicable.append({"id": rid, "reason": "matches file paths only"})
            continue
        if raw.get("path"):
            not_applicable.append({"id": rid, "reason": f"only for files matching {raw['path']}"})
            continue
        if raw.get("required"):
            not_applicable.append({"id": rid, "reason": "multi-part rule (required)"})
            continue
        try:
            pattern = translate(raw["regex"])
            compiled = compile_pattern(pattern)
        except (Untranslatable, re.error, FutureWarning, ValueError) as e:
            not_compiled.append({"id": rid, "regex": raw["regex"], "error": str(e)})
            continue
        group = int(raw.get("secretGroup", 0))
        if group > compiled.groups:
            not_compiled.append({"id": rid, "regex": raw["regex"], "error": "no such secretGroup"})
            continue
        allowlists = [
            a for a in (_allowlist(x, rid, problems) for x in raw.get("allowlists", [])) if a
        ]
        rules.append(
            {
                "id": rid,
                "description": raw.get("description", rid),
                "regex": pattern,
                "keywords": sorted({k.lower() for k in raw.get("keywords", [])}),
                "entropy": float(raw.get("entropy", 0.0)),
                "secret_group": group,
                "allowlists": allowlists,
            }
        )
    glob = config.get("allowlist") or {}
    global_allowlist = _allowlist({**glob, "paths": []}, "(global)", problems)
    return {
        "source": {
            "project": "gitleaks",
            "url": "https://github.com/gitleaks/gitleaks",
            "path": "config/gitleaks.toml",
            "commit": commit,
            "licence": "MIT (see gitleaks.LICENSE next to this file)",
            "generated_by": "python -m delta_plugins.gitleaks_import",
        },
        "rules": rules,
        "global_allowlist": global_allowlist,
        "not_compiled": not_compiled,
        "not_applicable": not_applicable,
        "allowlist_problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("toml", type=Path)
    ap.add_argument("--commit", default="", help="the gitleaks commit the file comes from")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    try:
        config = tomllib.loads(args.toml.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        print(f"gitleaks_import: cannot read {args.toml}: {e}", file=sys.stderr)
        return 1
    doc = convert(config, args.commit)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1, ensure_ascii=True) + "\n", encoding="utf-8")
    total = len(config.get("rules", []))
    print(f"{len(doc['rules'])} of {total} rules compiled into {args.out}")
    for item in doc["not_applicable"]:
        print(f"  not applicable to command lines: {item['id']} ({item['reason']})")
    for item in doc["not_compiled"]:
        print(f"  NOT COMPILED: {item['id']}: {item['error']}")
    for problem in doc["allowlist_problems"]:
        print(f"  allowlist entry not compiled: {problem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
