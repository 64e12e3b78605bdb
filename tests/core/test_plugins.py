"""The plugin seams: every hook spec is callable by a plugin and has a test."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import click
from click.testing import CliRunner

from delta_core.plugin import hookspecs
from delta_core.plugin.hookspecs import hookimpl
from delta_core.plugin.manager import Components, builtin_plugins, make_plugin_manager
from delta_core.plugin.protocols import Suggestion, SuggestQuery, Verdict

TESTS = Path(__file__).resolve().parents[1]


def hook_names() -> list[str]:
    return [n for n in dir(hookspecs) if n.startswith("delta_")]


def test_every_hook_spec_has_a_test():
    """Like datasette's test_plugin_hooks_have_tests: a new hook needs a test naming it."""
    texts = [p.read_text() for p in TESTS.rglob("test_*.py")]
    untested = [
        name for name in hook_names() if not any(re.search(rf"\b{name}\b", t) for t in texts)
    ]
    assert not untested, f"hooks without a test: {untested}"


REPO = Path(__file__).resolve().parents[2]


class Everything:
    """A plugin using every hook, as a third party would."""

    class Named:
        def __init__(self, name):
            self.name = name

    @hookimpl
    def delta_register_collectors(self, register):
        c = self.Named("weather")
        c.collect = lambda cwd, env: {"weather": "sunny"}
        register(c)

    @hookimpl
    def delta_register_importers(self, register):
        register(self.Named("ksh"))

    @hookimpl
    def delta_register_privacy_filters(self, register):
        f = self.Named("no-cat")
        f.check = lambda cmd, cwd: Verdict("drop", "") if "cat" in cmd else Verdict.keep(cmd)
        register(f)

    @hookimpl
    def delta_register_tokenizers(self, register):
        register(self.Named("bytes"))

    @hookimpl
    def delta_register_trainers(self, register):
        register(self.Named("slurm"))

    @hookimpl
    def delta_register_suggesters(self, register):
        s = self.Named("echo")
        s.suggest = lambda q: [Suggestion(q.prefix + "!", 1.0, "echo")]
        register(s)

    @hookimpl
    def delta_register_embedders(self, register):
        e = self.Named("zeros")
        e.dim = 3
        register(e)

    @hookimpl
    def delta_register_commands(self, cli):
        @click.command("hello")
        def hello():
            click.echo("hello from a plugin")

        cli.add_command(hello)


def test_a_plugin_can_add_every_kind_of_component():
    pm = make_plugin_manager({}, load_entry_points=False, extra_plugins=[Everything()])
    comp = Components.from_manager(pm)
    assert comp.collectors["weather"].collect("/", {}) == {"weather": "sunny"}
    assert "ksh" in comp.importers
    assert comp.privacy_filters["no-cat"].check("cat x", "").action == "drop"
    assert "bytes" in comp.tokenizers
    assert "slurm" in comp.trainers
    assert comp.suggesters["echo"].suggest(SuggestQuery("git st"))[0].command == "git st!"
    assert comp.embedders["zeros"].dim == 3


def test_disabled_components_are_left_out():
    pm = make_plugin_manager({}, load_entry_points=False, extra_plugins=[Everything()])
    comp = Components.from_manager(pm, disabled={"collectors": ["weather"], "filters": ["no-cat"]})
    assert "weather" not in comp.collectors
    assert "no-cat" not in comp.privacy_filters


def test_plugin_commands_join_the_cli(monkeypatch):
    import delta_core.cli as cli_mod
    import delta_core.plugin.manager as pm_mod

    real = pm_mod.make_plugin_manager
    monkeypatch.setattr(
        pm_mod, "make_plugin_manager", lambda *a, **k: real(*a, extra_plugins=[Everything()], **k)
    )
    group = cli_mod.build_cli()
    try:
        result = CliRunner().invoke(group, ["hello"])
        assert result.output.strip() == "hello from a plugin"
    finally:
        group.commands.pop("hello", None)


def test_builtins_are_the_entry_points_pyproject_declares_and_all_load():
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]
    assert builtin_plugins() == dict(sorted(declared["delta"].items()))
    pm = make_plugin_manager({"DELTA_PLUGINS": ""})  # no entry point loads: built-ins still do
    assert set(builtin_plugins()) <= {pm.get_name(p) for p in pm.get_plugins()}


def test_disable_variable_blocks_a_builtin():
    pm = make_plugin_manager({"DELTA_DISABLE_PLUGINS": "import_jsonl"})
    assert pm.get_plugin("import_jsonl") is None
    assert "jsonl" not in Components.from_manager(pm).importers


def test_each_manager_is_independent():
    a = make_plugin_manager({}, load_entry_points=False, extra_plugins=[Everything()])
    b = make_plugin_manager({}, load_entry_points=False)
    assert "weather" in Components.from_manager(a).collectors
    assert "weather" not in Components.from_manager(b).collectors


def test_every_name_of_the_public_api_resolves_even_those_imported_on_first_use():
    # A few names are imported on first use (the shell's start imports every plugin, hence
    # this module, and only training needs them): each must still be there, and be the
    # engine's own object.
    import pytest

    from delta_core import api
    from delta_core.learn.train import launch
    from delta_core.tokenizer import pretokenizer, shell

    for name in api.__all__:
        assert getattr(api, name) is not None, name
    assert api.train_argv is launch.train_argv
    assert api.unit_counts is pretokenizer.unit_counts
    assert api.ShellTokenizer is shell.ShellTokenizer
    with pytest.raises(AttributeError):
        _ = api.no_such_name
