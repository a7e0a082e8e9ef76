"""The optimizer of an experiment, by name."""

import inspect

import keras

from kerastune_lab.choices import OPTIMIZERS


def build_optimizer(
    name,
    learning_rate,
    weight_decay=0.0,
    momentum=0.9,
    epsilon=None,
    clipnorm=None,
    exclude_from_weight_decay=("bias", "gamma", "beta"),
    f_star=0.0,
    warmup_steps=0,
):
    """Returns the optimizer `choices.OPTIMIZERS[name]` declares.

    Args:
        name: A key of `choices.OPTIMIZERS`.
        learning_rate: Float or `LearningRateSchedule`.
        weight_decay: Decoupled weight decay (adamw and
            schedule_free_adamw; Keras applies it the same way for the
            others when non-zero).
        momentum: Momentum of the optimizers that take one (sgd, rmsprop;
            beta of momo).
        epsilon: Epsilon of the adaptive optimizers (Keras default if None).
        clipnorm: Global gradient-norm clip, or None.
        exclude_from_weight_decay: Variable-name fragments that get no decay
            (biases and normalisation scales/offsets, as HF's AdamW setup).
        f_star: Lower bound of the loss, for the optimizers that read the
            loss (momo, momo_adam).
        warmup_steps: Warmup of the schedule-free optimizers, which warm up
            themselves (for the others the schedule does).

    Example:

    >>> type(build_optimizer("sgd", 0.1, momentum=0.5)).__name__
    'SGD'
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}."
        )
    choice = OPTIMIZERS[name]
    if choice.own:
        from kerastune_lab import optimizers as namespace
    else:
        namespace = keras.optimizers
    cls = getattr(namespace, choice.class_name)
    common = {"learning_rate": learning_rate, "global_clipnorm": clipnorm}
    if epsilon is not None and "epsilon" in inspect.signature(cls).parameters:
        common["epsilon"] = epsilon
    if choice.reads_loss:
        common["f_star"] = f_star
    if choice.schedule_free:
        common["warmup_steps"] = warmup_steps
    if weight_decay or name == "adamw":
        common["weight_decay"] = weight_decay
    if choice.momentum:
        common["momentum"] = momentum
    optimizer = cls(**common)
    if weight_decay and exclude_from_weight_decay:
        optimizer.exclude_from_weight_decay(
            var_names=list(exclude_from_weight_decay)
        )
    return optimizer
