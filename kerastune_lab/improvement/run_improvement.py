"""`improve`: rounds of diagnose -> try the advised changes over seeds ->
adopt the best real one, then a confirmation on fresh seeds; resumably.

Round 0 trains the configuration over the seeds; its verdict is the one
most seeds share (ties: the worse one). Each round r >= 1 trains the first
K advised changes of the incumbent (and, after an adopted step along a
knob, the next step that way), each paired by seed with it, tests them
on the objective (`round_decision`: one-sided, Holm over the round) and
adopts the best real improvement, whose runs are the next round's
incumbent (not trained again). A candidate whose first seeds are hopeless
stops there (`hopeless_candidates`). It stops when the verdict is a good
fit (and not still improving) with no step left to walk, when no
improvement is shown, when no advice is left, or after R rounds. Then,
where something was adopted, the original and the final configuration
train on `confirm_seeds` fresh seeds and are compared once on the test
split (`confirmation`). The same directory re-run with another
`confirm_seeds` reuses everything and makes one more look, recorded in
confirmation.json; with k looks each is tested at alpha / k
(`confirmation_looks`).

Every run lives at <improve dir>/rounds/<r>/<change>-seed<s> (or
confirm/<original|final>-seed<s>), named from what it trains, so the same
command run again finds its runs and trains nothing twice: the decisions
are recomputed from the runs' files.
"""

import dataclasses
import hashlib
import json
import math
import pathlib
from collections.abc import Callable

from kerastune_lab.config import with_settings
from kerastune_lab.engine.planned_run import BUSY, FAILED, PlannedRun
from kerastune_lab.improvement.candidate_changes import (
    candidate_changes,
    walk_change,
)
from kerastune_lab.improvement.confirmation import (
    Confirmation,
    read_test_split,
)
from kerastune_lab.improvement.confirmation_looks import ConfirmationLooks
from kerastune_lab.improvement.improvement_round import Incumbent, Round
from kerastune_lab.improvement.objective import Objective
from kerastune_lab.improvement.round_decision import hopeless_candidates
from kerastune_lab.improvement.round_run import VAL_LOSS, RoundRun
from kerastune_lab.run_directory import write_json_atomic
from kerastune_lab.statistics.paired_tests import MIN_SEEDS
from kerastune_lab.study.grid import Cell, seed_values

BASE = "base"
ORIGINAL, FINAL = "original", "final"

# ImprovementResult.stop values.
NOTHING_TO_FIX = "nothing to fix"
GOOD_FIT = "good fit reached"
NONE_REAL = "no improvement shown"
NO_ADVICE = "no advice left"
ROUNDS_DONE = "rounds done"
INCOMPLETE = "runs incomplete"


def improve_dir(runs_dir, config, seeds, rounds, candidates, **choices):
    """runs_dir/improve-<name>-<hash>: the same command maps to one
    folder. `choices` (objective, direction, early stops) change the
    decisions, so they are part of it; the confirmation seeds are not
    (more of them add runs, they change no round)."""
    identity = {
        "config": config.to_dict(),
        "seeds": seeds,
        "rounds": rounds,
        "candidates": candidates,
        **choices,
    }
    text = json.dumps(identity, sort_keys=True)
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return pathlib.Path(runs_dir) / f"improve-{config.name}-{digest}"


