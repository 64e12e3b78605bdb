"""``delta serve`` (run the model server), ``delta serve status``, ``delta serve stop``."""

from __future__ import annotations

import json
import time

import click

from delta_core.cli.common import json_option, load_context


@click.group("serve", invoke_without_command=True)
@click.option(
    "--listen", default=None, help="also serve a team over TCP HOST:PORT (needs serve.token)"
)
@click.option("--backend", default=None, help="onnx (default), onnx-int8 or torch")
@click.option("--threads", type=int, default=None, help="compute threads (0: all cores)")
@click.option("--no-batching", is_flag=True, help="one request at a time (for comparisons)")
@click.option("--detach", is_flag=True, help="start in the background and return")
@click.pass_context
def serve(cctx, listen, backend, threads, no_batching, detach) -> None:
    """Keep the served model loaded for every shell (a Unix socket, one server per user)."""
    if cctx.invoked_subcommand is not None:
        return
    args = []
    for flag, value in (("--listen", listen), ("--backend", backend), ("--threads", threads)):
        if value is not None:
            args += [flag, str(value)]
    if no_batching:
        args.append("--no-batching")
    ctx = load_context()
    if listen and not ctx.config["serve.token"]:
        raise click.ClickException(
            "--listen needs serve.token in the config; refusing to serve without it"
        )
    if detach:
        _detach(ctx, args)
        return
    from delta_core.learn.deploy import active_version

    if not active_version(ctx.layout):  # `delta serve` is for a model; search runs without one
        raise click.ClickException("no model is promoted yet; train one with `delta-train`")
    from delta_core.serve.__main__ import main

    ctx.close()
    raise SystemExit(main(args))


def _last_log_line(path, offset: int) -> str:
    """The last line ``delta.log`` gained after ``offset`` (without its time stamp)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    return lines[-1].partition(" ")[2] if lines else ""


def _detach(ctx, args: list[str]) -> None:
    """Start the server in the background and wait until it answers, or say why it did not."""
    from delta_core.learn.deploy import active_version
    from delta_core.serve.launch import start_detached, status

    if not active_version(ctx.layout):
        raise click.ClickException("no model is promoted yet; train one with `delta-train`")
    log_file = ctx.layout.log_file
    offset = log_file.stat().st_size if log_file.exists() else 0
    proc = start_detached(ctx.layout, args, force=True)
    deadline = time.monotonic() + 120.0
    while time.monotonic() < deadline:
        got = status(ctx.layout)
        if got:
            click.echo(f"delta serve is running (model {got.get('model')}, pid {got.get('pid')})")
            return
        if proc is not None and proc.poll() is not None:
            why = _last_log_line(log_file, offset).removeprefix("delta serve: ")
            raise click.ClickException(
                f"the server did not start: {why}" if why else
                f"the server exited at once; see {log_file}"
            )  # fmt: skip
        time.sleep(0.1)
    raise click.ClickException(f"the server did not answer within 120 s; see {log_file}")


@serve.command("status")
@json_option
def status_cmd(as_json: bool) -> None:
    """Model version, clients, queue and latency percentiles of the running server."""
    from delta_core.serve.launch import status

    got = status(load_context().layout)
    if got is None:
        if as_json:
            click.echo(json.dumps({"running": False}))
            return
        raise click.ClickException("no delta server is running (`delta serve --detach` starts one)")
    got.pop("id", None)
    got.pop("ok", None)
    if as_json:
        click.echo(json.dumps({"running": True, **got}))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="delta serve", show_header=False)
    lat = got.pop("latency_ms", {})
    for key, value in got.items():
        table.add_row(key, str(value))
    table.add_row(
        "latency p50/p95/p99 ms", f"{lat.get('p50')} / {lat.get('p95')} / {lat.get('p99')}"
    )
    Console().print(table)


@serve.command("stop")
def stop_cmd() -> None:
    """Stop the running server gracefully (running requests finish)."""
    from delta_core.serve.launch import stop

    if not stop(load_context().layout):
        raise click.ClickException("no delta server is running")
    click.echo("delta serve stopped")
