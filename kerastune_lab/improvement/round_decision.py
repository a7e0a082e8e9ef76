"""Which candidate of a round of `improve` is adopted: paired by seed,
Holm-corrected over the round.

The protocol:
- The figure is each run's validation loss at its kept epoch; a run that
  diverged, or has no finite figure, counts as +inf: it is never better.
- A candidate is compared with the incumbent on the seeds both ran (same
  initialisation, data split and order): candidate - incumbent per seed,
  negative is better, by the test `compare` uses for a contrast
  (`comparison.contrast_tests`): where every run of both is finite, a
  two-sided paired t-test with its 95% interval of the mean (not
  adjusted for the number of candidates); where a run failed, only signs
  and ranks mean anything: the exact Wilcoxon signed-rank test with the
  Hodges-Lehmann estimate and its exact interval (seeds where both failed
  compare nothing and are left out). With n seeds it cannot reach p
  below 2 / 2^n.
- Fewer than `MIN_SEEDS` compared seeds: untestable, never real.
- Holm-Bonferroni over the round's tested candidates keeps the chance of
  adopting a change that does nothing at `alpha` or less per round.
- The adopted candidate is the one with the lowest mean difference among
  those whose improvement is real (adjusted p < alpha, mean difference
  below 0) and none of whose runs failed.

`paired_round_test` is the one place `improve` computes them.
"""

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from kerastune_lab.comparison.contrast_tests import paired_contrast_tests
from kerastune_lab.comparison.paired_tests import ALPHA, MIN_SEEDS, holm

UNTESTABLE = "untestable"


@dataclasses.dataclass(frozen=True)
class CandidateTest:
    """A candidate against the incumbent over the seeds both ran.

    Attributes:
        n: Seeds compared.
        mean_diff: The estimate of candidate - incumbent (negative:
            better): the mean difference (t-test) or the Hodges-Lehmann
            estimate (signed-rank test).
        ci: Its 95% interval, unadjusted ((nan, nan) when untestable;
            (-inf, inf) where the exact test cannot bound one).
        p: Two-sided p of the test (NaN when untestable).
        p_adjusted: Holm-adjusted over the round (NaN when untestable).
        test: "paired t", "exact signed-rank" or "untestable".
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


def _candidate_diffs(candidate, incumbent):
    """(candidate - incumbent per seed both ran, whether a run failed).

    A failed run's figure is +inf; seeds where both failed compare
    nothing and are left out.
    """
    seeds = sorted(set(candidate) & set(incumbent))
    ours = np.array([candidate[s] for s in seeds], dtype=float)
    theirs = np.array([incumbent[s] for s in seeds], dtype=float)
    ours[~np.isfinite(ours)] = np.inf
    theirs[~np.isfinite(theirs)] = np.inf
    compared = ~(np.isinf(ours) & np.isinf(theirs))
    with np.errstate(invalid="ignore"):
        diffs = ours[compared] - theirs[compared]
    return diffs, bool(np.isinf(ours).any() or np.isinf(theirs).any())


def _one_candidate(candidate, incumbent):
    """(n, estimate, ci, p, test, candidate failed) for one candidate: the
    test `compare` uses for a contrast (comparison.contrast_tests: the
    paired t-test where no run failed, else the exact signed-rank test
    with its Hodges-Lehmann estimate)."""
    diffs, any_failed = _candidate_diffs(candidate, incumbent)
    failed = bool(any(not math.isfinite(candidate[s]) for s in candidate))
    n = len(diffs)
    if n < MIN_SEEDS:
        with np.errstate(invalid="ignore"):
            mean = float(diffs.mean()) if n else math.nan
        return n, mean, (math.nan, math.nan), math.nan, UNTESTABLE, failed
    tests = paired_contrast_tests(diffs[None], np.array([any_failed]))
    return (
        n,
        float(tests.estimate[0]),
        (float(tests.low[0]), float(tests.high[0])),
        float(tests.p[0]),
        str(tests.test[0]),
        failed,
    )


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
