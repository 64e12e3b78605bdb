"""gitleaks' rule set in the ``secrets`` filter: translation, entropy, allowlists, provenance."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from delta_plugins import gitleaks_rules
from delta_plugins.gitleaks_import import Untranslatable, compile_pattern, convert, translate
from delta_plugins.secret_rules import RULES as BUILTIN_RULES
from delta_plugins.secret_rules import is_placeholder, looks_random
from delta_plugins.secrets import RULES, SecretScanner, SecretsFilter
from hypothesis import given, settings
from hypothesis import strategies as st

from delta_core.config import Config, ConfigError
from tests.plugins.secret_examples import fake

HEX = "0123456789abcdef"


@pytest.mark.parametrize(
    ("re2", "text", "matches"),
    [
        ("ab(?i)cd", "abCD", True),
        ("ab(?i)cd", "ABcd", False),
        ("(x(?i)y|z)w", "Zw", True),  # the flag holds across | to the end of its group
        ("a(?i)b|c", "C", True),
        ("end\\z", "end", True),
        ("[[:alnum:]]{3}", "a1B", True),
        ("[[a]", "[", True),
        ("\\Qa.b\\E", "axb", False),
        ("(?<tok>x)", "x", True),
    ],
)
def test_re2_patterns_keep_their_meaning_in_python(re2, text, matches):
    assert bool(compile_pattern(translate(re2)).fullmatch(text)) is matches


def test_untranslatable_rules_are_reported_not_dropped():
    doc = convert(
        {
            "rules": [
                {"id": "ok", "regex": "ok_[a-z]{8}", "keywords": ["ok_"]},
                {"id": "uni", "regex": "\\pL{8}", "keywords": ["x"]},
                {"id": "paths", "path": "\\.p12$"},
            ]
        }
    )
    assert [r["id"] for r in doc["rules"]] == ["ok"]
    assert [r["id"] for r in doc["not_compiled"]] == ["uni"]
    assert [r["id"] for r in doc["not_applicable"]] == ["paths"]
    with pytest.raises(Untranslatable):
        translate("\\p{Greek}")


def test_the_shipped_data_compiles_every_rule_of_the_gitleaks_file():
    doc = json.loads(gitleaks_rules.DATA_FILE.read_text())
    assert not doc["not_compiled"]
    assert len(doc["rules"]) + len(doc["not_applicable"]) == 222
    assert (gitleaks_rules.DATA_FILE.parent / "gitleaks.LICENSE").read_text().startswith("MIT")
    assert sum(r.source == "gitleaks" for r in RULES) == len(doc["rules"])


def test_entropy_floor_and_allowlist_of_a_gitleaks_rule_are_honoured():
    scanner = SecretScanner(gitleaks_rules.RULES)
    key = fake("AKIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert [f.rule for f in scanner.scan(f"id={key}")] == ["aws-access-token"]
    assert scanner.scan("id=AKIAAAAAAAAAAAAAAAAA") == []  # entropy at the floor
    assert scanner.scan("id=AKIAIOSFODNN7EXAMPLE") == []  # the rule's allowlist: …EXAMPLE


def test_a_provider_rule_needs_its_keyword_as_in_gitleaks():
    scanner = SecretScanner(gitleaks_rules.RULES)
    token = fake("", 40, HEX)
    assert "sourcegraph-access-token" in {
        f.rule for f in scanner.scan(f"SOURCEGRAPH_TOKEN={token}")
    }
    assert scanner.scan(f"git show {token}") == []


def test_findings_name_the_rule_and_its_source():
    v = SecretsFilter(action="redact").check(
        "age-keygen; echo AGE-SECRET-KEY-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2 + "QP", ""
    )
    (f,) = v.findings
    assert f.rule == "age-secret-key" and f.detail.endswith("[gitleaks]")
    v = SecretsFilter(action="redact").check("export API_TOKEN=Tr0ub4dor&3x", "")
    assert v.findings[0].detail.endswith("[built-in]")


_B62 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=HEX, min_size=40, max_size=40))
def test_a_git_sha_never_looks_random(sha):
    assert not looks_random(sha)


@settings(max_examples=200, deadline=None)
@given(st.uuids())
def test_a_uuid_never_looks_random(u):
    assert not looks_random(str(u))


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=_B62, min_size=24, max_size=40))
def test_a_random_value_after_login_never_reaches_the_store(value):
    # A value the randomness test accepts is redacted after `login`; one it rejects is kept
    # only if it is not random-looking — either way the verdict matches the test.
    v = SecretsFilter(action="redact").check(f"./cli login {value}", "")
    assert (value not in v.command) == looks_random(value)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x24F), max_size=120))
def test_filtering_is_idempotent_and_never_raises(text):
    f = SecretsFilter(action="redact")
    once = f.check(text, "")
    if once.action == "redact":
        again = f.check(once.command, "")
        assert again.action == "keep" and again.command == once.command


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["GITHUB_TOKEN", "DB_PASSWORD", "API_SECRET"]),
    st.text(alphabet=_B62 + "!#%+=.", min_size=8, max_size=30).filter(
        lambda v: not is_placeholder(v)
    ),
)
def test_xonsh_and_python_assignments_never_keep_the_value(name, value):
    for cmd in (
        f"${{'{name}'}} = '{value}'",
        f"os.environ['{name}'] = '{value}'",
        f'${name} = "{value}"',
    ):
        v = SecretsFilter(action="redact").check(cmd, "")
        # (outside the redaction marks: a value may be a word of a mark, 'redacted')
        assert value not in re.sub(r"<redacted:[a-z0-9-]+>", "<>", v.command), cmd


def test_keyword_gate_lets_every_rule_whose_keyword_occurs_run():
    scanner = SecretScanner()
    lowered = "curl -h 'x-api-key: abc' https://hooks.slack.com/services/x"
    wanted = scanner._gate.wanted(lowered)
    for i, rule in enumerate(scanner.rules):
        if any(k in lowered for k in rule.keywords):
            assert i in wanted, rule.name


def test_the_rule_set_is_chosen_by_configuration(tmp_path):
    age = "AGE-SECRET-KEY-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2 + "QP"
    f = SecretsFilter()
    f.configure(Config.load(tmp_path, env={"DELTA_FILTERS_SECRETS_RULES": "built-in"}))
    assert f.check(f"echo {age}", "").action == "keep"  # only gitleaks knows age keys
    f.configure(Config.load(tmp_path, env={}))
    assert f.check(f"echo {age}", "").action == "redact"
    with pytest.raises(ConfigError):
        Config.load(tmp_path, env={"DELTA_FILTERS_SECRETS_RULES": "some"})


def test_every_rule_and_allowlist_regex_compiles():
    # Compiled on first use, not at load: a bad pattern would otherwise surface only on the
    # first command that has the rule's keyword.
    for rule in RULES:
        assert isinstance(rule.pattern, re.Pattern), rule.name
    doc = json.loads(gitleaks_rules.DATA_FILE.read_text())
    allows = [a for r in doc["rules"] for a in r["allowlists"]] + [doc["global_allowlist"]]
    for allow in allows:
        for rx in allow["regexes"]:
            re.compile(rx, re.ASCII)


def test_loading_the_filter_compiles_no_rule_until_a_command_has_its_keyword(monkeypatch):
    # The shell's start loads the filters; compiling ~260 rule regexes and gitleaks' allowlists
    # there held up the first command by ~0.3 s (issue 15). A rule is compiled the first time a
    # command has one of its keywords, and a command with none compiles nothing.
    seen: list[str] = []
    compile_ = re.compile

    def counting(pattern, flags=0):
        seen.append(pattern)
        return compile_(pattern, flags)

    monkeypatch.setattr(re, "compile", counting)
    doc = json.loads(gitleaks_rules.DATA_FILE.read_text())
    allows = [a for r in doc["rules"] for a in r["allowlists"]] + [doc["global_allowlist"]]
    rules = tuple(dataclasses.replace(r) for r in BUILTIN_RULES) + gitleaks_rules.load()
    sources = {r.regex for r in rules} | {rx for a in allows for rx in a["regexes"]}
    filt = SecretsFilter(SecretScanner(rules), action="redact")
    assert not [p for p in seen if p in sources]
    assert not any(r.compiled for r in rules)

    assert filt.check("ls -la /var/log", "/home/ada").action == "keep"
    always = {r.name for r in rules if not r.keywords}
    assert {r.name for r in rules if r.compiled} <= always
    assert not [p for p in seen if p in sources and p not in {r.regex for r in rules}]

    token = fake("ghp_", 36)
    verdict = filt.check(f"git clone https://{token}@github.com/ada/x", "/home/ada")
    assert token not in verdict.command
    compiled = {r.name for r in rules if r.compiled}
    assert "github-token" in compiled
    # (the redacted text is scanned again: its keywords count too)
    lowered = f"git clone https://{token}@github.com/ada/x\n{verdict.command}".lower()
    for rule in rules:  # only rules that one of the command's keywords unlocked
        if rule.compiled and rule.keywords:
            assert any(k in lowered for k in rule.keywords), rule.name
    assert len(compiled) < len(rules) // 4
