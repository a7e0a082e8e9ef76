"""The plots of a study: one registry that `compare` draws from and its
report embeds.

A `StudyPlot` is a PNG file of the comparison directory: its caption,
how it is drawn from the study's runs, and when it applies. The report
shows them in this order (the one that answers the question first, see
`answers`), each under its caption. A new plot is one entry in
`STUDY_PLOTS`.
"""

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from kerastune_lab.reports.plot_comparison import (
    plot_comparison_curves,
    plot_rate_traces,
)
from kerastune_lab.reports.plot_rate_loss import (
    plot_rate_loss,
    rate_loss_curves,
)
from kerastune_lab.reports.plot_strip import plot_strip


def _always(runs, figure):
    return True


@dataclasses.dataclass(frozen=True)
class StudyPlot:
    """One plot of a comparison directory.

    Args:
        file: Its PNG file name in the comparison directory.
        caption: The sentence the report shows above it.
        draw: `draw(runs, path, figure)` writes it: `runs` is {cell:
            {seed: run}} (`comparison.collect`), `figure` the study's
            `[analysis] figure`.
        applies: `applies(runs, figure)`: whether the study has what it
            shows (default: always).
        answers: Where it ranks among the plots that may answer the
            study's question at the top of the report (0 first); None:
            never there.

    Example:

    >>> plot = StudyPlot("x.png", "X.", lambda runs, path, figure: None)
    >>> plot.applies({}, "final_eval_loss"), plot.answers
    (True, None)
    """

    file: str
    caption: str
    draw: Callable
    applies: Callable = _always
    answers: int | None = None


def _lowest_no_skill(runs):
    """The lowest of the cells' mean no-skill eval loss (None: none)."""
    means = [
        float(np.mean([r["no_skill_eval_loss"] for r in seeds.values()]))
        for seeds in runs.values()
    ]
    known = [m for m in means if not math.isnan(m)]
    return min(known) if known else None


STUDY_PLOTS = (
    StudyPlot(
        "strip.png",
        "Every seed's result per cell: failed runs in red, the no-skill "
        "eval loss dashed.",
        plot_strip,
        answers=1,
    ),
    StudyPlot(
        "rate_loss.png",
        "Mode none against its rate (the base cell and its matched-rate "
        "controls), SD/SD2 at their mean rate: below the curve is more "
        "than a larger rate.",
        plot_rate_loss,
        applies=lambda runs, figure: bool(rate_loss_curves(runs, figure)),
        answers=0,
    ),
    StudyPlot(
        "curves.png",
        "Training and eval loss curves (mean over seeds, min-max band).",
        lambda runs, path, figure: plot_comparison_curves(
            runs, path, _lowest_no_skill(runs)
        ),
    ),
    StudyPlot(
        "rates.png",
        "The rate every step used (first seed of each cell).",
        lambda runs, path, figure: plot_rate_traces(runs, path),
    ),
)


def draw_study_plots(runs, out, figure):
    """Draws every plot that applies into the folder `out`; returns their
    file names, in the report's order."""
    drawn = []
    for plot in STUDY_PLOTS:
        if plot.applies(runs, figure):
            plot.draw(runs, out / plot.file, figure)
            drawn.append(plot.file)
    return drawn


def captions():
    """{file: caption} of every study plot."""
    return {plot.file: plot.caption for plot in STUDY_PLOTS}


def answer_images():
    """The files that may answer the study's question, first choice
    first."""
    ranked = [plot for plot in STUDY_PLOTS if plot.answers is not None]
    return [plot.file for plot in sorted(ranked, key=lambda p: p.answers)]
