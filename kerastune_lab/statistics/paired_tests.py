"""Which differences between cells are real: the study's declared question
tested as one family, every other difference estimated.

The protocol (written into every report):
- One figure (`[analysis] figure`, final eval loss by default) is
  compared; the other figures of summary.csv are descriptive.
- Primary comparisons are the contrasts `[analysis] primary` declares
  ("axis: level vs baseline"), pooled over the `pool_over` axes or one per
  combination of the other axes; without a declaration every pair of
  levels of each axis, other axes fixed, is primary. Holm-Bonferroni over
  the primary comparisons keeps the family-wise error rate at `alpha`;
  beside each verdict stands its Bonferroni interval at 1 - alpha / m,
  which holds for all m at once with probability 1 - alpha
  (simultaneous).
- Every other pair of levels is exploratory: an estimate with an
  unadjusted 1 - alpha interval and no verdict.
- Each comparison is paired by seed (same initialisation, data order and
  masks in both cells): the per-seed differences are tested by the test
  they fit (contrast_tests.py: the paired t-test, or the exact
  signed-rank test where a run failed). A pooled difference is, per
  seed, the mean over the pooled levels where both cells exist, so the
  seed stays the unit of replication.
- A comparison needs at least `MIN_SEEDS` paired seeds: with 2 the t-test
  has one degree of freedom (critical t 12.7) and almost no power, so it
  is reported as "untestable", never as real.
- A primary comparison that is not real is "not_shown": these seeds did
  not show a difference, which is not the same as showing there is none.
  Beside it stands the difference the design detects with probability
  0.8 (paired t at Holm's first threshold alpha / m, from the SD of its
  own per-seed differences: an estimate from these runs).
- With `equivalence_margin`, a primary contrast whose baseline is a
  matched-rate control also gets a TOST; "equivalent" needs the TOST's
  Holm-adjusted p (over those contrasts) below alpha. A difference that
  is not real is never read as equivalence.
"""

import csv
import dataclasses
import itertools
import math

import numpy as np

from kerastune_lab.statistics.contrast_tests import (
    PAIRED_T,
    POWER,
    detectable_difference,
    paired_contrast_tests,
    tost,
)
from kerastune_lab.statistics.failures import run_failed, worst_value
from kerastune_lab.study.analysis_config import AnalysisConfig
from kerastune_lab.study.parse_contrast import parse_contrast
from kerastune_lab.study.study_levels import MODE_AXIS, matched_level

ALPHA = 0.05
MIN_SEEDS = 3
REAL, NOT_SHOWN, UNTESTABLE = "real", "not_shown", "untestable"
VERDICTS = (REAL, NOT_SHOWN, UNTESTABLE)
PRIMARY, EXPLORATORY = "primary", "exploratory"
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
    "role",
    "test",
    "estimate",
    "interval",
    "min_p",
    "failed_runs",
    "tost_p",
    "tost_p_adjusted",
    "equivalent",
    "detectable_diff",
)


