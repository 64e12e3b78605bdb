"""``delta feedback good|bad``: say whether the last suggestion Delta showed was any good.

The shell remembers the last suggestion it showed: in ``$DELTA_LAST_SUGGESTION``, which xonsh
never exports to subprocesses, and in a 0600 file ``run/last-suggestion-<shell pid>`` under the
Delta root, which this command (a child of that shell) reads; ``--suggestion`` names one
explicitly. The event is stored with the implicit ones
and weighs twice as much in the ranking and in training weights.
"""

from __future__ import annotations

import os

import click

from delta_core.cli.common import load_context

LAST_VAR = "DELTA_LAST_SUGGESTION"


@click.command("feedback")
@click.argument("verdict", type=click.Choice(["good", "bad"]))
@click.option("--suggestion", default=None, help="The suggestion judged (default: the last shown).")
def feedback_cmd(verdict: str, suggestion: str | None) -> None:
    """Mark the last suggestion as good or bad."""
    from delta_core.memory.feedback import FeedbackEvent, record_feedback

    ctx = None
    if not suggestion:
        suggestion = os.environ.get(LAST_VAR, "")
    if not suggestion:
        ctx = load_context()
        noted = ctx.config.root / "run" / f"last-suggestion-{os.getppid()}"
        try:
            suggestion = noted.read_text(encoding="utf-8").strip()
        except OSError:
            suggestion = ""
    if not suggestion:
        raise click.ClickException(
            "no suggestion was shown in this shell yet; use --suggestion TEXT"
        )
    ctx = ctx or load_context()
    record_feedback(ctx.store, [FeedbackEvent(verdict, suggestion, source="explicit")])
    click.echo(f"noted: {verdict} — {suggestion}")
