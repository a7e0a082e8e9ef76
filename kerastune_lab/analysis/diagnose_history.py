"""A verdict on a training run from its curves, with evidence and advice.

The rules are deterministic and checked in this order (the first that
fires wins); epochs are 0-based, as in history.csv:

1. diverged: a non-finite train or validation loss, or a final train loss
   above DIVERGE_RATIO times the initial loss (the first step's batch loss
   when steps.csv is known, else the first epoch's).
2. unstable (needs MIN_EPOCHS epochs): the train loss goes up from one
   epoch to the next in at least UNSTABLE_UP_FRACTION of the epochs, by
   more than UNSTABLE_JUMP of its value on average.
3. overfitting: validation loss ended at least OVERFIT_RISE above its best
   epoch while the train loss kept falling after that epoch; or the final
   validation loss exceeds the train loss by OVERFIT_GAP (relative) and the
   gap grew since the best epoch; or the final validation loss is over
   OVERFIT_RATIO times the train loss (and above it by OVERFIT_MIN_GAP):
   the model has memorised its training set even if validation still
   improves.
4. unstable: the validation loss zigzags (direction flips in at least
   UNSTABLE_FLIP_FRACTION of the epochs, moving more than
   UNSTABLE_VAL_SWING per epoch on average; needs MIN_EPOCHS epochs).
5. underfitting: the train loss fell by less than UNDERFIT_MIN_DROP over
   the run (the model does not learn), or it was still falling by more than
   UNDERFIT_TAIL_SLOPE per epoch over the last third together with the
   validation loss (training stopped too early, rate too low, model small).
6. good_fit otherwise.

Advice is drawn from seeds 000, 001, 003 and 004 (dropout, L2 / weight
decay, early stopping, model size, data size, epochs, learning rate,
schedules, batch size, clipping) and names the experiment-file key and a
value to try, computed from the run's own configuration when known.
"""

import dataclasses
import math

import numpy as np

VERDICTS = ("good_fit", "overfitting", "underfitting", "unstable", "diverged")

MIN_EPOCHS = 4
DIVERGE_RATIO = 1.5
UNSTABLE_UP_FRACTION = 0.4
UNSTABLE_JUMP = 0.05
UNSTABLE_FLIP_FRACTION = 0.5
UNSTABLE_VAL_SWING = 0.10
OVERFIT_RISE = 0.05
OVERFIT_GAP = 0.25
OVERFIT_RATIO = 3.0
OVERFIT_MIN_GAP = 0.05
UNDERFIT_MIN_DROP = 0.10
UNDERFIT_TAIL_SLOPE = 0.02


@dataclasses.dataclass
class Diagnosis:
    verdict: str
    reasons: list
    advice: list
    evidence: dict

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_text(self):
        lines = [self.verdict]
        lines += [f"- {reason}" for reason in self.reasons]
        if self.advice:
            lines.append("Advice:")
            lines += [
                f"- --set {a['key']}={a['value']}  ({a['why']})"
                for a in self.advice
            ]
        return "\n".join(lines)


def _finite(values):
    return all(math.isfinite(v) for v in values)


