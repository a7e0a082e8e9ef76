"""summary.csv: per cell, the mean and 95% CI over seeds of every figure,
the verdicts counted, and the failure rate with its interval."""

import csv

import numpy as np

from kerastune_lab.analysis.diagnosis import PROBLEMS, STILL_IMPROVING
from kerastune_lab.figures import FIGURES
from kerastune_lab.statistics.failures import failure_interval, run_failed
from kerastune_lab.statistics.mean_ci import mean_ci


def summary_figures(runs, figure):
    """The figures summary.csv describes: the registry's that every run
    has, in its order, then the study's own `figure` where it is another
    (a figure of a logged metric)."""
    return [
        name
        for name in dict.fromkeys([f.name for f in FIGURES] + [figure])
        if all(
            name in run["figures"]
            for seeds in runs.values()
            for run in seeds.values()
        )
    ]


def _cell_row(cell, seeds, names):
    row = dict(cell.values)
    row["seeds"] = len(seeds)
    row["learning_rate"] = next(iter(seeds.values()))["learning_rate"]
    row["no_skill_eval_loss"] = float(
        np.mean([r["no_skill_eval_loss"] for r in seeds.values()])
    )
    for verdict in PROBLEMS:
        row[f"{verdict}_seeds"] = sum(
            r["verdict"] == verdict for r in seeds.values()
        )
    row["still_improving_seeds"] = sum(
        STILL_IMPROVING in r["flags"] for r in seeds.values()
    )
    row["failures"] = sum(run_failed(r) for r in seeds.values())
    row["failure_ci_low"], row["failure_ci_high"] = failure_interval(
        row["failures"], len(seeds)
    )
    for name in names:
        mean, low, high = mean_ci([r["figures"][name] for r in seeds.values()])
        row.update(
            {
                f"{name}_mean": mean,
                f"{name}_ci_low": low,
                f"{name}_ci_high": high,
            }
        )
    return row


def write_summary(runs, path, figure=FIGURES[0].name):
    """Writes summary.csv, one row per cell; returns the rows.

    Args:
        runs: {cell: {seed: run}} (`comparison.collect.collect`'s shape).
        path: The CSV file.
        figure: The study's `[analysis] figure`.
    """
    names = summary_figures(runs, figure)
    rows = [_cell_row(cell, seeds, names) for cell, seeds in runs.items()]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows
