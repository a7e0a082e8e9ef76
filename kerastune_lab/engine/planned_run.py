"""What an executor is handed and what it hands back: one run each.

A study is resolved in the process that plans it: every cell x seed
becomes a `PlannedRun` whose configuration is complete and validated, so
an executor (a pool of local worker processes, or Ray) only trains it and
returns a `RunOutcome`. Nothing is re-parsed on the other side.
"""

import dataclasses
import pathlib

from kerastune_lab.run_directory import RunDirectory
from kerastune_lab.study.grid import Cell

# RunOutcome.state values.
COMPLETE = "complete"  # trained (or resumed) to the end just now
SKIPPED = "skipped"  # complete before this study started
BUSY = "busy"  # another process holds the run's lock
FAILED = "failed"  # raised, or its process died; see the log
STATES = (COMPLETE, SKIPPED, BUSY, FAILED)


@dataclasses.dataclass(frozen=True)
class PlannedRun:
    """One cell x seed of a study, resolved before anything trains.

    Attributes:
        cell: The `Cell`: the levels it is compared by and its settings.
        seed: Its `train.seed`.
        run_dir: Its run directory; an interrupted run there is resumed
            from its own config.json, a complete one is skipped.
        config: The `ExperimentConfig` it trains (the study's file with
            the cell's settings and the seed applied, study sections
            dropped).
        log: The file its output (Keras's epoch lines, warnings, a
            traceback) is appended to.
        cache_dir: A folder the study's runs share (the tokenised corpus),
            or None.
    """

    cell: Cell
    seed: int
    run_dir: pathlib.Path
    config: object
    log: pathlib.Path
    cache_dir: pathlib.Path | None = None

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def label(self) -> str:
        return f"{self.cell.label}, seed {self.seed}"

    def is_complete(self) -> bool:
        return RunDirectory(self.run_dir).is_complete()


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """What became of a `PlannedRun`.

    Attributes:
        planned: The run.
        state: One of `STATES`.
        seconds: Wall time spent on it by the executor (0 if not trained).
        memory_mib: Resident memory of the process that trained it, after
            the run (NaN where unknown).
        message: For a failure, the reason in one line; the log has more.
    """

    planned: PlannedRun
    state: str
    seconds: float = 0.0
    memory_mib: float = float("nan")
    message: str = ""

    @property
    def trained(self) -> bool:
        """The executor spent training time on it (finished or not)."""
        return self.state in (COMPLETE, FAILED)
