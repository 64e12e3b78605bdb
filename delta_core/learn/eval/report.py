"""Showing an evaluation: a rich table, ratios against baselines, and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLUMNS = (
    ("top1", "top-1", "{:.1%}"),
    ("top5", "top-5", "{:.1%}"),
    ("keystroke_savings", "keystroke savings", "{:.1%}"),
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
