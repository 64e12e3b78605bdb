"""The drop filters (ignorespace, patterns, xonsh_ignore), their registration and ``explain``."""

from __future__ import annotations

import builtins
import types

import pytest
from delta_plugins.ignorespace import IgnoreSpaceFilter
from delta_plugins.patterns import PatternsFilter
from delta_plugins.xonsh_ignore import XonshIgnoreFilter

from delta_core.config import ConfigError
from delta_core.context import DeltaContext
from delta_core.memory.privacy import apply_filters, explain
from delta_core.paths import write_private
from delta_core.plugin.manager import Components, make_plugin_manager
from tests.plugins.secret_examples import GH_PAT

BUILTIN_FILTERS = {"ignorespace", "patterns", "xonsh_ignore", "secrets"}


def _config(root, text: str) -> None:
    write_private(root / "config.toml", text)


# --- ignorespace ---------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [" secret-command", "\tsecret-command", "  ls"])
def test_leading_space_drops(command):
    verdict = IgnoreSpaceFilter().check(command, "/")
    assert verdict.action == "drop" and verdict.command == ""
    assert verdict.findings[0].rule == "leading-space"


@pytest.mark.parametrize("command", ["ls", "echo ' spaced'", "", "x "])
def test_no_leading_space_keeps(command):
    assert IgnoreSpaceFilter().check(command, "/").action == "keep"


# --- patterns ------------------------------------------------------------------------------------
def test_patterns_drop_matching_commands_and_cwds(delta_home):
    _config(
        delta_home,
        '[filters]\nignore_commands = ["^pass ", "vault\\\\s+read"]\nignore_cwds = ["/secret(/|$)"]\n',
    )
    ctx = DeltaContext()
    f = ctx.components.privacy_filters["patterns"]
    assert f.check("pass show bank", "/home/ada").action == "drop"
    assert f.check("vault   read kv/db", "/home/ada").action == "drop"
    assert f.check("ls", "/home/ada/secret/notes").action == "drop"
    assert f.check("ls", "/home/ada/secrets").action == "keep"
    assert f.check("passwd", "/home/ada").action == "keep"
    verdict = f.check("pass show bank", "/")
    assert (verdict.findings[0].rule, verdict.findings[0].detail) == ("ignore_commands", "^pass ")


def test_patterns_from_the_environment(delta_home, monkeypatch):
    monkeypatch.setenv("DELTA_FILTERS_IGNORE_COMMANDS", "^ssh ,^scp ")
    f = DeltaContext().components.privacy_filters["patterns"]
    assert f.check("ssh prod-db", "/").action == "drop"
    assert f.check("rsync a b", "/").action == "keep"


def test_invalid_pattern_is_a_one_line_config_error(delta_home):
    _config(delta_home, '[filters]\nignore_cwds = ["/ok", "(unclosed"]\n')
    with pytest.raises(ConfigError) as err:
        DeltaContext().components  # noqa: B018
    message = str(err.value)
    assert "\n" not in message
    assert "filters.ignore_cwds" in message and "(unclosed" in message


def test_unconfigured_patterns_filter_reads_the_config(delta_home, monkeypatch):
    monkeypatch.setenv("DELTA_FILTERS_IGNORE_COMMANDS", "^top$")
    assert PatternsFilter().check("top", "/").action == "drop"


# --- xonsh_ignore ---------------------------------------------------------------------------------
def test_xonsh_ignore_regex_matches_from_the_start():
    env = {"XONSH_HISTORY_IGNORE_REGEX": r"(^echo|.*\#\#\#\s*$)"}
    f = XonshIgnoreFilter(env)
    assert f.check("echo hi", "/").action == "drop"
    assert f.check("make deploy ###", "/").action == "drop"
    assert f.check("ls; echo hi", "/").action == "keep"  # re.match, as xonsh does


def test_xonsh_ignore_follows_changes_of_the_variable():
    env: dict[str, str] = {}
    f = XonshIgnoreFilter(env)
    assert f.check("history", "/").action == "keep"
    env["XONSH_HISTORY_IGNORE_REGEX"] = "^history"
    assert f.check("history", "/").action == "drop"
    env["XONSH_HISTORY_IGNORE_REGEX"] = ""
    assert f.check("history", "/").action == "keep"


