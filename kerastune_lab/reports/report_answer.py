"""The "Answer" a comparison report opens with: the declared question,
what the runs say in plain words, and the picture that shows it. The
evidence (primary results, protocol) follows it in the report."""

import math

from kerastune_lab.figures import describe
from kerastune_lab.reports.study_plots import answer_images, captions
from kerastune_lab.statistics.paired_tests import MIN_SEEDS, PRIMARY


def _question(analysis, axes):
    words = describe(analysis.figure)
    if not analysis.primary:
        return (
            "No question was declared ([analysis] primary), so every pair "
            f"of levels of {', '.join(axes)} is compared on {words} "
            f"({analysis.figure})."
        )
    contrasts = "; ".join(f"`{text}`" for text in analysis.primary)
    return (
        f"Does {words} ({analysis.figure}) differ between the levels "
        f"declared in [analysis] primary: {contrasts}?"
    )


def _real_line(c):
    low, high = c.ci
    word = "lower" if c.estimate < 0 else "higher"
    return (
        f"- {c.label()}: {c.level} gave a **{word}** {c.figure}, by "
        f"{abs(c.estimate):.3g} (interval [{low:+.3g}, {high:+.3g}], "
        f"{c.n} seeds)."
    )


def _what_the_runs_say(comparisons, alpha, plan):
    primary = [c for c in comparisons if c.role == PRIMARY]
    tested = [c for c in primary if c.testable]
    if not tested:
        return [
            f"Nothing could be tested: a paired test needs {MIN_SEEDS} or "
            "more seeds per cell. The numbers below describe these runs "
            "only."
        ]
    real = [c for c in tested if c.real]
    if real:
        return [
            f"The runs show a difference in {len(real)} of the "
            f"{len(tested)} tested comparisons (Holm, family-wise alpha "
            f"{alpha:g}):",
            "",
            *map(_real_line, real),
        ]
    text = (
        f"The runs show no difference in any of the {len(tested)} tested "
        f"comparisons (Holm, family-wise alpha {alpha:g}). That is not a "
        "proof of no difference"
    )
    if math.isfinite(plan.detectable):
        text += (
            f": with {plan.n} seeds, true differences below about "
            f"{plan.detectable:.3g} are likely to be missed"
        )
    return [text + "."]


def answer_lines(analysis, axes, comparisons, images, plan):
    """The Answer section (a list of Markdown lines): the question, what
    the runs say, and the first of the study's plots that answers it
    (`study_plots`' `answers`).

    Args:
        analysis: The study's `AnalysisConfig`.
        axes: {axis: levels} of the study.
        comparisons: `paired_tests.Comparison`s.
        images: The PNG files the report shows.
        plan: The primary family's `PowerPlan`.

    Returns:
        The lines, and the image shown (None if none).
    """
    lines = ["## Answer", "", _question(analysis, axes), ""]
    lines += _what_the_runs_say(comparisons, analysis.alpha, plan)
    image = next((name for name in answer_images() if name in images), None)
    if image:
        lines += ["", captions()[image], "", f"![{image}]({image})"]
    return lines, image
