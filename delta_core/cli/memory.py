"""``delta memory …``: inspect, search, export, import, forget and repair the memory."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import click
from rich.markup import escape

from delta_core.cli.common import json_option, load_context, parse_time
from delta_core.cli.render import bar, console, format_time, progress
from delta_core.memory.jsonl import dumps, not_a_history_file, to_json
from delta_core.memory.lookup import MODES, search_commands
from delta_core.memory.maintenance import lost_words
from delta_core.memory.stats import PERIODS, compute_stats
from delta_core.paths import private_dir


@click.group("memory")
def memory() -> None:
    """The memory: every command you ran, by day."""


@memory.command()
@json_option
def status(as_json: bool) -> None:
    """Where the memory is, whether it records, and how much it holds."""
    ctx = load_context()
    store = ctx.store
    days = store.day_counts()
    last = next(store.iter_records(reverse=True), None)
    with store.index.env.begin() as txn:
        sessions = store.index.session_count(txn)
        distinct = txn.stat(store.index.db[b"commands"])["entries"]
    info = {
        "root": str(ctx.config.root),
        "recording": ctx.recording(),
        "records": sum(days.values()),
        "distinct_commands": distinct,
        "sessions": sessions,
        "days": len(days),
        "first_day": min(days) if days else None,
        "last_command": dict(to_json(last)) if last else None,
        "bytes": store.disk_usage()["total"],
    }
    if as_json:
        click.echo(json.dumps(info))
        return
    state = "[green]on[/]" if info["recording"] else "[yellow]paused[/]"
    console.print(f"Delta memory at [bold]{info['root']}[/] — recording {state}")
    console.print(
        f"{info['records']:,} records, {distinct:,} distinct commands, {sessions:,} sessions, "
        f"{info['days']} days, {info['bytes'] / 1e6:.1f} MB"
    )
    if last:
        console.print(f"last: [cyan]{last.command}[/] ({format_time(last.start_ns)})")


@memory.command()
@click.argument("period", type=click.Choice(list(PERIODS)), default="all")
@click.option("--count", "-n", default=10, show_default=True, help="Top commands to show.")
@json_option
def stats(period: str, count: int, as_json: bool) -> None:
    """Totals, top commands, success rate, busiest hours and days."""
    st = compute_stats(load_context().store, period, count)
    if as_json:
        click.echo(json.dumps(st.to_json()))
        return
    from rich.table import Table

    rate = f"{st.success_rate:.1%}" if st.success_rate is not None else "n/a"
    console.print(
        f"[bold]{period}[/]: {st.total:,} commands, {st.unique:,} unique, success rate {rate}"
    )
    if any(st.feedback.values()):
        console.print(
            "suggestion feedback: " + ", ".join(f"{n:,} {k}" for k, n in st.feedback.items())
        )
    if not st.total:
        return
    top = Table(title="Top commands", show_edge=False)
    top.add_column("#", justify="right")
    top.add_column("count", justify="right")
    top.add_column("command")
    top.add_column("")
    peak = st.top[0][1] if st.top else 0
    for i, (cmd, n) in enumerate(st.top, 1):
        top.add_row(str(i), f"{n:,}", cmd[:80], f"[blue]{bar(n, peak, 20)}[/]")
    console.print(top)
    hours = Table(title="Busiest hours", show_edge=False)
    hours.add_column("hour", justify="right")
    hours.add_column("commands", justify="right")
    hours.add_column("")
    hpeak = max(st.per_hour)
    for h, n in enumerate(st.per_hour):
        if n:
            hours.add_row(f"{h:02d}", f"{n:,}", f"[magenta]{bar(n, hpeak, 30)}[/]")
    console.print(hours)
    days = list(st.per_day.items())[-14:]
    if days:
        dt = Table(title="Per day (last 14)", show_edge=False)
        dt.add_column("day")
        dt.add_column("commands", justify="right")
        dt.add_column("")
        dpeak = max(n for _, n in days)
        for d, n in days:
            dt.add_row(d, f"{n:,}", f"[green]{bar(n, dpeak, 30)}[/]")
        console.print(dt)


@memory.command("list")
@click.option("--limit", "-n", default=20, show_default=True, help="How many (newest first).")
@click.option("--since", help="Only from this time (2026-01-31, 3d, 12h).")
@click.option("--until", help="Only up to this time.")
@click.option("--cwd", help="Only commands run in this directory.")
@click.option("--session", help="Only this session id.")
@click.option("--exit", "exit_", type=int, help="Only this exit status.")
@json_option
def list_(limit, since, until, cwd, session, exit_, as_json) -> None:
    """The most recent commands, filtered."""
    store = load_context().store
    cwd = str(Path(cwd).expanduser().resolve()) if cwd else None
    out = []
    for rec in store.iter_records(parse_time(since), parse_time(until), reverse=True):
        if cwd is not None and rec.cwd != cwd:
            continue
        if session is not None and rec.session != session:
            continue
        if exit_ is not None and rec.exit != exit_:
            continue
        out.append(rec)
        if len(out) >= limit:
            break
    out.reverse()
    if as_json:
        click.echo(json.dumps([to_json(r) for r in out]))
        return
    for r in out:
        status = "" if r.exit is None else ("[green]✓[/]" if r.exit == 0 else f"[red]{r.exit}[/]")
        console.print(
            f"[dim]{r.timestamp:%Y-%m-%d %H:%M}[/] {status:>3} {escape(shown(r.command))}  "
            f"[dim]{escape(r.cwd)}[/]",
            highlight=False,
            markup=True,
        )


# A terminal line shows this much of a command; `--json` gives it whole. Rendering is linear
# in what is shown, so one huge stored command cannot make `list` take minutes.
SHOWN_CHARS = 2000


def shown(command: str) -> str:
    """``command`` as ``list`` prints it: cut after :data:`SHOWN_CHARS` characters."""
    if len(command) <= SHOWN_CHARS:
        return command
    return f"{command[:SHOWN_CHARS]}… ({len(command) - SHOWN_CHARS:,} more characters)"


@memory.command()
@click.argument("text")
@click.option("--mode", type=click.Choice(MODES), default="substring", show_default=True)
@click.option("--limit", "-n", default=20, show_default=True)
@json_option
def search(text: str, mode: str, limit: int, as_json: bool) -> None:
    """Distinct commands matching TEXT, most used and most recent first.

    ``--mode fuzzy`` forgives typos (``gti stauts`` finds ``git status``); Delta's own
    commands and redaction placeholders never match.
    """
    try:
        hits = search_commands(load_context().store, text, mode, limit)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "command": h.stats.command,
                        "count": h.stats.count,
                        "last_used": format_time(h.stats.last_ns),
                        "last_cwd": h.stats.last_cwd,
                        "score": round(h.score, 4),
                    }
                    for h in hits
                ]
            )
        )
        return
    for h in hits:
        console.print(
            f"{h.stats.count:>6,}× [cyan]{h.stats.command}[/]  "
            f"[dim]{format_time(h.stats.last_ns)} {h.stats.last_cwd}[/]",
            highlight=False,
        )


@memory.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl")
@click.option("--since", help="Only from this time.")
@click.option("--until", help="Only up to this time.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File (default stdout).")
def export(fmt: str, since, until, output) -> None:
    """Write records as JSON Lines (the documented export format), oldest first."""
    store = load_context().store
    out = open(output, "w", encoding="utf-8") if output else sys.stdout  # noqa: SIM115
    try:
        with progress("exporting", store.count() or None) as advance:
            for rec in store.iter_records(parse_time(since), parse_time(until)):
                out.write(dumps(rec))
                out.write("\n")
                advance()
    finally:
        if output:
            out.close()
            Path(output).chmod(0o600)
    if store.skipped_days:
        click.echo(
            f"delta: export incomplete: {len(store.skipped_days)} day(s) could not be read "
            f"({', '.join(sorted(store.skipped_days))}); see `delta memory verify`",
            err=True,
        )
        sys.exit(1)


@memory.command("import")
@click.option("--from", "source", required=True, help="Format: jsonl, bash, zsh, … or auto.")
@click.argument("path", required=False, type=click.Path(dir_okay=True, exists=True))
@json_option
def import_(source: str, path: str | None, as_json: bool) -> None:
    """Import a history file; filters apply, re-importing adds nothing."""
    from delta_core.imports.parallel import ImportFailed, import_path

    ctx = load_context()
    importers = ctx.components.importers
    if source == "auto":
        targets = _auto_sources(ctx, importers)
        if not targets:
            raise click.ClickException("no shell history found in the usual places")
    elif source not in importers:
        raise click.ClickException(
            f"unknown format {source!r}; known: {', '.join(sorted(importers))}, auto"
        )
    elif path is None:
        found = [p for p in importers[source].default_paths(Path.home(), ctx.env) if p.exists()]
        if not found:
            raise click.ClickException(f"no {source} history in its usual place; give a PATH")
        targets = [(source, found[0])]
    else:
        bad = not_a_history_file(Path(path), dir_ok=True)
        if bad is not None:
            raise click.ClickException(bad.message)
        targets = [(source, Path(path))]
    results = []
    skipped = 0
    for name, p in targets:
        with progress(f"importing {p.name} ({name})") as advance:
            try:
                summary = import_path(ctx, name, p, progress=advance)
            except ImportFailed as exc:
                raise click.ClickException(str(exc)) from None
        skipped += len(summary.problems)
        results.append((name, p, summary))
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "from": n,
                        "path": str(p),
                        "read": s.read,
                        "added": s.added,
                        "duplicates": s.duplicates,
                        "dropped": s.dropped,
                        "redacted": s.redacted,
                        "skipped": [{"line": q.line, "error": q.message} for q in s.problems],
                        "seconds": round(s.seconds, 3),
                    }
                    for n, p, s in results
                ]
            )
        )
    else:
        for n, p, s in results:
            for q in s.problems[:20]:
                # importers end their messages with "; skipped": say it once
                why = q.message.removesuffix("; skipped")
                click.echo(f"{p}:{q.line}: skipped: {why}", err=True)
            if len(s.problems) > 20:
                click.echo(f"{p}: … and {len(s.problems) - 20} more skipped lines", err=True)
            click.echo(
                f"{p} ({n}): {s.read:,} read, {s.added:,} added, {s.duplicates:,} already "
                f"there, {s.redacted:,} redacted, {s.dropped:,} dropped, "
                f"{len(s.problems):,} skipped ({s.rate:,.0f} commands/s)"
            )
    if skipped:
        sys.exit(1)


def _auto_sources(ctx, importers) -> list[tuple[str, Path]]:
    try:
        from delta_core.imports.pipeline import detect_sources
    except ImportError:
        detect_sources = None
    if detect_sources is not None:
        return list(detect_sources(importers, Path.home(), ctx.env))
    found = []
    for name, imp in importers.items():
        for p in imp.default_paths(Path.home(), ctx.env):
            if p.exists():
                found.append((name, p))
                break
    return found


@memory.command()
@click.argument("pattern")
@click.option("--regex", is_flag=True, help="PATTERN is a regular expression.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def forget(pattern: str, regex: bool, yes: bool) -> None:
    """Remove every record whose command contains PATTERN, everywhere.

    Everywhere: the shards and the index, and what was derived from them (tokenizers,
    datasets, models' tokenizer copies, the search state); each is named as it is dealt with.
    """
    ctx = load_context()
    store = ctx.store
    if regex:
        try:
            rx = re.compile(pattern)
        except re.error as exc:
            raise click.BadParameter(f"not a valid regex: {exc}") from None
        match = lambda c: rx.search(c) is not None  # noqa: E731
    else:
        match = lambda c: pattern in c  # noqa: E731
    n = sum(1 for r in store.iter_records() if match(r.command))
    if not n:
        click.echo("nothing in the memory matches")
        if not regex:  # what was derived before the records went may still hold it
            _scrub_derived(ctx, {pattern})
        return
    if not yes and not click.confirm(f"Forget {n:,} records matching {pattern!r}?"):
        click.echo("nothing forgotten")
        return
    if regex:
        texts = {m.group(0) for r in store.iter_records() for m in rx.finditer(r.command)}
    else:
        texts = {pattern}
    from delta_core.memory.feedback import forget_feedback

    events = forget_feedback(store, match)  # before the rewrite, whose compaction frees them
    removed = store.forget(match)
    click.echo(f"forgot {removed:,} records")
    if events:
        click.echo(f"  feedback: {events:,} events deleted")
    _scrub_derived(ctx, texts)


def _scrub_derived(ctx, texts) -> None:
    from delta_core.cli.derived import scrub
    from delta_core.paths import Layout

    touched = scrub(Layout(ctx.config.root), texts)
    for t in touched:
        click.echo(f"  {t}")
    if not touched:
        click.echo("  nothing derived held it (tokenizers, datasets, models, search)")


@memory.command()
@click.option("--older-than", type=click.IntRange(min=1), help="Delete days older than DAYS.")
@click.option("--filters", "refilter", is_flag=True, help="Re-apply the privacy filters.")
def prune(older_than: int | None, refilter: bool) -> None:
    """Delete old days, or re-apply the privacy filters to everything stored."""
    if older_than is None and not refilter:
        raise click.UsageError("give --older-than DAYS and/or --filters")
    ctx = load_context()
    if older_than is not None:
        n = ctx.store.prune_older_than(older_than)
        click.echo(f"pruned {n:,} records older than {older_than} days")
    if refilter:
        from delta_core.memory.privacy import apply_filters

        filters = ctx.filters
        removed_text: set[str] = set()

        def refilter_one(rec):
            v = apply_filters(filters, rec.command, rec.cwd)
            if v.action == "keep":
                return rec
            if v.action == "drop":
                # What the filters found (spans of the command they saw), else the whole command.
                spans = [rec.command[f.start : f.end] for f in v.findings if f.end > f.start]
                removed_text.update(spans or [rec.command])
                return None
            removed_text.update(_removed_words(rec.command, v.command))
            return rec.with_command(v.command)

        from delta_core.memory.feedback import forget_feedback

        def held(text: str) -> bool:
            return apply_filters(filters, text, "").action != "keep"

        events = forget_feedback(ctx.store, held)
        changed, deleted = ctx.store.rewrite(refilter_one)
        click.echo(f"re-filtered: {changed:,} redacted, {deleted:,} dropped")
        if events:
            click.echo(f"  feedback: {events:,} events deleted")
        if removed_text:
            _scrub_derived(ctx, removed_text)


def _removed_words(before: str, after: str) -> set[str]:
    """The words of ``before`` a filter took out (what derived files must not keep either)."""
    kept = set(re.split(r"[\s'\"`=:;,@/()]+", after))
    return {
        w
        for w in re.split(r"[\s'\"`=:;,@/()]+", before)
        if len(w) >= 4 and w not in kept and "<redacted:" not in w
    }


@memory.command()
@click.option("--no-quarantine", is_flag=True, help="Only report; move nothing.")
@json_option
def verify(no_quarantine: bool, as_json: bool) -> None:
    """Check every shard and the index; set damaged days aside (keeping their intact records);
    rebuild a damaged index. Exits 1 when something was damaged or unreadable."""
    try:
        report = load_context().store.verify(quarantine=not no_quarantine)
    except PermissionError as exc:
        raise click.ClickException(f"cannot check the index: {exc}") from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "ok": report.ok,
                    "bad": report.bad,
                    "denied": report.denied,
                    "quarantined": {d: str(p) for d, p in report.quarantined.items()},
                    "salvaged": {
                        d: {"kept": k, "lost": n} for d, (k, n) in report.salvaged.items()
                    },
                    "index_damaged": report.index_damaged,
                    "index_rebuilt": report.index_rebuilt,
                    "index_drift": report.index_drift,
                    "index_outdated": report.index_outdated,
                    "not_days": report.not_days,
                }
            )
        )
    else:
        click.echo(f"{len(report.ok)} days healthy, {sum(report.ok.values()):,} records")
        for day, why in report.bad.items():
            where = report.quarantined.get(day)
            moved = ""
            if where:
                kept, lost = report.salvaged.get(day, (0, 0))
                moved = (
                    f"; moved to {where}, {kept:,} intact records kept, {lost_words(lost)} "
                    f"(`delta memory restore {where.name}` retries)"
                )
            click.echo(f"{day}: damaged ({why}){moved}")
        for day, why in report.denied.items():
            click.echo(f"{day}: not readable, not damaged: {why}; left in place")
        for name in report.not_days:
            click.echo(f"shards/{name}: not a day shard; skipped (move it out)")
        if report.index_damaged:
            click.echo(f"index: damaged ({report.index_damaged}); set aside")
        for day, (shard, idx) in report.index_drift.items():
            click.echo(f"{day}: index had {idx:,} records, shard {shard:,}")
        if report.index_outdated:
            click.echo("index written by an older Delta (no two-command successors yet)")
        if report.index_rebuilt:
            click.echo("index rebuilt from the shards")
    if report.bad or report.denied or report.index_damaged:
        sys.exit(1)


@memory.command()
@click.argument("name", required=False)
def restore(name: str | None) -> None:
    """Bring a quarantined day back (its intact records); without NAME, list the quarantine."""
    store = load_context().store
    if name is None:
        names = store.quarantined()
        if not names:
            click.echo("the quarantine is empty")
        for n in names:
            click.echo(n)
        return
    try:
        added, lost = store.restore(Path(name).name)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc.args[0] if exc.args else exc)) from None
    if not added and lost:
        raise click.ClickException(f"{name}: no record could be read back ({lost_words(lost)})")
    click.echo(
        f"restored {added:,} records from {name}" + (f", {lost_words(lost)}" if lost else "")
    )


@memory.command()
def reindex() -> None:
    """Rebuild the index from the shards."""
    n = load_context().store.reindex()
    click.echo(f"indexed {n:,} records")


@memory.command()
@json_option
def du(as_json: bool) -> None:
    """Disk usage of the memory."""
    usage = load_context().store.disk_usage()
    if as_json:
        click.echo(json.dumps(usage))
        return
    width = max(len(k) for k in usage)
    for k, v in usage.items():
        if k == "total":
            click.echo("-" * (width + 14))
        click.echo(f"{k:<{width}} {v / 1e6:10.2f} MB")


@memory.command()
def on() -> None:
    """Resume recording."""
    ctx = load_context()
    ctx.layout.paused_flag.unlink(missing_ok=True)
    click.echo("recording on")


@memory.command()
def off() -> None:
    """Pause recording (until `delta memory on`)."""
    ctx = load_context()
    private_dir(ctx.layout.memory)
    ctx.layout.paused_flag.touch(mode=0o600)
    click.echo("recording paused")
