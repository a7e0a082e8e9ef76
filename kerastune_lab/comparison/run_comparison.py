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

from kerastune_lab.comparison.grid import seed_values
from kerastune_lab.comparison.planned_run import FAILED, PlannedRun
from kerastune_lab.comparison.study_controls import (
    control_cells,
    first_stage_cells,
)
from kerastune_lab.comparison.summarize import collect
from kerastune_lab.config import with_settings
from kerastune_lab.errors import UserError
from kerastune_lab.run_directory import RunDirectory, write_json_atomic

DEFAULT_STUDY = (
    pathlib.Path(__file__).resolve().parents[2]
    / "experiments"
    / "sd_study.toml"
)


def default_study():
    if not DEFAULT_STUDY.is_file():
        raise UserError(
            f"The default SD study {DEFAULT_STUDY} is missing (it ships in "
            "the repository's experiments/ folder; install with pip install "
            "-e . from a checkout, or pass a CONFIG)."
        )
    return DEFAULT_STUDY


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
        """Makes (or reopens) the comparison directory of `config` with
        `seeds` seeds and writes study.json, which the aggregate reads.

        Args:
            config: The study's `ExperimentConfig`; it needs a [grid].
            seeds: Number of seeds per cell (train.seed, +1, ...).
            runs_dir: Parent folder of comparison directories.
        """
        if not config.grid:
            raise UserError(
                f"{config.source or 'The experiment'} has no [grid] section:"
                " compare needs keys mapped to lists, e.g. [grid] "
                '"train.learning_rate" = [1e-3, 1e-4].'
            )
        out = comparison_dir(runs_dir, config, seeds)
        (out / "runs").mkdir(parents=True, exist_ok=True)
        (out / "logs").mkdir(exist_ok=True)
        study = cls(config, seed_values(config.train.seed, seeds), out)
        earlier = study.read()
        write_json_atomic(
            out / "study.json",
            {
                "config": config.to_dict(),
                "config_path": config.source or "",
                "seeds": study.seeds,
                "control_rates": earlier.get("control_rates", {}),
            },
        )
        return study

    def read(self):
        """study.json ({} before the study's first start)."""
        path = self.out / "study.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    @property
    def cache_dir(self):
        return self.out / "cache"

    def plan(self, cells):
        """A PlannedRun for every cell x seed, in cell order."""
        runs = [
            PlannedRun(
                cell=cell,
                seed=seed,
                run_dir=self.out / "runs" / f"{cell.name}-seed{seed}",
                config=with_settings(
                    self.config, {**cell.run_settings, "train.seed": seed}
                ),
                log=self.out / "logs" / f"{cell.name}-seed{seed}.log",
                cache_dir=self.cache_dir,
            )
            for cell in cells
            for seed in self.seeds
        ]
        if self.config.train.tensorboard:
            self._link_tensorboard(runs)
        return runs

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
        return self.plan(cells)


@dataclasses.dataclass
class StudyResult:
    """What `run_study` did: every planned run, its outcome, and the
    complete runs as read once from their folders ({cell: {seed: run}},
    `summarize.collect`'s shape)."""

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
