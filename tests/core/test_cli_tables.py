"""What the tables show at 80 columns: nothing cut, the column that matters whole; and
``delta memory du`` adds up, the models included (issue 15)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from delta_core.cli import build_cli
from delta_core.config import SETTINGS
from delta_core.context import DeltaContext
from delta_core.learn.deploy import _write_active
from delta_core.learn.registry import register_model
from delta_core.paths import Layout
from tests.conftest import make_record

TOKENIZER = "20261202-061500-sp4096"


def _run(*args: str) -> str:
    result = CliRunner(env={"COLUMNS": "80"}).invoke(build_cli(), list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _fits(text: str) -> None:
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80


def _model(layout: Layout, tmp_path, name: str):
    run = tmp_path / name
    run.mkdir()
    (run / "model.pt").write_bytes(b"w" * 50_000)
    (run / "config.json").write_text(json.dumps({
        "model": {"vocab_size": 4096}, "train": {"model_size": "small"},
        "dataset": {"tokenizer_version": TOKENIZER},
    }))  # fmt: skip
    (run / "metrics.json").write_text(json.dumps({"params": 10_443_392, "steps": 6000}))
    return register_model(layout, run, trainer="docker")


def test_config_shows_every_setting_name_whole_at_80_columns(delta_home):
    out = _run("config")
    _fits(out)
    for key in SETTINGS:
        assert f"│ {key} " in out, key


def test_model_list_keeps_the_tokenizer_once_a_model_is_served(delta_home, tmp_path):
    layout = Layout(delta_home)
    _model(layout, tmp_path, "a")
    served = _model(layout, tmp_path, "b")
    _write_active(layout, served.version, "test", None)
    out = _run("model", "list")
    _fits(out)
    cells = [line.split("│")[-2].strip() for line in out.splitlines() if line.count("│") > 2]
    assert "".join(cells).count(TOKENIZER) == 2
    assert served.version in out and "(served)" in out


def test_du_adds_up_and_shows_the_models(delta_home, tmp_path):
    ctx = DeltaContext()
    ctx.store.add_many(make_record(i) for i in range(50))
    ctx.close()
    _model(Layout(delta_home), tmp_path, "a")
    usage = json.loads(_run("memory", "du", "--json"))
    assert usage["models"] >= 50_000 and usage["shards"] > 0 and usage["index"] > 0
    assert sum(v for k, v in usage.items() if k != "total") == usage["total"]
    text = _run("memory", "du")
    assert "models" in text and "total" in text
