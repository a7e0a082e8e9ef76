"""Failed runs are results: the rule, the worst value, the rate's interval.

A run FAILS when it diverged (a non-finite final eval loss, or its
diagnosis says "diverged") or when its final eval loss is not below its
`no_skill_eval_loss` (it learned nothing a context-free predictor could
not do). A run without a no-skill figure fails only by diverging.
"""

import math

from scipy import stats

from kerastune_lab.analysis.diagnosis import DIVERGED


def diverged(run):
    """Whether the run's final eval loss is non-finite or its diagnosis
    is "diverged"."""
    return run.get("verdict") == DIVERGED or not math.isfinite(
        run["figures"]["final_eval_loss"]
    )


def run_failed(run):
    """Whether the run failed (diverged, or not below its no-skill loss).

    Args:
        run: {"figures": {"final_eval_loss": ...}, "no_skill_eval_loss":
            ..., "verdict": ...} as `comparison.collect.read_run` gives it.

    Example:

    >>> run_failed({"figures": {"final_eval_loss": 4.9},
    ...             "no_skill_eval_loss": 4.95, "verdict": "good_fit"})
    False
    >>> run_failed({"figures": {"final_eval_loss": 5.0},
    ...             "no_skill_eval_loss": 4.95, "verdict": "underfitting"})
    True
    """
    no_skill = run.get("no_skill_eval_loss", math.nan)
    learned = (
        math.isnan(no_skill) or run["figures"]["final_eval_loss"] < no_skill
    )
    return diverged(run) or not learned


def worst_value(run, figure, higher_is_better=False):
    """The run's `figure`, or the worst value where it diverged or the
    figure is not finite (-inf where higher is better, else +inf): a
    diverged run is the worst outcome, not a missing one."""
    value = run["figures"][figure]
    if diverged(run) or not math.isfinite(value):
        return -math.inf if higher_is_better else math.inf
    return value


def failure_interval(failures, runs, confidence=0.95):
    """(low, high): the Clopper-Pearson interval of a failure rate.

    Example:

    >>> low, high = failure_interval(0, 5)
    >>> (low, round(high, 3))
    (0.0, 0.522)
    """
    interval = stats.binomtest(failures, runs).proportion_ci(
        confidence, method="exact"
    )
    return float(interval.low), float(interval.high)
