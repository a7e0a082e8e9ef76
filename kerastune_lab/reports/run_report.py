"""`kerastune-lab report`: Markdown + HTML for runs and comparisons.

For every run: its verdict with reasons and advice (its diagnosis.json),
test metrics and curves; across runs: the configuration keys that differ,
the metrics side by side, and whether the fall of the loss tracks the
accuracy: Pearson and Spearman correlations of loss and accuracy across
the epochs of each run and across runs (final epoch of each), with 95%
confidence intervals (Fisher z; Bonett-Wright standard error for
Spearman), and a scatter plot.
"""

import dataclasses
import json
import math
import pathlib
import shutil

import numpy as np
from scipy import stats

from kerastune_lab.analysis.diagnose_history import diagnose_history
from kerastune_lab.analysis.diagnosis import Diagnosis, set_text
from kerastune_lab.analysis.run_files import read_run_history
from kerastune_lab.errors import UserError
from kerastune_lab.families.registry import knobs_for
from kerastune_lab.reports.html_page import render_html
from kerastune_lab.run_directory import RunDirectory

# metrics.json figures shown side by side (the rest are per run).
METRICS = (
    "test_loss",
    "test_accuracy",
    "test_perplexity",
    "majority_class_accuracy",
    "best_epoch",
    "epochs_run",
    "wall_seconds",
)


def find_runs(paths):
    """Run directories named by `paths` (runs, or comparisons' runs/)."""
    runs = []
    for path in map(pathlib.Path, paths):
        if RunDirectory(path).history.is_file():
            runs.append(RunDirectory(path))
        elif (path / "runs").is_dir():
            runs += [
                RunDirectory(p)
                for p in sorted((path / "runs").iterdir())
                if RunDirectory(p).history.is_file()
            ]
        else:
            raise UserError(
                f"{str(path)!r} is neither a run directory (with "
                f"{RunDirectory.HISTORY})"
                " nor a comparison directory (with runs/). Pass folders "
                "written by `kerastune-lab run` or `compare`."
            )
    if not runs:
        raise UserError("No finished runs found in " + ", ".join(paths))
    return runs


def _fisher_ci(r, n, se):
    if n <= 3 or abs(r) >= 1:
        return math.nan, math.nan
    z = math.atanh(r)
    half = 1.959963984540054 * se
    return math.tanh(z - half), math.tanh(z + half)


def correlations(loss, accuracy):
    """Pearson and Spearman of (loss, accuracy) with CIs and p-values."""
    loss, accuracy = np.asarray(loss, float), np.asarray(accuracy, float)
    keep = np.isfinite(loss) & np.isfinite(accuracy)
    loss, accuracy = loss[keep], accuracy[keep]
    n = len(loss)
    if n < 3 or np.std(loss) == 0 or np.std(accuracy) == 0:
        return {"n": n}
    pearson = stats.pearsonr(loss, accuracy)
    spearman = stats.spearmanr(loss, accuracy)
    rho = float(spearman.statistic)
    return {
        "n": n,
        "pearson": float(pearson.statistic),
        "pearson_ci": _fisher_ci(
            pearson.statistic, n, 1 / math.sqrt(max(n - 3, 1))
        ),
        "pearson_p": float(pearson.pvalue),
        "spearman": rho,
        "spearman_ci": _fisher_ci(
            rho, n, math.sqrt((1 + rho**2 / 2) / max(n - 3, 1))
        ),
        "spearman_p": float(spearman.pvalue),
    }


def _describe(c):
    if "pearson" not in c:
        return f"not enough varying points (n = {c['n']})"
    return (
        f"Pearson r = {c['pearson']:.3f} [{c['pearson_ci'][0]:.3f}, "
        f"{c['pearson_ci'][1]:.3f}] (p = {c['pearson_p']:.3g}), "
        f"Spearman rho = {c['spearman']:.3f} [{c['spearman_ci'][0]:.3f},"
        f" {c['spearman_ci'][1]:.3f}] (p = {c['spearman_p']:.3g}), "
        f"n = {c['n']}"
    )


def _accuracy_key(history):
    keys = [k for k in history if "accuracy" in k and not k.startswith("val_")]
    if not keys:
        return None, None
    key = keys[0]
    if f"val_{key}" in history and "val_loss" in history:
        return "val_loss", f"val_{key}"
    return "loss", key


def _scatter(points, path):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4.5))
    ax = fig.subplots()
    for name, loss, accuracy in points:
        ax.plot(loss, accuracy, "o-", ms=3, lw=0.6, label=name[-40:])
    ax.set(
        xlabel="loss",
        ylabel="accuracy",
        title="Loss vs accuracy, one point per epoch",
    )
    if len(points) <= 12:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


@dataclasses.dataclass
class _Record:
    """One run as the report reads it."""

    run: RunDirectory
    history: dict
    metrics: dict
    diagnosis: Diagnosis


