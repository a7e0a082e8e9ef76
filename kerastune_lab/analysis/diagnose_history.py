"""A verdict on a training run from its curves, with evidence and advice.

Every loss is read against S, the loss of a model that learned nothing:
the run's `no_skill_eval_loss` (class prior or unigram cross-entropy,
config.json) when known, else its first step's batch loss, else its
first epoch's. The rules are checked in this order (the first that fires
wins); epochs are 0-based, as in history.csv:

1. diverged: a non-finite train or validation loss; or a sustained
   explosion: the train loss of the last epochs (the last one for runs of
   2 epochs or fewer, else the last 2) all above DIVERGE_RATIO times the
   run's lowest train loss and above where it started. A zigzag that ends
   on a high epoch is not sustained.
2. unstable: the train loss goes up from one epoch to the next in at least
   UNSTABLE_UP_FRACTION of the epochs, by more than UNSTABLE_JUMP of its
   value and UNSTABLE_MIN_RISE x S on average (needs MIN_EPOCHS); or the
   last epoch's train loss jumped above DIVERGE_RATIO times its lowest, by
   more than SPIKE_MIN_RISE x S, without staying there (a spike, not yet
   an explosion); or, from steps.csv (at least
   MIN_STEPS steps), at least SPIKE_FRACTION of the steps spike: their
   batch loss exceeds SPIKE_RATIO times the median of the SPIKE_WINDOW
   steps before it, and by more than SPIKE_MIN_RISE x S.
   With early stopping that restores the best weights, rules 3 to 5
   judge the kept model: the curves up to the best validation epoch (the
   epochs after it are the patience window); a model kept at its best
   validation epoch is not called memorised.
3. overfitting: the validation loss ended at least OVERFIT_RISE above its
   best epoch while the train loss kept falling after it; or the final
   validation loss exceeds the train loss by more than OVERFIT_GAP x S and
   that gap grew since the best epoch; or the train loss fell below
   MEMORISED x S while the validation loss stays more than OVERFIT_GAP x S
   above it (the training set is memorised).
4. unstable: the validation loss zigzags (direction flips in at least
   UNSTABLE_FLIP_FRACTION of the epochs, moving more than
   UNSTABLE_VAL_SWING per epoch on average; needs MIN_EPOCHS epochs).
5. underfitting: the final train loss is still above UNDERFIT_SKILL x S
   (the model has learned little of what there is to learn; seed 001's
   "large error overall").
6. good_fit otherwise.

The flag "still improving" joins any verdict but diverged when the
validation loss (the train loss without one) still fell by more than
STILL_IMPROVING_SLOPE per epoch over the last third (train longer), unless
early stopping ended the run.

Advice names experiment-file keys and values computed from the run's own
configuration: generic training keys (early stopping, epochs, rate,
schedule, batch size, clipping; seeds 000, 001, 003) and the run's model
family's knobs of capacity, regularisation and data amount
(`families.model_family.Knob`), each a value `kerastune-lab check`
accepts.
"""

import dataclasses
import math

import numpy as np

VERDICTS = ("good_fit", "overfitting", "underfitting", "unstable", "diverged")
# The verdicts that name a problem (a study counts them per cell).
PROBLEMS = VERDICTS[1:]

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
STILL_IMPROVING = "still improving"