@dataclasses.dataclass
class Improvement:
    """An improve directory and what it is asked to do.

    Attributes:
        config: The experiment to improve (`ExperimentConfig`).
        seeds: The seeds every configuration is trained with.
        rounds: At most this many rounds of candidates.
        candidates: At most this many advised candidates per round.
        out: The improve directory.
        overrides: The `--set` overrides the config was loaded with (for
            the report; `config` holds them already).
        objective: The `Objective` decisions and the confirmation use.
        confirm_seeds: Fresh seeds of the confirmation (0: none).
        stop_hopeless: Stop hopeless candidates after their first seeds.
    """

    config: object
    seeds: list
    rounds: int
    candidates: int
    out: pathlib.Path
    overrides: tuple = ()
    objective: Objective = VAL_LOSS
    confirm_seeds: int = 0
    stop_hopeless: bool = False

    @classmethod
    def planned(cls, config, seeds, rounds, candidates, runs_dir, **options):
        """The improvement a command asks for, checked, with nothing
        written yet (`make_folder` creates its directory), so that a
        command refused later leaves no folder behind.

        Args:
            config: The experiment's `ExperimentConfig`.
            seeds: Number of seeds (train.seed, +1, ...).
            rounds: Rounds of candidates (>= 1).
            candidates: Candidates per round (>= 1).
            runs_dir: Parent folder of improve directories.
            **options: `overrides` (the `--set` overrides `config` was
                loaded with), `objective` (an `Objective`),
                `confirm_seeds` (>= 0), `stop_hopeless` (bool).
        """
        for name, value, least in (
            ("seeds", seeds, 1),
            ("rounds", rounds, 1),
            ("candidates", candidates, 1),
            ("confirm_seeds", options.get("confirm_seeds", 0), 0),
        ):
            if not isinstance(value, int) or value < least:
                raise ValueError(
                    f"{name} must be an int >= {least}. Received: "
                    f"{name}={value!r}"
                )
        objective = options.get("objective", VAL_LOSS)
        stop = bool(options.get("stop_hopeless", False))
        out = improve_dir(
            runs_dir,
            config,
            seeds,
            rounds,
            candidates,
            objective=objective.name,
            direction=objective.direction,
            stop=stop,
        )
        return cls(
            config,
            seed_values(config.train.seed, seeds),
            rounds,
            candidates,
            out,
            tuple(options.get("overrides", ())),
            objective,
            options.get("confirm_seeds", 0),
            stop,
        )

    def make_folder(self):
        """Makes (or reopens) the improve directory and writes
        improve.json."""
        (self.out / "rounds").mkdir(parents=True, exist_ok=True)
        (self.out / "logs").mkdir(exist_ok=True)
        write_json_atomic(self.out / "improve.json", self.describe())

    def describe(self):
        """improve.json: what the directory was asked to do."""
        return {
            "config": self.config.to_dict(),
            "config_path": self.config.source or "",
            "overrides": list(self.overrides),
            "seeds": self.seeds,
            "rounds": self.rounds,
            "candidates": self.candidates,
            "objective": self.objective.name,
            "direction": self.objective.direction,
            "confirm_seeds": self.fresh_seeds,
            "stop_hopeless": self.stop_hopeless,
        }

    @property
    def fresh_seeds(self):
        """The confirmation's seeds: the ones after every round's."""
        return seed_values(self.seeds[-1] + 1, self.confirm_seeds)

    def plan(self, round_number, settings, change=None):
        """The runs of one configuration: `settings` adopted so far plus
        `change` (None: the configuration of round 0), one per seed."""
        slug = change.slug if change else BASE
        applied = dict(settings)
        cell = Cell(())
        if change:
            applied[change.key] = change.value
            cell = Cell(((change.key, change.value),))
        return self._plan(
            pathlib.Path("rounds") / str(round_number),
            slug,
            cell,
            applied,
            self.seeds,
        )

    def plan_confirmation(self, name, settings):
        """The runs of the original (`settings` {}) or final configuration
        on the fresh seeds, under confirm/."""
        cell = Cell((("configuration", name),))
        return self._plan(
            pathlib.Path("confirm"), name, cell, settings, self.fresh_seeds
        )

    def _plan(self, folder, slug, cell, settings, seeds):
        (self.out / folder).mkdir(parents=True, exist_ok=True)
        log = "-".join(folder.parts[1:] or folder.parts)
        return [
            PlannedRun(
                cell=cell,
                seed=seed,
                run_dir=self.out / folder / f"{slug}-seed{seed}",
                config=with_settings(
                    self.config, {**settings, "train.seed": seed}
                ),
                log=self.out / "logs" / f"{log}-{slug}-seed{seed}.log",
                cache_dir=self.out / "cache",
            )
            for seed in seeds
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
        confirmation: The `Confirmation` on fresh seeds; None where none
            ran (nothing adopted, --confirm-seeds 0, runs incomplete: a
            confirmation run that did not finish is in `failures` and
            leaves `stop` as the rounds set it).
    """

    improvement: Improvement
    original: Incumbent | None
    rounds: list
    final: Incumbent | None
    stop: str
    failures: list
    trained: int = 0
    confirmation: Confirmation | None = None

    @property
    def adopted(self):
        """[(round, `CandidateChange`, `CandidateTest`)] in order."""
        return [
            (r, r.changes[r.adopted], r.tests[r.adopted])
            for r in self.rounds
            if r.adopted
        ]

    @property
    def confirmation_incomplete(self):
        """A confirmation was due (something adopted, --confirm-seeds > 0,
        the rounds finished) and its runs did not finish."""
        return (
            self.confirmation is None
            and bool(self.adopted)
            and self.improvement.confirm_seeds > 0
            and self.stop != INCOMPLETE
        )

    @property
    def seconds_saved(self):
        """Training time the early stops saved, over every round."""
        return sum(r.seconds_saved() for r in self.rounds)

    def final_config(self):
        return self.improvement.final_config(
            self.final.settings if self.final else {}
        )

    def stop_sentence(self) -> str:
        """Why the improvement stopped, in one sentence."""
        improvement = self.improvement
        return {
            NOTHING_TO_FIX: "nothing to fix: most seeds fit well (good_fit) "
            "and the loss was no longer falling",
            GOOD_FIT: "the verdict became good_fit, with no step left to try",
            NONE_REAL: "no candidate was shown to improve "
            f"{improvement.objective.name} (paired over "
            f"{len(improvement.seeds)} seeds, one-sided, Holm-corrected; "
            "not shown is not absent)",
            NO_ADVICE: "the diagnosis advised no change that is not already "
            "set",
            ROUNDS_DONE: f"{improvement.rounds} round(s) done",
            INCOMPLETE: "some runs did not finish; re-run the same command "
            "to retry them",
        }[self.stop]


def run_improvement(
    improvement: Improvement,
    executor,
    progress: Callable | None = None,
    echo: Callable[[str], None] = print,
) -> ImprovementResult:
    """Runs the rounds of `improvement`, then its confirmation.

    Args:
        improvement: An `Improvement`.
        executor: Anything with `run(planned_runs, on_outcome, stage)`
            returning `RunOutcome`s: `LocalPool` or `RayExecutor`.
        progress: `progress(total)` -> a callable receiving each
            `RunOutcome` of a training stage (e.g. a `StudyProgress`),
            with an optional `close()`; None: no progress lines.
        echo: Prints one line (the rounds' outcomes).

    Returns:
        An `ImprovementResult`.
    """
    result = ImprovementResult(improvement, None, [], None, "", [])
    train = _Trainer(executor, progress, result)
    echo(
        f"round 0: the configuration as given, {len(improvement.seeds)} "
        f"seeds; objective {improvement.objective.name} "
        f"({improvement.objective.better_words()})"
    )
    runs = train([improvement.plan(0, {})], "round-0", improvement.objective)
    if runs is None:
        result.stop = INCOMPLETE
        return result
    result.original = result.final = Incumbent({}, runs[0])
    echo(f"round 0: {result.original.summary()}")
    _run_rounds(improvement, result, train, echo)
    if result.stop != INCOMPLETE and result.adopted:
        _confirm(improvement, result, train, echo)
    return result


def _stop_before(incumbent, number, improvement, walk):
    """Why no round `number` runs, or None."""
    if incumbent.settled and walk is None:
        return NOTHING_TO_FIX if number == 1 else GOOD_FIT
    if number > improvement.rounds:
        return ROUNDS_DONE
    return None


def _run_rounds(improvement, result, train, echo):
    """Rounds 1, 2, ... until one of the stops; sets `result.stop`."""
    incumbent, walk = result.original, None
    for number in range(1, improvement.rounds + 2):
        result.stop = _stop_before(incumbent, number, improvement, walk)
        if result.stop:
            return
        changes = candidate_changes(
            improvement.config,
            incumbent.settings,
            incumbent.verdict,
            incumbent.flags,
            improvement.candidates,
            echo,
            walk,
        )
        if not changes:
            result.stop = NO_ADVICE
            return
        echo(
            f"round {number}: {len(changes)} candidate(s) against the "
            f"incumbent ({incumbent.headline}), "
            f"{len(improvement.seeds)} seeds each: "
            + ", ".join(change.label for change in changes)
        )
        round_ = _train_round(improvement, train, number, incumbent, changes)
        if round_ is None:
            result.stop = INCOMPLETE
            return
        result.rounds.append(round_)
        echo(round_.line())
        if round_.adopted is None:
            result.stop = NONE_REAL
            return
        change = round_.changes[round_.adopted]
        incumbent = result.final = Incumbent(
            {**incumbent.settings, change.key: change.value},
            round_.runs[round_.adopted],
        )
        walk = walk_change(improvement.config, incumbent.settings, change)
        echo(f"round {number}: the new incumbent: {incumbent.summary()}")


def _train_round(improvement, train, number, incumbent, changes):
    """Trains a round's candidates, stopping hopeless ones after their
    first `MIN_SEEDS` seeds, and decides it; None where runs did not
    finish."""
    objective = improvement.objective
    plans = [improvement.plan(number, incumbent.settings, c) for c in changes]
    seeds = len(improvement.seeds)
    first = MIN_SEEDS if improvement.stop_hopeless else seeds
    stage = f"round-{number}"
    runs = train([plan[:first] for plan in plans], stage, objective)
    if runs is None:
        return None
    stopped, margin = [], math.nan
    if first < seeds:
        stopped, margin = hopeless_candidates(
            incumbent.figures(),
            {
                change.label: {s: r.figure for s, r in by_seed.items()}
                for change, by_seed in zip(changes, runs)
            },
            seeds,
            higher_is_better=objective.higher_is_better,
        )
        rest = train(
            [
                [] if change.label in stopped else plan[first:]
                for change, plan in zip(changes, plans)
            ],
            f"{stage}-rest",
            objective,
        )
        if rest is None:
            return None
        runs = [{**a, **b} for a, b in zip(runs, rest)]
    return Round.decide(
        number,
        incumbent,
        changes,
        runs,
        objective,
        stopped=stopped,
        margin=margin,
    )


def _confirm(improvement, result, train, echo):
    """The original and the final configuration on fresh seeds, compared
    on the test split, this look recorded in confirmation.json; sets
    `result.confirmation` (None with --confirm-seeds 0 or runs that did
    not finish)."""
    seeds = improvement.fresh_seeds
    if not seeds:
        echo(
            "confirmation: skipped (--confirm-seeds 0): the gain is "
            "unconfirmed"
        )
        return
    echo(
        f"confirmation: the original and the final configuration on "
        f"{len(seeds)} fresh seeds ({seeds[0]}-{seeds[-1]}), compared on "
        f"the test split ({improvement.objective.test_name})"
    )
    runs = train(
        [
            improvement.plan_confirmation(ORIGINAL, {}),
            improvement.plan_confirmation(FINAL, result.final.settings),
        ],
        "confirm",
        reader=read_test_split,
    )
    if runs is None:  # the failures say so; the rounds' stop stands
        return
    looks = ConfirmationLooks.read(improvement.out).with_look(len(seeds))
    looks.write(improvement.out)
    result.confirmation = Confirmation(improvement.objective, *runs, looks)
    if len(looks.counts) > 1:
        echo(
            f"confirmation: look {result.confirmation.look} of "
            f"{len(looks.counts)} (fresh seeds "
            f"{', '.join(map(str, looks.counts))}): tested at alpha "
            f"{looks.alpha:g} / {len(looks.counts)} = {looks.level:.3g}"
        )


class _Trainer:
    """Trains a stage's configurations (one executor call, one progress
    count) and reads their finished runs."""

    def __init__(self, executor, progress, result):
        self.executor = executor
        self.progress = progress
        self.result = result

    def __call__(self, plans, stage, objective=VAL_LOSS, reader=None):
        """Trains `plans` (one list of PlannedRuns per configuration);
        returns one {seed: what `reader(run_dir)` reads (default: the
        `RoundRun` of `objective`)} per configuration, or None where a
        run did not finish."""
        planned = [run for plan in plans for run in plan]
        if planned:
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
        if self.result.failures:
            return None
        read = reader or (lambda run_dir: RoundRun.read(run_dir, objective))
        return [{p.seed: read(p.run_dir) for p in plan} for plan in plans]