@dataclasses.dataclass
class Comparison:
    """One difference: `level` minus `baseline` on `figure`, paired by seed.

    Attributes:
        role: PRIMARY (tested, Holm over the primary family) or
            EXPLORATORY (estimated, no verdict).
        fixed: ((key, value), ...) of the other axes held fixed.
        pooled: Axes the per-seed differences are averaged over.
        diffs: level - baseline, one per paired seed (a diverged run's
            figure counted as the worst value).
        failed_runs: Failed runs among the runs compared.
        test, estimate, ci, p, min_p: Of the test the outcomes fit
            (contrast_tests.paired_contrast_tests); ci at `confidence`.
        interval: What the interval is, e.g. "simultaneous 95%".
        p_adjusted: Holm-adjusted p (primary, testable).
        tost_p, tost_p_adjusted, equivalent: The equivalence test
            against +-margin, where one applies.
        detectable: The true difference the design detects with
            probability 0.8 (primary paired-t comparisons; NaN else),
            from the SD `detectable_from` names.
    """

    role: str
    axis: str
    level: object
    baseline: object
    fixed: tuple
    pooled: tuple
    figure: str
    diffs: list
    failed_runs: int
    alpha: float = ALPHA
    test: str = ""
    estimate: float = math.nan
    ci: tuple = (math.nan, math.nan)
    confidence: float = math.nan
    interval: str = ""
    p: float = math.nan
    min_p: float = math.nan
    p_adjusted: float = math.nan
    verdict: str = ""
    margin: float = 0.0
    tost_p: float = math.nan
    tost_p_adjusted: float = math.nan
    equivalent: bool | None = None
    detectable: float = math.nan
    detectable_from: str = ""

    @property
    def n(self):
        return len(self.diffs)

    @property
    def mean_diff(self):
        """Mean of the differences: +-inf with a diverged run, NaN where
        diverged runs fall on both sides."""
        with np.errstate(invalid="ignore"):
            return float(np.mean(self.diffs)) if self.diffs else math.nan

    @property
    def effect_size(self):
        """d_z = mean / sd of the differences (NaN unless all finite)."""
        diffs = np.asarray(self.diffs, dtype=float)
        if len(diffs) < 2 or not np.isfinite(diffs).all():
            return math.nan
        sd = diffs.std(ddof=1)
        return float(diffs.mean() / sd) if sd > 0 else math.nan

    @property
    def real(self):
        return self.verdict == REAL

    @property
    def testable(self):
        return self.n >= MIN_SEEDS

    def where(self):
        parts = [f"{k}={v}" for k, v in self.fixed]
        if self.pooled:
            parts.append(f"pooled over {', '.join(self.pooled)}")
        return ";".join(parts)

    def label(self):
        where = self.where().replace(";", ", ")
        return f"{self.axis}={self.level} vs {self.baseline}" + (
            f" ({where})" if where else ""
        )

    @property
    def excludes_zero(self):
        """The interval leaves 0 out: its test rejects 0 at the interval's
        own level (p <= 1 - confidence). An exact interval's end is a
        Walsh average, which can be 0 itself and still be rejected."""
        return self.p <= 1 - self.confidence

    def interval_text(self):
        """'[-0.1, +0.2]', '(+0, +inf)': an end is open where it is
        infinite, or 0 and rejected by the test."""
        low, high = self.ci
        open_zero = self.excludes_zero
        left = "(" if math.isinf(low) or (low == 0 and open_zero) else "["
        right = ")" if math.isinf(high) or (high == 0 and open_zero) else "]"
        return f"{left}{low:+.3g}, {high:+.3g}{right}"

    def _interval_words(self):
        low, high = self.ci
        if math.isinf(low) and math.isinf(high):
            return (
                f"{self.interval} interval unbounded ({self.n} seeds cannot "
                f"bound a {_percent(self.confidence)} interval without "
                "assuming a distribution; the per-seed differences ranged "
                f"from {min(self.diffs):+.3g} to {max(self.diffs):+.3g})"
            )
        text = f"{self.interval} interval {self.interval_text()}"
        if 0.0 in (low, high) and self.excludes_zero:
            text += ", 0 excluded (the test rejects it)"
        return text

    def _estimate_words(self):
        if self.test == PAIRED_T:
            return f"mean difference {self.estimate:+.3g}"
        runs = "run" if self.failed_runs == 1 else "runs"
        infinite = sum(math.isinf(d) for d in self.diffs)
        return (
            f"{self.failed_runs} failed {runs} among those compared, so "
            "the exact signed-rank test: Hodges-Lehmann estimate "
            f"{self.estimate:+.3g}"
        ) + (
            f" ({infinite} of the {self.n} per-seed differences infinite: "
            "a diverged run counts as the worst value)"
            if infinite
            else ""
        )

    def sentence(self):
        """The comparison in words; every number is one of the row's."""
        head = f"{self.label()}: {self.figure} over {self.n} paired seeds"
        if not self.testable:
            return (
                f"{head}, mean difference {self.mean_diff:+.3g} - "
                f"untestable: fewer than {MIN_SEEDS} seeds give a paired "
                "test almost no power."
            )
        text = f"{head}, {self._estimate_words()}, {self._interval_words()}"
        if self.role == EXPLORATORY:
            return f"{text} ({self.test}); exploratory, no verdict."
        text += f", {self.test} p {self.p:.2g} (Holm {self.p_adjusted:.2g})"
        if self.real:
            text += ": real"
            if not self.excludes_zero:
                text += (
                    " (Holm's step-down tests it at a looser threshold than "
                    "the alpha / m of this interval, which still reaches 0)"
                )
        else:
            text += f": not shown at these {self.n} seeds"
            if math.isfinite(self.detectable):
                text += (
                    f" (they detect a true difference of "
                    f"{self.detectable:.3g} with probability {POWER:g}, "
                    f"from {self.detectable_from}; a smaller one may be "
                    "there)"
                )
        return text + self.floor_words() + "." + self._equivalence_words()

    def floor_words(self):
        """Where the exact test's smallest p is above Holm's first
        threshold (alpha / m), what that means for the verdict."""
        threshold = 1 - self.confidence
        if self.min_p <= threshold:
            return ""
        text = f"; with {self.n} seeds this test cannot give p below "
        if self.min_p > self.alpha:
            return text + (
                f"{self.min_p:.3g}, above alpha {self.alpha:g}: it could "
                "not have called any difference real"
            )
        return text + (
            f"{self.min_p:.3g}, above the family's first Holm threshold "
            f"{threshold:.3g}: it can be real only after Holm has "
            "rejected other comparisons"
        )

    def _equivalence_words(self):
        if self.equivalent is None:
            return ""
        numbers = f"TOST p {self.tost_p:.2g}, Holm {self.tost_p_adjusted:.2g}"
        if self.equivalent:
            return f" Equivalent within +-{self.margin:g}: shown ({numbers})."
        return (
            f" Equivalent within +-{self.margin:g}: not shown ({numbers}); "
            "these seeds do not show the difference to be that small."
        )

    def row(self):
        def number(value, applies=True):
            return value if applies and not _isnan(value) else ""

        primary = self.role == PRIMARY
        return {
            "axis": self.axis,
            "level": self.level,
            "baseline": self.baseline,
            "fixed": self.where(),
            "figure": self.figure,
            "n": self.n,
            "mean_diff": number(self.mean_diff),
            "ci_low": number(self.ci[0]),
            "ci_high": number(self.ci[1]),
            "effect_size": number(self.effect_size),
            "p": number(self.p),
            "p_adjusted": number(self.p_adjusted, primary),
            "verdict": self.verdict,
            "role": self.role,
            "test": self.test,
            "estimate": number(self.estimate),
            "interval": self.interval,
            "min_p": number(self.min_p),
            "failed_runs": self.failed_runs,
            "tost_p": number(self.tost_p),
            "tost_p_adjusted": number(self.tost_p_adjusted),
            "equivalent": (
                "" if self.equivalent is None else str(self.equivalent).lower()
            ),
            "detectable_diff": number(self.detectable),
        }