def test_xonsh_ignore_invalid_regex_is_ignored_and_explained():
    verdict = XonshIgnoreFilter({"XONSH_HISTORY_IGNORE_REGEX": "(oops"}).check("ls", "/")
    assert verdict.action == "keep"
    assert verdict.findings[0].rule == "invalid-regex"
    assert "not a valid regular expression" in verdict.findings[0].detail


def test_xonsh_ignore_reads_the_process_environment(monkeypatch):
    monkeypatch.setenv("XONSH_HISTORY_IGNORE_REGEX", "^cat ")
    assert XonshIgnoreFilter().check("cat ~/.netrc", "/").action == "drop"


def test_xonsh_ignore_prefers_the_xonsh_session_environment(monkeypatch):
    # A stand-in for the running xonsh session object: only its ``env`` mapping is read.
    monkeypatch.setenv("XONSH_HISTORY_IGNORE_REGEX", "^never")
    session = types.SimpleNamespace(env={"XONSH_HISTORY_IGNORE_REGEX": "^vault "})
    monkeypatch.setattr(builtins, "__xonsh__", session, raising=False)
    f = XonshIgnoreFilter()
    assert f.check("vault read x", "/").action == "drop"
    assert f.check("never mind", "/").action == "keep"


# --- registration, chain and explain ---------------------------------------------------------------
def test_each_filter_is_its_own_registered_plugin():
    pm = make_plugin_manager({"DELTA_PLUGINS": ""})
    assert {name for name, _ in pm.list_name_plugin()} >= BUILTIN_FILTERS
    filters = Components.from_manager(pm).privacy_filters
    assert set(filters) >= BUILTIN_FILTERS
    assert list(filters)[-1] == "secrets"  # redaction sees what the drop filters let through


def test_entry_points_declare_every_builtin_filter():
    from importlib.metadata import entry_points

    names = {ep.name for ep in entry_points(group="delta")}
    assert names >= BUILTIN_FILTERS


def test_a_filter_plugin_can_be_blocked():
    pm = make_plugin_manager({"DELTA_DISABLE_PLUGINS": "secrets"})
    assert "secrets" not in Components.from_manager(pm).privacy_filters


def test_filters_disabled_by_config(delta_home, monkeypatch):
    monkeypatch.setenv("DELTA_FILTERS_DISABLED", "ignorespace")
    ctx = DeltaContext()
    assert "ignorespace" not in {f.name for f in ctx.filters}
    assert apply_filters(ctx.filters, " ls", "/").action == "keep"


def test_the_chain_redacts_and_drops(delta_home):
    filters = DeltaContext().filters
    verdict = apply_filters(filters, f"export GH_TOKEN={GH_PAT} && make", "/")
    assert verdict.action == "redact"
    assert verdict.command == "export GH_TOKEN=<redacted:github-token> && make"
    assert apply_filters(filters, f" export GH_TOKEN={GH_PAT}", "/").action == "drop"


def test_explain_lists_every_filter_and_why(delta_home, monkeypatch):
    monkeypatch.setenv("DELTA_FILTERS_IGNORE_COMMANDS", "deploy")
    filters = DeltaContext().filters
    report = explain(filters, f" deploy --token {GH_PAT}", "/srv")
    by_name = {e.filter: e for e in report}
    assert set(by_name) >= BUILTIN_FILTERS
    assert by_name["ignorespace"].action == "drop"
    assert by_name["patterns"].action == "drop"
    assert by_name["xonsh_ignore"].action == "keep"
    # The walk goes on after a drop, so the secret is named too.
    secrets = by_name["secrets"]
    assert secrets.action == "redact"
    assert [f.rule for f in secrets.findings] == ["github-token"]
    name, action, findings = report[0]  # a plain (filter, action, findings) tuple
    assert isinstance(name, str) and action in ("keep", "drop") and isinstance(findings, tuple)


def test_explain_reports_a_failing_filter():
    class Broken:
        name = "broken"

        def check(self, command, cwd):
            raise RuntimeError("boom")

    report = explain([Broken(), IgnoreSpaceFilter()], "ls", "/")
    assert report[0].action == "error" and report[0].findings[0].detail == "boom"
    assert report[1].action == "keep"
