"""From a comparison's finished runs to summary.csv, plots and report."""

import json

from kerastune_lab.comparison.paired_tests import paired_comparisons
from kerastune_lab.comparison.plot_comparison import (
    plot_comparison_curves,
    plot_rate_traces,
)
from kerastune_lab.comparison.summarize import collect, write_summary
from kerastune_lab.comparison.write_report import write_report


def aggregate(out, plan):
    """Writes summary.csv, curves.png, rates.png, report.md, report.html."""
    study = json.loads((out / "study.json").read_text())
    runs = collect(plan)
    if not runs:
        return None
    rows = write_summary(runs, out / "summary.csv")
    plot_comparison_curves(runs, out / "curves.png")
    plot_rate_traces(runs, out / "rates.png")
    comparisons = paired_comparisons(runs, study["config"]["grid"])
    write_report(out, f"Comparison {out.name}", study, rows, comparisons,
                 ["curves.png", "rates.png"])
    return rows, comparisons
