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
        from delta_core.serve.launch import start_detached, status

        start_detached(ctx.layout, args, force=True)
        for _ in range(600):
            got = status(ctx.layout)
            if got:
                click.echo(
                    f"delta serve is running (model {got.get('model')}, pid {got.get('pid')})"
                )
                return
            time.sleep(0.1)
        raise click.ClickException(f"the server did not start; see {ctx.layout.log_file}")
    from delta_core.serve.__main__ import main

    ctx.close()
    raise SystemExit(main(args))


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
