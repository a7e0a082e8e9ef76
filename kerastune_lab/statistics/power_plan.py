"""What the primary family can detect, stated before its results.

The smallest true difference the paired t-test finds with power 0.8 at
Holm's first threshold alpha / m over n seeds (noncentral t,
`detectable_difference`), from the SD of the per-seed differences: a
pilot's (`[analysis] pilot_sd`), or else the pooled SD of this study's
primary differences. The latter is an estimate from the same seeds, so
its 95% range (chi-square on n - 1 degrees of freedom: the contrasts
share seeds, so they do not add degrees of freedom) is stated with it.
Where a run fails the exact signed-rank test is used instead, and its
floor, 2 / 2^n, decides whether it can call anything real at all.
"""

import dataclasses
import math

import numpy as np
from scipy import stats

from kerastune_lab.statistics.contrast_tests import (
    POWER,
    detectable_difference,
    min_exact_p,
    seeds_to_detect,
)


@dataclasses.dataclass(frozen=True)
class PowerPlan:
    """The power statement of a primary family.

    Attributes:
        n: Seeds per comparison.
        m: Primary comparisons (Holm's first threshold is alpha / m).
        alpha: Family-wise error rate.
        sd: SD of the per-seed differences used (NaN: none known).
        sd_source: "pilot" or "study".
        sd_range: (low, high) 95% range of the true SD over `sd` when it
            is estimated from the study ((1, 1) for a pilot's).
        detectable: Smallest true difference found with power 0.8.
        seeds_for_half: Seeds that find half of `detectable` with power
            0.8 (None: more than 100,000).
        exact_min_p: The exact test's smallest p at n seeds.
        exact_seeds: Fewest seeds at which that floor is at or below
            alpha / m.
    """

    n: int
    m: int
    alpha: float
    sd: float
    sd_source: str
    sd_range: tuple
    detectable: float
    seeds_for_half: int | None
    exact_min_p: float
    exact_seeds: int

    @property
    def threshold(self):
        return self.alpha / self.m


def pooled_sd(diff_lists):
    """sqrt of the variances of the lists pooled by their degrees of
    freedom; only lists of 2+ finite differences count (NaN if none)."""
    usable = [
        np.asarray(d, dtype=float)
        for d in diff_lists
        if len(d) > 1 and np.isfinite(d).all()
    ]
    df = sum(len(d) - 1 for d in usable)
    if not df:
        return math.nan
    return math.sqrt(
        sum(np.var(d, ddof=1) * (len(d) - 1) for d in usable) / df
    )


def power_plan(n, m, alpha, pilot_sd=0.0, diff_lists=()):
    """The `PowerPlan` of m primary comparisons over n seeds.

    Args:
        n: Seeds per comparison.
        m: Primary comparisons (>= 1).
        alpha: Family-wise error rate.
        pilot_sd: SD of per-seed differences from a pilot (0: none).
        diff_lists: The study's primary per-seed differences, for the
            pooled SD when no pilot is given.

    Example:

    >>> plan = power_plan(5, 4, 0.05, pilot_sd=0.1)
    >>> round(plan.detectable, 3), plan.seeds_for_half, plan.exact_seeds
    (0.248, 11, 8)
    """
    threshold = alpha / m
    if pilot_sd > 0:
        sd, source, spread = pilot_sd, "pilot", (1.0, 1.0)
    else:
        sd, source = pooled_sd(diff_lists), "study"
        df = max(n - 1, 1)
        spread = (
            math.sqrt(df / stats.chi2.ppf(0.975, df)),
            math.sqrt(df / stats.chi2.ppf(0.025, df)),
        )
    detectable = detectable_difference(sd, n, threshold, POWER)
    half = (
        seeds_to_detect(detectable / 2, sd, threshold, POWER)
        if math.isfinite(detectable)
        else None
    )
    exact_seeds = math.ceil(math.log2(2 / threshold))
    return PowerPlan(
        n,
        m,
        alpha,
        sd,
        source,
        spread,
        detectable,
        half,
        min_exact_p(n),
        exact_seeds,
    )
