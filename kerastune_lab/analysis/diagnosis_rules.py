"""The diagnosis's rules: one small object per rule, with its thresholds.

Each rule's `check(curves)` reads a run's `Curves` and returns a
`Finding`: whether it fired, its sentence, and the figures it measured.
The thresholds below are each rule's defaults; a rule built with other
values (`RisingTrainLoss(up_fraction=0.5)`) reads the same curves with
them. The order the rules are checked in is `diagnose_history`'s.
"""

import abc
import dataclasses
import math
from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from kerastune_lab.analysis.diagnosis import STILL_IMPROVING
from kerastune_lab.analysis.diagnosis_curves import Curves

MIN_EPOCHS = 4
DIVERGE_RATIO = 1.5
UNSTABLE_UP_FRACTION = 0.4
UNSTABLE_JUMP = 0.05
UNSTABLE_MIN_RISE = 0.02
MIN_STEPS = 50
SPIKE_WINDOW = 20
SPIKE_RATIO = 2.0
SPIKE_MIN_RISE = 0.1
SPIKE_FRACTION = 0.03
UNSTABLE_FLIP_FRACTION = 0.5
UNSTABLE_VAL_SWING = 0.10
OVERFIT_RISE = 0.05
OVERFIT_GAP = 0.1
MEMORISED = 0.05
UNDERFIT_SKILL = 0.9
STILL_IMPROVING_SLOPE = 0.01


@dataclasses.dataclass(frozen=True)
class Finding:
    """What one rule saw in a run's curves.

    Attributes:
        fired: Whether the rule's verdict (or flag) applies.
        reason: The sentence for the diagnosis's reasons, or None.
        evidence: The figures the rule measured, by name.
        curves: Curves the rules after this one read instead, or None
            (`KeptEpoch`: the model early stopping kept).
    """

    fired: bool
    reason: str | None = None
    evidence: Mapping = dataclasses.field(default_factory=dict)
    curves: Curves | None = None


NOT_FIRED = Finding(False)


class Rule(abc.ABC):
    """A rule of the diagnosis.

    Attributes:
        verdict: The verdict it gives when it fires; None for a note, a
            step that never fires and only records something (evidence, a
            reason, the curves the rules after it read).
    """

    verdict: ClassVar[str | None] = None

    @abc.abstractmethod
    def check(self, curves: Curves) -> Finding:
        """Reads the curves; returns what it saw."""


@dataclasses.dataclass(frozen=True)
class NonFiniteLoss(Rule):
    """diverged: a train or validation loss is NaN or infinite.

    Example:

    >>> NonFiniteLoss().check(Curves.from_history(
    ...     {"loss": [1.0, float("nan")]})).reason
    'the loss became non-finite at epoch 1'
    """

    verdict = "diverged"

    def check(self, curves):
        bad = [
            i
            for values in (curves.loss, curves.val_loss)
            for i, v in enumerate(values)
            if not math.isfinite(v)
        ]
        if not bad:
            return NOT_FIRED
        return Finding(
            True,
            f"the loss became non-finite at epoch {min(bad)}",
            {"first_nonfinite_epoch": min(bad)},
        )


@dataclasses.dataclass(frozen=True)
class SustainedExplosion(Rule):
    """diverged: the train loss of the last epochs (the last one for runs
    of 2 epochs or fewer, else the last 2) is all above `ratio` times its
    lowest and above where it started. A zigzag that ends on a high epoch
    is not sustained.

    Example:

    >>> SustainedExplosion().check(Curves.from_history(
    ...     {"loss": [1.0, 1.4, 2.5, 4.0]})).fired
    True
    """

    verdict = "diverged"
    ratio: float = DIVERGE_RATIO

    def check(self, curves):
        loss, low = curves.loss, curves.lowest
        last = loss[-(1 if curves.epochs <= 2 else 2) :]
        if not all(v > self.ratio * low and v > curves.start for v in last):
            return NOT_FIRED
        return Finding(
            True,
            f"train loss rose from {curves.start:.4g} ({curves.start_name})"
            f" to {loss[-1]:.4g} (epoch {curves.epochs - 1}) and stayed "
            f"above {self.ratio:g} times its lowest ({low:.4g})",
        )


