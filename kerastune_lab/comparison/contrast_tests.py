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
  the Walsh averages) with the exact interval of the same test. With n
  non-zero differences it cannot give a two-sided p below 2 / 2^n
  (`min_exact_p`): 0.0625 at 5 seeds.
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


class ContrastTests(typing.NamedTuple):
    """Tests of contrasts; every field has the contrasts' shape.

    Attributes:
        test: PAIRED_T or SIGNED_RANK, the test that gave `p`.
        estimate: The mean difference (t) or the Hodges-Lehmann estimate
            (signed-rank).
        low, high: The interval at the requested confidence; -inf / inf
            where the exact test cannot bound one at that confidence.
        p: Two-sided p.
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


def paired_t(diffs, confidence=0.95):
    """(mean, low, high, p) of the one-sample t-test of each row of
    `diffs` (..., n) against 0. Identical differences have no noise to
    test against: 0 is no difference (p 1), anything else is exact
    (p 0)."""
    diffs = np.asarray(diffs, dtype=float)
    shape = diffs.shape[:-1]
    rows = diffs.reshape(-1, diffs.shape[-1])
    mean = rows.mean(axis=-1)
    degenerate = np.ptp(rows, axis=-1) == 0
    low, high = mean.copy(), mean.copy()
    p = np.where(mean == 0, 1.0, 0.0)
    if (~degenerate).any():
        result = stats.ttest_1samp(rows[~degenerate], 0.0, axis=-1)
        interval = result.confidence_interval(confidence)
        low[~degenerate] = interval.low
        high[~degenerate] = interval.high
        p[~degenerate] = result.pvalue
    return tuple(v.reshape(shape) for v in (mean, low, high, p))


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


def signed_rank_p(diffs, alternative="two-sided"):
    """Exact p of the Wilcoxon signed-rank test of one row of differences.

    Args:
        diffs: 1-D per-seed differences; +-inf allowed (ranked last).
        alternative: "two-sided", "greater" (differences above 0) or
            "less".
    """
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


@functools.lru_cache(maxsize=64)
def _untied_cdf(n):
    return np.cumsum(_null_distribution(np.arange(1, n + 1)))


def hodges_lehmann(diffs, confidence=0.95):
    """(estimate, low, high): the median of the Walsh averages and the
    exact interval of the signed-rank test, [W_(k+1), W_(N-k)] with k the
    largest count with P(T <= k) <= (1 - confidence) / 2. Where no k
    exists (2^-n above that), no bounded interval has the confidence:
    (-inf, inf). A Walsh average of +inf and -inf (one arm diverged on
    one seed, the other on another) counts as 0."""
    diffs = np.asarray(diffs, dtype=float)
    i, j = np.triu_indices(len(diffs))
    with np.errstate(invalid="ignore"):
        walsh = (diffs[i] + diffs[j]) / 2
    walsh = np.sort(np.where(np.isnan(walsh), 0.0, walsh))
    middle = len(walsh) // 2
    estimate = (
        walsh[middle]
        if len(walsh) % 2
        else _midpoint(walsh[middle - 1], walsh[middle])
    )
    below = np.nonzero(_untied_cdf(len(diffs)) <= (1 - confidence) / 2)[0]
    if len(below) == 0:
        return float(estimate), -math.inf, math.inf
    k = int(below[-1])
    return float(estimate), float(walsh[k]), float(walsh[len(walsh) - 1 - k])


def _midpoint(a, b):
    if a == b:
        return a
    middle = (a + b) / 2
    return 0.0 if math.isnan(middle) else middle  # -inf and +inf


def min_exact_p(n):
    """The smallest two-sided p an exact sign-flip or signed-rank test
    can give with `n` non-zero paired differences: 2 / 2^n."""
    return min(1.0, 2.0 / 2.0**n)


def signed_rank(diffs, confidence=0.95):
    """(estimate, low, high, p, min p) of the exact signed-rank test of
    each row of `diffs` (..., n)."""
    diffs = np.asarray(diffs, dtype=float)
    shape = diffs.shape[:-1]
    out = np.empty((5, *shape))
    for index in np.ndindex(shape):
        row = diffs[index]
        out[(slice(None), *index)] = (
            *hodges_lehmann(row, confidence),
            signed_rank_p(row),
            min_exact_p(int(np.count_nonzero(row))),
        )
    return tuple(out)


def paired_contrast_tests(diffs, failed, confidence=0.95):
    """The test each contrast's outcomes fit (see the module docstring).

    Args:
        diffs: (..., n) per-seed differences level - baseline, a diverged
            run's figure counted as the worst value.
        failed: (...) True where a run of either arm failed.
        confidence: Of the intervals (e.g. 1 - alpha / m for simultaneous
            Bonferroni intervals over m contrasts).

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
            paired_t(diffs[use_t], confidence),
        ):
            fields[name][use_t] = value
    if (~use_t).any():
        for name, value in zip(
            ("estimate", "low", "high", "p", "min_p"),
            signed_rank(diffs[~use_t], confidence),
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


def detectable_difference(sd, n, alpha, power=POWER):
    """Smallest true mean difference that a two-sided paired t-test at
    `alpha` finds with probability `power`, for per-seed differences of
    standard deviation `sd` over `n` seeds (noncentral t, solved exactly)."""
    if n < 2 or not math.isfinite(sd) or sd == 0:
        return math.nan
    df = n - 1
    critical = stats.t.ppf(1 - alpha / 2, df)

    def shortfall(ncp):
        # The test's other tail adds nothing measurable at ncp > 0.
        return stats.nct.sf(critical, df, ncp) - power

    high = critical + 1.0
    while shortfall(high) < 0:  # power at the critical value is ~0.5
        high *= 1.5
    ncp = optimize.brentq(shortfall, 0.0, high)
    return float(ncp * sd / math.sqrt(n))


def seeds_to_detect(effect, sd, alpha, power=POWER, limit=100_000):
    """The fewest seeds whose paired t-test at `alpha` finds a true
    difference `effect` with probability `power` (None above `limit`).
    The detectable difference falls as n grows: bisection."""

    def enough(n):
        return detectable_difference(sd, n, alpha, power) <= effect

    low, high = 1, 2
    while not enough(high):
        if high >= limit:
            return None
        low, high = high, min(2 * high, limit)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high
