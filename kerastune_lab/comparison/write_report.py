"""report.md and a self-contained report.html for a comparison.

Read top-down: the protocol, a matrix of the primary figure (rows: the
last axis, e.g. modes and controls; columns: the first, e.g. schedules), a
few sentences, then the details.
"""

import itertools
import math

from kerastune_lab.analysis.diagnose_history import PROBLEMS
from kerastune_lab.analysis.html_page import render_html
from kerastune_lab.comparison.paired_tests import (
    ALPHA,
    MIN_SEEDS,
    PRIMARY_FIGURE,
)

FIGURES = [
    ("final_eval_loss", "final eval loss"),
    ("best_eval_loss", "best eval loss"),
    ("final_eval_perplexity", "eval perplexity"),
    ("final_train_loss", "final train loss"),
    ("train_eval_gap", "eval - train gap"),
]


def _fmt(mean, low, high):
    if math.isnan(low):
        return f"{mean:.4g}"
    return f"{mean:.4g} [{low:.4g}, {high:.4g}]"


def _short(key):
    return key.split(".")[-1]


def _cell_figure(row, figure=PRIMARY_FIGURE):
    return _fmt(
        row[f"{figure}_mean"],
        row[f"{figure}_ci_low"],
        row[f"{figure}_ci_high"],
    )