@dataclasses.dataclass(frozen=True)
class BestEpoch(Rule):
    """No verdict: notes the best validation epoch, its loss, and the
    final generalisation gap, which the rules after it cite.

    Example:

    >>> BestEpoch().check(Curves.from_history(
    ...     {"loss": [1.0, 0.5], "val_loss": [1.0, 0.75]})).evidence
    {'best_epoch': 1, 'best_val_loss': 0.75, 'final_val_loss': 0.75, \
'final_gap': 0.25}
    """

    def check(self, curves):
        if not curves.val_loss:
            return NOT_FIRED
        best, val = curves.best_epoch, curves.val_loss
        return Finding(
            False,
            evidence={
                "best_epoch": best,
                "best_val_loss": val[best],
                "final_val_loss": val[-1],
                "final_gap": val[-1] - curves.loss[-1],
            },
        )


@dataclasses.dataclass(frozen=True)
class RisingTrainLoss(Rule):
    """unstable: the train loss goes up from one epoch to the next in at
    least `up_fraction` of the epochs, by more than `jump` of its value and
    `min_rise` x S on average (needs `min_epochs` epochs).

    Example:

    >>> RisingTrainLoss().check(Curves.from_history(
    ...     {"loss": [1.0, 0.6, 0.9, 0.5, 0.8, 0.4]})).fired
    True
    """

    verdict = "unstable"
    up_fraction: float = UNSTABLE_UP_FRACTION
    jump: float = UNSTABLE_JUMP
    min_rise: float = UNSTABLE_MIN_RISE
    min_epochs: int = MIN_EPOCHS

    def check(self, curves):
        if curves.epochs < max(self.min_epochs, 2):
            return NOT_FIRED
        diffs = np.diff(curves.loss)
        rel = diffs / np.maximum(np.abs(curves.loss[:-1]), 1e-12)
        up_fraction = float(np.mean(rel > 0))
        jump = float(rel[rel > 0].mean()) if up_fraction else 0.0
        evidence = {"train_up_fraction": up_fraction}
        if not (
            up_fraction >= self.up_fraction
            and jump > self.jump
            and diffs[diffs > 0].mean() > self.min_rise * curves.scale
        ):
            return Finding(False, evidence=evidence)
        return Finding(
            True,
            f"train loss went up in {up_fraction:.0%} of epochs, by "
            f"{jump:.1%} on average",
            evidence,
        )


@dataclasses.dataclass(frozen=True)
class LastEpochSpike(Rule):
    """unstable: the last epoch's train loss jumped above `ratio` times its
    lowest, by more than `min_rise` x S, without staying there (a spike,
    not yet an explosion; needs 3 epochs).

    Example:

    >>> LastEpochSpike().check(Curves.from_history(
    ...     {"loss": [1.0, 0.6, 0.5, 1.2]})).fired
    True
    """

    verdict = "unstable"
    ratio: float = DIVERGE_RATIO
    min_rise: float = SPIKE_MIN_RISE

    def check(self, curves):
        last, low = curves.loss[-1], curves.lowest
        if not (
            curves.epochs > 2
            and last > self.ratio * low
            and last - low > self.min_rise * curves.scale
        ):
            return NOT_FIRED
        return Finding(
            True,
            f"train loss jumped to {last:.4g} at the last epoch, over "
            f"{self.ratio:g} times its lowest ({low:.4g}), without "
            "staying there",
        )


def spike_fraction(
    step_losses,
    scale: float,
    window: int = SPIKE_WINDOW,
    ratio: float = SPIKE_RATIO,
    min_rise: float = SPIKE_MIN_RISE,
    min_steps: int = MIN_STEPS,
) -> float | None:
    """The share of steps whose batch loss spikes: above `ratio` times the
    median of the `window` steps before it, and by more than `min_rise` x
    `scale`. None for fewer than `min_steps` steps.

    Example:

    >>> spike_fraction([1.0] * 40 + [5.0] + [1.0] * 19, scale=1.0)
    0.025
    """
    v = np.asarray(step_losses, dtype=float)
    if len(v) < max(min_steps, window + 1):
        return None
    before = np.lib.stride_tricks.sliding_window_view(v[:-1], window)
    median = np.median(before, axis=1)
    after = v[window:]
    spikes = (after > ratio * median) & (after - median > min_rise * scale)
    return int(spikes.sum()) / len(after)


