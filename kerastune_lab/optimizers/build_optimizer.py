"""The optimizer of an experiment, by name."""

import keras

from kerastune_lab.choices import MOMENTUM_OPTIMIZERS, OPTIMIZERS
from kerastune_lab.optimizers.schedule_free_adamw import ScheduleFreeAdamW

# This package's classes, which take precedence over keras.optimizers'
# class of the same name (Keras's ScheduleFreeAdamW is not the reference
# algorithm: kerastune_lab.optimizers.schedule_free_adamw).
OWN_OPTIMIZERS = {cls.__name__: cls for cls in (ScheduleFreeAdamW,)}


def build_optimizer(
    name,
    learning_rate,
    weight_decay=0.0,
    momentum=0.9,
    epsilon=None,
    clipnorm=None,
    exclude_from_weight_decay=("bias", "gamma", "beta"),
):
    """Returns a Keras optimizer.

    Args:
        name: A key of `choices.OPTIMIZERS`.
        learning_rate: Float or `LearningRateSchedule`.
        weight_decay: Decoupled weight decay (adamw and
            schedule_free_adamw; Keras applies it the same way for the
            others when non-zero).
        momentum: Momentum of sgd and rmsprop.
        epsilon: Epsilon of the adaptive optimizers (Keras default if None).
        clipnorm: Global gradient-norm clip, or None.
        exclude_from_weight_decay: Variable-name fragments that get no decay
            (biases and normalisation scales/offsets, as HF's AdamW setup).
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}."
        )
    common = {"learning_rate": learning_rate, "global_clipnorm": clipnorm}
    if epsilon is not None and name != "sgd":
        common["epsilon"] = epsilon
    if weight_decay or name == "adamw":
        common["weight_decay"] = weight_decay
    if name in MOMENTUM_OPTIMIZERS:
        common["momentum"] = momentum
    # ScheduleFreeAdamW trains at an interpolated point y; evaluation
    # belongs at its average x (callbacks.ScheduleFreeEvaluation).
    class_name = OPTIMIZERS[name]
    optimizer_class = OWN_OPTIMIZERS.get(class_name) or getattr(
        keras.optimizers, class_name
    )
    optimizer = optimizer_class(**common)
    if weight_decay and exclude_from_weight_decay:
        optimizer.exclude_from_weight_decay(
            var_names=list(exclude_from_weight_decay)
        )
    return optimizer
