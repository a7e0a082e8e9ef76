"""From a comparison's finished runs to summary.csv, comparisons.csv,
plots and report."""

import json
import math

from kerastune_lab.comparison.paired_tests import (
    paired_comparisons,
    write_comparisons,
)
from kerastune_lab.comparison.plot_comparison import (
    plot_comparison_curves,
    plot_rate_traces,
)
from kerastune_lab.comparison.study_controls import study_axes
from kerastune_lab.comparison.summarize import collect, write_summary
from kerastune_lab.comparison.write_report import write_report
from kerastune_lab.config import from_dict


def aggregate(out, plan):
    """Writes summary.csv, comparisons.csv, curves.png, rates.png,
    report.md and report.html; returns (summary rows, comparisons)."""
    study = json.loads((out / "study.json").read_text())
    runs = collect(plan)
    if not runs:
        return None
    axes = study_axes(from_dict(study["config"]))
    rows = write_summary(runs, out / "summary.csv")
    comparisons = paired_comparisons(runs, axes)
    write_comparisons(comparisons, out / "comparisons.csv")
    no_skill = [
        r["no_skill_eval_loss"]
        for r in rows
        if not math.isnan(r["no_skill_eval_loss"])
    ]
    plot_comparison_curves(
        runs, out / "curves.png", min(no_skill) if no_skill else None
    )
    plot_rate_traces(runs, out / "rates.png")
    write_report(
        out,
        f"Comparison {out.name}",
        study,
        axes,
        rows,
        comparisons,
        ["curves.png", "rates.png"],
    )
    return rows, comparisons