def _up_moves(values):
    """(fraction of epochs that went up, mean relative size of the rises)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return 0.0, 0.0
    rel = np.diff(v) / np.maximum(np.abs(v[:-1]), 1e-12)
    ups = rel[rel > 0]
    return len(ups) / len(rel), float(ups.mean()) if len(ups) else 0.0


def _flips(values):
    """(fraction of direction changes, mean relative move per epoch)."""
    v = np.asarray(values, dtype=float)
    if len(v) < 3:
        return 0.0, 0.0
    rel = np.diff(v) / np.maximum(np.abs(v[:-1]), 1e-12)
    signs = np.sign(rel)
    return float(np.mean(signs[1:] * signs[:-1] < 0)), float(
        np.abs(rel).mean()
    )


def _tail_slope(values):
    """Relative fall per epoch over the last third (positive = falling)."""
    v = np.asarray(values, dtype=float)
    tail = v[-max(3, len(v) // 3):]
    slope = np.polyfit(np.arange(len(tail)), tail, 1)[0]
    return float(-slope / max(abs(tail.mean()), 1e-12))


def _get(config, section, key, default):
    return (config or {}).get(section, {}).get(key, default)


def _knob_advice(config, roles):
    """Advice from the run's model family's knobs: for each (role,
    direction), the knobs of that role moved one step that way."""
    from kerastune_lab.families.registry import FAMILIES

    family = FAMILIES.get(_get(config, "model", "name", None))
    if family is None:
        return []
    items = []
    for role, direction in roles:
        for knob in family.knobs:
            if knob.role != role or (knob.applies is not None
                                     and not knob.applies(config)):
                continue
            value = getattr(knob, direction)(knob.value(config))
            if value is not None:
                items.append({"key": knob.key, "value": value,
                              "why": f"{'more' if direction == 'up' else 'less'}"
                                     f" {knob.why}"})
    return items


def _advice(verdict, config):
    """Ready `--set` changes for a verdict; every one of them is a valid
    value of a key of this run's configuration (`kerastune-lab check`)."""
    lr = _get(config, "train", "learning_rate", 1e-3)
    epochs = _get(config, "train", "epochs", 20)
    batch = _get(config, "train", "batch_size", 64)
    clipnorm = _get(config, "train", "clipnorm", 0.0)

    def item(key, value, why):
        return {"key": key, "value": value, "why": why}

    clip = [] if clipnorm else [item("train.clipnorm", 1.0,
                                     "clip the gradient norm")]
    if verdict == "overfitting":
        early = [] if _get(config, "train", "early_stopping", False) else [
            item("train.early_stopping", "true",
                 "keep the best validation epoch (seeds 000, 001)")]
        return early + _knob_advice(config, [
            ("regularisation", "up"), ("capacity", "down"), ("data", "up")])
    if verdict == "underfitting":
        return [
            item("train.epochs", epochs * 2,
                 "train longer: the loss was still falling (seed 000)"),
            item("train.learning_rate", f"{lr * 3:.3g}",
                 "a higher rate learns faster (seed 001)"),
        ] + _knob_advice(config, [("capacity", "up"),
                                  ("regularisation", "down")])
    if verdict == "unstable":
        return [
            item("train.learning_rate", f"{lr / 3:.3g}",
                 "a lower rate steadies training (seeds 000, 001)"),
            item("train.batch_size", batch * 2,
                 "larger batches give smoother gradients (seed 001)"),
            *([] if _get(config, "train", "schedule", "") == "cosine" else [
                item("train.schedule", '"cosine"',
                     "a decaying rate (seed 001: decay)")]),
            *clip,
        ]
    if verdict == "diverged":
        return [
            item("train.learning_rate", f"{lr / 10:.3g}",
                 "the rate is too high for this model"),
            *clip,
        ]
    return []


