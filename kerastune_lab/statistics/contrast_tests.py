"""The tests of one paired contrast: per-seed differences level - baseline.

Which test (`paired_contrast_tests`), and why:
- The paired t-test on the per-seed differences where it fits: no run of
  either arm failed (final eval loss not below the no-skill loss, or
  diverged) and every difference is finite. Learned runs differ by
  small, roughly symmetric amounts; the t-test is the most powerful test
  for them and its interval is on the mean difference.
- Otherwise the exact Wilcoxon signed-rank test. A failed run sits on a
  plateau far from the learned ones, so the differences are a mix of
  small values and a few large ones; a t-test on such a mix measures the
  mix (its SD is inflated by the failures, its mean by where they fell).
  The signed-rank test only uses the ranks of |difference|: a diverged
  run's figure counts as the worst value (+inf for a loss), which ranks
  last and needs no number. Its p comes from all 2^n sign patterns
  (ties as midranks, zero differences ranked and left out: Pratt), so it
  is exact for any distribution that is symmetric under the null, which
  paired seeds give: swapping the two arms of a seed flips the sign of its
  difference. Its estimate is the Hodges-Lehmann estimate (median of
  the Walsh averages); its interval inverts the same test, each shift
  tested with its own null distribution (ties and zeros included), so
  the interval excludes 0 exactly where p is below the level. With n
  non-zero differences it cannot give a two-sided p below 2 / 2^n
  (`min_exact_p`): 0.0625 at 5 seeds; one-sided 1 / 2^n.
- Two-sided by default (a study's contrasts have no side declared in
  advance); `alternative="less"` or `"greater"` tests one side, with
  the one-sided interval that matches it (`improve` asks whether a
  change improves its objective: that side only).
- The choice depends on which runs failed, which swapping the arms of a
  seed leaves unchanged, so the exact test stays exact given the choice;
  the null simulations of tests/test_paired_statistics.py check the
  family-wise error of the combination.
- No normality pre-test (e.g. Shapiro-Wilk): at 3 to 10 seeds it detects
  almost no departure from normality, and choosing a test by a
  pre-test of the same data changes the error rate of the test chosen.
  The departure these studies do produce (failed runs among learned
  ones) is recognised from the runs themselves.
"""

import functools
import math
import typing

import numpy as np
from scipy import optimize, stats

PAIRED_T = "paired t"
SIGNED_RANK = "exact signed-rank"
POWER = 0.8
TWO_SIDED = "two-sided"
# "less": the differences lie below 0 (level - baseline of a figure where
# lower is better); "greater": above.
ALTERNATIVES = (TWO_SIDED, "less", "greater")


class ContrastTests(typing.NamedTuple):
    """Tests of contrasts; every field has the contrasts' shape.

    Attributes:
        test: PAIRED_T or SIGNED_RANK, the test that gave `p`.
        estimate: The mean difference (t) or the Hodges-Lehmann estimate
            (signed-rank).
        low, high: The interval at the requested confidence; -inf / inf
            where the exact test cannot bound one at that confidence, and
            on the open side of a one-sided interval.
        p: The p of the test (two-sided unless asked otherwise).
        min_p: The smallest p the test could give at this n (0 for t).
    """

    test: np.ndarray
    estimate: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p: np.ndarray
    min_p: np.ndarray


def t_fits(diffs, failed):
    """Where the paired t-test is used: no failed run, finite differences.

    Args:
        diffs: (..., n) per-seed differences.
        failed: (...) True where a run of either arm failed.
    """
    return ~np.asarray(failed, dtype=bool) & np.isfinite(diffs).all(axis=-1)


def _check_alternative(alternative):
    if alternative not in ALTERNATIVES:
        raise ValueError(
            f"`alternative` must be one of {ALTERNATIVES}. Received: "
            f"alternative={alternative!r}"
        )


