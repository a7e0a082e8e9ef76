"""The named choices of experiment files, each listed once.

Configuration checks, error messages, Click options and the code that
builds each thing read these; no other module restates a list. Light on
purpose (no Keras import), so a configuration can be checked quickly.
"""

import dataclasses


@dataclasses.dataclass(frozen=True)
class OptimizerChoice:
    """What a `train.optimizer` name builds, and what it asks of a run.

    Attributes:
        class_name: The optimizer class, in `keras.optimizers`, or in
            `kerastune_lab.optimizers` when `own`.
        own: This package's class (a reference implementation, or an
            optimizer Keras does not have).
        momentum: Its constructor takes `momentum` (train.momentum).
        reads_loss: Its update reads each batch's loss, which the loss
            probe feeds it (kerastune_lab.lr_adapt); lr_adapt.mode stays
            none, and `[lr_adapt] f_star` is its lower bound.
        schedule_free: It replaces the decay schedule by averaging its
            iterates: schedule constant, its own warmup (train.warmup_steps
            goes to the optimizer), and evaluated at the average its
            `evaluation_values()` gives, so restoring an earlier epoch's
            weights alone (restore_best_weights) would be wrong.
    """

    class_name: str
    own: bool = False
    momentum: bool = False
    reads_loss: bool = False
    schedule_free: bool = False


# train.optimizer -> what it builds.
OPTIMIZERS = {
    "adam": OptimizerChoice("Adam"),
    "adamw": OptimizerChoice("AdamW"),
    "rmsprop": OptimizerChoice("RMSprop", momentum=True),
    "sgd": OptimizerChoice("SGD", momentum=True),
    "adagrad": OptimizerChoice("Adagrad"),
    # The authors' reference algorithm, not keras.optimizers' class.
    "schedule_free_adamw": OptimizerChoice(
        "ScheduleFreeAdamW", own=True, schedule_free=True
    ),
    "momo": OptimizerChoice("Momo", own=True, momentum=True, reads_loss=True),
    "momo_adam": OptimizerChoice("MomoAdam", own=True, reads_loss=True),
}

# train.schedule: Hugging Face's definitions (schedules.WarmupDecay).
SCHEDULES = ("constant", "linear", "cosine")

# lr_adapt.mode: the rules of kerastune_lab.lr_adapt.registry.RATE_RULES.

# lr_adapt.source: where G comes from (lr_adapt.gamma_sources).
GAMMA_SOURCES = ("loss", "semantic")
