"""`improve`: rounds of diagnose -> try the advised changes over seeds ->
adopt the best real one, resumably.

Round 0 trains the configuration over the seeds; its verdict is the one
most seeds share (ties: the worse one). Each round r >= 1 trains the first
K advised changes of the incumbent, each paired by seed with it, tests
them (`round_decision`) and adopts the best real improvement, whose runs
are the next round's incumbent (not trained again). It stops when the
verdict is a good fit (and not still improving), when no improvement is
real, when no advice is left, or after R rounds.

Every run lives at <improve dir>/rounds/<r>/<change>-seed<s>, named from
what it trains, so the same command run again finds its runs and trains
nothing twice: the decisions are recomputed from the runs' files.
"""

import dataclasses
import hashlib
import json
import pathlib
from collections.abc import Callable

from kerastune_lab.comparison.grid import Cell, seed_values
from kerastune_lab.comparison.planned_run import BUSY, FAILED, PlannedRun
from kerastune_lab.config import with_settings
from kerastune_lab.improvement.candidate_changes import (
    candidate_changes,
)
from kerastune_lab.improvement.improvement_round import Incumbent, Round
from kerastune_lab.improvement.round_run import RoundRun
from kerastune_lab.run_directory import write_json_atomic

BASE = "base"

# ImprovementResult.stop values.
NOTHING_TO_FIX = "nothing to fix"
GOOD_FIT = "good fit reached"
NONE_REAL = "no real improvement"
NO_ADVICE = "no advice left"
ROUNDS_DONE = "rounds done"
INCOMPLETE = "runs incomplete"


