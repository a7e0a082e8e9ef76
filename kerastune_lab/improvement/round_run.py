"""One finished run as a round of `improve` reads it: the validation loss
of the model it kept, and its diagnosis. Never its test split."""

import dataclasses
import math
import pathlib

from kerastune_lab.run_directory import RunDirectory

DIVERGED = "diverged"


@dataclasses.dataclass(frozen=True)
class RoundRun:
    """What a round needs of one finished run.

    Attributes:
        run_dir: The run directory.
        figure: The validation loss at the kept epoch; +inf where the run
            diverged or that loss is not finite (a failed run is never
            better).
        kept_epoch: The epoch whose model the run kept (0-based): the best
            validation epoch with early stopping that restores the best
            weights (metrics.json best_epoch), else the last epoch.
        verdict: Its diagnosis (diagnosis.json).
        flags: The diagnosis's flags (e.g. "still improving").
        reasons: The diagnosis's sentences.
        loss, val_loss: Its training and validation loss per epoch.
    """

    run_dir: pathlib.Path
    figure: float
    kept_epoch: int
    verdict: str
    flags: tuple
    reasons: tuple
    loss: tuple
    val_loss: tuple

    @property
    def failed(self) -> bool:
        return math.isinf(self.figure)

    @classmethod
    def read(cls, run_dir) -> "RoundRun":
        """Reads a complete run directory."""
        run = RunDirectory(run_dir)
        history = run.read_history()
        val_loss = history.get("val_loss") or history["loss"]
        train = run.read_record()["config"]["train"]
        restored = train["early_stopping"] and train["restore_best_weights"]
        kept = (
            int(run.read_metrics()["best_epoch"])
            if restored
            else len(val_loss) - 1
        )
        diagnosis = run.read_diagnosis()
        figure = float(val_loss[kept])
        if diagnosis["verdict"] == DIVERGED or not math.isfinite(figure):
            figure = math.inf
        return cls(
            run.path,
            figure,
            kept,
            diagnosis["verdict"],
            tuple(diagnosis.get("flags", ())),
            tuple(diagnosis.get("reasons", ())),
            tuple(history["loss"]),
            tuple(val_loss),
        )
