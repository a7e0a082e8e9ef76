"""report.md of an improve directory (an `ImprovementResult` of
`kerastune_lab.improvement`): the confirmation first (the one result
that did not choose itself), then the path of adopted changes and each
round, used to choose (optimistic), then the protocol.

The test split is read here only: for the confirmation's fresh seeds, or
(where no confirmation ran) for a table of the choosing seeds, labelled
as such. No decision read it.
"""

import math

import numpy as np

from kerastune_lab.duration import duration
from kerastune_lab.figures import objective_direction
from kerastune_lab.reports.report_protocol import seeds_varied
from kerastune_lab.run_directory import RunDirectory
from kerastune_lab.statistics.mean_ci import mean_ci
from kerastune_lab.statistics.paired_tests import ALPHA, MIN_SEEDS

OPTIMISTIC = "used to choose (optimistic)"
# rounds.csv's interval column: what a round's intervals are.
INTERVAL = f"one-sided 95%, unadjusted; {OPTIMISTIC}"
# Shown beside the objective on the test split, so a trade-off shows.
SIDE_FIGURES = ("test_loss", "test_accuracy")


def experiment_text(improvement):
    """'experiments/x.toml --set a=1': what the user asked to improve."""
    return " ".join(
        [improvement.config.source or "the default experiment"]
        + [f"--set {text}" for text in improvement.overrides]
    )


def _figure(values):
    """'0.45 [0.36, 0.54]' over the finite values, 'k failed' after."""
    finite = [v for v in values if math.isfinite(v)]
    failed = len(values) - len(finite)
    if not finite:
        return "all failed"
    mean, low, high = mean_ci(finite)
    text = f"{mean:.4g}" + (
        f" [{low:.4g}, {high:.4g}]" if math.isfinite(low) else ""
    )
    return text + (f", {failed} failed" if failed else "")


def _mean(values):
    """The mean over seeds, 'inf' where a run failed."""
    return f"{np.mean(list(values)):.4g}"


def _bound_text(test, objective):
    bound = test.ci[0] if objective.higher_is_better else test.ci[1]
    return (
        f"one-sided 95% bound {bound:+.3g}"
        if math.isfinite(bound)
        else "no bound at this n"
    )


def confirmation_sentence(result):
    """The headline: what the fresh seeds said about the final
    configuration, in one sentence."""
    confirmation = result.confirmation
    if not result.adopted:
        return "Nothing was adopted: nothing to confirm."
    if confirmation is None:
        if result.improvement.confirm_seeds == 0:
            return (
                "Unconfirmed: --confirm-seeds 0 skipped the confirmation; "
                "the gains below were measured on the seeds that chose "
                "them, which flatters them."
            )
        return (
            "Unconfirmed: the confirmation's runs did not finish; re-run "
            "the same command."
        )
    objective, test = confirmation.objective, confirmation.test
    seeds = confirmation.seeds
    before = _figure(list(confirmation.figures("original").values()))
    after = _figure(list(confirmation.figures("final").values()))
    numbers = (
        f"on {len(seeds)} fresh seeds ({seeds[0]}-{seeds[-1]}), test "
        f"split: {objective.test_words} {before} -> {after}, difference "
        f"{test.mean_diff:+.4g} ({_bound_text(test, objective)}), "
        f"one-sided p {test.p:.2g} ({test.test})"
    )
    if confirmation.confirmed:
        return f"Confirmed {numbers}."
    return (
        f"Not confirmed {numbers}: the gain the rounds measured on their "
        "own seeds may be selection; keep the original unless more seeds "
        "show it."
    )


def confirmation_summary(result):
    """The confirmation in a few words, for the command's last summary
    line: 'confirmed on 5 fresh seeds: test_loss -0.17 (one-sided 95%
    bound -0.09), p 0.003'."""
    confirmation = result.confirmation
    if confirmation is None:
        if not result.adopted:
            return "nothing adopted, nothing to confirm"
        if result.improvement.confirm_seeds == 0:
            return "unconfirmed (--confirm-seeds 0)"
        return "unconfirmed (its runs did not finish)"
    test, objective = confirmation.test, confirmation.objective
    verdict = "confirmed" if confirmation.confirmed else "NOT confirmed"
    return (
        f"{verdict} on {len(confirmation.seeds)} fresh seeds: "
        f"{objective.test_name} {test.mean_diff:+.4g} "
        f"({_bound_text(test, objective)}), one-sided p {test.p:.2g}"
    )