@dataclasses.dataclass(frozen=True)
class SpikingSteps(Rule):
    """unstable: from steps.csv (at least `min_steps` steps), at least
    `fraction` of the steps spike (`spike_fraction` with this rule's
    `window`, `ratio` and `min_rise`).

    Example:

    >>> SpikingSteps().check(Curves.from_history(
    ...     {"loss": [1.0]}, step_losses=[1.0] * 60)).evidence
    {'step_spike_fraction': 0.0}
    """

    verdict = "unstable"
    fraction: float = SPIKE_FRACTION
    window: int = SPIKE_WINDOW
    ratio: float = SPIKE_RATIO
    min_rise: float = SPIKE_MIN_RISE
    min_steps: int = MIN_STEPS

    def check(self, curves):
        if curves.step_losses is None:
            return NOT_FIRED
        spikes = spike_fraction(
            curves.step_losses,
            curves.scale,
            self.window,
            self.ratio,
            self.min_rise,
            self.min_steps,
        )
        if spikes is None:
            return NOT_FIRED
        evidence = {"step_spike_fraction": spikes}
        if spikes < self.fraction:
            return Finding(False, evidence=evidence)
        return Finding(
            True,
            f"{spikes:.1%} of the steps' batch losses spiked above "
            f"{self.ratio:g} times the median of the {self.window} steps "
            "before them",
            evidence,
        )


@dataclasses.dataclass(frozen=True)
class KeptEpoch(Rule):
    """No verdict: with early stopping that restores the best weights, the
    rules after it judge the kept model, the curves up to the best
    validation epoch (`Curves.kept`); the epochs after it are the patience
    window.

    Example:

    >>> KeptEpoch().check(Curves.from_history(
    ...     {"loss": [1.0, 0.5, 0.4], "val_loss": [1.0, 0.6, 0.7]},
    ...     config={"train": {"early_stopping": True}})).curves.loss
    (1.0, 0.5)
    """

    def check(self, curves):
        kept = curves.kept()
        if kept.restored_epoch is None:
            return NOT_FIRED
        best = kept.restored_epoch
        after = curves.epochs - 1 - best
        train = curves.config["train"]
        # Keras restores the best weights at the end of training whether
        # or not the patience ran out (EarlyStopping.on_train_end).
        why = (
            "its patience ran out"
            if after >= train.get("patience", after)
            else f"the run reached its {curves.epochs} epochs first"
        )
        return Finding(
            False,
            f"early stopping kept epoch {best} (validation loss "
            f"{curves.val_loss[best]:.4g}): the {after} epoch(s) after it "
            f"did not improve on it ({why}; their validation loss ended at "
            f"{curves.val_loss[-1]:.4g})",
            {"restored_epoch": best},
            kept,
        )


def _generalisation(curves):
    """(validation rise from its best, final gap, gap at the best epoch,
    evidence), or None without a validation loss or 3 epochs."""
    loss, val, best = curves.loss, curves.val_loss, curves.best_epoch
    if not val or curves.epochs < 3:
        return None
    rise = val[-1] / max(val[best], 1e-12) - 1
    gap_end = val[-1] - loss[-1]
    evidence = {
        "val_rise_from_best": rise,
        "gap_over_reference": gap_end / curves.scale,
    }
    return rise, gap_end, val[best] - loss[best], evidence


@dataclasses.dataclass(frozen=True)
class ValidationRose(Rule):
    """overfitting: the validation loss ended at least `rise` above its
    best epoch while the train loss kept falling after it (needs 3
    epochs).

    Example:

    >>> ValidationRose().check(Curves.from_history(
    ...     {"loss": [1.0, 0.6, 0.4], "val_loss": [1.0, 0.7, 0.8]})).fired
    True
    """

    verdict = "overfitting"
    rise: float = OVERFIT_RISE

    def check(self, curves):
        figures = _generalisation(curves)
        if figures is None:
            return NOT_FIRED
        rise, _, _, evidence = figures
        loss, val, best = curves.loss, curves.val_loss, curves.best_epoch
        if not (
            best < curves.epochs - 1
            and rise >= self.rise
            and loss[-1] < loss[best]
        ):
            return Finding(False, evidence=evidence)
        return Finding(
            True,
            f"validation loss was lowest at epoch {best} ({val[best]:.4g})"
            f" and ended {rise:.0%} higher ({val[-1]:.4g}) while train "
            f"loss kept falling ({loss[best]:.4g} -> {loss[-1]:.4g})",
            evidence,
        )