def _matrices(rows, axes, comparisons):
    """One matrix per combination of the middle axes: rows are the last
    axis's levels, columns the first's; a cell is marked where it differs
    really from its column's first-row cell."""
    keys = list(axes)
    row_axis, col_axis = keys[-1], keys[0]
    middle = keys[1:-1]
    by_values = {tuple(r[k] for k in keys): r for r in rows}
    against_first = {
        (c.level, c.fixed): c
        for c in comparisons
        if c.axis == row_axis and c.baseline == axes[row_axis][0]
    }
    lines = []
    for combo in itertools.product(*(axes[k] for k in middle)):
        if middle:
            lines += [
                "",
                "With "
                + ", ".join(f"{k}={v}" for k, v in zip(middle, combo))
                + ":",
            ]
        columns = axes[col_axis] if len(keys) > 1 else [None]
        header = [_short(row_axis)] + [
            f"{_short(col_axis)} = {c}" if c is not None else PRIMARY_FIGURE
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
                if row is None:
                    cells.append("")
                    continue
                text = _cell_figure(row)
                fixed = tuple((k, values[k]) for k in keys if k != row_axis)
                test = against_first.get((level, fixed))
                if test is not None and test.real:
                    text = (
                        f"**{text}** "
                        f"{'lower' if test.mean_diff < 0 else 'higher'}"
                    )
                cells.append(text)
            if any(cells):
                lines.append(f"| {level} | " + " | ".join(cells) + " |")
    return lines


def _summary_sentence(axis, baseline, level, tests):
    """One sentence on `level` vs `baseline` over the other axes."""
    if not tests:
        return None
    real = [t for t in tests if t.real]
    lower = [t for t in real if t.mean_diff < 0]
    higher = [t for t in real if t.mean_diff > 0]
    untestable = [t for t in tests if t.verdict == "untestable"]
    where = len(tests)
    if len(untestable) == where:
        return (
            f"{axis}={level} vs {baseline}: untestable with fewer than "
            f"{MIN_SEEDS} seeds (no claim either way)."
        )
    parts = []
    for group, word in ((lower, "lower"), (higher, "higher")):
        if group:
            p = max(t.p_adjusted for t in group)
            parts.append(
                f"{word} {PRIMARY_FIGURE} in {len(group)} of {where} "
                f"setting(s) of the other axes (mean difference "
                f"{', '.join(f'{t.mean_diff:+.3g}' for t in group)}; Holm-"
                f"adjusted p <= {p:.2g})"
            )
    rest = [t for t in tests if not t.real and t not in untestable]
    if rest:
        detectable = max(t.detectable_diff for t in rest)
        parts.append(
            f"indistinguishable in {len(rest)} of {where} "
            f"(differences {', '.join(f'{t.mean_diff:+.3g}' for t in rest)};"
            f" these seeds detect about {detectable:.3g} or more)"
        )
    return f"{axis}={level} vs {baseline}: " + "; ".join(parts) + "."


def _sentences(axes, comparisons):
    lines = []
    for axis, levels in reversed(list(axes.items())):
        for baseline, level in itertools.combinations(levels, 2):
            tests = [
                c
                for c in comparisons
                if c.axis == axis
                and c.baseline == baseline
                and c.level == level
            ]
            sentence = _summary_sentence(_short(axis), baseline, level, tests)
            if sentence:
                lines.append("- " + sentence)
    return lines


def _verdicts(row):
    """ "2 overfitting, 1 underfitting; 3 still improving" (good_fit left
    out), the same diagnosis as each run's diagnosis.json."""
    parts = [f"{row[f'{v}_seeds']} {v}" for v in PROBLEMS if row[f"{v}_seeds"]]
    text = ", ".join(parts) or "good_fit"
    if row["still_improving_seeds"]:
        text += f"; {row['still_improving_seeds']} still improving"
    return text


def _table(rows, grid_keys):
    figures = list(FIGURES)
    if "test_accuracy_mean" in rows[0]:
        figures.append(("test_accuracy", "test accuracy"))
    header = (
        [_short(k) for k in grid_keys]
        + ["seeds", "rate"]
        + [label for _, label in figures]
        + ["verdicts of the seeds"]
    )
    body = []
    for row in rows:
        body.append(
            [str(row[k]) for k in grid_keys]
            + [str(row["seeds"]), f"{row['learning_rate']:.3g}"]
            + [
                _fmt(row[f"{f}_mean"], row[f"{f}_ci_low"], row[f"{f}_ci_high"])
                for f, _ in figures
            ]
            + [_verdicts(row)]
        )
    return header, body


def _protocol(study, axes, rows, comparisons):
    seeds = study["seeds"]
    split = study["config"]["data"].get("split_seed", -1)
    varied = "initialisation, data order, dropout and masks" + (
        f"; the data split is fixed (data.split_seed = {split})"
        if split >= 0
        else "; the data split too"
    )
    testable = [c for c in comparisons if c.verdict != "untestable"]
    no_skill = [
        r["no_skill_eval_loss"]
        for r in rows
        if not math.isnan(r["no_skill_eval_loss"])
    ]
    lines = [
        f"Study: `{study['config_path']}`, {len(rows)} cells x "
        f"{len(seeds)} seed(s) ({', '.join(map(str, seeds))}).",
        "",
        f"- Primary figure: **{PRIMARY_FIGURE}** (the validation loss after "
        "the last epoch); the other figures are descriptive.",
        f"- Between seeds varied: {varied}.",
        "- Test: every pair of levels of each axis, other axes fixed, "
        "paired by seed, two-sided t-test on the per-seed differences; "
        f"Holm-Bonferroni over all {len(testable)} tested comparisons, "
        f"family-wise alpha {ALPHA}.",
        f"- Fewer than {MIN_SEEDS} paired seeds: untestable (a paired test "
        "on 2 seeds has one degree of freedom and almost no power).",
    ]
    if no_skill:
        lines.append(
            "- No-skill eval loss (a model that learned nothing: "
            + ("class prior" if "test_accuracy_mean" in rows[0] else "unigram")
            + f"): **{min(no_skill):.4g}**"
            + (
                f" to {max(no_skill):.4g}"
                if max(no_skill) - min(no_skill) > 1e-9
                else ""
            )
            + ". Every figure below is read against it."
        )
    if len(seeds) < MIN_SEEDS:
        lines += [
            "",
            f"**With {len(seeds)} seed(s) no comparison can be "
            "tested: the numbers below are descriptions, not "
            f"findings. Run --seeds {MIN_SEEDS} or more.**",
        ]
    return lines


def write_report(out, title, study, axes, rows, comparisons, images):
    """Writes out/report.md and out/report.html; returns both paths."""
    grid_keys = list(axes)
    header, body = _table(rows, grid_keys)
    flagged = {
        verdict: [r for r in rows if r[f"{verdict}_seeds"] * 2 > r["seeds"]]
        for verdict in PROBLEMS
    }
    lines = [f"# {title}", ""]
    lines += _protocol(study, axes, rows, comparisons)
    lines += [
        "",
        f"## At a glance: {PRIMARY_FIGURE}, mean [95% CI]",
        "",
        f"Bold: really different (Holm-adjusted p < {ALPHA}) from the "
        "first row of its column; lower loss is better.",
    ]
    lines += _matrices(rows, axes, comparisons)
    lines += ["", "## In words", ""]
    lines += _sentences(axes, comparisons)
    lines += [
        "",
        "## All figures",
        "",
        "Means over seeds with a 95% t confidence interval in "
        "brackets (none with one seed).",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(r) + " |" for r in body]
    lines += [
        "",
        "## Every comparison",
        "",
        "Also in comparisons.csv (raw and Holm-adjusted p, d_z, the "
        "smallest difference detectable at power 0.8).",
        "",
    ]
    ordered = sorted(
        comparisons,
        key=lambda c: (
            not c.real,
            c.p_adjusted if not math.isnan(c.p_adjusted) else 2,
        ),
    )
    lines += [
        f"- {'**' if c.real else ''}{c.sentence()}{'**' if c.real else ''}"
        for c in ordered
    ]
    lines += [
        "",
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
    lines += ["", "## Figures", ""]
    lines += [f"![{name}]({name})" for name in images]
    markdown = "\n".join(lines) + "\n"
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(render_html(title, markdown, out))
    return out / "report.md", out / "report.html"
