"""report.md of an improve directory (an `ImprovementResult` of
`kerastune_lab.improvement`): the confirmation first (the one result
that did not choose itself), then the path of adopted changes and each
round, used to choose, then the protocol.

The test split is read here only: for the confirmation's fresh seeds, or
(where no confirmation ran) for a table of the choosing seeds, labelled
as such. No decision read it.
"""

import math

import numpy as np

from kerastune_lab.duration import duration
from kerastune_lab.figures import objective_direction
from kerastune_lab.reports.confirmation_words import (
    bound_text,
    confirmation_sentence,
    figure_text,
)
from kerastune_lab.reports.report_protocol import seeds_varied
from kerastune_lab.run_directory import RunDirectory
from kerastune_lab.statistics.mean_ci import mean_ci
from kerastune_lab.statistics.paired_tests import ALPHA, MIN_SEEDS

OPTIMISTIC = "used to choose (optimistic)"
# rounds.csv's interval column: what a round's intervals are. Round 1
# compares the candidates with runs nobody chose; a later round's
# incumbent won the round before on the same seeds.
INTERVAL = f"one-sided 95%, unadjusted; {OPTIMISTIC}"
INTERVAL_LATER = (
    "one-sided 95%, unadjusted; used to choose, against an incumbent that "
    "won the round before on these seeds: biased both ways (the winner is "
    "picked on these seeds; the incumbent's lucky runs count against every "
    "candidate), and detectable_diff overstates the power"
)
# Beside a candidate that keeps its best validation epoch against an
# incumbent that keeps its last.
SELECTS_EPOCH = (
    "it keeps its best validation epoch, the incumbent its last: the "
    "round's alpha does not cover it; the confirmation on fresh seeds is "
    "its test"
)
# Shown beside the objective on the test split, so a trade-off shows.
SIDE_FIGURES = ("test_loss", "test_accuracy")


def round_interval(number):
    """rounds.csv's interval column of round `number`."""
    return INTERVAL if number == 1 else INTERVAL_LATER


def experiment_text(improvement):
    """'experiments/x.toml --set a=1': what the user asked to improve."""
    return " ".join(
        [improvement.config.source or "the default experiment"]
        + [f"--set {text}" for text in improvement.overrides]
    )


def _mean(values):
    """The mean over seeds, 'inf' where a run failed."""
    return f"{np.mean(list(values)):.4g}"


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
        cells = " | ".join(figure_text(figures[n]) for n in names)
        lines.append(f"| {which} | {cells} |")
    lines += ["", *_side_figures(confirmation, names), ""]
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


def _paired_side(confirmation, name):
    """final - original of figure `name` on each fresh seed where both
    runs finished with a finite figure."""
    diffs = []
    for seed in confirmation.seeds:
        (before, failed), (after, lost) = (
            confirmation.original[seed],
            confirmation.final[seed],
        )
        d = float(after.get(name, math.nan)) - float(
            before.get(name, math.nan)
        )
        if math.isfinite(d) and not (failed or lost):
            diffs.append(d)
    return diffs


def _side_figures(confirmation, names):
    """For each figure beside the objective: the mean of final -
    original with its two-sided 95% interval, described, not tested."""
    lines = []
    for name in names:
        diffs = _paired_side(confirmation, name)
        if name == confirmation.objective.test_name or not diffs:
            continue
        mean, low, high = mean_ci(diffs)
        text = f"{name}, final - original: {mean:+.4g}" + (
            f", 95% interval [{low:+.3g}, {high:+.3g}]"
            if math.isfinite(low)
            else ""
        )
        text += f" over {len(diffs)} paired seeds (descriptive, not tested)"
        higher = objective_direction(name) == "max"
        if (mean < 0) if higher else (mean > 0):
            text += (
                f": {'lower' if higher else 'higher'} on average while the "
                f"decisions were on {confirmation.objective.name}, a "
                "possible trade-off to weigh before you take improved.toml"
            )
        lines.append(text + ".")
    return lines


def _answer(result):
    lines = ["## Answer", "", f"**{confirmation_sentence(result)}**", ""]
    if result.confirmation is not None:
        lines += [
            "Seeds no round used, their test splits (no decision read a "
            "test figure), one one-sided paired test of final - original "
            f"at alpha {result.confirmation.alpha:.3g} (confirmation.csv):",
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
            figure_text([float(m.get(n, math.nan)) for m in metrics])
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
        "The differences below were used to choose: round 1's are "
        "optimistic (its winner was picked on these seeds); a later "
        "round's are biased both ways (its winner was picked on these "
        "seeds, against an incumbent that won the round before on the same "
        "seeds, whose lucky runs count against every candidate). The "
        "confirmation above is the figure to trust.",
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
            f"{test.mean_diff:+.4g} ({bound_text(test, objective)}) | "
            f"{test.p:.2g} | {test.p_adjusted:.2g} |"
        )
    return lines + [""]


