"""The optimizer of an experiment, by name."""

import inspect

import keras

from kerastune_lab.choices import (
    LOSS_READING_OPTIMIZERS,
    MOMENTUM_OPTIMIZERS,
    OPTIMIZERS,
)


def build_optimizer(
    name,
    learning_rate,
    weight_decay=0.0,
    momentum=0.9,
    epsilon=None,
    clipnorm=None,
    exclude_from_weight_decay=("bias", "gamma", "beta"),
    f_star=0.0,
):
    """Returns a Keras optimizer.

    Args:
        name: A key of `choices.OPTIMIZERS`.
        learning_rate: Float or `LearningRateSchedule`.
        weight_decay: Decoupled weight decay (adamw and
            schedule_free_adamw; Keras applies it the same way for the
            others when non-zero).
        momentum: Momentum of sgd and rmsprop; beta of momo.
        epsilon: Epsilon of the adaptive optimizers (Keras default if None).
        clipnorm: Global gradient-norm clip, or None.
        exclude_from_weight_decay: Variable-name fragments that get no decay
            (biases and normalisation scales/offsets, as HF's AdamW setup).
        f_star: Lower bound of the loss, for the optimizers that read the
            loss (`choices.LOSS_READING_OPTIMIZERS`: momo, momo_adam).
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}."
        )
    if name in LOSS_READING_OPTIMIZERS:
        from kerastune_lab import optimizers as namespace
    else:
        namespace = keras.optimizers
    cls = getattr(namespace, OPTIMIZERS[name])
    common = {"learning_rate": learning_rate, "global_clipnorm": clipnorm}
    if epsilon is not None and "epsilon" in inspect.signature(cls).parameters:
        common["epsilon"] = epsilon
    if name in LOSS_READING_OPTIMIZERS:
        common["f_star"] = f_star
    if weight_decay or name == "adamw":
        common["weight_decay"] = weight_decay
    if name in MOMENTUM_OPTIMIZERS:
        common["momentum"] = momentum
    # ScheduleFreeAdamW trains at an interpolated point y; evaluation
    # belongs at its average x (callbacks.ScheduleFreeEvaluation).
    optimizer = cls(**common)
    if weight_decay and exclude_from_weight_decay:
        optimizer.exclude_from_weight_decay(
            var_names=list(exclude_from_weight_decay)
        )
    return optimizer