def improve_dir(runs_dir, config, seeds, rounds, candidates):
    """runs_dir/improve-<name>-<hash>: the same command maps to one
    folder."""
    identity = json.dumps(
        {
            "config": config.to_dict(),
            "seeds": seeds,
            "rounds": rounds,
            "candidates": candidates,
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return pathlib.Path(runs_dir) / f"improve-{config.name}-{digest}"


@dataclasses.dataclass
class Improvement:
    """An improve directory and what it is asked to do.

    Attributes:
        config: The experiment to improve (`ExperimentConfig`).
        seeds: The seeds every configuration is trained with.
        rounds: At most this many rounds of candidates.
        candidates: At most this many candidates per round.
        out: The improve directory.
        overrides: The `--set` overrides the config was loaded with (for
            the report; `config` holds them already).
    """

    config: object
    seeds: list
    rounds: int
    candidates: int
    out: pathlib.Path
    overrides: tuple = ()

    @classmethod
    def create(cls, config, seeds, rounds, candidates, runs_dir, overrides=()):
        """Makes (or reopens) the improve directory and writes
        improve.json.

        Args:
            config: The experiment's `ExperimentConfig`.
            seeds: Number of seeds (train.seed, +1, ...).
            rounds: Rounds of candidates (>= 1).
            candidates: Candidates per round (>= 1).
            runs_dir: Parent folder of improve directories.
            overrides: The `--set` overrides `config` was loaded with.
        """
        for name, value in (
            ("seeds", seeds),
            ("rounds", rounds),
            ("candidates", candidates),
        ):
            if not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"{name} must be an int >= 1. Received: {name}={value!r}"
                )
        out = improve_dir(runs_dir, config, seeds, rounds, candidates)
        (out / "rounds").mkdir(parents=True, exist_ok=True)
        (out / "logs").mkdir(exist_ok=True)
        improvement = cls(
            config,
            seed_values(config.train.seed, seeds),
            rounds,
            candidates,
            out,
            tuple(overrides),
        )
        write_json_atomic(
            out / "improve.json",
            {
                "config": config.to_dict(),
                "config_path": config.source or "",
                "overrides": list(overrides),
                "seeds": improvement.seeds,
                "rounds": rounds,
                "candidates": candidates,
            },
        )
        return improvement

    def plan(self, round_number, settings, change=None):
        """The runs of one configuration: `settings` adopted so far plus
        `change` (None: the configuration of round 0), one per seed."""
        slug = change.slug if change else BASE
        folder = self.out / "rounds" / str(round_number)
        folder.mkdir(parents=True, exist_ok=True)
        applied = dict(settings)
        cell = Cell(())
        if change:
            applied[change.key] = change.value
            cell = Cell(((change.key, change.value),))
        return [
            PlannedRun(
                cell=cell,
                seed=seed,
                run_dir=folder / f"{slug}-seed{seed}",
                config=with_settings(
                    self.config, {**applied, "train.seed": seed}
                ),
                log=self.out
                / "logs"
                / f"{round_number}-{slug}-seed{seed}.log",
                cache_dir=self.out / "cache",
            )
            for seed in self.seeds
        ]

    def final_config(self, settings):
        """The experiment with the adopted settings (study sections
        dropped), at the user's own seed."""
        return with_settings(self.config, settings)


@dataclasses.dataclass
class ImprovementResult:
    """What `run_improvement` did.

    Attributes:
        improvement: The `Improvement`.
        original: The `Incumbent` of round 0 (the configuration given).
        rounds: The `Round`s of candidates, in order.
        final: The last incumbent (the original where nothing was
            adopted).
        stop: Why it stopped: one of the module's stop values.
        failures: `RunOutcome`s of runs that did not finish.
        trained: Runs this call trained (not found complete).
    """

    improvement: Improvement
    original: Incumbent | None
    rounds: list
    final: Incumbent | None
    stop: str
    failures: list
    trained: int = 0

    @property
    def adopted(self):
        """[(round, `CandidateChange`, `CandidateTest`)] in order."""
        return [
            (r, r.changes[r.adopted], r.tests[r.adopted])
            for r in self.rounds
            if r.adopted
        ]

    def final_config(self):
        return self.improvement.final_config(
            self.final.settings if self.final else {}
        )


def stop_sentence(result: ImprovementResult) -> str:
    """Why the improvement stopped, in one sentence."""
    seeds = len(result.improvement.seeds)
    return {
        NOTHING_TO_FIX: "nothing to fix: most seeds fit well (good_fit) "
        "and the loss was no longer falling",
        GOOD_FIT: "the verdict became good_fit",
        NONE_REAL: "no candidate's improvement was real (paired over "
        f"{seeds} seeds, Holm-corrected)",
        NO_ADVICE: "the diagnosis advised no change that is not already set",
        ROUNDS_DONE: f"{result.improvement.rounds} round(s) done",
        INCOMPLETE: "some runs did not finish; re-run the same command to "
        "retry them",
    }[result.stop]


def run_improvement(
    improvement: Improvement,
    executor,
    progress: Callable | None = None,
    echo: Callable[[str], None] = print,
) -> ImprovementResult:
    """Runs the rounds of `improvement`.

    Args:
        improvement: An `Improvement`.
        executor: Anything with `run(planned_runs, on_outcome, stage)`
            returning `RunOutcome`s: `LocalPool` or `RayExecutor`.
        progress: `progress(total)` -> a callable receiving each
            `RunOutcome` of a round (e.g. a `StudyProgress`), with an
            optional `close()`; None: no progress lines.
        echo: Prints one line (the rounds' outcomes).

    Returns:
        An `ImprovementResult`.
    """
    result = ImprovementResult(improvement, None, [], None, "", [])
    train = _Trainer(executor, progress, result)
    echo(
        f"round 0: the configuration as given, {len(improvement.seeds)} seeds"
    )
    runs = train([improvement.plan(0, {})], "round-0")
    if result.failures:
        result.stop = INCOMPLETE
        return result
    incumbent = result.original = result.final = Incumbent({}, runs[0])
    echo(f"round 0: {incumbent.summary()}")
    for number in range(1, improvement.rounds + 2):
        if incumbent.settled:
            result.stop = NOTHING_TO_FIX if number == 1 else GOOD_FIT
            break
        if number > improvement.rounds:
            result.stop = ROUNDS_DONE
            break
        changes = candidate_changes(
            improvement.config,
            incumbent.settings,
            incumbent.verdict,
            incumbent.flags,
            improvement.candidates,
            echo,
        )
        if not changes:
            result.stop = NO_ADVICE
            break
        echo(
            f"round {number}: {len(changes)} candidate(s) against the "
            f"incumbent ({incumbent.headline}), "
            f"{len(improvement.seeds)} seeds each: "
            + ", ".join(change.label for change in changes)
        )
        runs = train(
            [improvement.plan(number, incumbent.settings, c) for c in changes],
            f"round-{number}",
        )
        if result.failures:
            result.stop = INCOMPLETE
            break
        round_ = Round.decide(number, incumbent, changes, runs)
        result.rounds.append(round_)
        echo(round_.line())
        if round_.adopted is None:
            result.stop = NONE_REAL
            break
        change = round_.changes[round_.adopted]
        incumbent = result.final = Incumbent(
            {**incumbent.settings, change.key: change.value},
            round_.runs[round_.adopted],
        )
        echo(f"round {number}: the new incumbent: {incumbent.summary()}")
    return result


class _Trainer:
    """Trains a round's configurations (one executor call, one progress
    count) and reads their finished runs."""

    def __init__(self, executor, progress, result):
        self.executor = executor
        self.progress = progress
        self.result = result

    def __call__(self, plans, stage):
        """Trains `plans` (one list of PlannedRuns per configuration);
        returns one {seed: RoundRun} per configuration."""
        planned = [run for plan in plans for run in plan]
        tracker = self.progress(len(planned)) if self.progress else None
        try:
            outcomes = self.executor.run(planned, tracker, stage=stage)
        finally:
            if hasattr(tracker, "close"):
                tracker.close()
        self.result.trained += sum(o.trained for o in outcomes)
        self.result.failures += [
            o for o in outcomes if o.state in (FAILED, BUSY)
        ]
        return [
            {p.seed: RoundRun.read(p.run_dir) for p in plan if p.is_complete()}
            for plan in plans
        ]
