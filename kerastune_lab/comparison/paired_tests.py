"""Which differences between cells are real: paired by seed, corrected for
the number of comparisons.

The protocol (written into every report):
- One primary figure (final eval loss by default) is tested; the other
  figures of summary.csv are descriptive.
- Every pair of levels of each axis is compared with the other axes held
  fixed, on the seeds both cells ran (paired: same initialisation, data
  order and masks), by a two-sided one-sample t-test on the per-seed
  differences.
- Holm-Bonferroni over every tested comparison of the report keeps the
  family-wise error rate at `alpha`.
- A comparison needs at least `MIN_SEEDS` paired seeds: with 2 the t-test
  has one degree of freedom (critical t 12.7) and almost no power, so it
  is reported as "untestable", never as real.
"""

import csv
import dataclasses
import itertools
import math

import numpy as np
from scipy import optimize, stats

ALPHA = 0.05
POWER = 0.8
MIN_SEEDS = 3
PRIMARY_FIGURE = "final_eval_loss"
VERDICTS = ("real", "not_real", "untestable")
CSV_COLUMNS = (
    "axis",
    "level",
    "baseline",
    "fixed",
    "figure",
    "n",
    "mean_diff",
    "ci_low",
    "ci_high",
    "effect_size",
    "p",
    "p_adjusted",
    "verdict",
    "detectable_diff",
)


@dataclasses.dataclass
class Comparison:
    """One tested difference: `level` minus `baseline` on `figure`.

    Attributes:
        fixed: ((key, value), ...) of the other axes.
        diffs: level - baseline, one per paired seed.
        effect_size: d_z = mean(diffs) / sd(diffs).
        p, p_adjusted: Raw and Holm-adjusted two-sided p (NaN when
            untestable).
        detectable_diff: The smallest |difference| these seeds detect with
            power 0.8 at the family's first Holm threshold (alpha / m),
            given the observed sd of the differences.
    """

    axis: str
    level: object
    baseline: object
    fixed: tuple
    figure: str
    diffs: list
    mean_diff: float
    ci: tuple
    effect_size: float
    p: float
    p_adjusted: float = math.nan
    detectable_diff: float = math.nan
    verdict: str = "untestable"

    @property
    def n(self):
        return len(self.diffs)

    @property
    def real(self):
        return self.verdict == "real"

    def where(self):
        return ";".join(f"{k}={v}" for k, v in self.fixed)

    def sentence(self):
        where = ", ".join(f"{k}={v}" for k, v in self.fixed)
        where = f" ({where})" if where else ""
        change = "lower" if self.mean_diff < 0 else "higher"
        text = (
            f"{self.axis}={self.level} vs {self.baseline}{where}: "
            f"{self.figure} {abs(self.mean_diff):.4g} {change} on "
            f"average over {self.n} paired seed"
            f"{'s' if self.n != 1 else ''}"
        )
        if self.verdict == "untestable":
            return (
                text + f" - untestable: fewer than {MIN_SEEDS} seeds "
                "give a paired test almost no power."
            )
        text += (
            f", 95% CI [{self.ci[0]:.3g}, {self.ci[1]:.3g}], "
            f"d_z {self.effect_size:.2g}, p {self.p:.2g} (Holm "
            f"{self.p_adjusted:.2g})"
        )
        if self.real:
            return text + ": real."
        return (
            text + ": not distinguishable from seed noise (these seeds "
            f"detect about {self.detectable_diff:.3g} or more)."
        )

    def row(self):
        return {
            "axis": self.axis,
            "level": self.level,
            "baseline": self.baseline,
            "fixed": self.where(),
            "figure": self.figure,
            "n": self.n,
            "mean_diff": self.mean_diff,
            "ci_low": self.ci[0],
            "ci_high": self.ci[1],
            "effect_size": self.effect_size,
            "p": self.p,
            "p_adjusted": self.p_adjusted,
            "verdict": self.verdict,
            "detectable_diff": self.detectable_diff,
        }


