"""What the diagnosis rules read from one run: `Curves`."""

import dataclasses
import math
from collections.abc import Mapping, Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Curves:
    """One run's loss curves, as the diagnosis rules read them.

    Every loss is read against S (`scale`), the loss of a model that
    learned nothing: the run's no-skill eval loss when known, else where
    the train loss started. Epochs are 0-based, as in history.csv.

    Attributes:
        loss: The train loss per epoch.
        val_loss: The validation loss per epoch; empty without one.
        step_losses: Every step's batch loss, or None.
        start: Where the train loss started: the first step's batch loss
            when it is known and below epoch 0's mean (a run that blows up
            within its first epoch has a huge epoch-0 mean), else epoch
            0's.
        start_name: "epoch 0" or "the first step".
        scale: S.
        scale_name: S in words, with its value, for the reasons.
        config: The run's resolved configuration dict, or None.
        restored_epoch: Set in the view `kept()` returns: the epoch early
            stopping kept, whose later epochs the view leaves out.

    Example:

    >>> curves = Curves.from_history(
    ...     {"loss": [1.0, 0.5, 0.4], "val_loss": [1.1, 0.6, 0.7]},
    ...     no_skill_loss=2.0,
    ... )
    >>> curves.scale, curves.best_epoch, curves.epochs
    (2.0, 1, 3)
    """

    loss: tuple
    val_loss: tuple
    step_losses: tuple | None
    start: float
    start_name: str
    scale: float
    scale_name: str
    config: Mapping | None = None
    restored_epoch: int | None = None

    @classmethod
    def from_history(
        cls,
        history: Mapping,
        config: Mapping | None = None,
        initial_loss: float | None = None,
        no_skill_loss: float | None = None,
        step_losses: Sequence | None = None,
    ) -> "Curves":
        """The curves of a history (`diagnose_history`'s arguments)."""
        loss = tuple(float(v) for v in history.get("loss", []))
        if not loss:
            raise ValueError("The history has no 'loss' values to diagnose.")
        start, start_name = loss[0], "epoch 0"
        if (
            initial_loss is not None
            and math.isfinite(initial_loss)
            and initial_loss < start
        ):
            start, start_name = initial_loss, "the first step"
        scale, scale_name = start, f"the starting loss ({start:.4g})"
        if (
            no_skill_loss is not None
            and math.isfinite(no_skill_loss)
            and no_skill_loss > 0
        ):
            scale = no_skill_loss
            scale_name = f"the no-skill loss ({no_skill_loss:.4g})"
        return cls(
            loss=loss,
            val_loss=tuple(float(v) for v in history.get("val_loss", [])),
            step_losses=None if step_losses is None else tuple(step_losses),
            start=start,
            start_name=start_name,
            scale=scale,
            scale_name=scale_name,
            config=config,
        )

    @property
    def epochs(self) -> int:
        return len(self.loss)

    @property
    def lowest(self) -> float:
        """The lowest train loss, the start included."""
        return min(min(self.loss), self.start)

    @property
    def best_epoch(self) -> int | None:
        """The epoch of the lowest validation loss; None without one."""
        return int(np.argmin(self.val_loss)) if self.val_loss else None

    def kept(self) -> "Curves":
        """The curves of the model the run kept.

        With early stopping that restores the best weights, the model kept
        is the best validation epoch's: the epochs after it are early
        stopping's patience, not the result, and this view ends at it.
        Otherwise the curves themselves.
        """
        train = (self.config or {}).get("train", {})
        best = self.best_epoch
        if (
            best is None
            or best >= self.epochs - 1
            or not train.get("early_stopping")
            or not train.get("restore_best_weights", True)
        ):
            return self
        return dataclasses.replace(
            self,
            loss=self.loss[: best + 1],
            val_loss=self.val_loss[: best + 1],
            restored_epoch=best,
        )
