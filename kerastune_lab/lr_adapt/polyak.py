"""The stochastic Polyak step size, capped by the scheduled rate."""

from kerastune_lab.lr_adapt.rate_rule import RateRule
from kerastune_lab.lr_adapt.setting import F_STAR, Setting


class Polyak(RateRule):
    """SPS_max: A''(t) = min((f_t - f_star)_+ / (c ||g_t||^2), A'(t)).

    The stochastic Polyak step (Loizou et al., AISTATS 2021) with the
    scheduled rate A'(t) as its cap. f_t is the loss the optimizer
    minimises on this batch and g_t its gradient over all the model's
    weights, as the optimizer receives it, before clipping: the data loss
    and its gradient, or with L1/L2 or `add_loss` penalties the penalised
    total and its gradient (Polyak's step is defined by a function and its
    own gradient). On several replicas both are those of the global batch.
    A gap f_t - f_star <= 0 gives rate 0 (SPS+, Garrigos et al. 2023); a
    zero gradient with a positive gap gives the cap (the formula's limit),
    never NaN. With plain SGD (momentum 0) this is SPS_max exactly, equal
    to `optax.polyak_sgd(max_learning_rate=cap / c, scaling=c,
    f_min=f_star, variant="sps+")`; with another optimizer the step sets
    that optimizer's rate. The gradient's squared norm is logged as the
    steps.csv column `grad_norm_sq`.

    Args:
        polyak_c: c > 0; 0.5 is the paper's choice for deep networks.
        f_star: Lower bound of the loss, 0 for cross-entropy.

    Example:

    >>> Polyak(polyak_c=0.2).get_config()
    {'polyak_c': 0.2, 'f_star': 0.0}
    """

    name = "polyak"
    settings = (
        Setting(
            "polyak_c", 0.5, "c of the Polyak step (f - f_star) / (c ||g||^2)"
        ),
        F_STAR,
    )
    reads = ("grad_norm_sq",)

    def rate(self, signals):
        from keras import ops

        cap = signals.scheduled_rate
        gap = ops.maximum(signals.loss - self.f_star, 0.0)
        denominator = self.polyak_c * signals.grad_norm_sq
        positive = denominator > 0
        step = gap / ops.where(positive, denominator, 1.0)
        rate = ops.where(positive, ops.minimum(step, cap), cap)
        return ops.where(gap > 0, rate, 0.0)
