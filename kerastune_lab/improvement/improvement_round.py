"""A round of `improve`: the incumbent it starts from, its candidates,
their tests and the adopted change."""

import dataclasses
import math

import numpy as np

from kerastune_lab.analysis.diagnosis import (
    STILL_IMPROVING,
    majority_verdict,
)
from kerastune_lab.improvement.objective import Objective
from kerastune_lab.improvement.round_decision import (
    STOPPED,
    UNTESTABLE,
    CandidateTest,
    adopted_candidate,
    exact_test_seeds,
    paired_round_test,
)
from kerastune_lab.improvement.round_run import VAL_LOSS
from kerastune_lab.reports.improvement_report import (
    SELECTS_EPOCH,
    round_interval,
)
from kerastune_lab.statistics.contrast_tests import SIGNED_RANK


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
        objective: The `Objective` the tests are on.
        stopped: Labels of the candidates stopped early.
        margin: The margin they were worse by on every first seed.
    """

    number: int
    incumbent: Incumbent
    changes: dict
    runs: dict
    tests: dict
    adopted: str | None
    objective: Objective = VAL_LOSS
    stopped: tuple = ()
    margin: float = math.nan

    @classmethod
    def decide(
        cls, number, incumbent, changes, runs, objective=VAL_LOSS, **early
    ):
        """Tests the candidates (`changes`, with their runs by seed, in
        the same order) against the incumbent and picks the adopted one.
        `early`: `stopped` (labels) and `margin` of `hopeless_candidates`.
        """
        changes = {change.label: change for change in changes}
        runs = dict(zip(changes, runs))
        tests = paired_round_test(
            incumbent.figures(),
            {
                label: {seed: run.figure for seed, run in by_seed.items()}
                for label, by_seed in runs.items()
            },
            higher_is_better=objective.higher_is_better,
            stopped=early.get("stopped", ()),
        )
        return cls(
            number,
            incumbent,
            changes,
            runs,
            tests,
            adopted_candidate(tests),
            objective,
            tuple(early.get("stopped", ())),
            early.get("margin", math.nan),
        )

    def selects_epoch(self, label) -> bool:
        """Whether candidate `label` keeps its best validation epoch while
        the incumbent keeps its last: the round's alpha does not cover
        it (round_decision's protocol)."""
        return any(
            run.selects_epoch for run in self.runs[label].values()
        ) and not any(
            run.selects_epoch for run in self.incumbent.runs.values()
        )

    def seconds_saved(self):
        """Training time the early stops saved: each stopped candidate's
        untrained seeds at its own trained runs' mean time."""
        seeds = len(self.incumbent.runs)
        saved = 0.0
        for label in self.stopped:
            runs = self.runs[label].values()
            times = [
                r.wall_seconds for r in runs if math.isfinite(r.wall_seconds)
            ]
            if times:
                saved += (seeds - len(runs)) * float(np.mean(times))
        return saved

    def line(self):
        """The round's outcome in one line."""
        line = f"round {self.number}: " + (
            f"adopted {self.adopted}: "
            f"{effect_text(self.tests[self.adopted], self.objective)}"
            if self.adopted
            else self._none_shown()
        )
        if self.adopted and self.selects_epoch(self.adopted):
            line += f" ({SELECTS_EPOCH})"
        if self.stopped:
            skipped = len(self.incumbent.runs) - len(
                self.runs[self.stopped[0]]
            )
            line += (
                f"; stopped early: {', '.join(self.stopped)} (worse than "
                "the incumbent on each of its first seeds by more than "
                f"{self.margin:.3g}, the improvement the round can detect; "
                f"{skipped} seed(s) each not trained)"
            )
        return line

    def _none_shown(self):
        tested = [
            label for label in self.tests if label not in self.stopped
        ] or list(self.tests)
        best = min(
            tested, key=lambda label: _nan_last(self.tests[label].cost_diff)
        )
        test = self.tests[best]
        line = (
            "no improvement shown; closest: "
            f"{best}: {effect_text(test, self.objective)}"
        )
        if math.isfinite(test.detectable):
            line += (
                f"; these {len(self.incumbent.runs)} seeds detect an "
                f"improvement of {test.detectable:.3g} with probability 0.8 "
                "(SD from these runs"
                + (
                    "; optimistic here: the incumbent's runs won the round "
                    "before on these seeds"
                    if self.number > 1
                    else ""
                )
                + "): a smaller one may be there"
            )
        needed = exact_test_seeds(len(self.tests))
        if test.test == SIGNED_RANK and test.n < needed:
            line += (
                f"; runs failed, and an exact test over {test.n} seeds "
                f"cannot find {len(self.tests)} candidate(s) real: use "
                f"--seeds {needed} or more"
            )
        return line

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
                "objective": self.objective.name,
                "verdict": test.verdict,
                "test": test.test,
                "detectable_diff": test.detectable,
                "interval": round_interval(self.number),
                "selects_epoch": str(self.selects_epoch(label)).lower(),
            }
            for label, test in self.tests.items()
        ]


def _nan_last(value):
    return (math.isnan(value), value)


def effect_text(test: CandidateTest, objective: Objective = VAL_LOSS) -> str:
    """'validation loss -0.123 (one-sided 95% bound -0.05) over 5 seeds,
    p 0.004, Holm 0.012 (paired t)'."""
    text = f"{objective.words} {test.mean_diff:+.4g}"
    bound = test.ci[1] if not objective.higher_is_better else test.ci[0]
    if math.isfinite(bound):
        text += f" (one-sided 95% bound {bound:+.3g})"
    text += f" over {test.n} seeds"
    if test.test == UNTESTABLE:
        return text + " (untestable: too few seeds)"
    if test.test == STOPPED:
        return text + " (stopped early: no p)"
    text += f", p {test.p:.2g}, Holm {test.p_adjusted:.2g} ({test.test})"
    if test.failed:
        text += ", a run of it failed"
    return text