def _isnan(value):
    return isinstance(value, float) and math.isnan(value)


def holm(p_values, axis=-1):
    """Holm-Bonferroni adjusted p-values along `axis`, in input order."""
    p_values = np.moveaxis(np.asarray(p_values, dtype=float), axis, -1)
    m = p_values.shape[-1]
    order = np.argsort(p_values, axis=-1, kind="stable")
    ranked = np.take_along_axis(p_values, order, axis=-1)
    scaled = np.minimum(1.0, (m - np.arange(m)) * ranked)
    adjusted = np.empty_like(p_values)
    np.put_along_axis(
        adjusted, order, np.maximum.accumulate(scaled, axis=-1), axis=-1
    )
    return np.moveaxis(adjusted, -1, axis)


class _Outcomes:
    """Each cell's per-seed figure (worst value where a run diverged) and
    failure flags, looked up by the cell's values."""

    def __init__(self, runs, figure, higher_is_better=False):
        self.values = {}
        self.failed = {}
        for cell, seeds in runs.items():
            self.values[cell.values] = {
                s: worst_value(run, figure, higher_is_better)
                for s, run in seeds.items()
            }
            self.failed[cell.values] = {
                s: run_failed(run) for s, run in seeds.items()
            }

    def differences(self, pairs):
        """(per-seed mean difference over `pairs` of (level, baseline)
        cell values where both exist, failed runs among them). Seeds
        missing from any included cell are left out, so every seed's
        difference averages the same pairs. A pair where both arms
        diverged is a tie (0)."""
        pairs = [
            (a, b) for a, b in pairs if a in self.values and b in self.values
        ]
        if not pairs:
            return [], 0
        seeds = sorted(
            set.intersection(
                *(set(self.values[c]) for pair in pairs for c in pair)
            )
        )
        with np.errstate(invalid="ignore"):
            per_pair = np.array(
                [
                    [self.values[a][s] - self.values[b][s] for s in seeds]
                    for a, b in pairs
                ]
            ).reshape(len(pairs), len(seeds))
        per_pair = np.where(np.isnan(per_pair), 0.0, per_pair)
        with np.errstate(invalid="ignore"):
            diffs = per_pair.mean(axis=0)
        diffs = np.where(np.isnan(diffs), 0.0, diffs)  # +inf and -inf
        failed = sum(
            self.failed[c][s] for pair in pairs for c in pair for s in seeds
        )
        return [float(d) for d in diffs], int(failed)


