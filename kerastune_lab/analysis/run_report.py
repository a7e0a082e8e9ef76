"""`kerastune-lab report`: Markdown + HTML for runs and comparisons.

For every run: its verdict with reasons and advice, test metrics and
curves; across runs: the configuration keys that differ; and seed 000's
open question, whether the fall of the loss tracks the accuracy: Pearson
and Spearman correlations of loss and accuracy across the epochs of each
run and across runs (final epoch of each), with 95% confidence intervals
(Fisher z; Bonett-Wright standard error for Spearman), and a scatter plot.
"""

import json
import math
import pathlib
import shutil

import numpy as np
from scipy import stats

from kerastune_lab.analysis.diagnose_history import diagnose_history
from kerastune_lab.analysis.diagnosis import set_text
from kerastune_lab.analysis.html_page import render_html
from kerastune_lab.analysis.run_files import read_run_history
from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import RunDirectory


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


def _flatten(config, prefix=""):
    flat = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


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


def _no_knobs(config):
    return ()


def write_run_report(paths, out, knobs_for=_no_knobs):
    """Writes out/report.md and out/report.html; returns their paths.

    `knobs_for(config dict)` gives the `Knob`s of a run's model family
    for its advice (families.registry.knobs_for); by default none."""
    runs = find_runs(paths)
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for run in runs:
        history = run.read_history()
        config = run.read_record()["config"] if run.is_run() else {}
        metrics = run.read_metrics() if run.is_complete() else {}
        _, _, known = read_run_history(run.path)
        records.append(
            (
                run,
                history,
                config,
                metrics,
                diagnose_history(
                    history, config, knobs=knobs_for(config), **known
                ),
            )
        )

    lines = [
        "# Training report",
        "",
        f"{len(records)} run(s): "
        + ", ".join(f"`{r[0].name}`" for r in records),
        "",
    ]
    flat = [_flatten(r[2]) for r in records]
    keys = sorted({k for f in flat for k in f})
    # The grid is the same study description in every run of a comparison.
    differing = [
        k
        for k in keys
        if not k.startswith("grid.")
        and len({json.dumps(f.get(k)) for f in flat}) > 1
    ]
    if len(records) > 1:
        lines += ["## Configuration differences", ""]
        if differing:
            lines += [
                "| run | " + " | ".join(differing) + " |",
                "|---|" + "---|" * len(differing),
            ]
            lines += [
                "| "
                + r[0].name
                + " | "
                + " | ".join(str(f.get(k, "")) for k in differing)
                + " |"
                for r, f in zip(records, flat)
            ]
        else:
            lines.append("The runs share one configuration.")
        lines.append("")

    points, finals = [], []
    lines += ["## Does the loss track the accuracy?", ""]
    for run, history, _, _, _ in records:
        loss_key, acc_key = _accuracy_key(history)
        if acc_key is None:
            continue
        points.append((run.name, history[loss_key], history[acc_key]))
        finals.append((history[loss_key][-1], history[acc_key][-1]))
        lines.append(
            f"- `{run.name}`, {loss_key} vs {acc_key} across epochs: "
            + _describe(correlations(history[loss_key], history[acc_key]))
        )
    if points:
        if len(finals) >= 4:
            across = correlations(*zip(*finals))
            lines.append(
                f"- Across runs (final epoch of each): {_describe(across)}"
            )
        else:
            lines.append(
                "- Across runs: needs at least 4 runs with an accuracy metric."
            )
        lines += [
            "",
            "A strongly negative correlation means a lower loss "
            "came with a higher accuracy.",
            "",
            "![correlation](correlation.png)",
            "",
        ]
        _scatter(points, out / "correlation.png")
    else:
        lines += ["No run has an accuracy metric.", ""]

    for i, (run, _, _, metrics, diagnosis) in enumerate(records):
        lines += [
            f"## {run.name}",
            "",
            f"Verdict: **{diagnosis.headline}**",
            "",
        ]
        lines += [f"- {reason}" for reason in diagnosis.reasons]
        if diagnosis.advice:
            lines += ["", "Advice:", ""]
            lines += [
                f"- `--set {set_text(a['key'], a['value'])}`: {a['why']}"
                for a in diagnosis.advice
            ]
        if metrics:
            lines += ["", "| metric | value |", "|---|---|"]
            lines += [
                f"| {k} | {v:.4g} |"
                if isinstance(v, float)
                else f"| {k} | {v} |"
                for k, v in metrics.items()
            ]
        if run.curves.is_file():
            name = f"curves_{i}.png"
            shutil.copyfile(run.curves, out / name)
            lines += ["", f"![curves of {run.name}]({name})"]
        lines.append("")
    markdown = "\n".join(lines)
    (out / "report.md").write_text(markdown)
    (out / "report.html").write_text(
        render_html("kerastune-lab report", markdown, out)
    )
    return out / "report.md", out / "report.html"
