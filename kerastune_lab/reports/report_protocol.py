"""The protocol section of a comparison report, placed before the
results: the question, figure, unit of replication, failure rule, tests,
correction, equivalence margin and what the seeds can detect (from a
declared pilot SD, or else from these runs)."""

import math

from kerastune_lab.figures import describe
from kerastune_lab.statistics.contrast_tests import SIGNED_RANK
from kerastune_lab.statistics.paired_tests import (
    EXPLORATORY,
    MIN_SEEDS,
    PRIMARY,
)


def _question(analysis, comparisons):
    primary = [c for c in comparisons if c.role == PRIMARY]
    if not analysis.primary:
        return [
            "- Question: none declared ([analysis] primary), so every pair "
            "of levels of each axis, other axes fixed, is primary: "
            f"{len(primary)} comparisons in one family.",
        ]
    lines = [
        "- Question (the primary contrasts declared in [analysis], each "
        "level - baseline): "
        + "; ".join(f"`{text}`" for text in analysis.primary)
        + f" ({len(primary)} primary comparisons)."
    ]
    if analysis.pool_over:
        lines.append(
            f"- Each is pooled over {', '.join(analysis.pool_over)}: per "
            "seed, the mean of its differences over those levels where "
            "both cells ran. Runs of one seed share its initialisation, so "
            "the seed is the unit of replication: n = seeds."
        )
    return lines


def seeds_varied(data):
    """What a seed varies, in words, from the `[data]` section (a dict):
    the split follows the seed unless data.split_seed fixes it."""
    split = data.get("split_seed", -1)
    text = "initialisation, data order, dropout and masks"
    if split >= 0:
        return text + (
            f"; the data split is fixed (data.split_seed = {split}), so "
            "every claim holds for that one split"
        )
    examples = (
        ", the synthetic examples" if data.get("name") == "synthetic" else ""
    )
    return text + (
        f", and the data split{examples} and evaluation masks too "
        "(data.split_seed = -1 follows train.seed): split-to-split "
        "variance is inside every interval"
    )


def _failure_rule(rows):
    no_skill = [
        r["no_skill_eval_loss"]
        for r in rows
        if not math.isnan(r["no_skill_eval_loss"])
    ]
    line = (
        "- A run fails when its final eval loss is not below its no-skill "
        "eval loss (a model that uses no context)"
    )
    if no_skill:
        low, high = min(no_skill), max(no_skill)
        line += f", **{low:.4g}**" + (
            f" to {high:.4g}" if high - low > 1e-9 else ""
        )
    return line + (
        ", or when it diverged. Failures are results: they stay in the "
        "comparisons, a diverged run as the worst value."
    )


def _tests(analysis, m):
    alpha = analysis.alpha
    lines = [
        "- Test: the paired t-test on the per-seed differences where "
        "no run of either arm failed; otherwise the Wilcoxon signed-rank "
        "test, exact over all 2^n sign patterns, with the Hodges-Lehmann "
        "estimate and its interval. "
        "A t-test on a mix of failed and learned runs measures the mix. "
        "No normality pre-test: at these n it has almost no power.",
        f"- Correction: Holm-Bonferroni over the {m} primary comparisons, "
        f"family-wise alpha {alpha:g}. Beside each verdict: its "
        f"Bonferroni interval at {100 * (1 - alpha / max(m, 1)):.4g}%, "
        f"which holds for all {m} at once with probability "
        f"{100 * (1 - alpha):.4g}% (simultaneous).",
    ]
    if analysis.equivalence_margin:
        lines.append(
            "- Equivalence: a primary contrast against a matched-rate "
            "control is called equivalent only when its two one-sided "
            f"tests (TOST) against +-{analysis.equivalence_margin:g} "
            "reject (Holm over those contrasts); a difference that is not "
            "shown is not shown to be absent."
        )
    else:
        lines.append(
            "- Equivalence: no margin declared ([analysis] "
            "equivalence_margin), so nothing is claimed equivalent; a "
            "difference that is not shown is not shown to be absent."
        )
    return lines


