"""gitleaks' own labelled examples, read out of its rule sources (``cmd/generate/config/rules/*.go``).

Each gitleaks rule is defined by a Go function that ends in ``utils.Validate(r, tps, fps)``:
``tps`` are texts the rule must find, ``fps`` texts it must not. Many are literals; many are
built at generation time (``utils.GenerateSampleSecrets("github", "ghp_" +
secrets.NewSecret(utils.AlphaNumeric("36")))``). This module evaluates the small part of Go
those lists are written in — string literals, ``+``, ``[]string{…}``, ``append(…)``, local
variables, ``utils.Hex``/``AlphaNumeric``/… and ``secrets.NewSecret`` (a random string drawn
from a regex, seeded so every run draws the same) and ``utils.GenerateSampleSecret(s)`` (the
syntax templates, read from gitleaks' own ``utils/generate.go``) — and skips, counting them,
the items it cannot evaluate.

Run on a snapshot of github:gitleaks/gitleaks (the ``fetch`` tool brings one to
``/work/.mirror/gitleaks+gitleaks/repo``; any clone works):

    python benchmarks/gitleaks_examples.py REPO_DIR  # prints counts per rule
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delta_plugins.gitleaks_import import translate
from regex_samples import samples


@dataclass
class Example:
    """One labelled text: ``positive`` for a tps item; ``secrets`` are its generated parts."""

    rule: str
    text: str
    positive: bool
    secrets: tuple[str, ...] = ()
    where: str = ""


class _Unknown(Exception):
    """An expression this evaluator does not handle."""


@dataclass
class _Val:
    text: str
    secrets: tuple[str, ...] = ()


_TOKEN = re.compile(
    r"""(?P<ws>\s+)|(?P<comment>//[^\n]*|/\*.*?\*/)
      |(?P<raw>`[^`]*`)|(?P<str>"(?:[^"\\\n]|\\.)*")|(?P<rune>'(?:[^'\\]|\\.)+')
      |(?P<name>[A-Za-z_][\w.]*)|(?P<num>\d+)|(?P<op>:=|\.\.\.|[-+*/=(){}\[\],:;.&|!<>%])""",
    re.VERBOSE | re.DOTALL,
)
_GO_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}


def _go_string(tok: str) -> str:
    if tok[0] == "`":
        return tok[1:-1]
    body = tok[1:-1]
    return re.sub(
        r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)",
        lambda m: (
            chr(int(m.group(1)[1:], 16))
            if len(m.group(1)) > 1
            else _GO_ESCAPES.get(m.group(1), m.group(1))
        ),
        body,
    )


def _tokens(src: str) -> list[tuple[str, str]]:
    """Go tokens; a ``;`` token stands where Go inserts one (a line ending a statement)."""
    out: list[tuple[str, str]] = []
    for m in _TOKEN.finditer(src):
        kind = m.lastgroup
        if kind in ("ws", "comment"):
            if "\n" in m.group() and out and _ends_statement(out[-1]):
                out.append(("op", ";"))
            continue
        out.append((kind, m.group()))
    return out


def _ends_statement(tok: tuple[str, str]) -> bool:
    kind, text = tok
    return kind in ("name", "str", "raw", "rune", "num") or text in (")", "]", "}")


_CLASS = {
    "utils.Numeric": "[0-9]{%s}",
    "utils.Hex": "[a-f0-9]{%s}",
    "utils.AlphaNumeric": "[a-z0-9]{%s}",
    "utils.AlphaNumericExtendedShort": "[a-z0-9_-]{%s}",
    "utils.AlphaNumericExtended": "[a-z0-9=_\\-]{%s}",
    "utils.AlphaNumericExtendedLong": "[a-z0-9\\/=_\\+\\-]{%s}",
}


