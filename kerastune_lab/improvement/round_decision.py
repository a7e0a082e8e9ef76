"""Which candidate of a round of `improve` is adopted: paired by seed,
one-sided, Holm-corrected over the round; hopeless candidates stop early.

The protocol:
- The figure is each run's objective at its kept epoch (`RoundRun`); a
  run that diverged, or has no finite figure, counts as the worst value:
  it is never better. Below, figures are turned so that lower is better
  (`Objective.cost`); reported differences are in the objective's own
  units (candidate - incumbent).
- A candidate is compared with the incumbent on the seeds both ran (same
  initialisation, data split and order). The question is one-sided: does
  the candidate improve the objective? Adoption needs an improvement, so
  a two-sided test would spend half of alpha on changes that make it
  worse. The test is the one `compare` uses for a contrast
  (`statistics.contrast_tests`), asked for that side: where every run of
  both is finite, the one-sided paired t-test with its one-sided 95%
  bound (not adjusted for the number of candidates); where a run failed,
  only signs and ranks mean anything: the exact Wilcoxon signed-rank test
  with the Hodges-Lehmann estimate and the bound that inverts the same
  test (seeds where both failed compare nothing and are left out). With
  n seeds it cannot reach p below 1 / 2^n.
- Fewer than `MIN_SEEDS` compared seeds: untestable, never real.
- Holm-Bonferroni over the round's candidates keeps the chance of
  adopting a change that does nothing at `alpha` or less per round, for
  candidates scored like the incumbent. Not for a candidate that keeps
  its best validation epoch (early stopping that restores the best
  weights) against an incumbent that keeps its last: its figure is a
  minimum over epochs of the very figure the test reads, so noise from
  epoch to epoch alone makes it look better (a null early-stopping
  candidate over a flat curve is adopted far more often than alpha;
  tests/test_improve.py simulates it). Such a candidate is flagged
  (`Round.selects_epoch`, rounds.csv `selects_epoch`); the confirmation
  on fresh seeds, which reads the test split at the kept epoch, is its
  test.
- A candidate whose first seeds are all worse than the incumbent by more
  than the difference the round can detect (`hopeless_candidates`) may
  stop there: its other seeds are not trained, and it stays in the Holm
  family with p = 1 ("stopped_early"). Holm never rejects more when a p
  grows, so on the same runs the rounds adopt a subset of what they
  would have adopted with every seed trained: stopping cannot add a
  false adoption (the null simulations of tests/test_improve.py check).
- The adopted candidate is the one with the lowest mean difference (in
  cost) among those whose improvement is real (adjusted p < alpha) and
  none of whose runs failed.

Across rounds: a round runs only after the one before adopted something,
so the rounds form a gatekeeping sequence. Where no change does anything,
only the first round can adopt: at most alpha per improve run. Where a
real change was adopted first, a later round's incumbent is the winner
of the round before on the same seeds, so its runs were selected for
being good: the per-round argument assumed unselected runs, so R x alpha
over R rounds is a bound supported by simulation (selection there made
later false adoptions rarer, not commoner), not a proof; and the power a
later round states (`detectable`) is optimistic, the incumbent's luck
counting against every candidate.

`paired_round_test` is the one place `improve` computes them.
"""

import dataclasses
import math
from collections.abc import Mapping

import numpy as np

from kerastune_lab.statistics.contrast_tests import (
    detectable_difference,
    min_exact_p,
    paired_contrast_tests,
)
from kerastune_lab.statistics.paired_tests import (
    ALPHA,
    MIN_SEEDS,
    NOT_SHOWN,
    REAL,
    UNTESTABLE,
    holm,
)
from kerastune_lab.statistics.power_plan import pooled_sd

STOPPED = "stopped_early"
ONE_SIDED = "less"  # in cost: the candidate's figure is better


