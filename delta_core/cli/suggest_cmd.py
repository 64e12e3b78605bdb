"""``delta suggest PREFIX``: the suggestions the shell would show, for scripts and other shells.

History candidates come from the memory's index; the model completion from ``delta serve``
when it runs (the same server the shells use), else from the served model loaded here.
Both are merged exactly as in the shell (:func:`delta_core.suggest.engine.combine`).
"""

from __future__ import annotations

import json
import os
from itertools import islice
from typing import Any

import click

from delta_core.cli.common import json_option, load_context

#: Previous commands given to the model as the session context.
CONTEXT = 32
#: How long ``delta suggest`` waits for the recent habits to be read from the memory.
SEED_WAIT_S = 5.0


def _model_suggestions(ctx, turns, cwd, prefix, k) -> tuple[list[tuple[str, float]], str, float]:
    """The model's completions, where they came from, and its weight against history."""
    from delta_core.learn.deploy import active_version
    from delta_core.serve.launch import connect
    from delta_core.serve.remote import RemoteModel
    from delta_core.suggest.engine import MODEL_WEIGHT
    from delta_core.suggest.fit import model_weight_for

    client = connect(ctx.layout)
    if client is not None:
        remote = RemoteModel(ctx.layout, auto_start=False)
        remote.client = client
        got = remote.suggest(turns, cwd, prefix, k=k, timeout=10.0)
        remote.close()
        if got is not None:
            version = remote.version
            return (
                got,
                "server",
                model_weight_for(ctx.layout.models / version) if version else MODEL_WEIGHT,
            )
    version = active_version(ctx.layout)
    if not version:
        return [], "none", MODEL_WEIGHT
    from delta_core.inference.backends import loadable_kind
    from delta_core.suggest.completer import ModelCompleter

    # the model the server would run (and the promotion gate judged): int8 ONNX by default
    completer = ModelCompleter.from_dir(
        ctx.layout.models / version,
        ctx.components.tokenizers,
        backend=loadable_kind(ctx.config["serve.backend"]),
    )
    if k > 1:
        return completer.complete_k(turns, cwd, prefix, k), "in-process", completer.model_weight
    got = completer.complete(turns, cwd, prefix)
    return ([got] if got else []), "in-process", completer.model_weight


@click.command("suggest")
@click.argument("prefix", required=False, default="")
@click.option("--cwd", default=None, help="the directory the command is for (default: here)")
@click.option(
    "--next", "next_", is_flag=True, help="the next command (what the empty prompt shows)"
)
@click.option("-k", "k", type=click.IntRange(1, 20), default=1, show_default=True, help="how many")
@click.option(
    "--explain",
    is_flag=True,
    help="say who made each suggestion (the model or history) and what history alone gives",
)
@json_option
def suggest_cmd(
    prefix: str, cwd: str | None, next_: bool, k: int, explain: bool, as_json: bool
) -> None:
    """Print the suggestions the shell would show for PREFIX."""
    from delta_core.plugin.protocols import RecentCommands, Suggestion, SuggestQuery
    from delta_core.suggest.engine import combine
    from delta_core.suggest.rank import QUERY_PREVIOUS
    from delta_core.tokenizer.format import as_turn

    if next_:
        prefix = ""
    elif not prefix:
        raise click.UsageError("give a PREFIX, or --next for the next command")
    if "\n" in prefix:
        raise click.UsageError("PREFIX is one line")
    ctx = load_context()
    cwd = cwd or os.getcwd()
    recent = list(islice(ctx.store.iter_records(reverse=True), CONTEXT))[::-1]
    turns = [as_turn(r) for r in recent]
    query = SuggestQuery(prefix, cwd, tuple(t.command for t in turns[-QUERY_PREVIOUS:]), limit=k)
    history: list[Suggestion] = []
    hist = ctx.components.suggesters.get("history")
    if hist is not None:
        ring = RecentCommands()
        for r in recent:
            ring.append(r)
        hist.attach(ctx, ring)
        for r in recent:
            hist.observe(r)
        wait = getattr(hist, "wait_seeded", None)
        if wait is not None:
            wait(SEED_WAIT_S)
        history = list(hist.suggest(query))
    found, via, weight = _model_suggestions(ctx, turns, cwd, prefix, k)
    models = [Suggestion(t, p, "model") for t, p in found]
    merged = combine(history, models, k + len(models), weight)
    if hist is not None and models:  # a command that always failed: its fix instead
        merged = hist.screen(merged, prefix)
    merged = merged[:k]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "prefix": prefix,
                    "model_via": via,
                    "suggestions": [
                        {"command": s.command, "score": s.score, "source": s.source} for s in merged
                    ],
                }
            )
        )
        return
    if not explain:
        for s in merged:
            click.echo(s.command)
        return
    click.echo(explained(merged, history, models, via))
    if via != "none":
        for line in _learned(ctx):
            click.echo(line)


def _learned(ctx: Any) -> list[str]:
    """What the served model completed sooner than history alone on the commands its gate
    held back (the lines of ``delta model status``), so the model's part is visible even
    where history outweighs it at this prompt."""
    from delta_core.learn.deploy import active_version, learned_lines, verdict

    version = active_version(ctx.layout)
    judged = verdict(ctx.layout.models / version) if version else None
    lines = learned_lines((judged or {}).get("examples") or [], limit=1)
    return ["the model learned (a command held back from its training):", *lines] if lines else []


def explained(merged: list, history: list, models: list, via: str) -> str:
    """The suggestions with who made them, and history's and the model's own first answers:
    what the model adds, in the words a user would check."""
    lines = []
    for s in merged:
        who = "the model" if s.source == "model" else s.source
        lines.append(f"{s.command}    ({who})")
    alone = history[0].command if history else None
    if via == "none":
        lines.append("no model is served: history alone")
    elif merged and merged[0].source == "model":
        if alone is None:
            lines.append("history alone: nothing")
        elif alone != merged[0].command:
            lines.append(f"history alone: {alone}")
        else:
            lines.append("history alone: the same")
    elif models:
        lines.append(f"the model alone: {models[0].command} (history outweighs it here)")
    else:
        lines.append("the model has no completion here")
    return "\n".join(lines)