class _Evaluator:
    def __init__(self, toks: list[tuple[str, str]], templates: dict[str, str], seed: int):
        self.toks = toks
        self.i = 0
        self.templates = templates
        self.seed = seed
        self.vars: dict[str, object] = {}
        self.skipped = 0

    def peek(self, k: int = 0) -> tuple[str, str]:
        j = self.i + k
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def take(self) -> tuple[str, str]:
        t = self.peek()
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        if self.take()[1] != text:
            raise _Unknown(text)

    def skip_balanced(self) -> None:
        """Skip one expression: up to a , ) } or ; at depth zero."""
        depth = 0
        while self.peek()[0] != "eof":
            t = self.peek()[1]
            if t in "([{":
                depth += 1
            elif t in ")]}":
                if depth == 0:
                    return
                depth -= 1
            elif t in (",", ";") and depth == 0:
                return
            self.i += 1

    def expr(self) -> object:
        left = self.primary()
        while self.peek()[1] == "+":
            self.take()
            right = self.primary()
            if not isinstance(left, _Val) or not isinstance(right, _Val):
                raise _Unknown("+ of a list")
            left = _Val(left.text + right.text, left.secrets + right.secrets)
        return left

    def args(self) -> list[object]:
        self.expect("(")
        out: list[object] = []
        while self.peek()[1] not in (")", ""):
            if self.peek()[1] == ";":
                self.take()
                continue
            start = self.i
            try:
                out.append(self.expr())
            except _Unknown:
                self.i = start
                self.skip_balanced()
                out.append(None)
            if self.peek()[1] == "...":
                self.take()
                out[-1] = ("spread", out[-1])
            while self.peek()[1] in (",", ";"):
                self.take()
        self.take()
        return out

    def sample(self, regex: str) -> str:
        self.seed += 1
        got = samples(translate(regex), 1, seed=self.seed)
        if not got:
            raise _Unknown("regex draws nothing")
        return got[0][0]

    def primary(self) -> object:
        kind, tok = self.take()
        if kind in ("str", "raw"):
            return _Val(_go_string(tok))
        if tok == "[":
            self.expect("]")
            self.take()  # string
            self.expect("{")
            items: list[_Val] = []
            while self.peek()[1] not in ("}", ""):
                if self.peek()[1] == ";":
                    self.take()
                    continue
                start = self.i
                try:
                    v = self.expr()
                    if isinstance(v, _Val):
                        items.append(v)
                    else:
                        raise _Unknown("nested list")
                except _Unknown:
                    self.i = start
                    self.skip_balanced()
                    self.skipped += 1
                while self.peek()[1] in (",", ";"):
                    self.take()
            self.take()
            return items
        if kind != "name":
            raise _Unknown(tok)
        if self.peek()[1] != "(":
            if tok in self.vars:
                return self.vars[tok]
            raise _Unknown(tok)
        args = self.args()
        if tok in _CLASS:
            (n,) = args
            if not isinstance(n, _Val):
                raise _Unknown(tok)
            return _Val(_CLASS[tok] % n.text)
        if tok == "utils.Hex8_4_4_4_12":
            return _Val("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        if tok == "secrets.NewSecret":
            (rx,) = args
            if not isinstance(rx, _Val):
                raise _Unknown(tok)
            s = self.sample(rx.text)
            return _Val(s, (s,))
        if tok in ("utils.GenerateSampleSecret", "utils.GenerateSampleSecrets"):
            ident, secret = args
            if not isinstance(ident, _Val) or not isinstance(secret, _Val):
                raise _Unknown(tok)
            if tok == "utils.GenerateSampleSecret":
                return _Val(f'{ident.text}_api_token = "{secret.text}"', secret.secrets)
            return [
                _Val(
                    t.replace("{i}", ident.text)
                    .replace("{I}", ident.text.upper())
                    .replace("{s}", secret.text),
                    secret.secrets or (secret.text,),
                )
                for t in self.templates.values()
            ]
        if tok == "append":
            base, *rest = args
            if not isinstance(base, list):
                raise _Unknown("append to unknown")
            out = list(base)
            for a in rest:
                if isinstance(a, tuple):  # spread
                    if isinstance(a[1], list):
                        out.extend(a[1])
                    else:
                        self.skipped += 1
                elif isinstance(a, _Val):
                    out.append(a)
                else:
                    self.skipped += 1
            return out
        raise _Unknown(tok)


def _templates(repo: Path) -> dict[str, str]:
    src = _read(repo, "cmd/generate/config/utils/generate.go")
    body = src[src.index("func GenerateSampleSecrets") :]
    body = body[body.index("map[string]string{") : body.index("replacer")]
    toks = _tokens(body)
    out = {}
    for j in range(len(toks) - 2):
        if toks[j][0] == "str" and toks[j + 1][1] == ":" and toks[j + 2][0] in ("str", "raw"):
            out[_go_string(toks[j][1])] = _go_string(toks[j + 2][1])
    return out


def _read(repo: Path, path: str) -> str:
    if (repo / path).exists():
        return (repo / path).read_text(encoding="utf-8")
    return subprocess.run(
        [
            "git",
            "--git-dir",
            str(repo if repo.name.endswith(".git") or (repo / "HEAD").exists() else repo / ".git"),
            "show",
            f"HEAD:{path}",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _rule_files(repo: Path) -> list[str]:
    d = repo / "cmd/generate/config/rules"
    if d.is_dir():
        return sorted(f"cmd/generate/config/rules/{p.name}" for p in d.glob("*.go"))
    gd = repo if (repo / "HEAD").exists() else repo / ".git"
    names = subprocess.run(
        [
            "git",
            "--git-dir",
            str(gd),
            "ls-tree",
            "--name-only",
            "HEAD",
            "cmd/generate/config/rules/",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return sorted(n for n in names if n.endswith(".go") and not n.endswith("_test.go"))


@dataclass
class Extraction:
    examples: list[Example] = field(default_factory=list)
    skipped: int = 0


def extract(repo: Path) -> Extraction:
    """Every tps/fps item of every rule function that this evaluator can compute."""
    templates = _templates(repo)
    result = Extraction()
    for n, path in enumerate(_rule_files(repo)):
        src = _read(repo, path)
        for fm in re.finditer(r"\nfunc (\w+)\([^)]*\) \*config\.Rule \{", src):
            end = src.find("\n}\n", fm.end())
            body = src[fm.end() : end if end != -1 else len(src)]
            rid = re.search(r'RuleID:\s*"([^"]+)"', body)
            if rid is None:
                continue
            toks = _tokens(body)
            ev = _Evaluator(toks, templates, seed=n * 1000 + fm.start())
            while ev.i < len(toks):
                kind, tok = ev.peek()
                nxt = ev.peek(1)[1]
                if kind == "name" and nxt in (":=", "=") and "." not in tok:
                    ev.i += 2
                    start = ev.i
                    try:
                        ev.vars[tok] = ev.expr()
                    except (_Unknown, ValueError, IndexError):
                        ev.i = start
                        ev.skip_balanced()
                        ev.vars.pop(tok, None)
                        if tok in ("tps", "fps"):
                            ev.skipped += 1
                    continue
                ev.i += 1
            for label, positive in (("tps", True), ("fps", False)):
                items = ev.vars.get(label)
                if isinstance(items, list):
                    for v in items:
                        result.examples.append(
                            Example(
                                rid.group(1), v.text, positive, v.secrets, f"{path}:{fm.group(1)}"
                            )
                        )
            result.skipped += ev.skipped
    return result


if __name__ == "__main__":
    got = extract(Path(sys.argv[1]))
    from collections import Counter

    pos = Counter(e.rule for e in got.examples if e.positive)
    neg = Counter(e.rule for e in got.examples if not e.positive)
    print(
        f"{sum(pos.values())} positives over {len(pos)} rules, {sum(neg.values())} negatives,"
        f" {got.skipped} items not evaluated"
    )
