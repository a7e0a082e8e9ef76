"""The named choices of experiment files, each listed once.

Configuration checks, error messages, Click options and the code that
builds each thing read these; no other module restates a list. Light on
purpose (no Keras import), so a configuration can be checked quickly.
"""

# train.optimizer -> the keras.optimizers class it builds.
OPTIMIZERS = {
    "adam": "Adam",
    "adamw": "AdamW",
    "rmsprop": "RMSprop",
    "sgd": "SGD",
    "adagrad": "Adagrad",
    # kerastune_lab.optimizers' reference version, not Keras's class.
    "schedule_free_adamw": "ScheduleFreeAdamW",
}
# Optimizers whose constructor takes `momentum` (train.momentum).
MOMENTUM_OPTIMIZERS = ("rmsprop", "sgd")

# train.schedule: Hugging Face's definitions (schedules.WarmupDecay).
SCHEDULES = ("constant", "linear", "cosine")

# lr_adapt.mode -> sign of the exponent of G: rate x G ** (sign / root).
LR_ADAPT_MODES = {"none": 0, "sd": -1, "sd2": 1}

# lr_adapt.source: where G comes from (callbacks.gamma_sources).
GAMMA_SOURCES = ("loss", "semantic")
