"""SD and SD2: the scheduled rate divided or multiplied by G ** (1/root)."""

from kerastune_lab.lr_adapt.rate_rule import RateRule
from kerastune_lab.lr_adapt.setting import Setting


class SD(RateRule):
    """SD: A''(t) = A'(t) / G_t ** (1 / root).

    G is clamped to `[min_gamma, max_gamma]` before the root, so G near 0
    cannot explode the rate; the factor A''/A' may be bounded too. A
    non-finite G leaves the step at the scheduled rate (the step counts it
    in `LossAdaptiveOptimizer.nonfinite_steps`).

    Args:
        root: The root taken of G (3: the paper's cube root; 4: the
            original notebook's).
        min_gamma, max_gamma: Clamp range of G.
        min_factor, max_factor: Optional bounds of the factor.

    Example:

    >>> SD(root=4).get_config()["root"]
    4.0
    """

    name = "sd"
    sign = -1.0
    settings = (
        Setting(
            "root",
            3.0,
            "root of G: 3 as in the paper, 4 as in the original notebook",
        ),
        Setting("min_gamma", 1e-3, "G is clamped to [min_gamma, max_gamma]"),
        Setting("max_gamma", 1e3, "upper end of the clamp of G"),
        Setting(
            "min_factor", None, "lower bound of the factor", optional=True
        ),
        Setting(
            "max_factor", None, "upper bound of the factor", optional=True
        ),
    )

    def check(self):
        if self.min_gamma > self.max_gamma:
            raise ValueError(
                "`min_gamma` must not exceed `max_gamma`. Received: "
                f"min_gamma={self.min_gamma}, max_gamma={self.max_gamma}"
            )
        if (
            self.min_factor is not None
            and self.max_factor is not None
            and self.min_factor > self.max_factor
        ):
            raise ValueError(
                "`min_factor` must not exceed `max_factor`. Received: "
                f"min_factor={self.min_factor}, max_factor={self.max_factor}"
            )

    def rate(self, signals):
        from keras import ops

        gamma = signals.gamma
        finite = ops.isfinite(gamma)
        safe_gamma = ops.clip(
            ops.where(finite, gamma, 1.0), self.min_gamma, self.max_gamma
        )
        factor = ops.power(safe_gamma, self.sign / self.root)
        if self.min_factor is not None or self.max_factor is not None:
            factor = ops.clip(
                factor,
                self.min_factor or 0.0,
                self.max_factor or float("inf"),
            )
        return signals.scheduled_rate * ops.where(finite, factor, 1.0)


class SD2(SD):
    """SD2: A''(t) = A'(t) * G_t ** (1 / root); settings as `SD`.

    Example:

    >>> SD2(max_factor=2.0).get_config()["max_factor"]
    2.0
    """

    name = "sd2"
    sign = 1.0
