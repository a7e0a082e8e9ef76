"""The confirmation of an improve run: the original and the final
configuration trained on fresh seeds, tested once on the test split.

The rounds chose the final configuration on their own seeds, so their
differences flatter it (the winner of several candidates on the seeds that
picked it). The confirmation asks the question once more where nothing
was chosen: seeds no round used, the test split no decision read. It is
one test, one-sided ("the final configuration is better"), paired by
seed, by the round's own test (`paired_round_test` with one candidate:
the paired t-test, or the exact signed-rank test where a run failed),
at alpha.
"""

import csv
import dataclasses
import math

from kerastune_lab.analysis.diagnosis import DIVERGED
from kerastune_lab.improvement.objective import Objective
from kerastune_lab.improvement.round_decision import (
    CandidateTest,
    paired_round_test,
)
from kerastune_lab.run_directory import RunDirectory
from kerastune_lab.statistics.paired_tests import ALPHA

COLUMNS = ("seed", "original", "final", "difference")


def read_test_split(run_dir):
    """A finished run's metrics.json, and whether it diverged."""
    run = RunDirectory(run_dir)
    return run.read_metrics(), run.read_diagnosis()["verdict"] == DIVERGED


@dataclasses.dataclass
class Confirmation:
    """The original and the final configuration on fresh seeds.

    Attributes:
        objective: The `Objective`; its test counterpart is compared.
        original, final: {seed: (metrics.json dict, diverged)}.
        alpha: The test's level.

    Example:

    >>> def runs(losses):
    ...     return {s: ({"test_loss": v}, False) for s, v in losses.items()}
    >>> confirmation = Confirmation(
    ...     Objective("val_loss", "min"),
    ...     runs({7: 1.7, 8: 1.8, 9: 1.9}),
    ...     runs({7: 1.45, 8: 1.6, 9: 1.68}),
    ... )
    >>> confirmation.confirmed, round(confirmation.test.mean_diff, 3)
    (True, -0.223)
    """

    objective: Objective
    original: dict
    final: dict
    alpha: float = ALPHA

    @property
    def seeds(self):
        return sorted(set(self.original) & set(self.final))

    def figures(self, which):
        """{seed: the objective's test figure} of "original" or "final";
        the worst value where the run diverged or it is not finite."""
        runs = getattr(self, which)
        figures = {}
        for seed in self.seeds:
            metrics, diverged = runs[seed]
            value = float(metrics.get(self.objective.test_name, math.nan))
            bad = diverged or not math.isfinite(value)
            figures[seed] = self.objective.worst if bad else value
        return figures

    @property
    def test(self) -> CandidateTest:
        """final against original, one-sided, on the test split."""
        return paired_round_test(
            self.figures("original"),
            {"final": self.figures("final")},
            self.alpha,
            self.objective.higher_is_better,
        )["final"]

    @property
    def confirmed(self) -> bool:
        """The final configuration is shown better on the fresh seeds
        (and none of its runs failed)."""
        return self.test.improves

    def rows(self):
        """confirmation.csv rows: seed, original, final, difference (final
        - original of the objective's test figure; a failed run's figure
        is the worst value, +-inf)."""
        original, final = self.figures("original"), self.figures("final")
        return [
            {
                "seed": seed,
                "original": original[seed],
                "final": final[seed],
                # inf - inf (both failed) is nan: nothing to compare.
                "difference": final[seed] - original[seed],
            }
            for seed in self.seeds
        ]

    def write_csv(self, path):
        with open(path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(self.rows())
