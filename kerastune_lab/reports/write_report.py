"""report.md and a self-contained report.html for a comparison.

Read top-down: the answer (the declared question, what the runs say in
plain words, the picture that shows it), the primary results, a matrix of
the figure (rows: the last axis, e.g. modes and controls; columns: the
first, e.g. schedules), the protocol (question, figure, tests, correction,
power: fixed before any result), the failed runs per cell, the other
plots, the exploratory estimates (unadjusted, no verdict), then every
figure and the diagnosis.
"""

import itertools
import math

from kerastune_lab.analysis.diagnose_history import PROBLEMS
from kerastune_lab.figures import FIGURES
from kerastune_lab.reports.html_page import render_html
from kerastune_lab.reports.report_answer import answer_lines
from kerastune_lab.reports.report_protocol import protocol_lines
from kerastune_lab.reports.study_plots import captions
from kerastune_lab.statistics.paired_tests import EXPLORATORY, PRIMARY


def _fmt(mean, low, high):
    if math.isnan(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"


def _short(key):
    return key.split(".")[-1]


def _cell_figure(row, figure):
    return _fmt(
        row[f"{figure}_mean"],
        row[f"{figure}_ci_low"],
        row[f"{figure}_ci_high"],
    )


def _row_notes(row_axis, comparisons):
    """{level: note} for real pooled primary contrasts of the row axis."""
    notes = {}
    for c in comparisons:
        if c.role == PRIMARY and c.real and c.pooled and c.axis == row_axis:
            word = "lower" if c.estimate < 0 else "higher"
            notes.setdefault(c.level, []).append(
                f"{word} than {c.baseline}, pooled"
            )
    return {level: "; ".join(v) for level, v in notes.items()}


def _matrix_cell(row, figure, test):
    text = _cell_figure(row, figure)
    if test is not None and test.real:
        word = "lower" if test.estimate < 0 else "higher"
        text = f"**{text}** {word}"
    return text


def _matrices(rows, axes, comparisons, figure):
    """One matrix per combination of the middle axes: rows are the last
    axis's levels, columns the first's; bold where a cell is really
    different (a primary verdict) from its column's first-row cell."""
    keys = list(axes)
    row_axis, col_axis = keys[-1], keys[0]
    middle = keys[1:-1]
    by_values = {tuple(r[k] for k in keys): r for r in rows}
    against_first = {
        (c.level, c.fixed): c
        for c in comparisons
        if c.role == PRIMARY
        and not c.pooled
        and c.axis == row_axis
        and c.baseline == axes[row_axis][0]
    }
    notes = _row_notes(row_axis, comparisons)
    columns = axes[col_axis] if len(keys) > 1 else [None]
    lines = []
    for combo in itertools.product(*(axes[k] for k in middle)):
        if middle:
            lines += [
                "",
                "With "
                + ", ".join(f"{k}={v}" for k, v in zip(middle, combo))
                + ":",
            ]
        header = [_short(row_axis)] + [
            f"{_short(col_axis)} = {c}" if c is not None else figure
            for c in columns
        ]
        lines += [
            "",
            "| " + " | ".join(header) + " |",
            "|" + "---|" * len(header),
        ]
        for level in axes[row_axis]:
            cells = []
            for column in columns:
                values = dict(zip(middle, combo))
                if column is not None:
                    values[col_axis] = column
                values[row_axis] = level
                row = by_values.get(tuple(values[k] for k in keys))
                fixed = tuple((k, values[k]) for k in keys if k != row_axis)
                cells.append(
                    ""
                    if row is None
                    else _matrix_cell(
                        row, figure, against_first.get((level, fixed))
                    )
                )
            if any(cells):
                label = (
                    f"**{level}** ({notes[level]})"
                    if level in notes
                    else str(level)
                )
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def _primary_results(comparisons):
    primary = [c for c in comparisons if c.role == PRIMARY]
    lines = ["## Primary results", ""]
    if not primary:
        return lines + ["- No primary comparison had paired runs."]
    return lines + [
        f"- {'**' if c.real else ''}{c.sentence()}{'**' if c.real else ''}"
        for c in primary
    ]


def _failure_table(rows, grid_keys):
    lines = [
        "## Failed runs per cell",
        "",
        "Runs not below the no-skill eval loss, or diverged; 95% "
        "Clopper-Pearson interval of the cell's failure rate. Described, "
        "not tested: telling failure rates apart takes many seeds.",
        "",
        "| "
        + " | ".join(_short(k) for k in grid_keys)
        + " | failed / seeds | failure rate 95% interval |",
        "|" + "---|" * (len(grid_keys) + 2),
    ]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(str(row[k]) for k in grid_keys)
            + f" | {row['failures']} / {row['seeds']} | "
            f"[{row['failure_ci_low']:.2f}, {row['failure_ci_high']:.2f}] |"
        )
    return lines