def _level(axes, axis, text):
    """The level of `axis` whose text is `text` (levels may be numbers)."""
    return next(v for v in axes[axis] if str(v) == text)


def _specs(axes, analysis):
    """(role, axis, level, baseline, pooled) of every comparison asked for:
    the declared primary contrasts, then every pair of levels of each
    axis (primary when nothing is declared, else exploratory)."""
    declared = [parse_contrast(text) for text in analysis.primary]
    pooled = tuple(analysis.pool_over)
    specs = [
        (
            PRIMARY,
            axis,
            _level(axes, axis, level),
            _level(axes, axis, baseline),
            pooled,
        )
        for axis, level, baseline in declared
    ]
    pair_role = EXPLORATORY if declared else PRIMARY
    for axis, levels in axes.items():
        for baseline, level in itertools.combinations(levels, 2):
            specs.append((pair_role, axis, level, baseline, ()))
    return specs


def _build(outcomes, axes, spec, figure):
    """The comparisons of one spec, one per combination of the axes that
    are neither compared nor pooled (those without data left out)."""
    role, axis, level, baseline, pooled = spec
    keys = list(axes)
    held = [k for k in keys if k != axis and k not in pooled]
    results = []
    for combo in itertools.product(*(axes[k] for k in held)):
        fixed = dict(zip(held, combo))
        pairs = []
        for pool in itertools.product(*(axes[k] for k in pooled)):
            values = {**fixed, **dict(zip(pooled, pool))}
            pairs.append(
                tuple(
                    tuple((k, v if k == axis else values[k]) for k in keys)
                    for v in (level, baseline)
                )
            )
        diffs, failed = outcomes.differences(pairs)
        if diffs:
            results.append(
                Comparison(
                    role,
                    axis,
                    level,
                    baseline,
                    tuple(fixed.items()),
                    pooled,
                    figure,
                    diffs,
                    failed,
                )
            )
    return results


def _same(a, b):
    """Whether exploratory `a` repeats primary `b` (either direction)."""
    return (
        not b.pooled
        and a.axis == b.axis
        and {a.level, a.baseline} == {b.level, b.baseline}
        and a.fixed == b.fixed
    )


def paired_comparisons(runs, axes, analysis=None):
    """The study's comparisons: primary ones tested, the rest estimated.

    Args:
        runs: {cell: {seed: run}} where `cell.values` is ((axis, level),
            ...), `run["figures"][figure]` the number to compare and
            run["no_skill_eval_loss"], run["verdict"] decide a failure.
        axes: {axis: [levels in order]}: in an undeclared pair the earlier
            level is the baseline (the difference is later - earlier).
        analysis: `AnalysisConfig` (figure, alpha, primary contrasts,
            pooling, equivalence margin); default: every pair primary.

    Returns:
        A list of `Comparison`: primary ones first, with verdicts.
    """
    analysis = analysis or AnalysisConfig()
    outcomes = _Outcomes(runs, analysis.figure, analysis.higher_is_better)
    comparisons = []
    for spec in _specs(axes, analysis):
        for comparison in _build(outcomes, axes, spec, analysis.figure):
            comparison.alpha = analysis.alpha
            comparisons.append(comparison)
    primary = [c for c in comparisons if c.role == PRIMARY]
    comparisons = primary + [
        c
        for c in comparisons
        if c.role == EXPLORATORY and not any(_same(c, b) for b in primary)
    ]
    _test_primary(primary, analysis)
    _estimate_exploratory(
        [c for c in comparisons if c.role == EXPLORATORY], analysis.alpha
    )
    _test_equivalence(primary, axes, analysis)
    return comparisons


