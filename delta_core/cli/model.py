"""``delta model``: the registered models (``list``, ``show``, ``promote``, ``use``,
``rollback``)."""

from __future__ import annotations

import json

import click

from delta_core.cli.common import json_option, load_context
from delta_core.learn.registry import RegistryError, get_model, list_models


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _params(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e5 else f"{n / 1e3:.0f}k"


@click.group("model")
def model() -> None:
    """The models Delta trained on your history."""


@model.command("list")
@json_option
def list_cmd(as_json: bool) -> None:
    """Registered models, oldest first."""
    ctx = load_context()
    models = list_models(ctx.layout)
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in models]))
        return
    if not models:
        click.echo("no model is registered yet; train one with `delta-train`")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Models ({ctx.layout.models})")
    # Every column but the tokenizer's is short and kept whole (a user copies the version
    # into `delta model show`); the tokenizer version folds onto a second line at 80 columns.
    # The trainer is in `delta model show` and --json.
    for col in ("version", "size", "params", "val loss", "steps", "tokenizer"):
        table.add_column(
            col,
            justify="right" if col in ("params", "val loss", "steps") else "left",
            no_wrap=col != "tokenizer",
            overflow="fold",
            min_width=8 if col == "tokenizer" else None,
        )
    from delta_core.learn.deploy import active_version

    served = active_version(ctx.layout)
    for m in models:
        table.add_row(
            m.version + ("\n[green](served)[/]" if m.version == served else ""),
            m.model_size,
            _params(m.params),
            _loss(m.val_loss),
            str(m.steps),
            m.tokenizer_version,
        )
    Console().print(table)


@model.command("show")
@click.argument("version", required=False, default="latest")
@json_option
def show_cmd(version: str, as_json: bool) -> None:
    """One model's manifest and training metrics (default: the newest)."""
    ctx = load_context()
    try:
        info = get_model(ctx.layout, version)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    metrics = json.loads((info.path / "metrics.json").read_text(encoding="utf-8"))
    data = {**info.to_dict(), "metrics": metrics}
    if as_json:
        click.echo(json.dumps(data))
        return
    keys = ("version", "path", "created", "model_size", "params", "tokenizer_version", "trainer")
    for key in keys:
        click.echo(f"{key:18} {data[key]}")
    for key in ("steps", "initial_val_loss", "val_loss", "tokens_per_s", "mfu", "device"):
        click.echo(f"{key:18} {metrics.get(key)}")


def _promote(version: str, force: bool) -> None:
    from delta_core.learn.deploy import promote

    ctx = load_context()
    try:
        info = promote(
            ctx.layout,
            None if version == "latest" else version,
            backend=ctx.config["serve.backend"],
            force=force,
        )
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"model {info.version} is now served")


_FORCE = click.option(
    "--force", is_flag=True, help="serve it even though the promotion gate rejected it"
)


@model.command("promote")
@click.argument("version")
@_FORCE
def promote_cmd(version: str, force: bool) -> None:
    """Serve VERSION from now on (running shells pick it up without a restart)."""
    _promote(version, force)


@model.command("use")
@click.argument("version")
@_FORCE
def use_cmd(version: str, force: bool) -> None:
    """Serve VERSION, or `none`: suggestions from history alone (`rollback` undoes either)."""
    from delta_core.learn.deploy import NONE, serve_none

    if version != NONE:
        _promote(version, force)
        return
    serve_none(load_context().layout)
    click.echo("no model is served; suggestions come from history alone")


@model.command("status")
@json_option
def status_cmd(as_json: bool) -> None:
    """What is served, when it was trained, on how many commands, how it scored against the
    baselines, and whether the background retrain is due."""
    from delta_core.learn.retrain import model_status

    ctx = load_context()
    st = model_status(ctx)
    if as_json:
        click.echo(json.dumps(st))
        return
    served = st["served"]
    if served is None:
        click.echo("no model is served yet; train one with `delta-train`")
    else:
        n = served["trained_on_commands"]
        click.echo(f"served: {served['version']} ({served['model_size']}, {served['steps']} steps)")
        click.echo(f"trained {served['trained']} on {'?' if n is None else n} commands")
        w, t = served["model_weight"], served["typed_weight"]
        if w is not None:
            typed = "" if t is None else f", {t:.2f} once something is typed"
            click.echo(f"weight against history: {w:.2f} on the empty prompt{typed}")
        gate = served["gate"]
        if gate:
            click.echo(f"gate: {gate['reason']}")
            click.echo(f"  judged on {gate['commands']} held-back commands:")
            for name, m in gate["strategies"].items():
                click.echo(
                    f"  {name:>15}: top-1 {m['top1']:.1%}, "
                    f"keystroke savings {m['keystroke_savings']:.1%}"
                )
            from delta_core.learn.deploy import learned_lines

            learned = learned_lines(gate.get("examples") or [])
            if learned:
                click.echo("learned (held-back commands it completed sooner than history):")
                for line in learned:
                    click.echo(line)
    loop = st["loop"]
    click.echo(f"learning loop: {'on' if loop['on'] else 'off'}; {loop['why']}")
    if loop.get("result"):
        click.echo(f"last background retrain: {loop['result']}")


@model.command("retrain")
@click.option("--if-due", is_flag=True, help="Only when enough new commands arrived.")
def retrain_cmd(if_due: bool) -> None:
    """Retrain on the memory now (niced; the gate decides whether it is served)."""
    from delta_core.learn.retrain import retrain

    ctx = load_context()
    click.echo(retrain(ctx, if_due=if_due, say=lambda line: None if if_due else click.echo(line)))


@model.command("rollback")
def rollback_cmd() -> None:
    """Serve what was served before the current model (or history alone, if nothing was)."""
    from delta_core.learn.deploy import rollback

    ctx = load_context()
    try:
        version = rollback(ctx.layout)
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    if version is None:
        click.echo("no model is served; suggestions come from history alone")
    else:
        click.echo(f"model {version} is now served")


@model.command("export-onnx")
@click.argument("version", required=False, default="latest")
@click.option(
    "--int8", "int8", is_flag=True, help="also write model.int8.onnx (dynamic quantization)"
)
@json_option
def export_onnx_cmd(version: str, int8: bool, as_json: bool) -> None:
    """Export VERSION (default: the newest) to ONNX with KV-cache inputs and outputs."""
    ctx = load_context()
    try:
        info = get_model(ctx.layout, version)
        from delta_core.inference.export import export_dir, quantize
        from delta_core.inference.onnx_file import ONNX_INT8_FILE
    except RegistryError as exc:
        raise click.ClickException(str(exc)) from None
    except ImportError as exc:
        raise click.ClickException(
            f"{exc}; install the serve extra: pip install 'xontrib-delta[serve]'"
        ) from None
    paths = [export_dir(info.path)]
    if int8:
        paths.append(quantize(paths[0], info.path / ONNX_INT8_FILE))
    if as_json:
        click.echo(json.dumps({"version": info.version, "files": [str(p) for p in paths]}))
        return
    for p in paths:
        click.echo(f"wrote {p} ({p.stat().st_size / 1e6:.1f} MB)")
