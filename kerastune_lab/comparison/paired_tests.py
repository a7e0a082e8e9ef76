"""Which differences between cells are real: paired by seed."""

import dataclasses
import math

import numpy as np
from scipy import stats

ALPHA = 0.05


@dataclasses.dataclass
class Comparison:
    axis: str
    level: object
    baseline: object
    fixed: tuple  # ((key, value), ...) of the other axes
    figure: str
    diffs: list  # level - baseline, one per shared seed
    mean_diff: float
    ci: tuple
    p_value: float

    @property
    def real(self):
        return not math.isnan(self.p_value) and self.p_value < ALPHA

    def sentence(self):
        where = ", ".join(f"{k}={v}" for k, v in self.fixed)
        where = f" ({where})" if where else ""
        n = len(self.diffs)
        change = "lower" if self.mean_diff < 0 else "higher"
        text = (f"{self.axis}={self.level} vs {self.baseline}{where}: "
                f"{self.figure} {abs(self.mean_diff):.4g} {change} on average"
                f" over {n} seed{'s' if n != 1 else ''}")
        if math.isnan(self.p_value):
            return text + " - not testable (needs at least 2 seeds)."
        verdict = "statistically real" if self.real else \
            "not distinguishable from seed noise"
        return (f"{text}, 95% CI [{self.ci[0]:.4g}, {self.ci[1]:.4g}], "
                f"paired t-test p = {self.p_value:.3g}: {verdict}.")


def paired_comparisons(runs, grid, figures=("final_eval_loss",
                                            "final_train_loss")):
    """Each level of each grid axis against the axis's first level, with
    the other axes held fixed, on the seeds both cells share."""
    by_values = {cell.values: seeds for cell, seeds in runs.items()}
    results = []
    for axis, levels in grid.items():
        baseline = levels[0]
        for values, seeds in by_values.items():
            current = dict(values)
            if current[axis] == baseline:
                continue
            base_values = tuple((k, baseline if k == axis else v)
                                for k, v in values)
            base_seeds = by_values.get(base_values)
            if not base_seeds:
                continue
            shared = sorted(set(seeds) & set(base_seeds))
            fixed = tuple((k, v) for k, v in values if k != axis)
            for figure in figures:
                diffs = [seeds[s]["figures"][figure]
                         - base_seeds[s]["figures"][figure] for s in shared]
                if not diffs:
                    continue
                mean = float(np.mean(diffs))
                if len(diffs) >= 2 and np.std(diffs) > 0:
                    p = float(stats.ttest_1samp(diffs, 0.0).pvalue)
                    half = float(stats.sem(diffs) * stats.t.ppf(
                        0.975, len(diffs) - 1))
                    ci = (mean - half, mean + half)
                else:
                    p, ci = math.nan, (math.nan, math.nan)
                results.append(Comparison(axis, current[axis], baseline,
                                          fixed, figure, diffs, mean, ci, p))
    return results
