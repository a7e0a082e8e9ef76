"""A round of `improve`: the incumbent it starts from, its candidates,
their tests and the adopted change."""

import dataclasses
import math

from kerastune_lab.analysis.diagnosis import (
    STILL_IMPROVING,
    majority_verdict,
)
from kerastune_lab.comparison.contrast_tests import SIGNED_RANK
from kerastune_lab.improvement.round_decision import (
    CandidateTest,
    adopted_candidate,
    exact_test_seeds,
    paired_round_test,
)


@dataclasses.dataclass
class Incumbent:
    """The configuration a round starts from, and its runs.

    Its verdict is the one most seeds share (ties: the worse verdict), and
    a flag counts where at least half the seeds raise it.

    Attributes:
        settings: {"section.key": value} adopted so far.
        runs: {seed: `RoundRun`}.

    Example:

    >>> import pathlib
    >>> from kerastune_lab.improvement.round_run import RoundRun
    >>> def run(verdict, flags=()):
    ...     return RoundRun(pathlib.Path("r"), 0.5, 0, verdict, flags, (),
    ...                     (0.4,), (0.5,))
    >>> incumbent = Incumbent({}, {1: run("good_fit"),
    ...                            2: run("overfitting", ("still improving",)),
    ...                            3: run("good_fit", ("still improving",))})
    >>> incumbent.headline, incumbent.settled
    ('good_fit, still improving', False)
    """

    settings: dict
    runs: dict  # {seed: RoundRun}

    @property
    def verdict(self):
        return majority_verdict(run.verdict for run in self.runs.values())

    @property
    def flags(self):
        """Flags at least half the seeds share (ties count: a flag names
        something still to do)."""
        runs = list(self.runs.values())
        shared = {flag for run in runs for flag in run.flags}
        return tuple(
            sorted(
                flag
                for flag in shared
                if 2 * sum(flag in run.flags for run in runs) >= len(runs)
            )
        )

    @property
    def headline(self):
        return ", ".join([self.verdict, *self.flags])

    @property
    def settled(self):
        """A good fit that is not still improving: nothing to fix."""
        return self.verdict == "good_fit" and STILL_IMPROVING not in self.flags

    def figures(self):
        return {seed: run.figure for seed, run in self.runs.items()}

    def summary(self):
        """'overfitting (seeds 42: overfitting, 43: good_fit, ...)'."""
        each = ", ".join(
            f"{seed}: {', '.join([run.verdict, *run.flags])}"
            for seed, run in self.runs.items()
        )
        return f"{self.headline} (seeds {each})"


@dataclasses.dataclass
class Round:
    """One round of candidates.

    Attributes:
        number: 1, 2, ...
        incumbent: The `Incumbent` it started from.
        changes: {label: `CandidateChange`}.
        runs: {label: {seed: RoundRun}} of the candidates.
        tests: {label: `CandidateTest`}.
        adopted: The label of the adopted change, or None.
    """

    number: int
    incumbent: Incumbent
    changes: dict
    runs: dict
    tests: dict
    adopted: str | None

    @classmethod
    def decide(cls, number, incumbent, changes, runs):
        """Tests the candidates (`changes`, with their runs by seed, in
        the same order) against the incumbent and picks the adopted
        one."""
        changes = {change.label: change for change in changes}
        runs = dict(zip(changes, runs))
        tests = paired_round_test(
            incumbent.figures(),
            {
                label: {seed: run.figure for seed, run in by_seed.items()}
                for label, by_seed in runs.items()
            },
        )
        return cls(
            number, incumbent, changes, runs, tests, adopted_candidate(tests)
        )

    def line(self):
        """The round's outcome in one line."""
        if self.adopted is None:
            best = min(
                self.tests,
                key=lambda label: _nan_last(self.tests[label].mean_diff),
            )
            line = (
                f"round {self.number}: no real improvement; closest: "
                f"{best}: {effect_text(self.tests[best])}"
            )
            test = self.tests[best]
            needed = exact_test_seeds(len(self.tests))
            if test.test == SIGNED_RANK and test.n < needed:
                line += (
                    f"; runs failed, and an exact test over {test.n} seeds "
                    f"cannot find {len(self.tests)} candidate(s) real: use "
                    f"--seeds {needed} or more"
                )
            return line
        return (
            f"round {self.number}: adopted {self.adopted}: "
            f"{effect_text(self.tests[self.adopted])}"
        )

    def rows(self):
        """rounds.csv rows: one per candidate."""
        return [
            {
                "round": self.number,
                "change": label,
                "verdict_before": self.incumbent.headline,
                "n": test.n,
                "mean_diff": test.mean_diff,
                "ci_low": test.ci[0],
                "ci_high": test.ci[1],
                "p": test.p,
                "p_adjusted": test.p_adjusted,
                "adopted": "true" if label == self.adopted else "false",
            }
            for label, test in self.tests.items()
        ]


def _nan_last(value):
    return (math.isnan(value), value)


def effect_text(test: CandidateTest) -> str:
    """'validation loss -0.123 [95% CI -0.2, -0.05] over 3 seeds, p
    0.004, Holm 0.012 (paired t)'."""
    text = f"validation loss {test.mean_diff:+.4g}"
    if test.ci[0] == test.ci[0]:
        text += f" [95% CI {test.ci[0]:+.3g}, {test.ci[1]:+.3g}]"
    text += f" over {test.n} seeds"
    if test.test == "untestable":
        return text + " (untestable: too few seeds)"
    text += f", p {test.p:.2g}, Holm {test.p_adjusted:.2g} ({test.test})"
    if test.failed:
        text += ", a run of it failed"
    return text
