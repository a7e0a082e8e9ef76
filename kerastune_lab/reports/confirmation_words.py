"""What an improve run's confirmation showed, in words: the headline of
report.md and improved.toml (`confirmation_sentence`) and the start of
the command's last summary line (`confirmation_summary`).

Every number is the confirmation's own: its look and the alpha that look
is tested at, the test's p and one-sided bound, which runs failed, the
smallest p an exact test could give over these seeds and the improvement
the seeds detect with probability 0.8.
"""

import math

from kerastune_lab.statistics.mean_ci import mean_ci

POWER_WORDS = "with probability 0.8"


def figure_text(values):
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


def bound_text(test, objective):
    """'one-sided 95% bound -0.26' (the level the test was run at)."""
    bound = test.ci[0] if objective.higher_is_better else test.ci[1]
    if not math.isfinite(bound):
        return "no bound at this n"
    return f"one-sided {100 * test.confidence:.4g}% bound {bound:+.3g}"


def _seeds(seeds):
    return ", ".join(map(str, seeds))


def _look_words(confirmation):
    """' (look 2 of 2: alpha 0.05 / 2, Bonferroni over the looks at 5,
    8 fresh seeds; look 1: p 0.09)', or '' for a single look."""
    looks = confirmation.looks
    if len(looks.counts) < 2:
        return ""
    earlier = "".join(
        f"; look {number}, {count} seeds: p {p:.2g}"
        for number, (count, p) in enumerate(confirmation.earlier_looks(), 1)
    )
    return (
        f" (look {confirmation.look} of {len(looks.counts)}: alpha "
        f"{looks.alpha:g} / {len(looks.counts)}, Bonferroni over the looks "
        f"at {_seeds(looks.counts)} fresh seeds{earlier})"
    )


def _numbers(confirmation):
    objective, test, seeds = (
        confirmation.objective,
        confirmation.test,
        confirmation.seeds,
    )
    before = figure_text(list(confirmation.figures("original").values()))
    after = figure_text(list(confirmation.figures("final").values()))
    return (
        f"on {len(seeds)} fresh seeds ({seeds[0]}-{seeds[-1]}), test "
        f"split: {objective.test_words} {before} -> {after}, difference "
        f"{test.mean_diff:+.4g} ({bound_text(test, objective)}), "
        f"one-sided p {test.p:.2g} ({test.test}) at alpha "
        f"{confirmation.alpha:.3g}" + _look_words(confirmation)
    )


def _floor_words(confirmation):
    """Why this look could not confirm anything, and the seeds that can."""
    test = confirmation.test
    needed = confirmation.seeds_for_next_look()
    return (
        "with a failed run the exact signed-rank test decides, and over "
        f"these {test.n} compared seeds it cannot give p below "
        f"{confirmation.exact_floor:.3g}, above alpha "
        f"{confirmation.alpha:.3g}: this look could not have confirmed any "
        f"gain; --confirm-seeds {needed} or more can"
    )


def _why_not(confirmation):
    """The clauses after 'Not confirmed ...:'."""
    test, objective = confirmation.test, confirmation.objective
    looks = confirmation.looks
    final = confirmation.failed_seeds("final")
    original = confirmation.failed_seeds("original")
    clauses = []
    if final:
        clauses.append(
            f"the final configuration failed on fresh seed(s) "
            f"{_seeds(final)} (diverged, or no finite "
            f"{objective.test_name}): a configuration whose runs fail is "
            "never confirmed"
        )
    if original:
        clauses.append(
            f"the original failed on fresh seed(s) {_seeds(original)} "
            "(counted as its worst value)"
        )
    if not confirmation.could_confirm:
        clauses.append(_floor_words(confirmation))
    elif math.isfinite(test.detectable):
        clauses.append(
            f"these {test.n} fresh seeds detect an improvement of "
            f"{test.detectable:.3g} {POWER_WORDS} (one-sided paired t at "
            f"alpha {confirmation.alpha:.3g}, SD from these runs): a "
            "smaller one may be there"
        )
    further = (
        f"look {len(looks.counts) + 1} is tested at alpha {looks.alpha:g} "
        f"/ {len(looks.counts) + 1} = {looks.next_level:.3g}, Bonferroni "
        "over the looks"
    )
    if original:
        clauses.append(
            "the original's runs failed too, so which to keep is open: "
            f"more fresh seeds can decide ({further})"
        )
    else:
        clauses.append(
            "the gain the rounds measured on their own seeds may be "
            "selection; keep the original unless a further look shows it "
            f"(re-run with more --confirm-seeds: {further})"
        )
    return clauses


def _unconfirmed(result):
    """The headline where no confirmation was tested."""
    if result.improvement.confirm_seeds == 0:
        text = (
            "Unconfirmed: --confirm-seeds 0 skipped the confirmation; the "
            "gains below were measured on the seeds that chose them, which "
            "flatters them"
        )
        selecting = [
            change.label
            for round_, change, _ in result.adopted
            if round_.selects_epoch(round_.adopted)
        ]
        if selecting:
            text += (
                f", and {', '.join(selecting)} kept each run's best "
                "validation epoch, chosen on the figure the round read, "
                "which the round's alpha does not cover"
            )
        return text + "."
    if result.confirmation_incomplete:
        return (
            "Unconfirmed: the confirmation's runs did not finish; re-run "
            "the same command."
        )
    return (
        "Unconfirmed: some runs of the rounds did not finish; re-run the "
        "same command."
    )


def confirmation_sentence(result):
    """The headline: what the fresh seeds said about the final
    configuration, in one sentence."""
    confirmation = result.confirmation
    if not result.adopted:
        return "Nothing was adopted: nothing to confirm."
    if confirmation is None:
        return _unconfirmed(result)
    numbers = _numbers(confirmation)
    if confirmation.confirmed:
        return f"Confirmed {numbers}."
    return (
        f"Not confirmed {numbers}: " + "; ".join(_why_not(confirmation)) + "."
    )


def confirmation_summary(result):
    """The confirmation in a few words, for the command's last summary
    line: 'confirmed on 5 fresh seeds: test_loss -0.17 (one-sided 95%
    bound -0.09), one-sided p 0.003 at alpha 0.05'."""
    confirmation = result.confirmation
    if confirmation is None:
        if not result.adopted:
            return "nothing adopted, nothing to confirm"
        if result.improvement.confirm_seeds == 0:
            return "unconfirmed (--confirm-seeds 0)"
        return "unconfirmed (its runs did not finish)"
    test, objective = confirmation.test, confirmation.objective
    looks = confirmation.looks
    verdict = "confirmed" if confirmation.confirmed else "NOT confirmed"
    text = (
        f"{verdict} on {len(confirmation.seeds)} fresh seeds: "
        f"{objective.test_name} {test.mean_diff:+.4g} "
        f"({bound_text(test, objective)}), one-sided p {test.p:.2g} at "
        f"alpha {confirmation.alpha:.3g}"
    )
    if len(looks.counts) > 1:
        text += (
            f" (look {confirmation.look} of {len(looks.counts)}, Bonferroni "
            "over the looks)"
        )
    if not confirmation.could_confirm:
        text += (
            f" (the exact test cannot go below p "
            f"{confirmation.exact_floor:.3g} over these seeds: use "
            f"--confirm-seeds {confirmation.seeds_for_next_look()})"
        )
    return text
