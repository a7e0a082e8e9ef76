"""A study: every cell x seed of a grid, planned once, trained by an
executor (the local worker pool or Ray), resumably.

The study is resolved here, in the planning process: each run becomes a
`PlannedRun` with its validated configuration, and an executor only
trains it. The matched-rate controls are a second stage, planned from the
finished first-stage runs (their rate is the rate those runs used).
"""

import dataclasses
import hashlib
import json
import pathlib

from kerastune_lab.comparison.collect import collect
from kerastune_lab.comparison.study_controls import (
    control_cells,
    first_stage_cells,
)
from kerastune_lab.config import with_settings
from kerastune_lab.config.check_inputs import check_inputs
from kerastune_lab.engine.planned_run import FAILED, PlannedRun
from kerastune_lab.errors import ConfigError, UserError
from kerastune_lab.example_files import example_file
from kerastune_lab.run_directory import RunDirectory, write_json_atomic
from kerastune_lab.study.grid import seed_values


def default_study():
    """The SD study that `compare` runs without a CONFIG (an example file
    that ships with the package)."""
    return example_file("sd_study")


def comparison_dir(runs_dir, config, seeds):
    """runs_dir/compare-<name>-<hash>: the same study maps to one folder."""
    # [analysis] says how to read the runs, not what they are: declaring
    # the question afterwards must not start the study over.
    trained = {k: v for k, v in config.to_dict().items() if k != "analysis"}
    identity = json.dumps({"config": trained, "seeds": seeds}, sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:8]
    return pathlib.Path(runs_dir) / f"compare-{config.name}-{digest}"