def _confirmation_table(confirmation):
    """The objective's test figure with loss and accuracy beside it, each
    configuration over the fresh seeds, then seed by seed."""
    objective = confirmation.objective
    names = list(dict.fromkeys((objective.test_name, *SIDE_FIGURES)))
    seeds = confirmation.seeds
    values = {
        which: {
            name: [
                float(getattr(confirmation, which)[s][0].get(name, math.nan))
                for s in seeds
            ]
            for name in names
        }
        for which in ("original", "final")
    }
    names = [n for n in names if not all(map(math.isnan, values["final"][n]))]
    lines = [
        "| configuration | "
        + " | ".join(f"{n} mean [95% CI]" for n in names)
        + " |",
        "|---" * (1 + len(names)) + "|",
    ]
    for which, figures in values.items():
        cells = " | ".join(_figure(figures[n]) for n in names)
        lines.append(f"| {which} | {cells} |")
    lines += ["", *_trade_off(values, names, objective), ""]
    lines += [
        f"| seed | original | final | difference ({objective.test_name}) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['seed']} | {r['original']:.4g} | {r['final']:.4g} | "
        f"{r['difference']:+.4g} |"
        for r in confirmation.rows()
    ]
    return lines + [""]


def _trade_off(values, names, objective):
    """A sentence for each figure beside the objective that got worse."""
    lines = []
    for name in names:
        if name == objective.test_name:
            continue
        before = np.nanmean(values["original"][name])
        after = np.nanmean(values["final"][name])
        higher = objective_direction(name) == "max"
        if (after < before) if higher else (after > before):
            lines.append(
                f"{name} got worse ({before:.4g} -> {after:.4g}) while the "
                f"decisions were on {objective.name}: a trade-off to weigh "
                "before you take improved.toml."
            )
    return lines


def _answer(result):
    lines = ["## Answer", "", f"**{confirmation_sentence(result)}**", ""]
    if result.confirmation is not None:
        lines += [
            "Seeds no round used, the test split no decision read, one "
            "one-sided paired test of final - original at alpha "
            f"{result.confirmation.alpha:g} (confirmation.csv):",
            "",
        ]
        lines += _confirmation_table(result.confirmation)
    elif result.adopted and result.original is not None:
        lines += _choosing_seeds_table(result)
    saved = result.seconds_saved
    if saved:
        stopped = sum(len(r.stopped) for r in result.rounds)
        lines += [
            f"Early stops: {stopped} hopeless candidate(s) stopped after "
            f"their first {MIN_SEEDS} seeds, saving about "
            f"{duration(saved)} of training.",
            "",
        ]
    return lines


def _choosing_seeds_table(result):
    """Without a confirmation: the test split of the original and the
    final configuration on the seeds that chose it, labelled."""
    objective = result.improvement.objective
    names = list(dict.fromkeys((objective.test_name, *SIDE_FIGURES)))
    lines = [
        "The test split on the seeds that chose the final configuration ("
        f"{OPTIMISTIC}; not a confirmation):",
        "",
        "| configuration | " + " | ".join(names) + " |",
        "|---" * (1 + len(names)) + "|",
    ]
    for which, incumbent in (
        ("original", result.original),
        ("final", result.final),
    ):
        metrics = [
            RunDirectory(r.run_dir).read_metrics()
            for r in incumbent.runs.values()
        ]
        cells = " | ".join(
            _figure([float(m.get(n, math.nan)) for m in metrics])
            for n in names
        )
        lines.append(f"| {which} | {cells} |")
    return lines + [""]