def _exploratory(comparisons, alpha):
    exploratory = [c for c in comparisons if c.role == EXPLORATORY]
    if not exploratory:
        return []
    level = f"{100 * (1 - alpha):.4g}%"
    lines = [
        "## Exploratory estimates (unadjusted, no verdict)",
        "",
        f"Every other pair of levels, other axes fixed: the estimate with "
        f"its unadjusted {level} interval. They answer no declared "
        "question and are not corrected for their number: leads for a "
        "next study, not findings.",
        "",
        f"| comparison | n | test | estimate | unadjusted {level} interval |",
        "|---|---|---|---|---|",
    ]
    for c in exploratory:
        if not c.testable:
            lines.append(
                f"| {c.label()} | {c.n} | untestable | "
                f"{c.mean_diff:+.3g} (mean) | |"
            )
            continue
        low, high = c.ci
        interval = (
            "unbounded at this n"
            if math.isinf(low) and math.isinf(high)
            else f"[{low:+.3g}, {high:+.3g}]"
        )
        lines.append(
            f"| {c.label()} | {c.n} | {c.test} | {c.estimate:+.3g} | "
            f"{interval} |"
        )
    return lines


def _verdicts(row):
    """ "2 overfitting, 1 underfitting; 3 still improving" (good_fit left
    out), the same diagnosis as each run's diagnosis.json."""
    parts = [f"{row[f'{v}_seeds']} {v}" for v in PROBLEMS if row[f"{v}_seeds"]]
    text = ", ".join(parts) or "good_fit"
    if row["still_improving_seeds"]:
        text += f"; {row['still_improving_seeds']} still improving"
    return text


def _all_figures(rows, grid_keys):
    """Every registry figure summary.csv holds, per cell."""
    figures = [f for f in FIGURES if f"{f.name}_mean" in rows[0]]
    header = (
        [_short(k) for k in grid_keys]
        + ["seeds", "rate"]
        + [f.label for f in figures]
        + ["verdicts of the seeds"]
    )
    lines = [
        "## All figures",
        "",
        "Means over seeds with a 95% t confidence interval in "
        "brackets (none with one seed or a non-finite value).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in rows:
        cells = (
            [str(row[k]) for k in grid_keys]
            + [str(row["seeds"]), f"{row['learning_rate']:.3g}"]
            + [_cell_figure(row, f.name) for f in figures]
            + [_verdicts(row)]
        )
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _diagnosis(rows, grid_keys):
    flagged = {
        verdict: [r for r in rows if r[f"{verdict}_seeds"] * 2 > r["seeds"]]
        for verdict in PROBLEMS
    }
    lines = [
        "## Diagnosis of the cells",
        "",
        "Each run's own diagnosis (`kerastune-lab diagnose`, the "
        "rules of analysis/diagnose_history.py); a cell is listed "
        "where most of its seeds share the verdict.",
        "",
    ]
    for verdict, cells in flagged.items():
        lines += [
            f"- {verdict}: {', '.join(f'{k}={r[k]}' for k in grid_keys)} "
            f"({r[f'{verdict}_seeds']}/{r['seeds']} seeds; eval - train gap "
            f"{r['train_eval_gap_mean']:.4g})"
            for r in cells
        ]
    if not any(flagged.values()):
        lines.append("- Every cell's seeds are mostly good_fit.")
    improving = [
        r for r in rows if r["still_improving_seeds"] * 2 > r["seeds"]
    ]
    if improving:
        lines.append(
            f"- Still improving at the end (train longer): "
            f"{len(improving)} of {len(rows)} cells."
        )
    return lines


def write_report(
    out, title, study, axes, rows, comparisons, images, analysis, plan
):
    """Writes out/report.md and out/report.html; returns both paths.

    Args:
        out: The comparison directory (images are read from it).
        title: The page title.
        study: study.json's content (config_path, seeds, config).
        axes: {axis: [levels]} of the study, controls included.
        rows: summary.csv's rows.
        comparisons: `paired_tests.Comparison`s, primary first.
        images: PNG file names in `out`, in reading order.
        analysis: The study's `AnalysisConfig`.
        plan: The primary family's `power_plan.PowerPlan`.
    """
    grid_keys = list(axes)
    figure = analysis.figure
    answer, shown = answer_lines(analysis, axes, comparisons, images, plan)
    lines = [f"# {title}", "", *answer, ""]
    lines += _primary_results(comparisons)
    lines += [
        "",
        f"## At a glance: {figure}, mean [95% CI] per cell",
        "",
        "Bold: really different (a primary comparison, Holm-adjusted p < "
        f"{analysis.alpha:g}) from the first row of its column, or a row "
        "really different when pooled; intervals per cell, unadjusted.",
    ]
    lines += _matrices(rows, axes, comparisons, figure)
    lines += [""] + protocol_lines(study, analysis, rows, comparisons, plan)
    lines += [""] + _failure_table(rows, grid_keys)
    lines += ["", "## Figures", ""]
    for name in images:
        if name != shown:
            caption = captions().get(name, name)
            lines += [caption, "", f"![{name}]({name})", ""]
    lines += _exploratory(comparisons, analysis.alpha)
    lines += [""] + _all_figures(rows, grid_keys)
    lines += [""] + _diagnosis(rows, grid_keys)
    markdown = "\n".join(lines) + "\n"
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(render_html(title, markdown, out))
    return out / "report.md", out / "report.html"