@dataclasses.dataclass
class Study:
    """A study's folder and its plan.

    Attributes:
        config: The study's `ExperimentConfig` (with [grid], [controls]).
        seeds: The seeds every cell is trained with.
        out: The comparison directory.
    """

    config: object
    seeds: list
    out: pathlib.Path

    @classmethod
    def create(cls, config, seeds, runs_dir):
        """Plans the study (`planned`), then makes (or reopens) its
        comparison directory and writes study.json, which the aggregate
        reads.

        Args:
            config: The study's `ExperimentConfig`; it needs a [grid].
            seeds: Number of seeds per cell (train.seed, +1, ...).
            runs_dir: Parent folder of comparison directories.
        """
        study = cls.planned(config, seeds, runs_dir)
        study.make_folder()
        return study

    @classmethod
    def planned(cls, config, seeds, runs_dir):
        """The study with every first-stage run validated (a [grid] key or
        value that no run accepts is refused here, naming its cell) and
        the user's files they read checked; nothing is written.

        Args: as `create`.
        """
        if not config.grid:
            raise UserError(
                f"{config.source or 'The experiment'} has no [grid] section:"
                " compare needs keys mapped to lists, e.g. [grid] "
                '"train.learning_rate" = [1e-3, 1e-4].'
            )
        out = comparison_dir(runs_dir, config, seeds)
        study = cls(config, seed_values(config.train.seed, seeds), out)
        check_inputs(p.config for p in study.first_stage())
        return study

    def make_folder(self):
        """Makes the comparison directory (or reopens it) and writes
        study.json."""
        (self.out / "runs").mkdir(parents=True, exist_ok=True)
        (self.out / "logs").mkdir(exist_ok=True)
        earlier = self.read()
        write_json_atomic(
            self.out / "study.json",
            {
                "config": self.config.to_dict(),
                "config_path": self.config.source or "",
                "seeds": self.seeds,
                "control_rates": earlier.get("control_rates", {}),
            },
        )
        if self.config.train.tensorboard:
            self._link_tensorboard(self.first_stage())

    def read(self):
        """study.json ({} before the study's first start)."""
        path = self.out / "study.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def cache_dir(self):
        return self.out / "cache"

    def plan(self, cells):
        """A PlannedRun for every cell x seed, in cell order."""
        return [
            PlannedRun(
                cell=cell,
                seed=seed,
                run_dir=self.out / "runs" / f"{cell.name}-seed{seed}",
                config=self._run_config(cell, seed),
                log=self.out / "logs" / f"{cell.name}-seed{seed}.log",
                cache_dir=self.cache_dir,
            )
            for cell in cells
            for seed in self.seeds
        ]

    def _run_config(self, cell, seed):
        try:
            return with_settings(
                self.config, {**cell.run_settings, "train.seed": seed}
            )
        except ConfigError as error:
            raise ConfigError(
                f"[grid] cell {cell.label}: {error}"
                if cell.values
                else str(error)
            ) from None

    def _link_tensorboard(self, runs):
        # One log directory for the study: `tensorboard --logdir
        # <study>/tensorboard` shows every run side by side.
        logs = self.out / "tensorboard"
        logs.mkdir(exist_ok=True)
        for planned in runs:
            link = logs / planned.name
            if not link.is_symlink():
                link.symlink_to(
                    pathlib.Path("..")
                    / "runs"
                    / planned.name
                    / RunDirectory.TENSORBOARD,
                    target_is_directory=True,
                )

    def first_stage(self):
        """The grid's runs and the schedule-free cells'."""
        return self.plan(first_stage_cells(self.config))

    def control_count(self):
        """How many runs the second stage will add (known before the first
        stage has run; its rates are not)."""
        modes = self.config.controls.matched_rate
        cells = [
            cell
            for cell in first_stage_cells(self.config)
            if dict(cell.values).get("lr_adapt.mode") in modes
        ]
        return len(cells) * len(self.seeds)

    def run_count(self):
        """Every run the study trains, its controls included."""
        return len(self.first_stage()) + self.control_count()

    def count_sentence(self):
        """ "9 cells x 3 seeds = 27 runs, then 18 matched-rate control runs
        (45 in all)"."""
        cells = len(first_stage_cells(self.config))
        first = cells * len(self.seeds)
        text = f"{cells} cells x {len(self.seeds)} seeds = {first} runs"
        controls = self.control_count()
        if controls:
            text += (
                f", then {controls} matched-rate control runs "
                f"({first + controls} in all)"
            )
        return text

    def controls(self, first_stage_runs):
        """The second stage: matched-rate controls computed from the
        finished first-stage runs ({cell: {seed: run}}). Their rates are
        kept in study.json, so a resumed study trains its controls at the
        rates they started with."""
        if not self.config.controls.matched_rate:
            return []
        study = self.read()
        cells, rates = control_cells(
            self.config, first_stage_runs, study.get("control_rates")
        )
        study["control_rates"] = rates
        write_json_atomic(self.out / "study.json", study)
        runs = self.plan(cells)
        if self.config.train.tensorboard:
            self._link_tensorboard(runs)
        return runs


@dataclasses.dataclass
class StudyResult:
    """What `run_study` did: every planned run, its outcome, and the
    complete runs as read once from their folders ({cell: {seed: run}},
    `collect`'s shape)."""

    study: Study
    planned: list
    outcomes: list
    runs: dict

    @property
    def failures(self):
        return [o for o in self.outcomes if o.state == FAILED]

    def plan_tuples(self):
        """(cell, seed, run_dir) of every planned run, for the aggregate."""
        return [(p.cell, p.seed, p.run_dir) for p in self.planned]


def run_study(study, executor, progress=None):
    """Trains the study's first stage, then its matched-rate controls.

    Args:
        study: A `Study`.
        executor: Anything with `run(planned_runs, on_outcome, stage)`
            returning `RunOutcome`s: `LocalPool` or `RayExecutor`.
        progress: Called with each `RunOutcome` as it ends (e.g. a
            `StudyProgress`), or None.

    Returns:
        A `StudyResult`.
    """
    first = study.first_stage()
    outcomes = executor.run(first, progress, stage="tune")
    runs = collect([(p.cell, p.seed, p.run_dir) for p in first])
    controls = study.controls(runs)
    if controls:
        outcomes += executor.run(controls, progress, stage="tune-controls")
        runs.update(collect([(p.cell, p.seed, p.run_dir) for p in controls]))
    return StudyResult(study, first + controls, outcomes, dict(runs))
