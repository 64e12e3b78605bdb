"""Showing an evaluation: a rich table, ratios against baselines, and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = (
    ("top1", "top-1", "{:.1%}"),
    ("top5", "top-5", "{:.1%}"),
    ("keystroke_savings", "keystroke savings", "{:.1%}"),
    ("keystroke_savings_words", "KS, word accept", "{:.1%}"),
    ("latency_p50_ms", "p50 ms", "{:.3f}"),
    ("latency_p95_ms", "p95 ms", "{:.3f}"),
    ("perplexity", "perplexity", "{:.2f}"),
)


def render_table(result: dict[str, Any], title: str = "") -> Any:
    """A :class:`rich.table.Table` with one row per strategy."""
    from rich.table import Table

    table = Table(title=title or f"delta eval: {result['commands']} test commands")
    table.add_column("strategy", no_wrap=True)
    for _, label, _ in COLUMNS:
        table.add_column(label, justify="right")
    for name, m in result["strategies"].items():
        cells = [fmt.format(m[key]) if key in m else "-" for key, _, fmt in COLUMNS]
        style = "bold green" if name == "delta" else None
        table.add_row(name, *cells, style=style)
    return table


def ratios(result: dict[str, Any], of: str = "delta") -> dict[str, float]:
    """The targets of the issue: Delta's KS over ``recent``'s, top-1 over ``frequent``'s."""
    s = result["strategies"]
    out = {}
    if s.get("recent", {}).get("keystroke_savings"):
        out["ks_vs_recent"] = s[of]["keystroke_savings"] / s["recent"]["keystroke_savings"]
    if s.get("frequent", {}).get("top1"):
        out["top1_vs_frequent"] = s[of]["top1"] / s["frequent"]["top1"]
    return out


def wins_line(result: dict[str, Any]) -> str:
    """One sentence: where the model beat history alone (``model_wins`` of the result)."""
    w = result.get("model_wins")
    if not w:
        return ""
    by, keys = w["commands_by_place"], w["keys_saved_by_place"]
    parts = ", ".join(
        f"{by[p]} {label} ({keys[p]} keys)"
        for p, label in (
            ("empty_prompt", "on the empty prompt"),
            ("command_name", "in the command name"),
            ("arguments", "in the arguments"),
        )
    )
    return (
        f"the model entered {w['better']} commands in fewer keys than history alone "
        f"({w['keys_saved']} keys saved): {parts}; {w['worse']} took more keys"
    )


def plot(result: dict[str, Any], path: Path) -> Path:
    """Bars of keystroke savings, top-1 and top-5 per strategy, written to ``path`` (PNG)."""
    try:
        import matplotlib
    except ImportError:
        raise RuntimeError("--plot needs matplotlib; pip install 'xontrib-delta[eval]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["strategies"])
    metrics = [("keystroke_savings", "keystroke savings"), ("top1", "top-1"), ("top5", "top-5")]
    width = 0.8 / len(metrics)
    wins = result.get("model_wins")
    if wins:
        fig, (ax, ax2) = plt.subplots(
            1, 2, figsize=(4.6 + 1.3 * len(names), 4.2), width_ratios=[len(names), 2]
        )
        places = ["empty_prompt", "command_name", "arguments"]
        vals = [wins["keys_saved_by_place"][p] for p in places]
        bars = ax2.bar(["next cmd", "cmd name", "arguments"], vals, color="tab:green")
        ax2.bar_label(bars, fontsize=7, padding=1)
        ax2.set_title("keys the model saved over history, by place", fontsize=9)
        ax2.tick_params(axis="x", labelsize=8)
    else:
        fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(names), 4.2))
    for j, (key, label) in enumerate(metrics):
        xs = [i + (j - 1) * width for i in range(len(names))]
        vals = [result["strategies"][n].get(key, 0.0) for n in names]
        bars = ax.bar(xs, vals, width, label=label)
        ax.bar_label(bars, labels=[f"{v:.0%}" for v in vals], fontsize=7, padding=1)
    ax.set_xticks(range(len(names)), names)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share")
    ax.set_title(f"delta eval: {result['commands']} test commands")
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    path.chmod(0o600)
    return path