def power_lines(plan, figure):
    """The power statement of a `PowerPlan`, in words."""
    if plan.n < MIN_SEEDS:
        return [
            f"- Power: with {plan.n} seed(s) nothing is tested (fewer "
            f"than {MIN_SEEDS})."
        ]
    if not math.isfinite(plan.sd):
        return [
            "- Power: no primary comparison had differences to estimate "
            "their SD from; declare [analysis] pilot_sd to state it."
        ]
    if plan.sd_source == "pilot":
        source = (
            f"From the pilot SD of the per-seed differences, {plan.sd:.3g} "
            "([analysis] pilot_sd)"
        )
    else:
        source = (
            "No pilot SD declared ([analysis] pilot_sd), so from these "
            "runs: the pooled SD of this study's primary differences, "
            f"{plan.sd:.3g}, estimated from the same {plan.n} seeds that "
            "are tested, not stated in advance (the true SD may be "
            f"{plan.sd_range[0]:.2f}x to {plan.sd_range[1]:.2f}x it, 95%)"
        )
    text = (
        f"- Power: {source}. The paired t-test at Holm's first threshold "
        f"{plan.alpha:g} / {plan.m} = {plan.threshold:.3g} finds a true "
        f"difference of {plan.detectable:.3g} in {figure} or larger with "
        f"probability 0.8 at {plan.n} seeds; smaller ones are likely to "
        "be missed."
    )
    if plan.seeds_for_half:
        text += (
            f" Half of it ({plan.detectable / 2:.3g}) needs "
            f"{plan.seeds_for_half} seeds."
        )
    exact = (
        f"- Where a run fails, the {SIGNED_RANK} test decides: with "
        f"{plan.n} seeds its smallest possible p is {plan.exact_min_p:.3g}"
    )
    fewest = (
        f"{plan.exact_seeds} seeds are the fewest at which it can reach "
        f"{plan.threshold:.3g}"
    )
    if plan.exact_min_p > plan.alpha:
        exact += (
            f", above alpha {plan.alpha:g}: it cannot call any such "
            f"comparison real at these seeds, whatever its size ({fewest})."
        )
    elif plan.exact_min_p > plan.threshold:
        exact += (
            f", above Holm's first threshold {plan.threshold:.3g}: such a "
            "comparison can be real only after Holm has rejected others "
            f"({fewest})."
        )
    else:
        exact += f", at or below {plan.threshold:.3g}."
    return [text, exact]


def protocol_lines(study, analysis, rows, comparisons, plan):
    """The protocol section (a list of Markdown lines)."""
    seeds = study["seeds"]
    primary = [c for c in comparisons if c.role == PRIMARY]
    m = sum(c.testable for c in primary)
    exploratory = sum(c.role == EXPLORATORY for c in comparisons)
    figure = analysis.figure
    lines = [
        "## Protocol",
        "",
        f"Study: `{study['config_path']}`, {len(rows)} cells x "
        f"{len(seeds)} seed(s) ({', '.join(map(str, seeds))}).",
        "",
    ]
    lines += _question(analysis, comparisons)
    lines += [
        f"- Figure: **{figure}** ({describe(figure)}; "
        f"{'higher' if analysis.higher_is_better else 'lower'} is better"
        "); the other figures are descriptive.",
        f"- Between seeds varied: {seeds_varied(study['config']['data'])}"
        ". Each comparison "
        "pairs the runs of the same seed.",
        _failure_rule(rows),
    ]
    lines += _tests(analysis, m)
    lines += power_lines(plan, figure)
    if exploratory:
        lines.append(
            f"- Exploratory: {exploratory} other differences (every pair "
            "of levels of each axis, other axes fixed) are estimated with "
            f"unadjusted {100 * (1 - analysis.alpha):.4g}% intervals and "
            "no verdict: leads for a next study, not findings."
        )
    if len(seeds) < MIN_SEEDS:
        lines += [
            "",
            f"**With {len(seeds)} seed(s) no comparison can be "
            "tested: the numbers below are descriptions, not "
            f"findings. Run --seeds {MIN_SEEDS} or more.**",
        ]
    return lines
