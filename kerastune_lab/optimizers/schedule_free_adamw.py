"""Schedule-free AdamW as the reference implementation of Defazio et al."""

import math

import keras
from keras import ops
from keras.optimizers.schedules import LearningRateSchedule

from kerastune_lab.keras_internals import (
    built_trainable_variables,
    uses_weight_decay,
    variable_index,
)

# Where the second-moment bias correction 1 - beta_2 ** t goes.
BIAS_CORRECTIONS = ("rate", "denominator")


def _check_number(name, value, low, high, high_inclusive=True):
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < low
        or value > high
        or (value == high and not high_inclusive)
    ):
        upper = "]" if high_inclusive else ")"
        raise ValueError(
            f"`{name}` must be a number in [{low}, {high}{upper}. "
            f"Received: {name}={value!r}"
        )


@keras.saving.register_keras_serializable(package="kerastune_lab")
class ScheduleFreeAdamW(keras.optimizers.Optimizer):
    """Schedule-free AdamW, step for step as the authors' reference code.

    Schedule-free learning (Defazio et al., 2024) replaces the decay
    schedule by interpolation and averaging of three sequences: the
    gradient is taken at y, the AdamW step moves z, and x, a weighted
    average of the z's, is the point to evaluate and ship. This class
    follows `AdamWScheduleFreeReference.step` of facebookresearch/
    schedule_free (`schedulefree/adamw_schedulefree_reference.py`). At
    step t = k + 1 (k optimizer steps done), with base rate
    `learning_rate` (after any `LearningRateSchedule`):

        sched_t   = min(t / warmup_steps, 1)             (1 without warmup)
        lr_t      = learning_rate * sched_t * sqrt(1 - beta_2 ** t)
        lr_max_t  = max(lr_max_{t-1}, lr_t)
        c_t       = t ** r * lr_max_t ** weight_lr_power
                    / sum_{i <= t} i ** r * lr_max_i ** weight_lr_power
        z        -= lr_t * weight_decay * y               (decay at y)
        v         = beta_2 * v + (1 - beta_2) * g ** 2    (g: gradient at y)
        z        -= lr_t * g / (sqrt(v) + epsilon)
        x         = (1 - c_t) * x + c_t * z
        y         = beta_1 * x + (1 - beta_1) * z

    z and x start at the initial weights, v at 0. That is the reference
    file as published in 2024 (`bias_correction="rate"`); upstream keeps
    it as `AdamWScheduleFreePaper`, "the version used in the published
    experiments in the original paper". Since upstream's revision
    "Stability improvements" (2024-11-04) the reference file moves the
    correction into the step (`bias_correction="denominator"`):
    lr_t = learning_rate * sched_t and z -= lr_t * g / (sqrt(v / (1 -
    beta_2 ** t)) + epsilon), the rest unchanged; without warmup its
    average is then uniform.

    During training the model's weights are y; z, x, v and the averaging
    state live in this optimizer's variables (z in `_momentums`, as in
    `keras.optimizers.ScheduleFreeAdamW`). `evaluation_values()` gives x;
    `kerastune_lab.callbacks.ScheduleFreeEvaluation` evaluates and saves
    the model there. z and x are set from the weights inside the first
    update, so they are right however the optimizer was built (Keras
    3.15's own class starts z at 0 when `fit` builds it on TensorFlow).
    The averaging state is kept per variable, so each variable's update
    is self-contained; all variables hold the same values.

    Choosing the rate, from the reference's README ("Caveats"): "For
    AdamW, learning rates in the range 1x-10x larger than with
    schedule-based approaches seem to work."; "Using learning rate warmup
    is recommended."; of beta_1, "Our default of 0.9 works on most
    problems but it may be necessary to increase the value to 0.95 or
    0.98 particularly for very long training runs."; "There is no need to
    use a learning rate scheduler". With `bias_correction="rate"`,
    sqrt(1 - beta_2 ** t) also damps the early steps (0.31 at t = 100,
    0.79 at t = 1000 for beta_2 = 0.999).

    Args:
        learning_rate: A float, a
            `keras.optimizers.schedules.LearningRateSchedule` or a callable
            returning the base rate. Defaults to `0.0025`.
        beta_1: Interpolation weight of x in y, in [0, 1]. Defaults to
            `0.9`.
        beta_2: Decay of the second-moment average, in [0, 1). Defaults
            to `0.999`.
        epsilon: Added to the square root of the second moment. Defaults
            to `1e-8`.
        warmup_steps: Steps of linear warmup, sched_t = min(t / W, 1).
            Defaults to `0`.
        weight_decay: Decoupled weight decay, applied to z at y as above;
            `exclude_from_weight_decay()` works as for every Keras
            optimizer. Defaults to `None` (no decay).
        r: Power of t in the averaging weights. Defaults to `0.0`.
        weight_lr_power: Power of lr_max in the averaging weights (0
            gives the uniform average). Defaults to `2.0`.
        bias_correction: `"rate"` (the formulas above) or `"denominator"`
            (the reference since November 2024). Defaults to `"rate"`.
        **kwargs: The other arguments of `keras.optimizers.Optimizer`
            (`clipnorm`, `clipvalue`, `global_clipnorm`, `use_ema`,
            `loss_scale_factor`, `gradient_accumulation_steps`, `name`,
            ...).

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from kerastune_lab.optimizers import ScheduleFreeAdamW
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(ScheduleFreeAdamW(0.01, warmup_steps=4), loss="mse")
    >>> x, y = np.ones((16, 3), "float32"), np.zeros((16, 1), "float32")
    >>> _ = model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    >>> [tuple(x.shape) for _, x in model.optimizer.evaluation_values()]
    [(3, 1), (1,)]

    References:
        Defazio, Yang, Mehta, Mishchenko, Khaled, Cutkosky (2024). The
        Road Less Scheduled. https://arxiv.org/abs/2405.15682;
        https://github.com/facebookresearch/schedule_free
    """

    def __init__(
        self,
        learning_rate: float | LearningRateSchedule = 0.0025,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        warmup_steps: int = 0,
        weight_decay: float | None = None,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        bias_correction: str = "rate",
        name: str | None = None,
        **kwargs,
    ):
        _check_number("beta_1", beta_1, 0.0, 1.0)
        _check_number("beta_2", beta_2, 0.0, 1.0, high_inclusive=False)
        _check_number("epsilon", epsilon, 0.0, math.inf)
        _check_number("r", r, 0.0, math.inf)
        _check_number("weight_lr_power", weight_lr_power, 0.0, math.inf)
        if (
            isinstance(warmup_steps, bool)
            or not isinstance(warmup_steps, int)
            or warmup_steps < 0
        ):
            raise ValueError(
                "`warmup_steps` must be a non-negative int. Received: "
                f"warmup_steps={warmup_steps!r}"
            )
        if bias_correction not in BIAS_CORRECTIONS:
            raise ValueError(
                f"`bias_correction` must be one of {BIAS_CORRECTIONS}. "
                f"Received: bias_correction={bias_correction!r}"
            )
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        self.epsilon = float(epsilon)
        self.warmup_steps = warmup_steps
        self.r = float(r)
        self.weight_lr_power = float(weight_lr_power)
        self.bias_correction = bias_correction

    def build(self, var_list):
        """Creates z (`momentum`), v (`velocity`), x and, per variable, the
        running max rate and the sum of averaging weights."""
        if self.built:
            return
        super().build(var_list)
        self._momentums, self._velocities, self._averages = (
            self.add_optimizer_variables(
                var_list, ["momentum", "velocity", "x"]
            )
        )
        # Scalars in float32 whatever the weights' dtype: a float16 sum
        # of squared rates would lose the small terms.
        self._lr_maxes, self._weight_sums = [], []
        for variable, z in zip(var_list, self._momentums):
            for name, slots in (
                ("lr_max", self._lr_maxes),
                ("weight_sum", self._weight_sums),
            ):
                slots.append(
                    None
                    if z is None
                    else self.add_variable(
                        shape=(),
                        dtype="float32",
                        name=f"{variable.path.replace('/', '_')}_{name}",
                    )
                )

    def _apply_weight_decay(self, variables):
        # Keras's hook for decoupled decay (keras_internals: the base
        # class's apply calls it): the decay acts on z inside update_step,
        # where the base class would shrink the weights y.
        return

    def _step_rate(self, learning_rate, step):
        """(lr_t, bias correction 1 - beta_2 ** t) of step t."""
        rate = ops.cast(learning_rate, "float32")
        if self.warmup_steps:
            rate = rate * ops.minimum(step / float(self.warmup_steps), 1.0)
        bias_correction_2 = 1.0 - ops.power(self.beta_2, step)
        if self.bias_correction == "rate":
            rate = rate * ops.sqrt(bias_correction_2)
        return rate, bias_correction_2

    def update_step(self, gradient, variable, learning_rate):
        index = variable_index(self, variable)
        z_slot = self._momentums[index]
        v_slot = self._velocities[index]
        x_slot = self._averages[index]
        lr_max_slot = self._lr_maxes[index]
        weight_sum_slot = self._weight_sums[index]
        dtype = variable.dtype

        step = ops.cast(self.iterations + 1, "float32")
        rate, bias_correction_2 = self._step_rate(learning_rate, step)
        lr_max = ops.maximum(lr_max_slot.value, rate)
        weight = ops.power(step, self.r) * ops.power(
            lr_max, self.weight_lr_power
        )
        weight_sum = weight_sum_slot.value + weight
        average_weight = ops.cast(ops.divide_no_nan(weight, weight_sum), dtype)

        # Until a step has had a positive weight, z and x are the weights
        # (the reference clones them at its first step). Done here, not
        # in build, because a build inside `fit` on TensorFlow loses
        # assignments; a skipped step (SD's non-finite batch) restores the
        # zero sum, so the next step starts afresh too.
        # (On TensorFlow `variable` is the tf.Variable itself.)
        y = ops.convert_to_tensor(variable)
        started = weight_sum_slot.value > 0.0
        z = ops.where(started, z_slot.value, y)
        x = ops.where(started, x_slot.value, y)
        # Adding to a dense zero densifies TensorFlow's IndexedSlices (an
        # embedding's gradient): z, x and y all move densely anyway.
        gradient = ops.add(ops.zeros_like(y), ops.cast(gradient, dtype))
        step_rate = ops.cast(rate, dtype)
        if self.weight_decay and uses_weight_decay(self, variable):
            z = z - step_rate * ops.cast(self.weight_decay, dtype) * y
        v = self.beta_2 * v_slot.value + (1.0 - self.beta_2) * ops.square(
            gradient
        )
        if self.bias_correction == "rate":
            second_moment = v
        else:
            second_moment = v / ops.cast(bias_correction_2, dtype)
        z = z - step_rate * gradient / (ops.sqrt(second_moment) + self.epsilon)
        x = (1.0 - average_weight) * x + average_weight * z

        self.assign(z_slot, z)
        self.assign(v_slot, v)
        self.assign(x_slot, x)
        self.assign(lr_max_slot, lr_max)
        self.assign(weight_sum_slot, weight_sum)
        self.assign(variable, self.beta_1 * x + (1.0 - self.beta_1) * z)

    def evaluation_values(self):
        """The averaged point x, where the model is to be evaluated.

        Returns:
            A list of `(variable, x)` pairs: each model variable this
            optimizer trains and the tensor x of its average. Before the
            first step x is the variable's value; before `build`, the
            list is empty.
        """
        if not self.built:
            return []
        pairs = []
        for variable in built_trainable_variables(self):
            index = variable_index(self, variable)
            if self._averages[index] is None:
                continue
            started = self._weight_sums[index].value > 0.0
            pairs.append(
                (
                    variable,
                    ops.where(
                        started, self._averages[index].value, variable.value
                    ),
                )
            )
        return pairs

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "warmup_steps": self.warmup_steps,
                "r": self.r,
                "weight_lr_power": self.weight_lr_power,
                "bias_correction": self.bias_correction,
            }
        )
        return config
