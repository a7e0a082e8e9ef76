"""The named choices of experiment files, each listed once.

Configuration checks, error messages, Click options and the code that
builds each thing read these; no other module restates a list. Light on
purpose (no Keras import), so a configuration can be checked quickly.
"""

from kerastune_lab.optimizer_choice import OptimizerChoice, OptimizerSetting

# Settings that several optimizers take.
WEIGHT_DECAY = OptimizerSetting(
    "weight_decay",
    0.0,
    "decoupled weight decay (biases and normalisation scales and offsets "
    "excepted); 0: none",
    minimum=0.0,
    unset=0.0,
)
MOMENTUM = OptimizerSetting(
    "momentum", 0.9, "momentum", minimum=0.0, maximum=1.0
)
EPSILON = OptimizerSetting(
    "epsilon",
    0.0,
    "epsilon of the adaptive optimizers; 0: the optimizer's default",
    minimum=0.0,
    unset=0.0,
)

# train.optimizer -> what it builds, one entry each. A new optimizer is
# its class (in its own module) and an entry here; its new settings
# become [train] keys (see optimizer_choice.py).
OPTIMIZERS = {
    choice.name: choice
    for choice in (
        OptimizerChoice(
            "adam", "keras.optimizers.Adam", (WEIGHT_DECAY, EPSILON)
        ),
        # Keras's AdamW decays by 0.004 unless told; 0 here means none.
        OptimizerChoice(
            "adamw",
            "keras.optimizers.AdamW",
            (WEIGHT_DECAY, EPSILON),
            defaults={"weight_decay": 0.0},
        ),
        OptimizerChoice(
            "rmsprop",
            "keras.optimizers.RMSprop",
            (WEIGHT_DECAY, MOMENTUM, EPSILON),
        ),
        OptimizerChoice(
            "sgd", "keras.optimizers.SGD", (WEIGHT_DECAY, MOMENTUM)
        ),
        OptimizerChoice(
            "adagrad", "keras.optimizers.Adagrad", (WEIGHT_DECAY, EPSILON)
        ),
        # The authors' reference algorithm, not keras.optimizers' class.
        OptimizerChoice(
            "schedule_free_adamw",
            "kerastune_lab.optimizers.schedule_free_adamw.ScheduleFreeAdamW",
            (WEIGHT_DECAY, EPSILON),
            reads=("train.warmup_steps",),
            schedule_free=True,
        ),
        OptimizerChoice(
            "momo",
            "kerastune_lab.lr_adapt.momo.Momo",
            (WEIGHT_DECAY, MOMENTUM),
            reads=("lr_adapt.f_star",),
            reads_loss=True,
        ),
        OptimizerChoice(
            "momo_adam",
            "kerastune_lab.lr_adapt.momo.MomoAdam",
            (WEIGHT_DECAY, EPSILON),
            reads=("lr_adapt.f_star",),
            reads_loss=True,
        ),
    )
}


def optimizer_config_fields():
    """The `[train]` keys the optimizers' settings declare, each once, in
    the order of `OPTIMIZERS`: (name, type, field) for make_dataclass; a
    doc names the optimizers that take the key unless all do."""
    takers = {}
    for choice in OPTIMIZERS.values():
        for setting in choice.settings:
            named = [s for s in takers if s.name == setting.name]
            if named and named[0] != setting:
                raise TypeError(
                    f"Two different settings are named {setting.name!r}; "
                    "optimizers that take one key must share its setting."
                )
            takers.setdefault(setting, []).append(choice.name)
    return [
        setting.config_field(() if len(names) == len(OPTIMIZERS) else names)
        for setting, names in takers.items()
    ]


# train.schedule: Hugging Face's definitions (schedules.WarmupDecay).
SCHEDULES = ("constant", "linear", "cosine")

# lr_adapt.mode: the rules of kerastune_lab.lr_adapt.registry.RATE_RULES.

# lr_adapt.source: where G comes from (lr_adapt.gamma_sources).
GAMMA_SOURCES = ("loss", "semantic")
