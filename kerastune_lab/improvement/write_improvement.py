"""The files of an improve directory: improved.toml, rounds.csv, the round
plots, report.md and a self-contained report.html.

The test split is read here only, once, for the table that sets the
original configuration beside the final one; every decision before was
taken on the validation loss.
"""

import csv
import math

import numpy as np
import tomli_w

from kerastune_lab.analysis.html_page import render_html
from kerastune_lab.comparison.paired_tests import ALPHA, MIN_SEEDS
from kerastune_lab.comparison.summarize import mean_ci
from kerastune_lab.improvement.plot_round import plot_round
from kerastune_lab.improvement.run_improvement import (
    BASE,
    stop_sentence,
)
from kerastune_lab.run_directory import RunDirectory, write_text_atomic

ROUNDS_COLUMNS = (
    "round",
    "change",
    "verdict_before",
    "n",
    "mean_diff",
    "ci_low",
    "ci_high",
    "p",
    "p_adjusted",
    "adopted",
)


def _effect(test):
    """'-0.5 [-0.67, -0.33]': the estimate and its interval where finite."""
    interval = (
        f" [{test.ci[0]:.3g}, {test.ci[1]:.3g}]"
        if math.isfinite(test.ci[0])
        else ""
    )
    return f"{test.mean_diff:.4g}{interval}"


def write_improvement(result):
    """Writes every file of `result`'s improve directory; returns the
    paths of report.md and report.html."""
    out = result.improvement.out
    write_improved_toml(result, out / "improved.toml")
    write_rounds_csv(result.rounds, out / "rounds.csv")
    images = []
    if result.original is not None and not result.rounds:
        plot_round(
            {BASE: result.original.runs},
            out / "round-0.png",
            "round 0: the configuration as given",
        )
        images.append((0, "round-0.png"))
    for round_ in result.rounds:
        name = f"round-{round_.number}.png"
        plot_round(
            {"incumbent": round_.incumbent.runs, **round_.runs},
            out / name,
            f"round {round_.number}: candidates against the incumbent "
            f"({round_.incumbent.headline})",
        )
        images.append((round_.number, name))
    markdown = report_markdown(result, dict(images))
    write_text_atomic(out / "report.md", markdown)
    page = render_html(f"Improve {out.name}", markdown, out)
    write_text_atomic(out / "report.html", page)
    return out / "report.md", out / "report.html"


def write_improved_toml(result, path):
    """The final configuration as an experiment file (`check` and `run`
    accept it)."""
    adopted = [change.label for _, change, _ in result.adopted]
    header = (
        f"# kerastune-lab improve: {_experiment(result.improvement)}"
        + (" with " + ", ".join(adopted) if adopted else ", unchanged")
        + "\n"
    )
    text = tomli_w.dumps(result.final_config().to_dict())
    write_text_atomic(path, header + text)