def diagnose_history(history, config=None, initial_loss=None):
    """Diagnoses a run from its per-epoch history.

    Args:
        history: Mapping with lists `loss` and `val_loss` (and optionally
            metrics such as `accuracy` / `val_accuracy`), one value per
            epoch.
        config: The run's resolved configuration (config.json "config"),
            used to compute advised values. Optional.
        initial_loss: The first optimizer step's batch loss, if known (a
            run that blows up within its first epoch has a huge epoch-0
            mean already).

    Returns:
        A `Diagnosis`.
    """
    loss = [float(v) for v in history.get("loss", [])]
    val = [float(v) for v in history.get("val_loss", [])]
    if not loss:
        raise ValueError("The history has no 'loss' values to diagnose.")
    n = len(loss)
    evidence = {"epochs": n, "first_loss": loss[0], "final_loss": loss[-1]}
    reasons = []

    def verdict(name):
        return Diagnosis(name, reasons, _advice(name, config), evidence)

    if not _finite(loss) or (val and not _finite(val)):
        bad = next(
            i for i in range(n)
            if not math.isfinite(loss[i])
            or (i < len(val) and not math.isfinite(val[i]))
        )
        evidence["first_nonfinite_epoch"] = bad
        reasons.append(f"the loss became non-finite at epoch {bad}")
        return verdict("diverged")
    start, where = loss[0], "epoch 0"
    if initial_loss is not None and math.isfinite(initial_loss) \
            and initial_loss < start:
        start, where = initial_loss, "the first step"
    if loss[-1] > DIVERGE_RATIO * start:
        reasons.append(
            f"train loss rose from {start:.4g} ({where}) to "
            f"{loss[-1]:.4g} (epoch {n - 1})"
        )
        return verdict("diverged")

    if val:
        best = int(np.argmin(val))
        evidence.update(
            best_epoch=best, best_val_loss=val[best], final_val_loss=val[-1],
            final_gap=val[-1] - loss[-1],
        )
    if n >= MIN_EPOCHS:
        up_fraction, jump = _up_moves(loss)
        evidence["train_up_fraction"] = up_fraction
        if up_fraction >= UNSTABLE_UP_FRACTION and jump > UNSTABLE_JUMP:
            reasons.append(
                f"train loss went up in {up_fraction:.0%} of epochs, by "
                f"{jump:.1%} on average"
            )
            return verdict("unstable")

    if val and n >= 3:
        rise = val[-1] / max(val[best], 1e-12) - 1
        train_fell = loss[-1] < loss[best]
        gap_end = (val[-1] - loss[-1]) / max(abs(loss[-1]), 1e-12)
        gap_best = (val[best] - loss[best]) / max(abs(loss[best]), 1e-12)
        evidence.update(val_rise_from_best=rise, relative_gap=gap_end)
        if best < n - 1 and rise >= OVERFIT_RISE and train_fell:
            reasons.append(
                f"validation loss was lowest at epoch {best} ({val[best]:.4g})"
                f" and ended {rise:.0%} higher ({val[-1]:.4g}) while train "
                f"loss kept falling ({loss[best]:.4g} -> {loss[-1]:.4g})"
            )
            return verdict("overfitting")
        if gap_end > OVERFIT_GAP and gap_end > gap_best:
            reasons.append(
                f"validation loss ends {gap_end:.0%} above the train loss "
                f"({val[-1]:.4g} vs {loss[-1]:.4g}), a gap that grew from "
                f"{gap_best:.0%} at the best epoch {best}"
            )
            return verdict("overfitting")
        if (val[-1] > OVERFIT_RATIO * loss[-1]
                and val[-1] - loss[-1] > OVERFIT_MIN_GAP):
            reasons.append(
                f"validation loss ends {val[-1] / max(loss[-1], 1e-12):.3g}"
                f" times the train loss ({val[-1]:.4g} vs {loss[-1]:.4g} at "
                f"epoch {n - 1}): the training set is memorised"
            )
            return verdict("overfitting")

    if val and n >= MIN_EPOCHS:
        flips, swing = _flips(val)
        evidence["val_direction_flips"] = flips
        if flips >= UNSTABLE_FLIP_FRACTION and swing > UNSTABLE_VAL_SWING:
            reasons.append(
                f"validation loss changed direction in {flips:.0%} of "
                f"epochs, moving {swing:.0%} per epoch on average"
            )
            return verdict("unstable")

    drop = 1 - loss[-1] / max(loss[0], 1e-12)
    evidence["train_loss_drop"] = drop
    if drop < UNDERFIT_MIN_DROP and n >= 2:
        reasons.append(
            f"train loss fell only {drop:.0%} over {n} epochs "
            f"({loss[0]:.4g} -> {loss[-1]:.4g})"
        )
        return verdict("underfitting")
    if n >= 3:
        slope = _tail_slope(loss)
        val_slope = _tail_slope(val) if len(val) >= 3 else slope
        evidence.update(train_tail_slope=slope, val_tail_slope=val_slope)
        if slope > UNDERFIT_TAIL_SLOPE and val_slope > 0:
            reasons.append(
                f"train and validation loss were still falling at the end "
                f"({slope:.1%} and {val_slope:.1%} per epoch over the last "
                "third)"
            )
            return verdict("underfitting")
    reasons.append(
        "the loss settled without a growing generalisation gap"
        + (f"; best validation epoch {best}" if val else "")
    )
    return verdict("good_fit")