@dataclasses.dataclass(frozen=True)
class GrowingGap(Rule):
    """overfitting: the final validation loss exceeds the train loss by
    more than `gap` x S, and that gap grew since the best validation epoch
    (needs 3 epochs).

    Example:

    >>> GrowingGap().check(Curves.from_history(
    ...     {"loss": [1.0, 0.6, 0.3], "val_loss": [1.0, 0.6, 0.6]})).fired
    True
    """

    verdict = "overfitting"
    gap: float = OVERFIT_GAP

    def check(self, curves):
        figures = _generalisation(curves)
        if figures is None:
            return NOT_FIRED
        _, gap_end, gap_best, evidence = figures
        if not (gap_end > self.gap * curves.scale and gap_end > gap_best):
            return Finding(False, evidence=evidence)
        loss, val, best = curves.loss, curves.val_loss, curves.best_epoch
        return Finding(
            True,
            f"validation loss ends {gap_end:.4g} above the train loss "
            f"({val[-1]:.4g} vs {loss[-1]:.4g}), "
            f"{gap_end / curves.scale:.0%} of {curves.scale_name}, a gap "
            f"that grew from {gap_best:.4g} at the best epoch {best}",
            evidence,
        )


@dataclasses.dataclass(frozen=True)
class Memorised(Rule):
    """overfitting: the train loss fell below `memorised` x S while the
    validation loss stays more than `gap` x S above it: the training set
    is memorised (needs 3 epochs). A model early stopping kept at its best
    validation epoch is not called memorised.

    Example:

    >>> Memorised().check(Curves.from_history(
    ...     {"loss": [1.0, 0.1, 0.01], "val_loss": [1.0, 0.5, 0.4]})).fired
    True
    """

    verdict = "overfitting"
    memorised: float = MEMORISED
    gap: float = OVERFIT_GAP

    def check(self, curves):
        figures = _generalisation(curves)
        if figures is None:
            return NOT_FIRED
        _, gap_end, _, evidence = figures
        last, scale = curves.loss[-1], curves.scale
        if not (
            last < self.memorised * scale
            and gap_end > self.gap * scale
            and curves.restored_epoch is None
        ):
            return Finding(False, evidence=evidence)
        return Finding(
            True,
            f"train loss is down to {last:.4g}, under {self.memorised:.0%} "
            f"of {curves.scale_name}, while the validation loss stays at "
            f"{curves.val_loss[-1]:.4g} (epoch {curves.epochs - 1}): the "
            "training set is memorised",
            evidence,
        )


@dataclasses.dataclass(frozen=True)
class ValidationZigzag(Rule):
    """unstable: the validation loss zigzags: its direction flips in at
    least `flip_fraction` of the epochs, moving more than `swing` per epoch
    on average (needs `min_epochs` epochs).

    Example:

    >>> ValidationZigzag().check(Curves.from_history(
    ...     {"loss": [1.0, 0.9, 0.8, 0.7],
    ...      "val_loss": [1.0, 0.5, 0.9, 0.45]})).fired
    True
    """

    verdict = "unstable"
    flip_fraction: float = UNSTABLE_FLIP_FRACTION
    swing: float = UNSTABLE_VAL_SWING
    min_epochs: int = MIN_EPOCHS

    def check(self, curves):
        val = np.asarray(curves.val_loss, dtype=float)
        if not len(val) or curves.epochs < self.min_epochs:
            return NOT_FIRED
        flips, swing = 0.0, 0.0
        if len(val) >= 3:
            rel = np.diff(val) / np.maximum(np.abs(val[:-1]), 1e-12)
            signs = np.sign(rel)
            flips = float(np.mean(signs[1:] * signs[:-1] < 0))
            swing = float(np.abs(rel).mean())
        evidence = {"val_direction_flips": flips}
        if not (flips >= self.flip_fraction and swing > self.swing):
            return Finding(False, evidence=evidence)
        return Finding(
            True,
            f"validation loss changed direction in {flips:.0%} of epochs, "
            f"moving {swing:.0%} per epoch on average",
            evidence,
        )