@dataclasses.dataclass
class Diagnosis:
    verdict: str
    reasons: list
    advice: list
    evidence: dict
    flags: list = dataclasses.field(default_factory=list)

    @property
    def headline(self):
        """ "good_fit" or "good_fit, still improving": the first line."""
        return ", ".join([self.verdict, *self.flags])

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_text(self):
        lines = [self.headline]
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
    tail = v[-max(3, len(v) // 3) :]
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
            if knob.role != role or (
                knob.applies is not None and not knob.applies(config)
            ):
                continue
            value = getattr(knob, direction)(knob.value(config))
            if value is not None:
                items.append(
                    {
                        "key": knob.key,
                        "value": value,
                        "why": f"{'more' if direction == 'up' else 'less'}"
                        f" {knob.why}",
                    }
                )
    return items


def _advice(verdict, config, flags=()):
    """Ready `--set` changes for a verdict; every one of them is a valid
    value of a key of this run's configuration (`kerastune-lab check`)."""
    lr = _get(config, "train", "learning_rate", 1e-3)
    epochs = _get(config, "train", "epochs", 20)
    batch = _get(config, "train", "batch_size", 64)
    clipnorm = _get(config, "train", "clipnorm", 0.0)

    def item(key, value, why):
        return {"key": key, "value": value, "why": why}

    clip = (
        []
        if clipnorm
        else [item("train.clipnorm", 1.0, "clip the gradient norm")]
    )
    if verdict == "overfitting":
        early = (
            []
            if _get(config, "train", "early_stopping", False)
            else [
                item(
                    "train.early_stopping",
                    "true",
                    "keep the best validation epoch (seeds 000, 001)",
                )
            ]
        )
        return early + _knob_advice(
            config,
            [("regularisation", "up"), ("capacity", "down"), ("data", "up")],
        )
    longer = (
        [
            item(
                "train.epochs",
                epochs * 2,
                "train longer: the loss was still falling (seed 000)",
            )
        ]
        if STILL_IMPROVING in flags
        else []
    )
    if verdict == "underfitting":
        return (
            longer
            + [
                item(
                    "train.learning_rate",
                    f"{lr * 3:.3g}",
                    "a higher rate learns faster (seed 001)",
                ),
            ]
            + _knob_advice(
                config, [("capacity", "up"), ("regularisation", "down")]
            )
        )
    if verdict == "unstable":
        return [
            item(
                "train.learning_rate",
                f"{lr / 3:.3g}",
                "a lower rate steadies training (seeds 000, 001)",
            ),
            item(
                "train.batch_size",
                batch * 2,
                "larger batches give smoother gradients (seed 001)",
            ),
            *(
                []
                if _get(config, "train", "schedule", "") == "cosine"
                else [
                    item(
                        "train.schedule",
                        '"cosine"',
                        "a decaying rate (seed 001: decay)",
                    )
                ]
            ),
            *clip,
        ]
    if verdict == "diverged":
        return [
            item(
                "train.learning_rate",
                f"{lr / 10:.3g}",
                "the rate is too high for this model",
            ),
            *clip,
        ]
    return longer


def _restored_best(config):
    train = (config or {}).get("train", {})
    return bool(train.get("early_stopping")) and bool(
        train.get("restore_best_weights", True)
    )


def _spike_fraction(steps, scale):
    """Share of steps whose batch loss spikes above its recent median."""
    v = np.asarray(steps, dtype=float)
    if len(v) < MIN_STEPS:
        return None
    spikes = 0
    for i in range(SPIKE_WINDOW, len(v)):
        median = np.median(v[i - SPIKE_WINDOW : i])
        if (
            v[i] > SPIKE_RATIO * median
            and v[i] - median > SPIKE_MIN_RISE * scale
        ):
            spikes += 1
    return spikes / (len(v) - SPIKE_WINDOW)


def diagnose_history(
    history,
    config=None,
    initial_loss=None,
    no_skill_loss=None,
    step_losses=None,
):
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
        no_skill_loss: The eval loss of a model that learned nothing
            (config.json "no_skill_eval_loss"), if known.
        step_losses: Every step's batch loss (steps.csv), if known.

    Returns:
        A `Diagnosis`.
    """
    loss = [float(v) for v in history.get("loss", [])]
    val = [float(v) for v in history.get("val_loss", [])]
    if not loss:
        raise ValueError("The history has no 'loss' values to diagnose.")
    n = len(loss)
    start, where = loss[0], "epoch 0"
    if (
        initial_loss is not None
        and math.isfinite(initial_loss)
        and initial_loss < start
    ):
        start, where = initial_loss, "the first step"
    scale, scale_name = start, f"the starting loss ({start:.4g})"
    if (
        no_skill_loss is not None
        and math.isfinite(no_skill_loss)
        and no_skill_loss > 0
    ):
        scale = no_skill_loss
        scale_name = f"the no-skill loss ({no_skill_loss:.4g})"
    evidence = {
        "epochs": n,
        "first_loss": loss[0],
        "final_loss": loss[-1],
        "reference_loss": scale,
    }
    reasons, flags = [], []
    history_loss, history_val = loss, val

    def verdict(name):
        # The flag reads the whole run; a run early stopping ended is
        # not still improving (its patience ran out).
        if (
            name != "diverged"
            and len(history_loss) >= 3
            and "restored_epoch" not in evidence
        ):
            curve = (
                history_val
                if len(history_val) == len(history_loss)
                else history_loss
            )
            slope = _tail_slope(curve)
            evidence["tail_slope"] = slope
            if slope > STILL_IMPROVING_SLOPE:
                flags.append(STILL_IMPROVING)
                reasons.append(
                    f"the {'validation' if curve is history_val else 'train'}"
                    " loss "
                    f"was still falling {slope:.1%} per epoch over the last "
                    "third"
                )
        return Diagnosis(
            name, reasons, _advice(name, config, flags), evidence, flags
        )

    if not _finite(loss) or (val and not _finite(val)):
        bad = next(
            i
            for i in range(n)
            if not math.isfinite(loss[i])
            or (i < len(val) and not math.isfinite(val[i]))
        )
        evidence["first_nonfinite_epoch"] = bad
        reasons.append(f"the loss became non-finite at epoch {bad}")
        return verdict("diverged")
    last = loss[-(1 if n <= 2 else 2) :]
    low = min(min(loss), start)
    if all(v > DIVERGE_RATIO * low and v > start for v in last):
        reasons.append(
            f"train loss rose from {start:.4g} ({where}) to "
            f"{loss[-1]:.4g} (epoch {n - 1}) and stayed above "
            f"{DIVERGE_RATIO:g} times its lowest ({low:.4g})"
        )
        return verdict("diverged")

    if val:
        best = int(np.argmin(val))
        evidence.update(
            best_epoch=best,
            best_val_loss=val[best],
            final_val_loss=val[-1],
            final_gap=val[-1] - loss[-1],
        )
    if n >= MIN_EPOCHS:
        up_fraction, jump = _up_moves(loss)
        evidence["train_up_fraction"] = up_fraction
        rises = np.diff(loss)[np.diff(loss) > 0]
        if (
            up_fraction >= UNSTABLE_UP_FRACTION
            and jump > UNSTABLE_JUMP
            and rises.mean() > UNSTABLE_MIN_RISE * scale
        ):
            reasons.append(
                f"train loss went up in {up_fraction:.0%} of epochs, by "
                f"{jump:.1%} on average"
            )
            return verdict("unstable")
    if (
        n > 2
        and loss[-1] > DIVERGE_RATIO * low
        and loss[-1] - low > SPIKE_MIN_RISE * scale
    ):
        reasons.append(
            f"train loss jumped to {loss[-1]:.4g} at the last epoch, over "
            f"{DIVERGE_RATIO:g} times its lowest ({low:.4g}), without "
            "staying there"
        )
        return verdict("unstable")
    if step_losses is not None:
        spikes = _spike_fraction(step_losses, scale)
        if spikes is not None:
            evidence["step_spike_fraction"] = spikes
            if spikes >= SPIKE_FRACTION:
                reasons.append(
                    f"{spikes:.1%} of the steps' batch losses spiked above "
                    f"{SPIKE_RATIO:g} times the median of the "
                    f"{SPIKE_WINDOW} steps before them"
                )
                return verdict("unstable")

    if val and _restored_best(config) and best < n - 1:
        # The model that was kept is the best epoch's: the epochs after it
        # are early stopping's patience, not the result.
        reasons.append(
            f"early stopping kept epoch {best} (validation loss "
            f"{val[best]:.4g}); the {n - 1 - best} epoch(s) after it are "
            "its patience window"
        )
        evidence["restored_epoch"] = best
        loss, val, n = loss[: best + 1], val[: best + 1], best + 1
    if val and n >= 3:
        rise = val[-1] / max(val[best], 1e-12) - 1
        train_fell = loss[-1] < loss[best]
        gap_end = val[-1] - loss[-1]
        gap_best = val[best] - loss[best]
        evidence.update(
            val_rise_from_best=rise, gap_over_reference=gap_end / scale
        )
        if best < n - 1 and rise >= OVERFIT_RISE and train_fell:
            reasons.append(
                f"validation loss was lowest at epoch {best} ({val[best]:.4g})"
                f" and ended {rise:.0%} higher ({val[-1]:.4g}) while train "
                f"loss kept falling ({loss[best]:.4g} -> {loss[-1]:.4g})"
            )
            return verdict("overfitting")
        if gap_end > OVERFIT_GAP * scale and gap_end > gap_best:
            reasons.append(
                f"validation loss ends {gap_end:.4g} above the train loss "
                f"({val[-1]:.4g} vs {loss[-1]:.4g}), {gap_end / scale:.0%} of "
                f"{scale_name}, a gap that grew from {gap_best:.4g} at the "
                f"best epoch {best}"
            )
            return verdict("overfitting")
        if (
            loss[-1] < MEMORISED * scale
            and gap_end > OVERFIT_GAP * scale
            and "restored_epoch" not in evidence
        ):
            reasons.append(
                f"train loss is down to {loss[-1]:.4g}, under "
                f"{MEMORISED:.0%} of {scale_name}, while the validation loss "
                f"stays at {val[-1]:.4g} (epoch {n - 1}): the training set "
                "is memorised"
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

    evidence["final_over_reference"] = loss[-1] / scale
    if loss[-1] > UNDERFIT_SKILL * scale:
        reasons.append(
            f"the final train loss {loss[-1]:.4g} is still "
            f"{loss[-1] / scale:.0%} of {scale_name}: the model has learned "
            "little even on its training data"
        )
        return verdict("underfitting")
    reasons.append(
        f"the train loss ended at {loss[-1] / scale:.0%} of {scale_name} "
        "without a growing generalisation gap"
        + (f"; best validation epoch {best}" if val else "")
    )
    return verdict("good_fit")