def _run_tests(comparisons, confidence):
    for c in comparisons:
        tests = paired_contrast_tests(
            np.asarray([c.diffs]), np.asarray([c.failed_runs > 0]), confidence
        )
        c.test = str(tests.test[0])
        c.estimate = float(tests.estimate[0])
        c.ci = (float(tests.low[0]), float(tests.high[0]))
        c.p = float(tests.p[0])
        c.min_p = float(tests.min_p[0])
        c.confidence = confidence


def _percent(value):
    return f"{100 * value:.4g}%"


def _test_primary(primary, analysis):
    """Holm over the testable primary comparisons; Bonferroni intervals
    at 1 - alpha / m beside the verdicts (simultaneous 1 - alpha)."""
    alpha = analysis.alpha
    testable = [c for c in primary if c.testable]
    for c in primary:
        c.verdict = UNTESTABLE
    if not testable:
        return
    m = len(testable)
    _run_tests(testable, 1 - alpha / m)
    for c, adjusted in zip(testable, holm([c.p for c in testable])):
        c.p_adjusted = float(adjusted)
        c.verdict = REAL if adjusted < alpha else NOT_SHOWN
        if c.test == PAIRED_T:
            sd = analysis.pilot_sd or float(np.std(c.diffs, ddof=1))
            c.detectable = detectable_difference(sd, c.n, alpha / m)
            c.detectable_from = (
                "the declared pilot SD"
                if analysis.pilot_sd
                else "the SD of these differences, estimated from these runs"
            )
        c.interval = (
            f"simultaneous {_percent(1 - alpha)} (Bonferroni, each "
            f"{_percent(1 - alpha / m)})"
            if m > 1
            else _percent(1 - alpha)
        )


def _estimate_exploratory(exploratory, alpha):
    testable = [c for c in exploratory if c.testable]
    _run_tests(testable, 1 - alpha)
    for c in testable:
        c.interval = f"unadjusted {_percent(1 - alpha)}"


def _test_equivalence(primary, axes, analysis):
    """TOST of the primary contrasts against a matched-rate control, Holm
    over them."""
    margin = analysis.equivalence_margin
    controls = {matched_level(mode) for mode in axes.get(MODE_AXIS, [])}
    tested = [
        c
        for c in primary
        if margin > 0
        and c.testable
        and c.axis == MODE_AXIS
        and c.baseline in controls
    ]
    for c in tested:
        c.margin = margin
        c.tost_p = tost(c.diffs, margin, exact=c.test != PAIRED_T)
    if not tested:
        return
    for c, adjusted in zip(tested, holm([c.tost_p for c in tested])):
        c.tost_p_adjusted = float(adjusted)
        c.equivalent = bool(adjusted < analysis.alpha)


def closing_line(comparisons):
    """The one line `compare` ends on, from the primary verdicts."""
    primary = [c for c in comparisons if c.role == PRIMARY]
    if not primary:
        return "No primary comparison had paired runs; see report.md"
    figure, alpha = primary[0].figure, primary[0].alpha
    counts = {v: sum(c.verdict == v for c in primary) for v in VERDICTS}
    tested = counts[REAL] + counts[NOT_SHOWN]
    line = (
        f"{counts[REAL]} of {tested} primary comparisons of {figure} "
        f"real (paired by seed, Holm over the {tested}, family-wise alpha "
        f"{alpha:g}); {counts[NOT_SHOWN]} not shown (not shown is not "
        "absent)"
    )
    if counts[UNTESTABLE]:
        line += (
            f"; {counts[UNTESTABLE]} untestable (fewer than {MIN_SEEDS} seeds)"
        )
    equivalence = [c for c in primary if c.equivalent is not None]
    if equivalence:
        line += (
            f"; {sum(c.equivalent for c in equivalence)} of "
            f"{len(equivalence)} shown equivalent within "
            f"+-{equivalence[0].margin:g} (TOST)"
        )
    exploratory = len(comparisons) - len(primary)
    if exploratory:
        line += f"; {exploratory} exploratory estimates (no verdict)"
    return line + "; see report.md"


def write_comparisons(comparisons, path):
    """comparisons.csv: one row per comparison, primary first."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(c.row() for c in comparisons)