@dataclasses.dataclass(frozen=True)
class LittleLearned(Rule):
    """underfitting: the final train loss is still above `skill` x S: the
    model has learned little of what there is to learn; or the final
    validation loss is no lower than S: what it learned does not carry to
    unseen data (a run too short for the overfitting rules, which need 3
    epochs, can end there).

    Example:

    >>> LittleLearned().check(Curves.from_history(
    ...     {"loss": [1.0, 0.95]})).evidence
    {'final_over_reference': 0.95}
    >>> LittleLearned().check(Curves.from_history(
    ...     {"loss": [2.3, 1.9], "val_loss": [2.4, 2.38]},
    ...     no_skill_loss=2.3)).fired
    True
    """

    verdict = "underfitting"
    skill: float = UNDERFIT_SKILL

    def check(self, curves):
        last, scale = curves.loss[-1], curves.scale
        evidence = {"final_over_reference": last / scale}
        if last > self.skill * scale:
            return Finding(
                True,
                f"the final train loss {last:.4g} is still "
                f"{last / scale:.0%} of {curves.scale_name}: the model has "
                "learned little even on its training data",
                evidence,
            )
        if curves.val_loss and curves.val_loss[-1] >= scale:
            val = curves.val_loss[-1]
            return Finding(
                True,
                f"the final validation loss {val:.4g} is no lower than "
                f"{curves.scale_name}: what the model learned (train loss "
                f"{last:.4g}) does not carry to unseen data yet",
                {**evidence, "val_over_reference": val / scale},
            )
        return Finding(False, evidence=evidence)


@dataclasses.dataclass(frozen=True)
class NoProblem(Rule):
    """good_fit: fires on any curves (the last rule: no other fired).

    Example:

    >>> NoProblem().check(Curves.from_history({"loss": [1.0, 0.2]})).reason
    'the train loss ended at 20% of the starting loss (1) without a \
growing generalisation gap'
    """

    verdict = "good_fit"

    def check(self, curves):
        best = curves.best_epoch
        return Finding(
            True,
            f"the train loss ended at {curves.loss[-1] / curves.scale:.0%} "
            f"of {curves.scale_name} without a growing generalisation gap"
            + (f"; best validation epoch {best}" if best is not None else ""),
        )


@dataclasses.dataclass(frozen=True)
class StillImproving(Rule):
    """The flag "still improving": the validation loss (the train loss
    without one) still fell by more than `slope` per epoch, relative to its
    level, over the last third of the epochs (at least 3): train longer.
    Not on a run early stopping ended (`Curves.restored_epoch`): its
    patience ran out. It joins any verdict of `joins`.

    Example:

    >>> StillImproving().check(Curves.from_history(
    ...     {"loss": [1.0, 0.8, 0.6]})).reason
    'the train loss was still falling 25.0% per epoch over the last third'
    """

    flag: ClassVar[str] = STILL_IMPROVING
    joins: ClassVar[tuple] = (
        "good_fit",
        "overfitting",
        "underfitting",
        "unstable",
    )
    slope: float = STILL_IMPROVING_SLOPE

    def check(self, curves):
        if curves.epochs < 3 or curves.restored_epoch is not None:
            return NOT_FIRED
        on_val = len(curves.val_loss) == curves.epochs
        v = np.asarray(curves.val_loss if on_val else curves.loss)
        tail = v[-max(3, len(v) // 3) :]
        fit = np.polyfit(np.arange(len(tail)), tail, 1)[0]
        slope = float(-fit / max(abs(tail.mean()), 1e-12))
        evidence = {"tail_slope": slope}
        if not slope > self.slope:
            return Finding(False, evidence=evidence)
        return Finding(
            True,
            f"the {'validation' if on_val else 'train'} loss was still "
            f"falling {slope:.1%} per epoch over the last third",
            evidence,
        )
