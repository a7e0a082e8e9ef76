"""The optimizer of an experiment, by name."""

import importlib

from kerastune_lab.choices import OPTIMIZERS


def build_optimizer(
    name,
    learning_rate,
    clipnorm=None,
    exclude_from_weight_decay=("bias", "gamma", "beta"),
    **values,
):
    """Returns the optimizer `choices.OPTIMIZERS[name]` declares.

    Args:
        name: A key of `choices.OPTIMIZERS`.
        learning_rate: Float or `LearningRateSchedule`.
        clipnorm: Global gradient-norm clip, or None.
        exclude_from_weight_decay: Variable-name fragments that get no decay
            (biases and normalisation scales/offsets, as HF's AdamW setup).
        **values: Values of the optimizers' settings and read keys by name
            (`weight_decay`, `momentum`, `epsilon`, `f_star`,
            `warmup_steps`, ...; `OptimizerChoice.arguments`): the
            optimizer takes those it declares, the rest are ignored, so
            that one call can carry a whole experiment's values.

    Example:

    >>> type(build_optimizer("sgd", 0.1, momentum=0.5)).__name__
    'SGD'
    """
    if name not in OPTIMIZERS:
        raise ValueError(
            f"Unknown optimizer {name!r}; expected one of {list(OPTIMIZERS)}."
        )
    known = {n for choice in OPTIMIZERS.values() for n in choice.value_names}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"build_optimizer takes the settings {sorted(known)}. Received: "
            + ", ".join(f"{key}={values[key]!r}" for key in unknown)
        )
    choice = OPTIMIZERS[name]
    module, _, class_name = choice.class_path.rpartition(".")
    cls = getattr(importlib.import_module(module), class_name)
    arguments = choice.arguments(values)
    optimizer = cls(
        learning_rate=learning_rate, global_clipnorm=clipnorm, **arguments
    )
    if arguments.get("weight_decay") and exclude_from_weight_decay:
        optimizer.exclude_from_weight_decay(
            var_names=list(exclude_from_weight_decay)
        )
    return optimizer