def _read(run):
    """A run's files; its diagnosis from diagnosis.json (a run that has
    not finished is diagnosed from its history so far)."""
    if run.diagnosis.is_file():
        diagnosis = Diagnosis(**run.read_diagnosis())
        history = run.read_history()
    else:
        # As `diagnose` does, with the family's knobs for its advice.
        history, config, known = read_run_history(run.path)
        diagnosis = diagnose_history(
            history, config or {}, knobs=knobs_for(config), **known
        )
    return _Record(
        run,
        history,
        run.read_metrics() if run.is_complete() else {},
        diagnosis,
    )


def write_run_report(runs, out):
    """Writes out/report.md and out/report.html; returns their paths.

    Args:
        runs: `RunDirectory`s (`find_runs`).
        out: The report folder (made if needed).
    """
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = [_read(run) for run in runs]
    lines = [
        "# Training report",
        "",
        f"{len(records)} run(s): "
        + ", ".join(f"`{r.run.name}`" for r in records),
        "",
    ]
    if len(records) > 1:
        lines += _differences(records) + _metrics_side_by_side(records)
    lines += _correlation_section(records, out)
    for i, record in enumerate(records):
        lines += _run_section(record, i, out)
    markdown = "\n".join(lines)
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(
        render_html("kerastune-lab report", markdown, out)
    )
    return out / "report.md", out / "report.html"


def _table(header, rows):
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _differences(records):
    """The configuration keys whose values differ between the runs."""
    flat = [r.run.read_settings() for r in records]
    keys = sorted({k for f in flat for k in f})
    # The grid is the same study description in every run of a comparison.
    differing = [
        k
        for k in keys
        if not k.startswith("grid.")
        and len({json.dumps(f.get(k)) for f in flat}) > 1
    ]
    lines = ["## Configuration differences", ""]
    if not differing:
        return lines + ["The runs share one configuration.", ""]
    rows = [
        [r.run.name] + [str(f.get(k, "")) for k in differing]
        for r, f in zip(records, flat)
    ]
    return lines + _table(["run", *differing], rows) + [""]


def _value(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _metrics_side_by_side(records):
    """metrics.json of every run, one row each, with its verdict."""
    names = list(
        dict.fromkeys(k for r in records for k in r.metrics if k in METRICS)
    )
    rows = [
        [r.run.name, r.diagnosis.headline]
        + [_value(r.metrics.get(k)) for k in names]
        for r in records
    ]
    return [
        "## Metrics side by side",
        "",
        "From each run's metrics.json: the held-out test split, scored "
        "once after training; empty for a run that has not finished.",
        "",
        *_table(["run", "verdict", *names], rows),
        "",
    ]


def _correlation_section(records, out):
    """Does the loss track the accuracy? Per run and across runs."""
    points, finals = [], []
    lines = ["## Does the loss track the accuracy?", ""]
    for record in records:
        history = record.history
        loss_key, acc_key = _accuracy_key(history)
        if acc_key is None:
            continue
        name = record.run.name
        points.append((name, history[loss_key], history[acc_key]))
        finals.append((history[loss_key][-1], history[acc_key][-1]))
        lines.append(
            f"- `{name}`, {loss_key} vs {acc_key} across epochs: "
            + _describe(correlations(history[loss_key], history[acc_key]))
        )
    if not points:
        return lines + ["No run has an accuracy metric.", ""]
    if len(finals) >= 4:
        across = correlations(*zip(*finals))
        lines.append(
            f"- Across runs (final epoch of each): {_describe(across)}"
        )
    else:
        lines.append(
            "- Across runs: needs at least 4 runs with an accuracy metric."
        )
    _scatter(points, out / "correlation.png")
    return lines + [
        "",
        "A strongly negative correlation means a lower loss "
        "came with a higher accuracy.",
        "",
        "![correlation](correlation.png)",
        "",
    ]


def _run_section(record, index, out):
    """One run: verdict, reasons, advice, metrics, curves."""
    run, diagnosis = record.run, record.diagnosis
    lines = [f"## {run.name}", "", f"Verdict: **{diagnosis.headline}**", ""]
    lines += [f"- {reason}" for reason in diagnosis.reasons]
    if diagnosis.advice:
        lines += ["", "Advice:", ""]
        lines += [
            f"- `--set {set_text(a['key'], a['value'])}`: {a['why']}"
            for a in diagnosis.advice
        ]
    if record.metrics:
        lines += ["", "| metric | value |", "|---|---|"]
        lines += [f"| {k} | {_value(v)} |" for k, v in record.metrics.items()]
    if run.curves.is_file():
        name = f"curves_{index}.png"
        shutil.copyfile(run.curves, out / name)
        lines += ["", f"![curves of {run.name}]({name})"]
    return lines + [""]