def _round_section(round_, image):
    incumbent, objective = round_.incumbent, round_.objective
    used = OPTIMISTIC if round_.number == 1 else "used to choose"
    lines = [
        f"## Round {round_.number}: {incumbent.headline}",
        "",
        f"Incumbent: {incumbent.summary()}.",
        "",
        f"| change | why | n | mean difference in {objective.name} "
        f"({used}) | p | Holm p | verdict | adopted |",
        "|---|---|---|---|---|---|---|---|",
    ]
    selecting = [
        label for label in round_.tests if round_.selects_epoch(label)
    ]
    for label, test in round_.tests.items():
        verdict = test.verdict + (
            " (selects its epoch)" if label in selecting else ""
        )
        lines.append(
            f"| `--set {label}` | {round_.changes[label].why} | {test.n} | "
            f"{test.mean_diff:+.4g} ({bound_text(test, objective)}) | "
            f"{test.p:.2g} | {test.p_adjusted:.2g} | {verdict} | "
            f"{'**yes**' if label == round_.adopted else 'no'} |"
        )
    lines += ["", round_.line(), ""]
    lines += [
        f"`--set {label}` selects its epoch: {SELECTS_EPOCH}."
        for label in selecting
    ]
    if selecting:
        lines.append("")
    if image:
        lines += [f"![round {round_.number}]({image})", ""]
    return lines


def _reasons(incumbent):
    """Each seed's verdict and the diagnosis's sentences behind it."""
    lines = []
    for seed, run in incumbent.runs.items():
        lines.append(
            f"- seed {seed}: **{', '.join([run.verdict, *run.flags])}**: "
            + "; ".join(run.reasons)
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
        f"--confirm-seeds {improvement.confirm_seeds}. The final "
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
    return [
        "## Protocol",
        "",
        f"- Objective: **{objective.name}** at the kept epoch of each run "
        "(the best validation epoch with early stopping that restores the "
        f"best weights, else the last epoch); {objective.better_words()}. "
        "A run that diverged or has no finite figure counts as the worst "
        "value: never better. No decision reads a figure of the test split.",
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
        "- Epoch selection: a candidate that keeps its best validation "
        "epoch (early stopping that restores the best weights) against an "
        "incumbent that keeps its last is scored at the best of its epochs "
        "on the very figure the test reads, so epoch-to-epoch noise alone "
        "makes it look better: the round's alpha does not cover it "
        "(rounds.csv selects_epoch = true). The confirmation, which reads "
        "the test split at the kept epoch, is its test.",
        *_error_lines(improvement),
        _confirmation_protocol(result),
        "",
    ]


def _error_lines(improvement):
    """What the intervals are, and the error across rounds."""
    rounds = max(improvement.rounds, 1)
    return [
        "- Intervals: one-sided 95% bounds, not adjusted for the number "
        "of candidates (the Holm p is). Like the p-values they are on the "
        "seeds that chose: in round 1 optimistic (rounds.csv's interval "
        f'column: "{INTERVAL}"); in later rounds biased both ways, the '
        "incumbent having won the round before on the same seeds, and "
        "the detectable difference a later round states overstates its "
        "power.",
        "- Across rounds: a round runs only after the one before adopted, "
        "so where no change does anything only round 1 can adopt (at most "
        f"alpha {ALPHA} per improve run); after a real adoption each later "
        f"round adds at most about alpha: at most {rounds} x {ALPHA} = "
        f"{rounds * ALPHA:.2g} over {rounds} round(s), a bound supported "
        "by simulation rather than proven (a later round's incumbent was "
        "selected on these seeds), and not for epoch-selecting candidates.",
    ]


def _confirmation_protocol(result):
    """The protocol's confirmation line: what ran, or why none did."""
    improvement, confirmation = result.improvement, result.confirmation
    if not result.adopted:
        return "- Confirmation: none; nothing was adopted."
    if confirmation is None:
        why = (
            "--confirm-seeds 0 skipped it; the gains above are unconfirmed"
            if improvement.confirm_seeds == 0
            else "its runs did not finish; nothing was tested"
        )
        return f"- Confirmation: none; {why}."
    seeds, looks = confirmation.seeds, confirmation.looks
    data = improvement.config.to_dict()["data"]
    return (
        f"- Confirmation: {len(seeds)} fresh seeds after the rounds' own "
        f"({seeds[0]}-{seeds[-1]}); the original and the final "
        "configuration, paired by seed, one one-sided test on "
        f"{improvement.objective.test_name} at alpha "
        f"{confirmation.alpha:.3g} (look {confirmation.look} of "
        f"{len(looks.counts)}: with k looks at one improve directory, "
        f"each at {looks.alpha:g} / k; where each look follows a "
        "not-confirmed one, a false confirmation at some look has "
        "probability at most "
        f"{looks.false_confirmation_bound():.3g}). "
        + _test_split_words(data, len(improvement.seeds))
    )


def _test_split_words(data, seeds):
    """Whose examples a fresh seed's test split holds."""
    split = data.get("split_seed", -1)
    if split >= 0:
        return (
            f"Every seed has the same test split (data.split_seed = "
            f"{split}): no decision read it, but every fresh seed re-reads "
            "the same examples, so the result holds for that test split."
        )
    if data.get("name") == "synthetic":
        return (
            "The synthetic set draws its examples per seed: a fresh "
            "seed's test examples are new to the procedure."
        )
    seen = 1 - (1 - data.get("val_split", 0.0)) ** seeds
    return (
        "The split follows the seed, so a fresh seed's test examples are "
        f"not all new: about {seen:.0%} of them were validation examples "
        f"of at least one of the rounds' {seeds} seeds. Each fresh seed "
        "draws its own split, so what those examples favour varies from "
        "seed to seed and stays inside the test's variance."
    )