def paired_t(diffs, confidence=0.95, alternative=TWO_SIDED):
    """(mean, low, high, p) of the one-sample t-test of each row of
    `diffs` (..., n) against 0, with the interval that matches it: a
    one-sided test ("less": the differences are below 0) has a one-sided
    interval (-inf, high]. Identical differences have no noise to test
    against: 0 is no difference (p 1), anything else is exact (p 0 where
    it lies on the alternative's side). The same numbers as scipy's
    `ttest_1samp` and its `confidence_interval` (tested), computed here
    from the t distribution directly: simulations call it by the
    thousand."""
    _check_alternative(alternative)
    diffs = np.asarray(diffs, dtype=float)
    n = diffs.shape[-1]
    mean = diffs.mean(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = diffs.std(axis=-1, ddof=1) / math.sqrt(n)
        t = mean / se
    degenerate = np.ptp(diffs, axis=-1) == 0
    side = {TWO_SIDED: mean != 0, "less": mean < 0, "greater": mean > 0}
    exact = np.where(side[alternative], 0.0, 1.0)
    df = n - 1
    if alternative == TWO_SIDED:
        p = 2 * stats.t.sf(np.abs(t), df)
        reach = stats.t.ppf(0.5 + confidence / 2, df) * se
    else:
        p = stats.t.cdf(t, df) if alternative == "less" else stats.t.sf(t, df)
        reach = stats.t.ppf(confidence, df) * se
    reach = np.where(degenerate, 0.0, reach)
    low = (
        -np.inf * np.ones_like(mean) if alternative == "less" else mean - reach
    )
    high = (
        np.inf * np.ones_like(mean)
        if alternative == "greater"
        else (mean + reach)
    )
    p = np.where(degenerate, exact, p)
    return mean, low, high, p


def _rank_weights(diffs):
    """(doubled midranks of |d| as integers, signs) of the non-zero
    differences; zeros take part in the ranking (Pratt)."""
    ranks = stats.rankdata(np.abs(diffs))
    doubled = np.rint(2 * ranks).astype(int)
    nonzero = diffs != 0
    return doubled[nonzero], diffs[nonzero] > 0


def _null_distribution(weights):
    """P(T = t), t = 0 .. sum(weights), for T the sum of the weights that
    get a + sign when every sign is a fair coin (all 2^n patterns)."""
    probs = np.zeros(int(np.sum(weights)) + 1)
    probs[0] = 1.0
    for w in weights:
        shifted = np.zeros_like(probs)
        shifted[w:] = probs[:-w]
        probs = 0.5 * (probs + shifted)
    return probs


def signed_rank_p(diffs, alternative=TWO_SIDED):
    """Exact p of the Wilcoxon signed-rank test of one row of differences.

    Args:
        diffs: 1-D per-seed differences; +-inf allowed (ranked last).
        alternative: "two-sided", "greater" (differences above 0) or
            "less".
    """
    _check_alternative(alternative)
    weights, positive = _rank_weights(np.asarray(diffs, dtype=float))
    if len(weights) == 0:
        return 1.0
    probs = _null_distribution(weights)
    observed = int(weights[positive].sum())
    values = np.arange(len(probs))
    if alternative == "greater":
        return float(probs[values >= observed].sum())
    if alternative == "less":
        return float(probs[values <= observed].sum())
    total = int(weights.sum())
    extreme = np.abs(2 * values - total) >= abs(2 * observed - total)
    return float(min(1.0, probs[extreme].sum()))


@functools.lru_cache(maxsize=4096)
def _null_cdf(weights):
    """P(T <= t) under the null of the (sorted) doubled-rank `weights`;
    a weight of 0 is a zero difference, left out (Pratt)."""
    return np.cumsum(_null_distribution([w for w in weights if w]))


def _walsh(diffs):
    """(n, n) Walsh averages (d_i + d_j) / 2; +inf plus -inf (one arm
    diverged on one seed, the other on another) is NaN."""
    with np.errstate(invalid="ignore"):
        return (diffs[:, None] + diffs[None, :]) / 2


def _shift_grid(walsh):
    """(shifts, breaks): the distinct finite Walsh averages (`breaks`) and
    the shifts at which to test `diffs - shift`: each break and one shift
    inside each gap between them and beyond both ends. The signed-rank
    statistic and its null (ties, zeros) change only at the breaks."""
    breaks = np.unique(walsh[np.isfinite(walsh)])
    if not len(breaks):
        return np.zeros(1), breaks
    gaps = np.concatenate(
        [[breaks[0] - 1], (breaks[:-1] + breaks[1:]) / 2, [breaks[-1] + 1]]
    )
    shifts = np.empty(2 * len(breaks) + 1)
    shifts[0::2], shifts[1::2] = gaps, breaks
    return shifts, breaks


def _shifted_p(diffs, walsh, shifts):
    """(p "less", p "greater") of the exact signed-rank test of `diffs -
    shift` at each shift, as `signed_rank_p` computes them (ties as
    midranks, zeros ranked and left out: Pratt), each from its own null.
    Ties are found exactly: |d_i - s| = |d_j - s| where d_i = d_j, where
    s is their Walsh average, or where both are infinite."""
    size = np.abs(diffs[None, :] - shifts[:, None])
    tied = (
        (diffs[:, None] == diffs[None, :])[None]
        | (walsh[None] == shifts[:, None, None])
        | (np.isinf(size)[:, :, None] & np.isinf(size)[:, None, :])
    )
    below = (size[:, None, :] < size[:, :, None]) & ~tied
    weights = 2 * below.sum(axis=2) + tied.sum(axis=2) + 1
    weights[diffs[None, :] == shifts[:, None]] = 0
    observed = np.where(diffs[None, :] > shifts[:, None], weights, 0)
    observed = observed.sum(axis=1)
    less, greater = np.empty(len(shifts)), np.empty(len(shifts))
    ordered = np.sort(weights, axis=1)
    for row in range(len(shifts)):
        cdf = _null_cdf(tuple(ordered[row].tolist()))
        t = observed[row]
        less[row] = cdf[t]
        greater[row] = 1.0 - cdf[t - 1] if t > 0 else 1.0
    return np.minimum(less, 1.0), np.minimum(greater, 1.0)


def _inverted(diffs, level_low, level_high):
    """(low, high, p "less" at 0, p "greater" at 0): the exact signed-rank
    confidence bounds that invert the test of `diffs - shift`. `high`:
    the shifts the "less" test rejects at `level_high` are those at or
    above it; `low`: the "greater" test rejects those at or below it (a
    level of 0 leaves that side open). Where ties make a test's p fall
    back at a farther shift, the larger p counts (its running maximum
    towards the rejected side), so p at 0 <= level exactly where the
    bound is on 0's far side (0 itself rejected where the bound is 0
    and p <= level)."""
    walsh = _walsh(diffs)
    shifts, breaks = _shift_grid(walsh)
    less, greater = _shifted_p(diffs, walsh, shifts)
    less = np.maximum.accumulate(less[::-1])[::-1]
    greater = np.maximum.accumulate(greater)
    zero = 2 * int(np.searchsorted(breaks, 0.0)) + int(0.0 in breaks)
    if not len(breaks):
        zero = 0
    rejected = np.nonzero(less <= level_high)[0]
    high = math.inf
    if len(rejected):
        first = int(rejected[0])
        high = float(breaks[(first - 1) // 2]) if first else -math.inf
    rejected = np.nonzero(greater <= level_low)[0]
    low = -math.inf
    if len(rejected):
        last = int(rejected[-1])
        low = float(breaks[last // 2]) if last < len(shifts) - 1 else math.inf
    return low, high, float(less[zero]), float(greater[zero])


def hodges_lehmann(diffs, confidence=0.95, alternative=TWO_SIDED):
    """(estimate, low, high, p): the median of the Walsh averages, the
    exact signed-rank interval and the p of the same test.

    The interval is the set of shifts the test of `diffs - shift` does
    not reject (`_inverted`: each shift's own null distribution, ties as
    midranks, zeros ranked and left out), so it excludes 0 exactly where
    p <= 1 - confidence, with tied and zero differences too. Its ends
    are Walsh averages; an end that no shift reaches at this n (2^-n
    above the level) is -inf or inf, as is the open side of a one-sided
    interval. Two-sided: each end at (1 - confidence) / 2, p twice the
    smaller one-sided p (the null is symmetric).

    Example:

    >>> [round(v, 4) for v in hodges_lehmann([0.3, 0.1, 0.5, 0.2, 0.4],
    ...                                      0.9)]
    [0.3, 0.1, 0.5, 0.0625]
    """
    _check_alternative(alternative)
    diffs = np.asarray(diffs, dtype=float)
    walsh = np.sort(_walsh(diffs)[np.triu_indices(len(diffs))])
    walsh = np.where(np.isnan(walsh), 0.0, walsh)
    middle = len(walsh) // 2
    estimate = (
        walsh[middle]
        if len(walsh) % 2
        else _midpoint(walsh[middle - 1], walsh[middle])
    )
    level = 1 - confidence
    sides = {
        TWO_SIDED: (level / 2, level / 2),
        "less": (0.0, level),
        "greater": (level, 0.0),
    }[alternative]
    low, high, less, greater = _inverted(diffs, *sides)
    p = {
        TWO_SIDED: min(1.0, 2 * min(less, greater)),
        "less": less,
        "greater": greater,
    }[alternative]
    return float(estimate), low, high, p


def _midpoint(a, b):
    if a == b:
        return a
    middle = (a + b) / 2
    return 0.0 if math.isnan(middle) else middle  # -inf and +inf


def min_exact_p(n, alternative=TWO_SIDED):
    """The smallest p an exact sign-flip or signed-rank test can give
    with `n` non-zero paired differences: 2 / 2^n two-sided, 1 / 2^n
    one-sided."""
    sides = 2.0 if alternative == TWO_SIDED else 1.0
    return min(1.0, sides / 2.0**n)


def signed_rank(diffs, confidence=0.95, alternative=TWO_SIDED):
    """(estimate, low, high, p, min p) of the exact signed-rank test of
    each row of `diffs` (..., n)."""
    diffs = np.asarray(diffs, dtype=float)
    shape = diffs.shape[:-1]
    out = np.empty((5, *shape))
    for index in np.ndindex(shape):
        row = diffs[index]
        out[(slice(None), *index)] = (
            *hodges_lehmann(row, confidence, alternative),
            min_exact_p(int(np.count_nonzero(row)), alternative),
        )
    return tuple(out)


def paired_contrast_tests(
    diffs, failed, confidence=0.95, alternative=TWO_SIDED
):
    """The test each contrast's outcomes fit (see the module docstring).

    Args:
        diffs: (..., n) per-seed differences level - baseline, a diverged
            run's figure counted as the worst value.
        failed: (...) True where a run of either arm failed.
        confidence: Of the intervals (e.g. 1 - alpha / m for simultaneous
            Bonferroni intervals over m contrasts).
        alternative: "two-sided", or the side the differences are tested
            for: "less" (below 0) or "greater"; a one-sided test has a
            one-sided interval.

    Returns:
        `ContrastTests`.

    Example:

    >>> import numpy as np
    >>> tests = paired_contrast_tests(
    ...     np.array([[0.1, 0.2, 0.3], [0.1, 0.2, np.inf]]),
    ...     np.array([False, True]),
    ... )
    >>> [str(t) for t in tests.test]
    ['paired t', 'exact signed-rank']
    >>> float(tests.min_p[1])
    0.25
    """
    diffs = np.asarray(diffs, dtype=float)
    use_t = t_fits(diffs, failed)
    shape = diffs.shape[:-1]
    fields = {
        name: np.full(shape, np.nan)
        for name in ("estimate", "low", "high", "p")
    }
    fields["min_p"] = np.zeros(shape)
    if use_t.any():
        for name, value in zip(
            ("estimate", "low", "high", "p"),
            paired_t(diffs[use_t], confidence, alternative),
        ):
            fields[name][use_t] = value
    if (~use_t).any():
        for name, value in zip(
            ("estimate", "low", "high", "p", "min_p"),
            signed_rank(diffs[~use_t], confidence, alternative),
        ):
            fields[name][~use_t] = value
    return ContrastTests(np.where(use_t, PAIRED_T, SIGNED_RANK), **fields)


def tost(diffs, margin, exact):
    """p of the two one-sided tests (TOST) that the true difference lies
    within (-margin, margin): the larger of the two one-sided p-values, by
    the t-test or (exact) the signed-rank test. Small p: equivalent."""
    diffs = np.asarray(diffs, dtype=float)
    if exact:
        return max(
            signed_rank_p(diffs + margin, "greater"),
            signed_rank_p(diffs - margin, "less"),
        )
    if np.std(diffs) == 0:
        return 0.0 if abs(diffs[0]) < margin else 1.0
    return float(
        max(
            stats.ttest_1samp(diffs, -margin, alternative="greater").pvalue,
            stats.ttest_1samp(diffs, margin, alternative="less").pvalue,
        )
    )


def detectable_difference(sd, n, alpha, power=POWER, sides=2):
    """Smallest true mean difference that a paired t-test at `alpha`
    (two-sided, or one-sided with `sides=1`) finds with probability
    `power`, for per-seed differences of standard deviation `sd` over `n`
    seeds (noncentral t, solved exactly)."""
    if n < 2 or not math.isfinite(sd) or sd == 0:
        return math.nan
    return float(_noncentrality(n, alpha, power, sides) * sd / math.sqrt(n))


@functools.lru_cache(maxsize=1024)
def _noncentrality(n, alpha, power, sides):
    """The noncentrality at which the test finds a difference with
    probability `power` (it depends on the design only: cached)."""
    df = n - 1
    critical = stats.t.ppf(1 - alpha / sides, df)

    def shortfall(ncp):
        # The test's other tail adds nothing measurable at ncp > 0.
        return stats.nct.sf(critical, df, ncp) - power

    high = critical + 1.0
    while shortfall(high) < 0:  # power at the critical value is ~0.5
        high *= 1.5
    return optimize.brentq(shortfall, 0.0, high)


def seeds_to_detect(effect, sd, alpha, power=POWER, limit=100_000, sides=2):
    """The fewest seeds whose paired t-test at `alpha` finds a true
    difference `effect` with probability `power` (None above `limit`).
    The detectable difference falls as n grows: bisection."""

    def enough(n):
        return detectable_difference(sd, n, alpha, power, sides) <= effect

    low, high = 1, 2
    while not enough(high):
        if high >= limit:
            return None
        low, high = high, min(2 * high, limit)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high
