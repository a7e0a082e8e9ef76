"""Is SD/SD2 more than a larger rate? The rate-loss curve of mode none.

The base cell (mode none) and its matched-rate controls (mode none at the
mean rate SD or SD2 used) are three points of one curve: the figure of a
plain run against its rate. SD and SD2 are drawn at their effective mean
rate (base rate x their rate-weighted mean factor,
`statistics.mean_factor`): a marker below the curve at its own rate
beats a plain run at that rate; one on the curve does what a larger rate
does. One curve per value of the other axes (e.g. per schedule).
"""

import dataclasses
import math

import numpy as np
from matplotlib.figure import Figure

from kerastune_lab.statistics.mean_ci import mean_ci
from kerastune_lab.statistics.mean_factor import mean_factor
from kerastune_lab.study.study_levels import MODE_AXIS, matched_level


@dataclasses.dataclass
class RatePoint:
    """One cell on the rate-loss plot.

    Attributes:
        level: The cell's lr_adapt.mode level.
        rate: Base rate (mode none cells) or effective mean rate (SD,
            SD2: base rate x mean factor over its seeds).
        values: The figure of every seed.
    """

    level: str
    rate: float
    values: list

    def summary(self):
        """(mean, low, high) over the finite values, and how many seeds
        had a non-finite one."""
        finite = [v for v in self.values if math.isfinite(v)]
        if not finite:
            return (math.nan,) * 3, len(self.values)
        return mean_ci(finite), len(self.values) - len(finite)


def rate_loss_curves(runs, figure="final_eval_loss"):
    """{other axes' ((key, value), ...): (curve points, adaptive points)}
    for every value of the other axes with a matched-rate control: the
    curve is mode none and its controls by rate; the adaptive points are
    the modes those controls match, at their effective rates."""
    cells = {}
    for cell, seeds in runs.items():
        values = dict(cell.values)
        if MODE_AXIS not in values:
            return {}
        others = tuple((k, v) for k, v in cell.values if k != MODE_AXIS)
        cells.setdefault(others, {})[values[MODE_AXIS]] = seeds
    curves = {}
    for others, levels in cells.items():
        matched = [mode for mode in levels if matched_level(mode) in levels]
        if "none" not in levels or not matched:
            continue
        curve = [
            _point(level, levels[level], figure)
            for level in ["none", *map(matched_level, matched)]
        ]
        adaptive = [
            _point(mode, levels[mode], figure, adaptive=True)
            for mode in matched
            if all("factor" in r["steps"] for r in levels[mode].values())
        ]
        curves[others] = (sorted(curve, key=lambda p: p.rate), adaptive)
    return curves


def _point(level, seeds, figure, adaptive=False):
    runs = list(seeds.values())
    rate = runs[0]["learning_rate"]
    if adaptive:
        rate *= float(np.mean([mean_factor(r["steps"]) for r in runs]))
    return RatePoint(level, rate, [r["figures"][figure] for r in runs])


# Adaptive cells sit at their control's rate by construction: drawn this
# factor to the right so that both stay visible.
DODGE = 1.04


def _draw(ax, point, style, color, label=None, dodge=1.0):
    (mean, low, high), lost = point.summary()
    x = point.rate * dodge
    finite = [v for v in point.values if math.isfinite(v)]
    ax.plot([x] * len(finite), finite, style, color=color, alpha=0.3)
    if math.isfinite(low):
        ax.errorbar(
            x,
            mean,
            yerr=[[mean - low], [high - mean]],
            fmt=style,
            color=color,
            capsize=3,
            label=label,
        )
    elif math.isfinite(mean):
        ax.plot(x, mean, style, color=color, label=label)
    if lost:
        ax.annotate(
            f"{lost} diverged",
            (x, mean if math.isfinite(mean) else min(finite, default=0)),
            fontsize=7,
            color="tab:red",
        )
    return mean


def plot_rate_loss(runs, path, figure="final_eval_loss"):
    """Writes the rate-loss plot to `path`, one panel per value of the
    other axes with a matched-rate control (`rate_loss_curves`: the study
    needs one)."""
    curves = rate_loss_curves(runs, figure)
    fig = Figure(figsize=(5.0 * len(curves), 4.2))
    panels = fig.subplots(1, len(curves), squeeze=False)[0]
    colors = ["tab:red", "tab:green", "tab:purple", "tab:orange"]
    for ax, (others, (curve, adaptive)) in zip(panels, curves.items()):
        means = [_draw(ax, p, "o", "tab:blue") for p in curve]
        ax.plot(
            [p.rate for p in curve],
            means,
            "-",
            color="tab:blue",
            label="mode none (base and matched-rate controls)",
        )
        for i, point in enumerate(adaptive):
            _draw(
                ax,
                point,
                "D",
                colors[i % len(colors)],
                f"{point.level} at its mean rate",
                DODGE,
            )
        ax.set_xscale("log")
        ax.set_xticks([p.rate for p in curve], minor=False)
        ax.set_xticks([], minor=True)
        ax.set_xticklabels([f"{p.rate:.2g}" for p in curve])
        name = ", ".join(f"{k.split('.')[-1]} = {v}" for k, v in others)
        ax.set(
            xlabel=f"rate (adaptive modes drawn x{DODGE} to the right)",
            ylabel=figure,
            title=name,
        )
        ax.legend(fontsize=7)
    fig.suptitle(
        "Mode none against its rate, SD/SD2 at their mean rate "
        "(mean and 95% t interval of each cell's finite runs; faint: "
        "seeds)",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=90)
