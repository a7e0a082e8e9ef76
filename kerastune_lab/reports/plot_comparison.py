"""The comparison's figures: curves per first-axis value, and rate traces."""

import numpy as np
from matplotlib.figure import Figure

from kerastune_lab.analysis.plot_curves import draw_no_skill
from kerastune_lab.figures import eval_loss


def _smooth(values, window):
    if window <= 1 or len(values) < window:
        return np.asarray(values, dtype=float)
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def _rows(runs):
    """Cells grouped by the first grid axis (the original's schedules)."""
    groups = {}
    for cell in runs:
        key = cell.values[0] if len(cell.values) > 1 else ("", "")
        groups.setdefault(key, []).append(cell)
    return groups


def _line_label(cell):
    rest = cell.values[1:] if len(cell.values) > 1 else cell.values
    return ", ".join(f"{k.split('.')[-1]}={v}" for k, v in rest)


def plot_band(ax, x, series, label):
    """The mean of `series` (cut to the shortest) against `x` on `ax`,
    with a min-max band over them."""
    stacked = np.vstack([s[: min(map(len, series))] for s in series])
    x = x[: stacked.shape[1]]
    (line,) = ax.plot(x, stacked.mean(axis=0), label=label, lw=1.2)
    if len(series) > 1:
        ax.fill_between(
            x,
            stacked.min(axis=0),
            stacked.max(axis=0),
            color=line.get_color(),
            alpha=0.2,
            lw=0,
        )


def plot_comparison_curves(runs, path, no_skill_loss=None):
    """Per row (first axis value): training loss per step (moving average)
    and eval loss per epoch, mean over seeds with a min-max band, and the
    no-skill loss as a dashed line."""
    groups = _rows(runs)
    fig = Figure(figsize=(13, 3.6 * len(groups)))
    axes = fig.subplots(len(groups), 2, squeeze=False)
    for row, ((key, value), cells) in enumerate(groups.items()):
        title = f"{key.split('.')[-1]} = {value}" if key else ""
        for cell in cells:
            seeds = list(runs[cell].values())
            steps = [np.asarray(r["steps"]["loss"]) for r in seeds]
            window = max(1, len(steps[0]) // 60)
            smoothed = [_smooth(s, window) for s in steps]
            plot_band(
                axes[row, 0],
                np.arange(len(smoothed[0])) + window - 1,
                smoothed,
                _line_label(cell),
            )
            evals = [np.asarray(eval_loss(r["history"])) for r in seeds]
            plot_band(
                axes[row, 1],
                np.arange(len(evals[0])),
                evals,
                _line_label(cell),
            )
        axes[row, 0].set(
            title=f"Training loss per step {title}",
            xlabel="optimizer step",
            ylabel="batch loss (moving average)",
        )
        for ax in axes[row]:
            draw_no_skill(ax, no_skill_loss)
        axes[row, 1].set(
            title=f"Eval loss per epoch {title}",
            xlabel="epoch",
            ylabel="eval loss",
        )
        for ax in axes[row]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def plot_rate_traces(runs, path):
    """The learning rate every step used (first seed of each cell)."""
    groups = _rows(runs)
    fig = Figure(figsize=(5 * len(groups), 3.4))
    axes = fig.subplots(1, len(groups), squeeze=False)
    for col, ((key, value), cells) in enumerate(groups.items()):
        ax = axes[0, col]
        for cell in cells:
            first = runs[cell][min(runs[cell])]
            ax.plot(
                first["steps"]["step"],
                first["steps"]["lr"],
                lw=0.8,
                label=_line_label(cell),
            )
        ax.set(
            title=(f"{key.split('.')[-1]} = {value}" if key else "")
            + " rate used",
            xlabel="optimizer step",
            ylabel="lr",
        )
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