def holm(p_values):
    """Holm-Bonferroni adjusted p-values, in the input order."""
    p_values = np.asarray(p_values, dtype=float)
    m = len(p_values)
    order = np.argsort(p_values, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p_values[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def _paired_test(diffs):
    """(mean, (ci_low, ci_high), d_z, p) of per-seed differences."""
    diffs = np.asarray(diffs, dtype=float)
    mean = float(diffs.mean())
    n = len(diffs)
    if n < 2:
        return mean, (math.nan, math.nan), math.nan, math.nan
    sd = float(diffs.std(ddof=1))
    if sd == 0.0:
        # Identical differences: no noise to test against. Zero is no
        # difference at all; anything else is exact and consistent.
        return mean, (mean, mean), math.nan, 1.0 if mean == 0 else 0.0
    result = stats.ttest_1samp(diffs, 0.0)
    ci = result.confidence_interval(0.95)
    return (
        mean,
        (float(ci.low), float(ci.high)),
        mean / sd,
        float(result.pvalue),
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


def paired_comparisons(runs, axes, figure=PRIMARY_FIGURE, alpha=ALPHA):
    """Every pair of levels of each axis, other axes fixed, paired by seed.

    Args:
        runs: {cell: {seed: run}} where `cell.values` is ((axis, level),
            ...) and `run["figures"][figure]` the number to compare.
        axes: {axis: [levels in order]}: the earlier level of each pair is
            the baseline (the difference is later - earlier).
        figure: The figure tested.
        alpha: Family-wise error rate over all comparisons returned.

    Returns:
        A list of `Comparison`, with Holm-adjusted p-values and verdicts.
    """
    by_values = {cell.values: seeds for cell, seeds in runs.items()}
    results = []
    for axis, levels in axes.items():
        for baseline, level in itertools.combinations(levels, 2):
            for values, seeds in by_values.items():
                if dict(values).get(axis) != level:
                    continue
                base_values = tuple(
                    (k, baseline if k == axis else v) for k, v in values
                )
                base_seeds = by_values.get(base_values)
                if not base_seeds:
                    continue
                shared = sorted(set(seeds) & set(base_seeds))
                diffs = [
                    seeds[s]["figures"][figure]
                    - base_seeds[s]["figures"][figure]
                    for s in shared
                ]
                if not diffs:
                    continue
                mean, ci, d_z, p = _paired_test(diffs)
                results.append(
                    Comparison(
                        axis,
                        level,
                        baseline,
                        tuple((k, v) for k, v in values if k != axis),
                        figure,
                        diffs,
                        mean,
                        ci,
                        d_z,
                        p,
                    )
                )
    _correct(results, alpha)
    return results


def _correct(results, alpha):
    testable = [c for c in results if c.n >= MIN_SEEDS and not math.isnan(c.p)]
    for comparison, adjusted in zip(testable, holm([c.p for c in testable])):
        comparison.p_adjusted = float(adjusted)
        comparison.verdict = "real" if adjusted < alpha else "not_real"
        sd = float(np.std(comparison.diffs, ddof=1))
        comparison.detectable_diff = detectable_difference(
            sd, comparison.n, alpha / len(testable)
        )


def closing_line(comparisons):
    """The one line `compare` ends on, from the comparisons' verdicts."""
    counts = {v: sum(c.verdict == v for c in comparisons) for v in VERDICTS}
    tested = counts["real"] + counts["not_real"]
    line = (
        f"{counts['real']} of {tested} tested comparisons of "
        f"{PRIMARY_FIGURE} are real (paired by seed, Holm-corrected, "
        f"family-wise alpha {ALPHA})"
    )
    if counts["untestable"]:
        line += (
            f"; {counts['untestable']} untestable (fewer than "
            f"{MIN_SEEDS} seeds)"
        )
    return line + "; see report.md"


def write_comparisons(comparisons, path):
    """comparisons.csv: one row per tested difference."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(c.row() for c in comparisons)