@dataclasses.dataclass(frozen=True)
class CandidateTest:
    """A candidate against the incumbent over the seeds both ran.

    Attributes:
        n: Seeds compared.
        mean_diff: The estimate of candidate - incumbent in the objective's
            units: the mean difference (t-test) or the Hodges-Lehmann
            estimate (signed-rank test).
        ci: Its one-sided interval at `confidence`, unadjusted: (-inf,
            bound] where lower is better, [bound, inf) where higher is;
            (nan, nan) when untestable or stopped early.
        p: One-sided p of "the candidate is better" (NaN when untestable
            or stopped early).
        p_adjusted: Holm-adjusted over the round (NaN when untestable;
            1 when stopped early).
        test: "paired t", "exact signed-rank", "untestable" or
            "stopped_early".
        failed: A run of the candidate diverged or has no finite figure.
        real: The adjusted p is below alpha.
        higher_is_better: Of the objective.
        detectable: The improvement the round detects with probability
            0.8 at Holm's first threshold over these seeds (one-sided
            paired t; from the pooled SD of the round's differences, an
            estimate from these runs).
        confidence: Of `ci` (0.95 in a round).
    """

    n: int
    mean_diff: float
    ci: tuple
    p: float
    p_adjusted: float
    test: str
    failed: bool
    real: bool
    higher_is_better: bool = False
    detectable: float = math.nan
    confidence: float = 0.95

    @property
    def cost_diff(self) -> float:
        """The estimate turned so that negative is better."""
        return -self.mean_diff if self.higher_is_better else self.mean_diff

    @property
    def improves(self) -> bool:
        """A real improvement by a candidate none of whose runs failed."""
        return self.real and self.cost_diff < 0 and not self.failed

    @property
    def verdict(self) -> str:
        """'real' (shown to improve), 'not_shown', 'untestable' or
        'stopped_early'."""
        if self.test in (UNTESTABLE, STOPPED):
            return self.test
        return REAL if self.real else NOT_SHOWN


def _cost_diffs(candidate, incumbent, higher_is_better):
    """(candidate - incumbent in cost per seed both ran, whether a run of
    either failed). A failed run's cost is +inf; seeds where both failed
    compare nothing and are left out."""
    seeds = sorted(set(candidate) & set(incumbent))
    sign = -1.0 if higher_is_better else 1.0
    ours = sign * np.array([candidate[s] for s in seeds], dtype=float)
    theirs = sign * np.array([incumbent[s] for s in seeds], dtype=float)
    ours[~np.isfinite(ours)] = np.inf
    theirs[~np.isfinite(theirs)] = np.inf
    compared = ~(np.isinf(ours) & np.isinf(theirs))
    with np.errstate(invalid="ignore"):
        diffs = ours[compared] - theirs[compared]
    return diffs, bool(np.isinf(ours).any() or np.isinf(theirs).any())


def _one_candidate(candidate, incumbent, higher_is_better, confidence):
    """(n, cost estimate, cost bound, p, test, failed) for one candidate."""
    diffs, any_failed = _cost_diffs(candidate, incumbent, higher_is_better)
    failed = bool(any(not math.isfinite(candidate[s]) for s in candidate))
    n = len(diffs)
    if n < MIN_SEEDS:
        with np.errstate(invalid="ignore"):
            mean = float(diffs.mean()) if n else math.nan
        return n, mean, math.nan, math.nan, UNTESTABLE, failed
    tests = paired_contrast_tests(
        diffs[None], np.array([any_failed]), confidence, ONE_SIDED
    )
    return (
        n,
        float(tests.estimate[0]),
        float(tests.high[0]),
        float(tests.p[0]),
        str(tests.test[0]),
        failed,
    )


def round_detectable(diff_lists, seeds, candidates, alpha=ALPHA):
    """The improvement a round of `candidates` over `seeds` seeds detects
    with probability 0.8 (one-sided paired t at Holm's first threshold
    alpha / candidates), from the pooled SD of the round's finite per-seed
    differences (NaN where there are none)."""
    sd = pooled_sd([d for d in diff_lists if len(d)])
    return detectable_difference(sd, seeds, alpha / candidates, sides=1)


