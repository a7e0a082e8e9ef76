"""A setting of a loss-adaptive rule, declared once.

Each rule lists its settings; the `[lr_adapt]` keys of experiment files,
their checks and docs, the rule's keyword arguments and their checks, and
its `get_config` are all derived from that list. Light on purpose (no
Keras), so that configurations are checked without loading Keras.
"""

import dataclasses
import math

from kerastune_lab.fields import option


@dataclasses.dataclass(frozen=True)
class Setting:
    """One number a rule reads.

    Args:
        name: Keyword argument of the rule, and key of `[lr_adapt]`.
        default: Default value; None for an optional bound that is off by
            default.
        doc: What it does (shown by `kerastune-lab check` and in errors).
        positive: Must be > 0 (otherwise any finite number).
        optional: None turns it off; in experiment files 0 stands for None.
    """

    name: str
    default: float | None
    doc: str
    positive: bool = True
    optional: bool = False

    def check(self, value):
        """The value as a float (or None), or ValueError naming it."""
        if value is None and self.optional:
            return None
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
            or (self.positive and value <= 0)
        ):
            kind = "a positive finite number" if self.positive else "finite"
            raise ValueError(
                f"`{self.name}` must be {kind}"
                f"{' or None' if self.optional else ''}. Received: "
                f"{self.name}={value!r}"
            )
        return float(value)

    def config_field(self):
        """(name, type, dataclasses.field) of the `[lr_adapt]` key."""
        if self.optional:
            field = option(0.0, minimum=0.0, doc=f"{self.doc} (0: none)")
        else:
            field = option(
                float(self.default),
                minimum=0.0 if self.positive else None,
                exclusive_minimum=self.positive,
                doc=self.doc,
            )
        return self.name, float, field

    def from_config(self, value):
        """The rule's argument for an `[lr_adapt]` value (0 -> None)."""
        return None if self.optional and value == 0 else value


# The lower bound of the loss: read by polyak and by the momo optimizers.
F_STAR = Setting(
    "f_star",
    0.0,
    "lower bound of the loss (polyak, and train.optimizer momo and "
    "momo_adam); 0 for cross-entropy",
    positive=False,
)
