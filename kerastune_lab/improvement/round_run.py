"""One finished run as a round of `improve` reads it: its objective at
the model it kept, and its diagnosis. Never its test split."""

import dataclasses
import math
import pathlib

from kerastune_lab.analysis.diagnosis import DIVERGED
from kerastune_lab.figures import eval_loss
from kerastune_lab.improvement.objective import Objective
from kerastune_lab.run_directory import RunDirectory

VAL_LOSS = Objective("val_loss", "min")


@dataclasses.dataclass(frozen=True)
class RoundRun:
    """What a round needs of one finished run.

    Attributes:
        run_dir: The run directory.
        figure: The objective at the kept epoch; the worst value (+inf,
            or -inf where higher is better) where the run diverged or the
            figure is not finite (a failed run is never better).
        kept_epoch: The epoch whose model the run kept (0-based): the best
            validation epoch with early stopping that restores the best
            weights (metrics.json best_epoch), else the last epoch.
        verdict: Its diagnosis (diagnosis.json).
        flags: The diagnosis's flags (e.g. "still improving").
        reasons: The diagnosis's sentences.
        loss, val_loss: Its training and validation loss per epoch.
        wall_seconds: Its training time (metrics.json; NaN if unknown).
        selects_epoch: The kept epoch was chosen on the validation split
            (early stopping that restores the best weights), the split the
            objective is read on.
    """

    run_dir: pathlib.Path
    figure: float
    kept_epoch: int
    verdict: str
    flags: tuple
    reasons: tuple
    loss: tuple
    val_loss: tuple
    wall_seconds: float = math.nan
    selects_epoch: bool = False

    @property
    def failed(self) -> bool:
        return math.isinf(self.figure)

    @classmethod
    def read(cls, run_dir, objective: Objective = VAL_LOSS) -> "RoundRun":
        """Reads a complete run directory; a `UserError` where it does not
        log `objective` (or its test counterpart)."""
        run = RunDirectory(run_dir)
        history = run.read_history()
        metrics = run.read_metrics()
        objective.check_run(history, metrics, f"the run {run.path}")
        selects = run.selects_epoch()
        # The epoch whose model the run kept: the best validation epoch
        # where early stopping restored its weights, else the last.
        kept = (
            int(metrics["best_epoch"]) if selects else len(history["loss"]) - 1
        )
        diagnosis = run.read_diagnosis()
        figure = float(history[objective.name][kept])
        if diagnosis["verdict"] == DIVERGED or not math.isfinite(figure):
            figure = objective.worst
        return cls(
            run.path,
            figure,
            kept,
            diagnosis["verdict"],
            tuple(diagnosis.get("flags", ())),
            tuple(diagnosis.get("reasons", ())),
            tuple(history["loss"]),
            tuple(eval_loss(history)),
            float(metrics.get("wall_seconds", math.nan)),
            selects,
        )
