"""MoMo and MoMo-Adam: momentum with a Polyak-type step from a model of
the loss (Schaipp et al., "MoMo: Momentum Models for Adaptive Learning
Rates", ICML 2024)."""

import math

import keras
import numpy as np
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

from kerastune_lab.keras_internals import uses_weight_decay, variable_index
from kerastune_lab.lr_adapt.loss_reading_optimizer import LossReadingOptimizer

# A direction whose squared norm is at most this takes no step (optax's
# jnp.finfo(float).eps).
_NO_STEP_NORM = float(np.finfo(np.float64).eps)


def _dot(xs, ys):
    """Sum over all variables of the element-wise products."""
    return sum(ops.sum(x * y) for x, y in zip(xs, ys))


def _check_fraction(name, value):
    if isinstance(value, bool) or not (
        isinstance(value, (int, float)) and 0 <= value < 1
    ):
        raise ValueError(
            f"`{name}` must be in [0, 1). Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="kerastune_lab")
class Momo(LossReadingOptimizer):
    """MoMo: SGD with momentum and a Polyak-type step size.

    Momentum averages of the loss f, the gradient g and <g, x> give a model
    of the loss; each step is the largest one that model allows, capped by
    the learning rate alpha. With t the 0-based step and beta_t = 0 at
    t = 0 (the averages start at the first batch) and `momentum` after:

        f_bar = beta_t f_bar + (1 - beta_t) f
        d     = beta_t d     + (1 - beta_t) g
        h     = beta_t h     + (1 - beta_t) <g, x>
        tau   = min(alpha, ((1 + alpha wd)(f_bar - f_star - h) + <d, x>)_+
                           / ||d||^2)     (0 when ||d|| is 0)
        x     = x - alpha wd / (1 + alpha wd) x - tau d

    exactly as `optax.contrib.momo` (checked against it in tests/). The
    loss f reaches the update from `LossAdaptiveLR` (see
    `LossReadingOptimizer`): it is the loss training minimises, paired with
    its gradient. Weight decay spares variables named in
    `exclude_from_weight_decay`.

    Args:
        learning_rate: alpha, the cap of the step: a float or a
            `LearningRateSchedule` (evaluated at the 0-based step).
        momentum: beta, the averaging coefficient.
        f_star: A lower bound of the loss (0 for cross-entropy).
        weight_decay: wd of the decay above.
        **kwargs: Other `keras.optimizers.Optimizer` arguments (clipping,
            `loss_scale_factor`, `name`).

    Example:

    >>> optimizer = Momo(learning_rate=1.0, momentum=0.9)
    >>> optimizer.get_config()["f_star"]
    0.0
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 1.0,
        momentum: float = 0.9,
        f_star: float = 0.0,
        weight_decay: float = 0.0,
        name: str = "momo",
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )
        _check_fraction("momentum", momentum)
        if not (
            isinstance(f_star, (int, float))
            and not isinstance(f_star, bool)
            and math.isfinite(f_star)
        ):
            raise ValueError(
                "`f_star` must be a finite number. Received: "
                f"f_star={f_star!r}"
            )
        self.momentum = float(momentum)
        self.f_star = float(f_star)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._exp_avgs = self.add_optimizer_variables(var_list, "exp_avg")
        self._loss_avg = self.add_variable((), name="loss_avg")
        self._grad_dot_weights_avg = self.add_variable(
            (), name="grad_dot_weights_avg"
        )

    # Where MoMo-Adam differs: the averaging coefficient, a preconditioner
    # and the bias correction of the averages.
    def _averaging_coefficient(self, step):
        return ops.where(step == 0, 0.0, self.momentum)

    def _preconditioners(self, grads, variables, step):
        return [None] * len(grads)

    def _bias_correction(self, step):
        return 1.0

    def update_with_loss(self, grads, variables, loss, learning_rate):
        step = ops.cast(self.iterations, "float32")
        beta = self._averaging_coefficient(step)

        def average(old, new):
            return beta * old + (1 - beta) * new

        loss_avg = average(self._loss_avg, loss)
        inner_avg = average(self._grad_dot_weights_avg, _dot(grads, variables))
        self._loss_avg.assign(loss_avg)
        self._grad_dot_weights_avg.assign(inner_avg)
        slots = [self._exp_avgs[variable_index(self, v)] for v in variables]
        directions = [average(m, g) for m, g in zip(slots, grads)]
        preconditioners = self._preconditioners(grads, variables, step)
        scaled = [
            d if p is None else d / p
            for d, p in zip(directions, preconditioners)
        ]
        norm = _dot(directions, scaled)
        bias = self._bias_correction(step)
        decay = 1 + learning_rate * (self.weight_decay or 0.0)
        gap = ops.maximum(
            decay * (loss_avg - bias * self.f_star - inner_avg)
            + _dot(directions, variables),
            0.0,
        )
        no_step = norm <= _NO_STEP_NORM
        tau = ops.minimum(
            learning_rate / bias,
            ops.where(no_step, 0.0, gap / ops.where(no_step, 1.0, norm)),
        )
        shrink = -(learning_rate * (self.weight_decay or 0.0)) / decay
        for variable, slot, direction, move in zip(
            variables, slots, directions, scaled
        ):
            slot.assign(direction)
            update = -tau * move
            if uses_weight_decay(self, variable):
                update = shrink * variable - tau * move
            variable.assign(variable + update)
        return tau * bias

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "f_star": self.f_star,
        }


@keras.saving.register_keras_serializable(package="kerastune_lab")
class MomoAdam(Momo):
    """MoMo-Adam: Adam(W) with a Polyak-type step size.

    MoMo's model of the loss with Adam's averages and preconditioner
    P = epsilon + sqrt(v / (1 - beta_2^(t+1))), exactly as
    `optax.contrib.momo_adam` (checked against it in tests/): with
    b = 1 - beta_1^(t+1),

        tau = min(alpha / b, ((1 + alpha wd)(f_bar - b f_star - h)
                              + <d, x>)_+ / <d, d / P>)
        x   = x - alpha wd / (1 + alpha wd) x - tau d / P

    The rate it reports (steps.csv `lr`) is tau b, the rate on Adam's
    bias-corrected momentum, at most alpha.

    Args:
        learning_rate: alpha, the cap (float or schedule).
        beta_1, beta_2: Adam's averaging coefficients.
        epsilon: Added to the preconditioner.
        f_star: A lower bound of the loss (0 for cross-entropy).
        weight_decay: wd, as in `Momo`.
        **kwargs: Other `keras.optimizers.Optimizer` arguments.

    Example:

    >>> optimizer = MomoAdam(learning_rate=1e-2, weight_decay=0.01)
    >>> optimizer.get_config()["beta_2"]
    0.999
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 1e-2,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        f_star: float = 0.0,
        weight_decay: float = 0.0,
        name: str = "momo_adam",
        **kwargs,
    ):
        _check_fraction("beta_1", beta_1)
        super().__init__(
            learning_rate=learning_rate,
            momentum=beta_1,
            f_star=f_star,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )
        _check_fraction("beta_2", beta_2)
        if not (isinstance(epsilon, (int, float)) and epsilon > 0):
            raise ValueError(
                f"`epsilon` must be positive. Received: epsilon={epsilon!r}"
            )
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._exp_avg_sqs = self.add_optimizer_variables(
            var_list, "exp_avg_sq"
        )

    def _averaging_coefficient(self, step):
        return self.momentum

    def _preconditioners(self, grads, variables, step):
        correction = 1 - ops.power(self.beta_2, step + 1)
        preconditioners = []
        for grad, variable in zip(grads, variables):
            slot = self._exp_avg_sqs[variable_index(self, variable)]
            value = self.beta_2 * slot + (1 - self.beta_2) * grad * grad
            slot.assign(value)
            preconditioners.append(self.epsilon + ops.sqrt(value / correction))
        return preconditioners

    def _bias_correction(self, step):
        return 1 - ops.power(self.momentum, step + 1)

    def get_config(self):
        config = super().get_config()
        config["beta_1"] = config.pop("momentum")
        return {
            **config,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
        }