def paired_round_test(
    incumbent: Mapping[int, float],
    candidates: Mapping[str, Mapping[int, float]],
    alpha: float = ALPHA,
    higher_is_better: bool = False,
    stopped=(),
    confidence: float = 0.95,
) -> dict[str, CandidateTest]:
    """Tests every candidate of a round against the incumbent, paired by
    seed, one-sided, with Holm's correction over the round.

    Args:
        incumbent: {seed: figure} of the incumbent (inf or NaN: the run
            failed).
        candidates: {name: {seed: figure}} of the round's candidates.
        alpha: Family-wise error rate of the round.
        higher_is_better: Of the objective.
        stopped: Names of candidates stopped early: recorded with their
            seeds' estimate, no p, and p = 1 in Holm's family.
        confidence: Of the one-sided bounds (unadjusted).

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
        name: _one_candidate(figures, incumbent, higher_is_better, confidence)
        for name, figures in candidates.items()
    }
    p_values = {
        name: 1.0 if name in stopped else r[3]
        for name, r in raw.items()
        if name in stopped or not math.isnan(r[3])
    }
    adjusted = dict(zip(p_values, holm(list(p_values.values()))))
    detectable = _detectable(incumbent, candidates, alpha, higher_is_better)
    return {
        name: _candidate_test(
            raw[name],
            float(adjusted.get(name, math.nan)),
            name in stopped,
            alpha,
            (higher_is_better, detectable, confidence),
        )
        for name in raw
    }


def _detectable(incumbent, candidates, alpha, higher_is_better):
    """`round_detectable` of the candidates' finite per-seed differences
    over the most seeds a candidate has."""
    diffs = [
        _cost_diffs(figures, incumbent, higher_is_better)[0]
        for figures in candidates.values()
    ]
    return round_detectable(
        [d for d in diffs if np.isfinite(d).all()],
        max((len(f) for f in candidates.values()), default=0),
        max(len(candidates), 1),
        alpha,
    )


def _candidate_test(raw, p_adjusted, stopped, alpha, context):
    """The `CandidateTest` of one candidate's (n, cost estimate, cost
    bound, p, test, failed), in the objective's units; `context`:
    (higher is better, detectable, confidence)."""
    n, estimate, bound, p, test, failed = raw
    higher, detectable, confidence = context
    if stopped:
        test, p, bound = STOPPED, math.nan, math.nan
    sign = -1.0 if higher else 1.0
    ci = (-math.inf, bound) if sign > 0 else (-bound, math.inf)
    if math.isnan(bound):
        ci = (math.nan, math.nan)
    return CandidateTest(
        n,
        sign * estimate,
        ci,
        p,
        p_adjusted,
        test,
        failed,
        p_adjusted < alpha,
        higher,
        detectable,
        confidence,
    )


def hopeless_candidates(
    incumbent, first, seeds, alpha=ALPHA, higher_is_better=False
):
    """The candidates not worth their other seeds, and the margin.

    A candidate is hopeless when on every one of its first seeds (at
    least `MIN_SEEDS`) it is worse than the incumbent by more than the
    improvement the full round detects (`round_detectable`, from these
    first seeds' pooled SD). Such a candidate would need its other seeds
    to reverse a consistent loss larger than any effect the round can
    find.

    Args:
        incumbent: {seed: figure} of the incumbent.
        first: {name: {seed: figure}}: each candidate's first seeds.
        seeds: The seeds each candidate would have in full.
        alpha: The round's family-wise error rate.
        higher_is_better: Of the objective.

    Returns:
        (names, margin): the hopeless candidates in `first`'s order, and
        the margin in the objective's units (NaN: none stop).
    """
    diffs = {
        name: _cost_diffs(figures, incumbent, higher_is_better)[0]
        for name, figures in first.items()
    }
    margin = round_detectable(
        [d for d in diffs.values() if np.isfinite(d).all()],
        seeds,
        max(len(first), 1),
        alpha,
    )
    if not math.isfinite(margin):
        return [], math.nan
    names = [
        name
        for name, d in diffs.items()
        if len(d) >= MIN_SEEDS and bool(np.all(d > margin))
    ]
    return names, margin


def exact_test_seeds(candidates: int, alpha: float = ALPHA) -> int:
    """The fewest seeds with which the exact one-sided test can find a
    change real among `candidates` (its smallest p, 1 / 2^n, times Holm's
    first factor below alpha): a diverged incumbent needs them.

    Example:

    >>> exact_test_seeds(1), exact_test_seeds(3)
    (5, 6)
    """
    n = 1
    while min_exact_p(n, ONE_SIDED) * candidates >= alpha:
        n += 1
    return n


def adopted_candidate(tests: Mapping[str, CandidateTest]) -> str | None:
    """The candidate a round adopts: of those whose improvement is real,
    the best estimate (then the lowest adjusted p); None if no
    improvement is real.

    Example:

    >>> sure = CandidateTest(3, -0.2, (-math.inf, -0.1), 0.01, 0.02,
    ...                      "paired t", False, True)
    >>> adopted_candidate({"a": sure}), adopted_candidate({})
    ('a', None)
    """
    best = [name for name, test in tests.items() if test.improves]
    if not best:
        return None
    return min(
        best, key=lambda name: (tests[name].cost_diff, tests[name].p_adjusted)
    )
