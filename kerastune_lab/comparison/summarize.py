"""Per-cell figures of a comparison, with means and 95% CIs over seeds."""

import collections
import csv
import math

import numpy as np
from scipy import stats

from kerastune_lab.analysis.diagnose_history import PROBLEMS, STILL_IMPROVING
from kerastune_lab.comparison.failures import failure_interval, run_failed
from kerastune_lab.config.experiment_config import STUDY_FIGURES
from kerastune_lab.run_directory import RunDirectory

# Every run has these; test_accuracy only where the task has accuracy.
FIGURES = tuple(f for f in STUDY_FIGURES if f != "test_accuracy")


def read_run(run_dir):
    """One finished run: figures, curves and verdict."""
    run = RunDirectory(run_dir)
    record = run.read_record()
    diagnosis = run.read_diagnosis()
    return {
        "figures": run.read_figures(),
        "history": run.read_history(),
        "steps": run.read_steps(),
        "verdict": diagnosis["verdict"],
        "flags": diagnosis.get("flags", []),
        "learning_rate": record["config"]["train"]["learning_rate"],
        "no_skill_eval_loss": record.get("no_skill_eval_loss", math.nan),
    }


def mean_ci(values, confidence=0.95):
    """(mean, low, high): the mean and scipy's t interval; NaN bounds for
    one value or a non-finite one, the mean itself for identical ones."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2 or not np.isfinite(values).all():
        return mean, math.nan, math.nan
    sem = stats.sem(values)
    if sem == 0:
        return mean, mean, mean
    low, high = stats.t.interval(confidence, len(values) - 1, mean, sem)
    return mean, float(low), float(high)


def collect(plan):
    """{cell: {seed: run}} for every complete run of the plan."""
    runs = collections.defaultdict(dict)
    for cell, seed, run_dir in plan:
        if RunDirectory(run_dir).is_complete():
            runs[cell][seed] = read_run(run_dir)
    return runs


def write_summary(runs, path, figure=FIGURES[0]):
    """summary.csv: one row per cell: mean and 95% CI of each figure (and
    of the study's own `figure`, where it is another), failed runs with
    their Clopper-Pearson 95% interval."""
    names = list(FIGURES) + [
        name
        for name in dict.fromkeys(("test_accuracy", figure))
        if name not in FIGURES
        and all(
            name in r["figures"]
            for seeds in runs.values()
            for r in seeds.values()
        )
    ]
    rows = []
    for cell, seeds in runs.items():
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
            mean, low, high = mean_ci(
                [r["figures"][name] for r in seeds.values()]
            )
            row.update(
                {
                    f"{name}_mean": mean,
                    f"{name}_ci_low": low,
                    f"{name}_ci_high": high,
                }
            )
        rows.append(row)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return rows
