"""Which candidate of a round of `improve` is adopted: paired by seed,
Holm-corrected over the round.

The protocol:
- The figure is each run's validation loss at its kept epoch; a run that
  diverged, or has no finite figure, counts as +inf: it is never better.
- A candidate is compared with the incumbent on the seeds both ran (same
  initialisation, data split and order): candidate - incumbent per seed,
  negative is better. Where every run of both is finite, a two-sided
  one-sample t-test on the differences, with its 95% interval (not
  adjusted for the number of candidates). Where a run failed, the
  differences are infinite and only their signs and ranks mean anything:
  an exact two-sided Wilcoxon signed-rank test, no interval (seeds where
  both failed compare nothing and are left out). With n seeds it cannot
  reach p below 2 / 2^n.
- Fewer than `MIN_SEEDS` compared seeds: untestable, never real.
- Holm-Bonferroni over the round's tested candidates keeps the chance of
  adopting a change that does nothing at `alpha` or less per round.
- The adopted candidate is the one with the lowest mean difference among
  those whose improvement is real (adjusted p < alpha, mean difference
  below 0) and none of whose runs failed.

`paired_round_test` is the one place these statistics are computed.
"""

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
from scipy import special, stats

from kerastune_lab.comparison.paired_tests import ALPHA, MIN_SEEDS, holm


@dataclasses.dataclass(frozen=True)
class CandidateTest:
    """A candidate against the incumbent over the seeds both ran.

    Attributes:
        n: Seeds compared.
        mean_diff: Mean of candidate - incumbent (negative: better; +-inf
            where a run failed).
        ci: 95% interval of the mean difference, unadjusted ((nan, nan)
            where a run failed or n < 2).
        p: Two-sided p of the test (NaN when untestable).
        p_adjusted: Holm-adjusted over the round (NaN when untestable).
        test: "paired t", "exact Wilcoxon" or "untestable".
        failed: A run of the candidate diverged or has no finite figure.
        real: The adjusted p is below alpha.
    """

    n: int
    mean_diff: float
    ci: tuple
    p: float
    p_adjusted: float
    test: str
    failed: bool
    real: bool

    @property
    def improves(self) -> bool:
        """A real improvement by a candidate none of whose runs failed."""
        return self.real and self.mean_diff < 0 and not self.failed


def _one_candidate(candidate, incumbent):
    """(n, mean, ci, p, test, failed) for one candidate's seeds."""
    seeds = sorted(set(candidate) & set(incumbent))
    ours = np.array([candidate[s] for s in seeds], dtype=float)
    theirs = np.array([incumbent[s] for s in seeds], dtype=float)
    ours[~np.isfinite(ours)] = np.inf
    theirs[~np.isfinite(theirs)] = np.inf
    failed = bool(np.isinf(ours).any())
    compared = ~(np.isinf(ours) & np.isinf(theirs))
    diffs = ours[compared] - theirs[compared]
    n = len(diffs)
    with np.errstate(invalid="ignore"):  # inf - inf: failed both ways
        mean = float(diffs.mean()) if n else math.nan
    nan_ci = (math.nan, math.nan)
    if n < MIN_SEEDS:
        return n, mean, nan_ci, math.nan, "untestable", failed
    if np.isinf(diffs).any():
        p = stats.wilcoxon(diffs, method="exact").pvalue
        return n, mean, nan_ci, float(p), "exact Wilcoxon", failed
    sd = float(diffs.std(ddof=1))
    if sd == 0.0:
        # Identical differences: no noise to test against (as `compare`).
        p = 1.0 if mean == 0 else 0.0
        return n, mean, (mean, mean), p, "paired t", failed
    # The one-sample t-test written out: scipy.stats.ttest_1samp gives the
    # same (tests/test_improve.py) about ten times slower, which the
    # simulation of thousands of rounds feels.
    se = sd / math.sqrt(n)
    p = 2.0 * special.stdtr(n - 1, -abs(mean) / se)
    half = special.stdtrit(n - 1, 0.975) * se
    return n, mean, (mean - half, mean + half), float(p), "paired t", failed


def paired_round_test(
    incumbent: Mapping[int, float],
    candidates: Mapping[str, Mapping[int, float]],
    alpha: float = ALPHA,
) -> dict[str, CandidateTest]:
    """Tests every candidate of a round against the incumbent, paired by
    seed, with Holm's correction over the round.

    Args:
        incumbent: {seed: figure} of the incumbent (inf or NaN: the run
            failed).
        candidates: {name: {seed: figure}} of the round's candidates.
        alpha: Family-wise error rate of the round.

    Returns:
        {name: `CandidateTest`}, in the order of `candidates`.

    Example:

    >>> tests = paired_round_test(
    ...     {1: 1.0, 2: 1.2, 3: 0.9},
    ...     {"a": {1: 0.5, 2: 0.71, 3: 0.39}, "b": {1: 1.1, 2: 1.1, 3: 1.0}},
    ... )
    >>> [(name, test.improves) for name, test in tests.items()]
    [('a', True), ('b', False)]
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1). Received: alpha={alpha}")
    raw = {
        name: _one_candidate(figures, incumbent)
        for name, figures in candidates.items()
    }
    tested = [name for name, r in raw.items() if not math.isnan(r[3])]
    adjusted = dict(zip(tested, holm([raw[name][3] for name in tested])))
    tests = {}
    for name, (n, mean, ci, p, test, failed) in raw.items():
        p_adjusted = float(adjusted.get(name, math.nan))
        tests[name] = CandidateTest(
            n, mean, ci, p, p_adjusted, test, failed, p_adjusted < alpha
        )
    return tests


def exact_test_seeds(candidates: int, alpha: float = ALPHA) -> int:
    """The fewest seeds with which the exact test can find a change real
    among `candidates` (its smallest p, 2 / 2^n, times Holm's first factor
    below alpha): a diverged incumbent needs them.

    Example:

    >>> exact_test_seeds(1), exact_test_seeds(3)
    (6, 7)
    """
    n = 1
    while 2 / 2**n * candidates >= alpha:
        n += 1
    return n


def adopted_candidate(tests: Mapping[str, CandidateTest]) -> str | None:
    """The candidate a round adopts: of those whose improvement is real,
    the lowest mean difference (then the lowest adjusted p); None if no
    improvement is real.

    Example:

    >>> sure = CandidateTest(3, -0.2, (-0.3, -0.1), 0.01, 0.02,
    ...                      "paired t", False, True)
    >>> adopted_candidate({"a": sure}), adopted_candidate({})
    ('a', None)
    """
    best = [name for name, test in tests.items() if test.improves]
    if not best:
        return None
    return min(
        best, key=lambda name: (tests[name].mean_diff, tests[name].p_adjusted)
    )
