"""The loss-adaptive rate rules by `[lr_adapt] mode`, and what is derived
from them.

Adding a rate rule is one `RateRule` subclass in its own module and one
entry in `RATE_RULES`: its settings become `[lr_adapt]` keys (with their
checks and docs) and `LossAdaptiveLR` arguments, the signals it reads
become steps.csv and TensorBoard columns, and it can have a matched-rate
control in a study, with no other edit. Light on purpose (no Keras): the
configuration checks read this module.
"""

from kerastune_lab.errors import ConfigError
from kerastune_lab.lr_adapt.polyak import Polyak
from kerastune_lab.lr_adapt.rate_rule import RateRule
from kerastune_lab.lr_adapt.sd import SD, SD2

# lr_adapt.mode -> its rule, one line each ("none" is the base: A'' = A').
RATE_RULES = {rule.name: rule for rule in (RateRule, SD, SD2, Polyak)}

# Columns of every step's record, in order; a rule appends what it reads.
STEP_COLUMNS = ("loss", "gamma", "factor", "lr")


def rate_rule(mode, **values):
    """The rule named `mode` with these settings; ValueError naming a bad
    mode or setting."""
    if mode not in RATE_RULES:
        raise ValueError(
            f"`mode` must be one of {tuple(RATE_RULES)}. Received: "
            f"mode={mode!r}"
        )
    return RATE_RULES[mode](**values)


def step_columns(rule):
    """The per-step record's columns under `rule` (without step, epoch)."""
    return STEP_COLUMNS + tuple(rule.reads)


def all_settings():
    """Every `[lr_adapt]` setting once, in registry order. A name shared by
    rules is one setting (f_star)."""
    settings = {}
    for setting in (s for rule in RATE_RULES.values() for s in rule.settings):
        if settings.setdefault(setting.name, setting) != setting:
            raise TypeError(
                f"Two different settings are named {setting.name!r}; "
                "rules that share a key must share its Setting."
            )
    return tuple(settings.values())


def config_settings(adapt, mode=None):
    """{argument: value} of a rule (default: `adapt.mode`'s) from an
    `[lr_adapt]` section, for `LossAdaptiveLR(mode, **...)`."""
    rule = RATE_RULES[mode or adapt.mode]
    return {
        s.name: s.from_config(getattr(adapt, s.name)) for s in rule.settings
    }


def check_config(adapt):
    """ConfigError for `[lr_adapt]` settings that contradict each other,
    which the field checks let pass (under any mode, so that a study
    varying the mode never meets them late)."""
    for mode in RATE_RULES:
        try:
            rate_rule(mode, **config_settings(adapt, mode))
        except ValueError as error:
            raise ConfigError(f"[lr_adapt] {error}") from None


def matched_rate_modes():
    """The modes a matched-rate control can follow: every rate rule but
    none (the control trains mode none at that rule's mean factor)."""
    return tuple(name for name in RATE_RULES if name != "none")
