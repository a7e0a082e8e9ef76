"""The "Answer" a comparison report opens with: the declared question,
what the runs say in plain words, and the picture that shows it. The
evidence (primary results, protocol) follows it in the report."""

import math

from kerastune_lab.figures import describe
from kerastune_lab.reports.study_plots import answer_images, captions
from kerastune_lab.statistics.contrast_tests import PAIRED_T, POWER
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


def _estimate(c):
    """'+0.106, interval [+0.07, +0.14], 5 seeds', the exact test's
    estimate named as the Hodges-Lehmann estimate."""
    name = "" if c.test == PAIRED_T else "Hodges-Lehmann estimate "
    return (
        f"{name}{c.estimate:+.3g}, interval {c.interval_text()}, {c.n} seeds"
    )


def _real_line(c):
    word = "lower" if c.estimate < 0 else "higher"
    return (
        f"- {c.label()}: {c.level} gave a **{word}** {c.figure}, by "
        f"{abs(c.estimate):.3g} (interval {c.interval_text()}, "
        f"{c.n} seeds)."
    )


def _not_shown_line(c):
    text = f"- {c.label()}: not shown ({_estimate(c)})"
    if math.isfinite(c.detectable):
        text += (
            f"; these seeds detect a true difference of {c.detectable:.3g} "
            f"with probability {POWER:g} ({c.detectable_from}), a smaller "
            "one may be there"
        )
    return text + c.floor_words() + "."


def _equivalence_lines(tested, alpha):
    """Each TOST against a matched-rate control, in plain words."""
    if not tested:
        return []
    margin, figure = tested[0].margin, tested[0].figure
    lines = [
        f"Equivalence within +-{margin:g} in {figure} (two one-sided "
        f"tests, TOST, Holm over the {len(tested)} contrasts against a "
        f"matched-rate control, alpha {alpha:g}):",
        "",
    ]
    for c in tested:
        numbers = f"TOST p {c.tost_p:.2g}, Holm {c.tost_p_adjusted:.2g}"
        control = (
            f"{c.level} and {c.baseline} (plain training at {c.level}'s "
            f"own mean rate{', ' + c.where() if c.where() else ''})"
        )
        if c.equivalent:
            lines.append(
                f"- {control}: **shown equivalent**: their difference lies "
                f"within +-{margin:g} ({numbers})."
            )
        else:
            lines.append(
                f"- {control}: equivalence not shown: these seeds do not "
                f"show the difference to be within +-{margin:g} ({numbers})."
            )
    return ["", *lines]


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
    not_shown = [c for c in tested if not c.real]
    family = f"(Holm, family-wise alpha {alpha:g})"
    lines = []
    if real:
        lines += [
            f"The runs show a difference in {len(real)} of the "
            f"{len(tested)} tested comparisons {family}:",
            "",
            *map(_real_line, real),
            "",
        ]
    if not_shown:
        # Each line states what its own seeds detect; the family's figure
        # only where some line cannot.
        own = all(math.isfinite(c.detectable) for c in not_shown)
        lines += [
            _not_shown_head(
                len(not_shown), len(tested), family, None if own else plan
            ),
            "",
            *map(_not_shown_line, not_shown),
        ]
    lines += _equivalence_lines(
        [c for c in tested if c.equivalent is not None], alpha
    )
    return lines[:-1] if lines[-1] == "" else lines


def _not_shown_head(count, tested, family, plan):
    """'The runs do not show a difference in ...: with 5 seeds ...:'; the
    family's detectable difference where `plan` is given."""
    text = (
        f"The runs do not show a difference in the other {count}"
        if count < tested
        else "The runs do not show a difference in any of the "
        f"{tested} tested comparisons {family}"
    )
    text += ". That is not a proof of no difference"
    if plan is not None and math.isfinite(plan.detectable):
        text += (
            f": with {plan.n} seeds, true differences below about "
            f"{plan.detectable:.3g} are likely to be missed"
        )
    return text + ":"


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
