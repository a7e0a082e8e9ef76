"""From a comparison's finished runs to summary.csv, comparisons.csv,
plots and report."""

import collections
import json

from kerastune_lab.comparison.collect import collect
from kerastune_lab.config import from_dict
from kerastune_lab.errors import ConfigError
from kerastune_lab.reports.study_plots import draw_study_plots
from kerastune_lab.reports.write_report import write_report
from kerastune_lab.statistics.paired_tests import (
    PRIMARY,
    paired_comparisons,
    write_comparisons,
)
from kerastune_lab.statistics.power_plan import power_plan
from kerastune_lab.statistics.write_summary import write_summary
from kerastune_lab.study.study_levels import study_axes


def primary_power_plan(comparisons, analysis, seeds):
    """The primary family's `PowerPlan`: n the most common n of its
    comparisons (the study's seeds if none), m the testable ones."""
    primary = [c for c in comparisons if c.role == PRIMARY]
    sizes = collections.Counter(c.n for c in primary)
    n = sizes.most_common(1)[0][0] if sizes else seeds
    m = max(1, sum(c.testable for c in primary) or len(primary))
    return power_plan(
        n,
        m,
        analysis.alpha,
        analysis.pilot_sd,
        [c.diffs for c in primary],
    )


def _check_figure(runs, figure):
    missing = [
        cell.label
        for cell, seeds in runs.items()
        if any(figure not in run["figures"] for run in seeds.values())
    ]
    if missing:
        known = sorted(
            next(iter(next(iter(runs.values())).values()))["figures"]
        )
        raise ConfigError(
            f"analysis.figure = {figure!r}: the runs of {missing[0]} have no "
            f"such figure (they have {', '.join(known)}); set "
            "analysis.figure to one of those."
        )


def aggregate(out, plan, runs=None):
    """Writes summary.csv, comparisons.csv, the study's plots (those of
    `study_plots.STUDY_PLOTS` that apply), report.md and report.html;
    returns (summary rows, comparisons), or None without finished runs.

    Args:
        out: The comparison directory, holding study.json.
        plan: [(cell, seed, run_dir)] of the study.
        runs: {cell: {seed: run}} to use instead of reading the plan's run
            directories (`collect`'s shape).
    """
    study = json.loads((out / "study.json").read_text())
    runs = collect(plan) if runs is None else runs
    if not runs:
        return None
    config = from_dict(study["config"])
    analysis = config.analysis
    _check_figure(runs, analysis.figure)
    axes = study_axes(config)
    rows = write_summary(runs, out / "summary.csv", analysis.figure)
    comparisons = paired_comparisons(runs, axes, analysis)
    write_comparisons(comparisons, out / "comparisons.csv")
    images = draw_study_plots(runs, out, analysis.figure)
    write_report(
        out,
        f"Comparison {out.name}",
        study,
        axes,
        rows,
        comparisons,
        images,
        analysis,
        primary_power_plan(comparisons, analysis, len(study["seeds"])),
    )
    return rows, comparisons
