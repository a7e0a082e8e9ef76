"""The confirmation of an improve run: the original and the final
configuration trained on fresh seeds, tested once on the test split.

The rounds chose the final configuration on their own seeds, so their
differences flatter it (the winner of several candidates on the seeds that
picked it). The confirmation asks the question once more where nothing
was chosen: seeds no round used, the test split no decision read. It is
one test, one-sided ("the final configuration is better"), paired by
seed, by the round's own test (`paired_round_test` with one candidate:
the paired t-test, or the exact signed-rank test where a run failed),
at alpha, or at alpha / k where the same improve directory was re-run
with other `--confirm-seeds` counts and k looks were made
(`ConfirmationLooks`).

No decision read a test-split figure. Where the split follows the seed,
a fresh seed's test examples are not new to the procedure: some were
validation examples of the rounds' seeds. Each fresh seed draws its own
split, so those examples' own effects vary from seed to seed like any
other source of seed-to-seed variation and stay inside the test's
variance.
"""

import csv
import dataclasses
import math

import numpy as np

from kerastune_lab.analysis.diagnosis import DIVERGED
from kerastune_lab.improvement.confirmation_looks import ConfirmationLooks
from kerastune_lab.improvement.objective import Objective
from kerastune_lab.improvement.round_decision import (
    ONE_SIDED,
    CandidateTest,
    exact_test_seeds,
    paired_round_test,
)
from kerastune_lab.run_directory import RunDirectory
from kerastune_lab.statistics.contrast_tests import SIGNED_RANK, min_exact_p

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
        looks: The `ConfirmationLooks` of the improve directory, this
            one included (default: this one only); the test is at their
            `level`, alpha / looks.

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
    >>> confirmation.look, confirmation.alpha
    (1, 0.05)
    """

    objective: Objective
    original: dict
    final: dict
    looks: ConfirmationLooks = ConfirmationLooks()

    def __post_init__(self):
        if not self.looks.counts:
            self.looks = self.looks.with_look(len(self.seeds))

    @property
    def seeds(self):
        return sorted(set(self.original) & set(self.final))

    @property
    def alpha(self) -> float:
        """The level of this look's test: alpha / the looks made."""
        return self.looks.level

    @property
    def look(self) -> int:
        """This look's number (1, 2, ...)."""
        return self.looks.number(len(self.seeds))

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

    def failed_seeds(self, which):
        """The seeds where "original" or "final" failed: diverged, or no
        finite test figure."""
        figures = self.figures(which)
        return [s for s in self.seeds if figures[s] == self.objective.worst]

    @property
    def test(self) -> CandidateTest:
        """final against original, one-sided, on the test split, at
        `alpha` with its one-sided 1 - alpha bound."""
        return paired_round_test(
            self.figures("original"),
            {"final": self.figures("final")},
            self.alpha,
            self.objective.higher_is_better,
            confidence=1 - self.alpha,
        )["final"]

    @property
    def confirmed(self) -> bool:
        """The final configuration is shown better on the fresh seeds
        (and none of its runs failed)."""
        return self.test.improves

    @property
    def exact_floor(self) -> float:
        """The smallest p the test could give: 1 / 2^n for the exact
        signed-rank test over n non-zero differences (seeds where both
        failed compare nothing), 0 for the t-test."""
        if self.test.test != SIGNED_RANK:
            return 0.0
        diffs = np.array([r["difference"] for r in self.rows()])
        compared = diffs[~np.isnan(diffs)]
        return min_exact_p(int(np.count_nonzero(compared)), ONE_SIDED)

    @property
    def could_confirm(self) -> bool:
        """Whether the test could reach its alpha at all."""
        return self.exact_floor < self.alpha

    def seeds_for_next_look(self) -> int:
        """Fresh seeds with which an exact test could confirm at the next
        look's level (where runs fail again, more)."""
        return max(
            exact_test_seeds(1, self.looks.next_level), len(self.seeds) + 1
        )

    def earlier_looks(self):
        """[(fresh seeds, one-sided p)] of the looks before this one whose
        seeds are among this look's (the first ones)."""
        return [
            (count, self._first(count).test.p)
            for count in self.looks.counts[: self.look - 1]
            if count < len(self.seeds)
        ]

    def _first(self, count):
        seeds = self.seeds[:count]
        return Confirmation(
            self.objective,
            {s: self.original[s] for s in seeds},
            {s: self.final[s] for s in seeds},
            self.looks,
        )

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
