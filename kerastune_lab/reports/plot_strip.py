"""Every seed's result per cell: the strip plot that shows failures.

A mean over seeds hides a mix of runs that learned and runs that stayed
at the no-skill plateau; this plot shows each run: learned runs as dots,
failed ones (not below the no-skill loss) as red circles, diverged ones
as red crosses at the top edge, and each cell's no-skill loss as a dashed
segment.
"""

import math

import numpy as np
from matplotlib.figure import Figure

from kerastune_lab.statistics.failures import diverged, run_failed

# Figures read against the no-skill eval loss.
EVAL_LOSSES = ("final_eval_loss", "best_eval_loss")


def _groups(runs):
    """{(first axis, value) or None: [cells]}: one panel per value of the
    first axis when there are two axes or more."""
    groups = {}
    for cell in runs:
        key = cell.values[0] if len(cell.values) > 1 else None
        groups.setdefault(key, []).append(cell)
    return groups


def _cell_label(cell, grouped):
    rest = cell.values[1:] if grouped else cell.values
    return "\n".join(f"{k.split('.')[-1]}={v}" for k, v in rest)


def _no_skill(seeds, figure):
    """The cell's no-skill eval loss, where `figure` is an eval loss."""
    values = [r.get("no_skill_eval_loss", math.nan) for r in seeds]
    finite = [v for v in values if math.isfinite(v)]
    if figure not in EVAL_LOSSES or not finite:
        return math.nan
    return float(np.mean(finite))


# How each kind of run is drawn; the legend lists the kinds a panel has.
STYLES = {
    "learned": {"marker": "o", "color": "tab:blue", "ls": ""},
    "failed: not below no-skill": {
        "marker": "o",
        "mfc": "none",
        "color": "tab:red",
        "ls": "",
        "ms": 7,
    },
    "diverged (drawn at the top)": {
        "marker": "x",
        "color": "tab:red",
        "ls": "",
        "ms": 8,
    },
}
NO_SKILL = "no-skill eval loss"


def _kind(run):
    if diverged(run):
        return "diverged (drawn at the top)"
    return "failed: not below no-skill" if run_failed(run) else "learned"


def _ceiling(runs, cells, figure):
    """A y just above the panel's finite values, where diverged runs go."""
    finite = [
        run["figures"][figure]
        for cell in cells
        for run in runs[cell].values()
        if _kind(run) != "diverged (drawn at the top)"
        and math.isfinite(run["figures"][figure])
    ]
    if not finite:
        return 1.0
    top, bottom = max(finite), min(finite)
    return top + 0.08 * (top - bottom or abs(top) or 1.0)


def _panel(ax, runs, cells, figure, grouped):
    ceiling = _ceiling(runs, cells, figure)
    kinds = set()
    for i, cell in enumerate(cells):
        seeds = runs[cell]
        offsets = np.linspace(-0.18, 0.18, len(seeds))
        for offset, run in zip(offsets, seeds.values()):
            kind = _kind(run)
            y = ceiling if kind.startswith("diverged") else None
            ax.plot(
                i + offset,
                run["figures"][figure] if y is None else y,
                **STYLES[kind],
            )
            kinds.add(kind)
        no_skill = _no_skill(seeds.values(), figure)
        if math.isfinite(no_skill):
            ax.plot([i - 0.35, i + 0.35], [no_skill] * 2, "k--", lw=1)
            kinds.add(NO_SKILL)
    for kind, style in STYLES.items():
        if kind in kinds:
            ax.plot([], [], label=kind, **style)
    if NO_SKILL in kinds:
        ax.plot([], [], "k--", lw=1, label=NO_SKILL)
    ax.set_xticks(range(len(cells)))
    ax.set_xticklabels([_cell_label(c, grouped) for c in cells], fontsize=8)
    ax.set_xlim(-0.6, len(cells) - 0.4)
    ax.set_ylabel(figure)
    ax.legend(fontsize=8)


def plot_strip(runs, path, figure="final_eval_loss"):
    """Writes the strip plot of `figure` per cell to `path`.

    Args:
        runs: {cell: {seed: run}} (summarize.collect).
        path: The PNG file.
        figure: The per-run figure plotted.
    """
    groups = _groups(runs)
    widest = max(len(cells) for cells in groups.values())
    fig = Figure(figsize=(max(6.0, 1.3 * widest + 2), 3.8 * len(groups)))
    axes = fig.subplots(len(groups), 1, squeeze=False)[:, 0]
    for ax, (key, cells) in zip(axes, groups.items()):
        _panel(ax, runs, cells, figure, key is not None)
        where = f", {key[0].split('.')[-1]} = {key[1]}" if key else ""
        ax.set_title(f"{figure} of every seed{where}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
