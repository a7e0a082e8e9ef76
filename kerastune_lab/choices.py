"""The named choices of experiment files, each listed once.

Configuration checks, error messages, Click options and the code that
builds each thing read these; no other module restates a list. Light on
purpose (no Keras import), so a configuration can be checked quickly.
"""

# train.optimizer values whose update reads each batch's loss -> their
# class in kerastune_lab.optimizers (kerastune_lab.lr_adapt; the loss
# probe feeds them, lr_adapt.mode stays none).
LOSS_READING_OPTIMIZERS = {"momo": "Momo", "momo_adam": "MomoAdam"}

# train.optimizer -> the class it builds (keras.optimizers for the others).
OPTIMIZERS = {
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "sgd": "SGD",
    "adagrad": "Adagrad",
    "schedule_free_adamw": "ScheduleFreeAdamW",
    **LOSS_READING_OPTIMIZERS,
}
# Optimizers whose constructor takes `momentum` (train.momentum).
MOMENTUM_OPTIMIZERS = ("rmsprop", "sgd", "momo")

# train.schedule: Hugging Face's definitions (schedules.WarmupDecay).
SCHEDULES = ("constant", "linear", "cosine")

# lr_adapt.mode: the rules of kerastune_lab.lr_adapt.registry.RATE_RULES.

# lr_adapt.source: where G comes from (lr_adapt.gamma_sources).
GAMMA_SOURCES = ("loss", "semantic")
