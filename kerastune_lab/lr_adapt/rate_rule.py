"""The shape of a loss-adaptive rate rule, and the rule `none`.

A rate rule sets the rate of each optimizer step from what the step knows:
the scheduled rate, the batch's loss and G, and optional extra signals
(the gradient's squared norm). It runs inside the compiled train step (in
`LossAdaptiveOptimizer.apply`), so it is written with `keras.ops` and
never reads anything back to the host. Modules that define rules import
Keras inside `rate` only: the rule classes are also read, without Keras,
by configuration checks (`lr_adapt.registry`).
"""

from typing import NamedTuple

# Signals a rule may ask for in `reads`, beyond the ones every step has.
EXTRA_SIGNALS = ("grad_norm_sq",)


class StepSignals(NamedTuple):
    """What a rate rule reads at one optimizer step (float32 scalars).

    Attributes:
        scheduled_rate: A'(t), the optimizer's float rate or schedule at
            this step.
        loss: L, the batch's loss that training minimises (the data loss
            plus the penalties of `model.losses`; global batch).
        gamma: G, the loss signal of `lr_adapt.source` (default: the data
            loss, penalties excluded).
        grad_norm_sq: ||g||^2, the squared global norm of the gradient of
            L over the model's weights as the optimizer receives it (before
            clipping; global batch); None unless the rule reads it.
    """

    scheduled_rate: object
    loss: object
    gamma: object
    grad_norm_sq: object = None


class RateRule:
    """A rule that sets each step's rate; this base is the rule `none`.

    Subclasses set the class attributes and override `rate` (and `check`
    for conditions between settings). Settings arrive as keyword arguments,
    are checked by their `Setting`, and become attributes of the same name.

    Class attributes:
        name: The `[lr_adapt] mode` that selects the rule.
        settings: Its `Setting`s (the `[lr_adapt]` keys it reads).
        reads: Names in `EXTRA_SIGNALS` the rule needs; the step computes
            them and steps.csv logs each as a column.

    Args:
        **values: A value for any of `settings` (the rest take defaults).

    Example:

    >>> rule = RateRule()
    >>> rule.get_config()
    {}
    """

    name = "none"
    settings = ()
    reads = ()

    def __init__(self, **values):
        known = {setting.name: setting for setting in self.settings}
        unknown = sorted(set(values) - set(known))
        if unknown:
            allowed = ", ".join(known) or "no settings"
            raise ValueError(
                f"mode {self.name!r} takes {allowed}. Received: "
                + ", ".join(f"{k}={values[k]!r}" for k in unknown)
            )
        for name, setting in known.items():
            setattr(
                self, name, setting.check(values.get(name, setting.default))
            )
        self.check()

    def check(self):
        """Raises ValueError when settings contradict each other."""

    def rate(self, signals):
        """The rate this step's update uses (a float32 scalar tensor).

        Args:
            signals: The step's `StepSignals`.
        """
        return signals.scheduled_rate

    def get_config(self):
        return {
            setting.name: getattr(self, setting.name)
            for setting in self.settings
        }