def write_rounds_csv(rounds, path):
    """rounds.csv: one row per candidate per round."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=ROUNDS_COLUMNS)
        writer.writeheader()
        for round_ in rounds:
            writer.writerows(round_.rows())


def _figure(values):
    finite = [v for v in values if math.isfinite(v)]
    failed = len(values) - len(finite)
    if not finite:
        return "all failed"
    mean, low, high = mean_ci(finite)
    text = f"{mean:.4g}" + (
        f" [{low:.4g}, {high:.4g}]" if math.isfinite(low) else ""
    )
    return text + (f", {failed} failed" if failed else "")


def _mean(figures):
    """The mean over seeds, 'inf' where a run failed."""
    return f"{np.mean(list(figures)):.4g}"


def _protocol(result):
    improvement = result.improvement
    seeds = improvement.seeds
    return [
        "## Protocol",
        "",
        "- Primary figure: the **validation loss at the kept epoch** of "
        "each run (the best validation epoch with early stopping that "
        "restores the best weights, else the last epoch). A run that "
        "diverged or has no finite figure counts as +inf: never better. "
        "The test split plays no part in any decision.",
        f"- Seeds: {', '.join(map(str, seeds))} (train.seed; each "
        "candidate shares initialisation, data split and order with the "
        "incumbent on the same seed).",
        "- Each candidate changes one key of the incumbent (the diagnosis's "
        f"advice, the first {improvement.candidates} that validate and "
        "change something). Test: two-sided paired t-test on the per-seed "
        "differences (candidate - incumbent; negative is better), or an "
        "exact Wilcoxon signed-rank test where a run failed (it cannot "
        f"reach p below 2/2^n = {2 / 2 ** len(seeds):.3g} here).",
        f"- Holm-Bonferroni over each round's candidates, family-wise "
        f"alpha {ALPHA}; the best real improvement (lowest mean "
        "difference) is adopted and the next round starts from it. "
        f"Fewer than {MIN_SEEDS} seeds: untestable.",
        "- Intervals are 95% t intervals of the mean difference, not "
        "adjusted for the number of candidates (the Holm p is).",
        "",
    ]


def _path_table(result):
    lines = [
        "## The path",
        "",
        f"Stopped: {stop_sentence(result)}.",
        "",
    ]
    if not result.adopted:
        return lines + ["Nothing was adopted.", ""]
    lines += [
        "| round | adopted | why | verdict before | validation loss "
        "before -> after | mean difference [95% CI] | p | Holm p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for round_, change, test in result.adopted:
        before = _mean(round_.incumbent.figures().values())
        after = _mean(r.figure for r in round_.runs[round_.adopted].values())
        lines.append(
            f"| {round_.number} | `--set {change.label}` | {change.why} | "
            f"{round_.incumbent.headline} | {before} -> {after} | "
            f"{_effect(test)} | {test.p:.2g} | {test.p_adjusted:.2g} |"
        )
    return lines + [""]


def _test_split(result):
    """The one place the test split is read."""
    lines = [
        "## Test split: original and final configuration",
        "",
        "Read once, here, after every decision.",
        "",
    ]
    configurations = {"original": result.original}
    if result.adopted:
        configurations["final"] = result.final
    metrics = {
        name: {
            seed: RunDirectory(run.run_dir).read_metrics()
            for seed, run in incumbent.runs.items()
        }
        for name, incumbent in configurations.items()
    }
    names = ["test_loss"] + (
        ["test_accuracy"]
        if all("test_accuracy" in m for m in metrics["original"].values())
        else []
    )
    seeds = list(result.original.runs)
    lines += [
        "| configuration | "
        + " | ".join(f"{n} mean [95% CI]" for n in names)
        + " | "
        + " | ".join(f"test_loss seed {s}" for s in seeds)
        + " |",
        "|---" * (1 + len(names) + len(seeds)) + "|",
    ]
    for name, by_seed in metrics.items():
        lines.append(
            f"| {name} | "
            + " | ".join(
                _figure([by_seed[s].get(n, math.nan) for s in seeds])
                for n in names
            )
            + " | "
            + " | ".join(f"{by_seed[s]['test_loss']:.4g}" for s in seeds)
            + " |"
        )
    if "final" in metrics and "test_accuracy" in names:
        before, after = (
            [m["test_accuracy"] for m in metrics[name].values()]
            for name in ("original", "final")
        )
        if np.mean(after) < np.mean(before):
            lines += [
                "",
                f"Test accuracy fell ({_mean(before)} -> {_mean(after)}): "
                "every change was adopted for a lower validation loss, "
                "which rewards calibrated probabilities, not only more "
                "right answers.",
            ]
    if any(change.key.startswith("data.") for _, change, _ in result.adopted):
        lines += [
            "",
            "A [data] key was adopted: the final configuration's splits hold "
            "other examples than the original's.",
        ]
    return lines + [""]


def _round_section(round_, image):
    incumbent = round_.incumbent
    lines = [
        f"## Round {round_.number}: {incumbent.headline}",
        "",
        f"Incumbent: {incumbent.summary()}.",
        "",
        "| change | why | n | mean difference [95% CI] | p | Holm p "
        "| adopted |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, test in round_.tests.items():
        lines.append(
            f"| `--set {label}` | {round_.changes[label].why} | {test.n} | "
            f"{_effect(test)} | {test.p:.2g} | {test.p_adjusted:.2g} | "
            f"{'**yes**' if label == round_.adopted else 'no'} |"
        )
    lines += ["", round_.line(), ""]
    if image:
        lines += [f"![round {round_.number}]({image})", ""]
    return lines


def _reasons(incumbent):
    """Each seed's verdict and the diagnosis's sentences behind it."""
    lines = []
    for seed, run in incumbent.runs.items():
        lines.append(
            f"- seed {seed}: **{', '.join([run.verdict, *run.flags])}**: "
            + " ".join(run.reasons)
        )
    return lines + [""]


def _experiment(improvement):
    """'experiments/x.toml --set a=1': what the user asked to improve."""
    return " ".join(
        [improvement.config.source or "the default experiment"]
        + [f"--set {text}" for text in improvement.overrides]
    )


def report_markdown(result, images):
    """report.md: what was adopted, why, and with what effect."""
    improvement = result.improvement
    lines = [
        f"# Improve {improvement.out.name}",
        "",
        f"Experiment: {_experiment(improvement)}; "
        f"{len(improvement.seeds)} seeds, up to {improvement.rounds} "
        f"round(s) of {improvement.candidates} candidate(s). The final "
        "configuration is improved.toml; every candidate is in rounds.csv.",
        "",
    ]
    lines += _path_table(result)
    if result.original is None:
        return "\n".join(lines) + "\n"
    lines += _test_split(result)
    lines += [
        f"## Round 0: {result.original.headline}",
        "",
        "The configuration as given, diagnosed seed by seed:",
        "",
    ]
    lines += _reasons(result.original)
    if 0 in images:
        lines += [f"![round 0]({images[0]})", ""]
    for round_ in result.rounds:
        lines += _round_section(round_, images.get(round_.number))
    if result.rounds and result.final is not result.original:
        lines += ["## The final configuration, diagnosed", ""]
        lines += _reasons(result.final)
    lines += _protocol(result)
    return "\n".join(lines) + "\n"
