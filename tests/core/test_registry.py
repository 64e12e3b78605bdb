"""The model registry: atomic registration, listing, lookup, private files, the CLI."""

from __future__ import annotations

import json
import stat

import pytest
from click.testing import CliRunner

from delta_core.cli import build_cli
from delta_core.learn.registry import RegistryError, get_model, list_models, register_model
from delta_core.paths import Layout

NOW = 1_780_000_000.0


def _run_dir(path, size="tiny", val=2.5):
    """The files a finished training run leaves (weights stand in as bytes: never loaded here)."""
    path.mkdir(parents=True)
    (path / "model.pt").write_bytes(b"weights")
    (path / "config.json").write_text(json.dumps({
        "model": {"vocab_size": 259, "n_layer": 2},
        "train": {"model_size": size},
        "dataset": {"tokenizer_version": "tok-3", "tokens": {"train": 900, "val": 100}},
    }))  # fmt: skip
    (path / "metrics.json").write_text(
        json.dumps({"params": 443392, "steps": 60, "val_loss": val, "initial_val_loss": 5.6})
    )
    return path


def test_register_copies_a_run_into_a_private_versioned_directory(tmp_path, delta_home):
    layout = Layout(delta_home)
    run = _run_dir(tmp_path / "run")
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "meta.json").write_text('{"format": "delta-tokens-v1"}')
    tok = tmp_path / "tok"
    (tok / "sub").mkdir(parents=True)
    (tok / "tokenizer_config.json").write_text("{}")
    (tok / "sub" / "m.model").write_bytes(b"sp")

    info = register_model(layout, run, trainer="local", dataset_dir=tmp_path / "ds",
                          tokenizer_dir=tok, now=NOW)  # fmt: skip
    assert info.path == layout.models / info.version and info.version.endswith("-tiny")
    assert (info.tokenizer_version, info.val_loss, info.params) == ("tok-3", 2.5, 443392)
    names = {p.relative_to(info.path).as_posix() for p in info.path.rglob("*")}
    assert names == {"model.pt", "config.json", "metrics.json", "dataset.json", "model.json",
                     "tokenizer", "tokenizer/tokenizer_config.json", "tokenizer/sub",
                     "tokenizer/sub/m.model"}  # fmt: skip
    for p in [info.path, *info.path.rglob("*")]:
        want = 0o700 if p.is_dir() else 0o600
        assert stat.S_IMODE(p.stat().st_mode) == want, p
    assert (info.path / "model.pt").read_bytes() == b"weights"
    assert [m.version for m in list_models(layout)] == [info.version]


def test_versions_are_unique_and_listed_oldest_first(tmp_path, delta_home):
    layout = Layout(delta_home)
    a = register_model(layout, _run_dir(tmp_path / "a"), trainer="local", now=NOW)
    b = register_model(layout, _run_dir(tmp_path / "b"), trainer="local", now=NOW)
    c = register_model(layout, _run_dir(tmp_path / "c", "small"), trainer="docker", now=NOW + 60)
    assert len({a.version, b.version, c.version}) == 3
    assert [m.version for m in list_models(layout)] == [a.version, b.version, c.version]
    assert get_model(layout).version == c.version == get_model(layout, "latest").version
    assert get_model(layout, a.version).trainer == "local"
    with pytest.raises(RegistryError, match="no model 'nope'"):
        get_model(layout, "nope")


def test_an_unfinished_run_is_refused_and_leaves_nothing(tmp_path, delta_home):
    layout = Layout(delta_home)
    run = _run_dir(tmp_path / "run")
    (run / "metrics.json").unlink()
    with pytest.raises(RegistryError, match=r"metrics\.json missing"):
        register_model(layout, run, trainer="local")
    assert list_models(layout) == []
    assert not layout.models.exists() or not list(layout.models.iterdir())
    with pytest.raises(RegistryError, match="no model is registered yet"):
        get_model(layout)


def test_model_list_cli(tmp_path, delta_home):
    runner = CliRunner()
    empty = runner.invoke(build_cli(), ["model", "list"])
    assert empty.exit_code == 0 and "no model is registered yet" in empty.output
    assert json.loads(runner.invoke(build_cli(), ["model", "list", "--json"]).output) == []

    info = register_model(Layout(delta_home), _run_dir(tmp_path / "r"), trainer="local", now=NOW)
    listed = json.loads(runner.invoke(build_cli(), ["model", "list", "--json"]).output)
    assert [(m["version"], m["val_loss"], m["path"]) for m in listed] == [
        (info.version, 2.5, str(info.path))
    ]
    table = runner.invoke(build_cli(), ["model", "list"])
    assert info.version in table.output and "2.5000" in table.output
    shown = json.loads(runner.invoke(build_cli(), ["model", "show", "--json"]).output)
    assert shown["version"] == info.version and shown["metrics"]["steps"] == 60
    missing = runner.invoke(build_cli(), ["model", "show", "v0"])
    assert missing.exit_code == 1 and "no model 'v0'" in missing.output
