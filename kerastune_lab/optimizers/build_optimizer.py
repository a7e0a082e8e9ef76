"""The optimizer of an experiment, by name."""

import keras

from kerastune_lab.config.experiment_config import OPTIMIZERS


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
        name: One of `OPTIMIZERS`.
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
    common = {"learning_rate": learning_rate, "global_clipnorm": clipnorm}
    if epsilon is not None and name != "sgd":
        common["epsilon"] = epsilon
    if weight_decay:
        common["weight_decay"] = weight_decay
    if name == "adam":
        optimizer = keras.optimizers.Adam(**common)
    elif name == "adamw":
        common.setdefault("weight_decay", 0.0)
        optimizer = keras.optimizers.AdamW(**common)
    elif name == "rmsprop":
        optimizer = keras.optimizers.RMSprop(momentum=momentum, **common)
    elif name == "sgd":
        optimizer = keras.optimizers.SGD(momentum=momentum, **common)
    elif name == "adagrad":
        optimizer = keras.optimizers.Adagrad(**common)
    elif name == "schedule_free_adamw":
        # The model trains at the interpolated point y; evaluation belongs
        # at the averaged point x (callbacks.ScheduleFreeEvaluation).
        optimizer = keras.optimizers.ScheduleFreeAdamW(**common)
    else:
        raise ValueError(
            f"Unknown optimizer {name!r}; expected one of {OPTIMIZERS}."
        )
    if weight_decay and exclude_from_weight_decay:
        optimizer.exclude_from_weight_decay(
            var_names=list(exclude_from_weight_decay)
        )
    return optimizer