def _path_table(result):
    objective = result.improvement.objective
    lines = ["## The path", "", f"Stopped: {result.stop_sentence()}.", ""]
    if not result.adopted:
        return lines + ["Nothing was adopted.", ""]
    lines += [
        f"The differences below were {OPTIMISTIC}: they are on the seeds "
        "that picked the winner. The confirmation above is the figure to "
        "trust.",
        "",
        f"| round | adopted | why | verdict before | {objective.name} before "
        "-> after | mean difference | p | Holm p |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for round_, change, test in result.adopted:
        before = _mean(round_.incumbent.figures().values())
        after = _mean(r.figure for r in round_.runs[round_.adopted].values())
        lines.append(
            f"| {round_.number} | `--set {change.label}` | {change.why} | "
            f"{round_.incumbent.headline} | {before} -> {after} | "
            f"{test.mean_diff:+.4g} ({_bound_text(test, objective)}) | "
            f"{test.p:.2g} | {test.p_adjusted:.2g} |"
        )
    return lines + [""]


def _round_section(round_, image):
    incumbent, objective = round_.incumbent, round_.objective
    lines = [
        f"## Round {round_.number}: {incumbent.headline}",
        "",
        f"Incumbent: {incumbent.summary()}.",
        "",
        f"| change | why | n | mean difference in {objective.name} "
        f"({OPTIMISTIC}) | p | Holm p | verdict | adopted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, test in round_.tests.items():
        lines.append(
            f"| `--set {label}` | {round_.changes[label].why} | {test.n} | "
            f"{test.mean_diff:+.4g} ({_bound_text(test, objective)}) | "
            f"{test.p:.2g} | {test.p_adjusted:.2g} | {test.verdict} | "
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


def report_markdown(result, images):
    """report.md: the confirmation, what was adopted, why, and the
    protocol."""
    improvement = result.improvement
    lines = [
        f"# Improve {improvement.out.name}",
        "",
        f"Experiment: {experiment_text(improvement)}; objective "
        f"**{improvement.objective.name}** "
        f"({improvement.objective.better_words()}); "
        f"{len(improvement.seeds)} seeds, up to {improvement.rounds} "
        f"round(s) of {improvement.candidates} candidate(s); "
        f"{improvement.confirm_seeds} fresh seeds to confirm. The final "
        "configuration is improved.toml; every candidate is in rounds.csv.",
        "",
    ]
    lines += _answer(result)
    lines += _path_table(result)
    if result.original is None:
        return "\n".join(lines) + "\n"
    lines += [f"## Round 0: {result.original.headline}", ""]
    lines += ["The configuration as given, diagnosed seed by seed:", ""]
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


def _protocol(result):
    improvement = result.improvement
    objective, seeds = improvement.objective, improvement.seeds
    data = improvement.config.to_dict()["data"]
    rounds = max(improvement.rounds, 1)
    return [
        "## Protocol",
        "",
        f"- Objective: **{objective.name}** at the kept epoch of each run "
        "(the best validation epoch with early stopping that restores the "
        f"best weights, else the last epoch); {objective.better_words()}. "
        "A run that diverged or has no finite figure counts as the worst "
        "value: never better. The test split plays no part in any decision.",
        f"- Seeds: {', '.join(map(str, seeds))} (train.seed). A seed varies "
        f"the {seeds_varied(data)}; each candidate shares them with the "
        "incumbent on the same seed.",
        "- Each candidate changes one key of the incumbent (the diagnosis's "
        f"advice, the first {improvement.candidates} that validate and "
        "change something; after an adopted step along a knob, also the "
        "next step that way). Test: one-sided (does the candidate improve "
        "the objective?) paired t-test on the per-seed differences "
        "(candidate - incumbent), or the exact Wilcoxon signed-rank test "
        "where a run failed (it cannot reach p below 1/2^n = "
        f"{1 / 2 ** len(seeds):.3g} here).",
        f"- Holm-Bonferroni over each round's candidates, family-wise alpha "
        f"{ALPHA}; the best improvement shown is adopted and the next round "
        f"starts from it. Fewer than {MIN_SEEDS} seeds: untestable."
        + (
            f" A candidate worse than the incumbent on each of its first "
            f"{MIN_SEEDS} seeds by more than the round's detectable "
            "difference stops there (stopped_early, p = 1 in Holm's family:"
            " it can only lower the adoptions)."
            if improvement.stop_hopeless
            else ""
        ),
        "- Intervals: one-sided 95% bounds, not adjusted for the number "
        "of candidates (the Holm p is). Like the p-values they are on the "
        f"seeds that picked the winner: {OPTIMISTIC} (rounds.csv's "
        f'interval column: "{INTERVAL}").',
        "- Across rounds: a round runs only after the one before adopted, "
        "so where no change does anything only round 1 can adopt (at most "
        f"alpha {ALPHA} per improve run); after a real adoption each later "
        f"round adds at most alpha: at most {rounds} x {ALPHA} = "
        f"{rounds * ALPHA:.2g} over {rounds} round(s) (union bound).",
        f"- Confirmation: {improvement.confirm_seeds} fresh seeds after the "
        "rounds' own; the original and the final configuration, paired by "
        f"seed, one one-sided test on {objective.test_name} at alpha "
        f"{ALPHA}: the figure that did not choose itself.",
        "",
    ]
