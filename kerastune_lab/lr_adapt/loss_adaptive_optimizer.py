"""The optimizer wrapper that applies a loss-adaptive rate rule inside the
compiled train step."""

import keras
from keras import ops

from kerastune_lab.keras_internals import (
    built_trainable_variables,
    raw_learning_rate,
    replace_rate_getter,
    restore_rate_getter,
    scheduled_rate_getter,
    set_untracked_attribute,
)
from kerastune_lab.lr_adapt.gradients import (
    dense_gradients,
    mean_over_replicas,
    sum_over_replicas,
)
from kerastune_lab.lr_adapt.loss_reading_optimizer import LossReadingOptimizer
from kerastune_lab.lr_adapt.rate_rule import StepSignals
from kerastune_lab.lr_adapt.registry import (
    RATE_RULES,
    all_settings,
    rate_rule,
    step_columns,
)


@keras.saving.register_keras_serializable(package="kerastune_lab")
class LossAdaptiveOptimizer(keras.optimizers.Optimizer):
    """Sets each step's rate of an optimizer from the batch's loss.

    For each optimizer step t with scheduled rate A'(t), the rate rule
    named `mode` (`lr_adapt.registry.RATE_RULES`) turns what the step
    knows into the rate A''(t) the wrapped optimizer's update uses:

    - `none`:   A''(t) = A'(t)
    - `sd2`:    A''(t) = A'(t) * G_t ** (1 / root)
    - `sd`:     A''(t) = A'(t) / G_t ** (1 / root)
    - `polyak`: A''(t) = min((L_t - f_star)_+ / (c ||g_t||^2), A'(t))

    L_t and G_t reach the optimizer inside the compiled step as the
    gradient of a two-element "loss probe" variable that `LossProbe` adds
    to the model (element 0: the batch loss L, element 1: G). This wrapper
    takes that gradient out before the wrapped optimizer sees the
    gradients, so clipping, weight decay and EMA only ever see the model's
    own weights. A wrapped `LossReadingOptimizer` (`Momo`, `MomoAdam`;
    mode `none`) gets L as well and sets its own step.

    Nothing is read back to the host per step; the last `log_capacity`
    steps are kept in a device-side ring buffer (`step_log`, columns
    `step_columns`: loss, gamma, factor = A''/A', lr = A'', then the
    signals the rule reads, such as `grad_norm_sq`). A step whose batch
    loss is NaN or inf is skipped (weights and optimizer slots keep their
    values; the step count advances) and counted in `skipped_steps`; a
    non-finite G is counted in `nonfinite_steps` (SD and SD2 then use the
    scheduled rate). Under tf.distribute every signal is the global
    batch's. The wrapped optimizer's `loss_scale_factor` is honoured (L
    and G are unscaled); `gradient_accumulation_steps` is refused (one
    update would average several batches' losses).

    Most users should not build this class directly: pass
    `kerastune_lab.callbacks.LossAdaptiveLR` to `model.fit`, which wraps
    the compiled optimizer and attaches the probe.

    Args:
        inner_optimizer: The `keras.optimizers.Optimizer` to wrap, with a
            float rate or any `LearningRateSchedule`.
        mode: A key of `RATE_RULES`: `"none"`, `"sd"`, `"sd2"`,
            `"polyak"`.
        log_capacity: Number of steps kept in the `step_log` ring buffer
            (0 disables it).
        name: Optional name.
        **settings: The rule's settings (`RATE_RULES[mode].settings`),
            e.g. `root` of SD/SD2, `polyak_c` and `f_star` of polyak.

    Example:

    >>> inner = keras.optimizers.SGD(0.1)
    >>> opt = LossAdaptiveOptimizer(inner, mode="sd2", root=3)
    """

    def __init__(
        self,
        inner_optimizer: keras.optimizers.Optimizer,
        mode: str = "sd2",
        log_capacity: int = 0,
        name: str | None = None,
        **settings: float | None,
    ):
        if not isinstance(inner_optimizer, keras.optimizers.Optimizer):
            raise TypeError(
                "`inner_optimizer` must be a keras.optimizers.Optimizer. "
                f"Received: {inner_optimizer!r}"
            )
        if isinstance(inner_optimizer, LossAdaptiveOptimizer):
            raise ValueError(
                "`inner_optimizer` is already a LossAdaptiveOptimizer; wrap "
                "its `inner_optimizer` instead."
            )
        rule = rate_rule(mode, **settings)
        if (
            isinstance(inner_optimizer, LossReadingOptimizer)
            and mode != "none"
        ):
            raise ValueError(
                f"{type(inner_optimizer).__name__} sets each step's rate from "
                f"the loss itself; mode {mode!r} would rescale its cap. Use "
                "mode='none' with it."
            )
        if not isinstance(log_capacity, int) or log_capacity < 0:
            raise ValueError(
                "`log_capacity` must be a non-negative int. Received: "
                f"log_capacity={log_capacity!r}"
            )
        if inner_optimizer.gradient_accumulation_steps:
            raise ValueError(
                "Loss-adaptive rates set each update from the loss of the "
                "batch it comes from; with gradient_accumulation_steps="
                f"{inner_optimizer.gradient_accumulation_steps} an update "
                "averages several batches. Use a larger batch instead, or "
                "drop gradient_accumulation_steps."
            )
        super().__init__(learning_rate=0.0, name=name or "loss_adaptive")
        self.inner_optimizer = inner_optimizer
        self.mode = mode
        self.rule = rule
        self.step_columns = step_columns(rule)
        self.log_capacity = log_capacity
        self._probe_id = None
        self._scale_inner_rate()

    # -- the probe ---------------------------------------------------------
    def set_probe(self, probe):
        """Tells the optimizer which variable carries the loss signal.

        Only the identity is kept: a tracked reference would make the probe
        an optimizer variable too (on JAX that donates one buffer twice).
        """
        self._probe_id = None if probe is None else id(probe)

    def _is_probe(self, variable):
        return self._probe_id is not None and id(variable) == self._probe_id

    # -- the rate ----------------------------------------------------------
    def _scale_inner_rate(self):
        # Every reader of the inner rate (its update step, AdamW's decoupled
        # decay) must see A'', so the inner optimizer's rate getter is
        # replaced on this instance only: it reads the rate `apply` set.
        inner = self.inner_optimizer
        scheduled_rate = scheduled_rate_getter(inner)

        def rate_used():
            rate = ops.convert_to_tensor(scheduled_rate())
            if not self.built:
                return rate
            return ops.cast(self.step_rate, rate.dtype)

        replace_rate_getter(inner, rate_used)
        set_untracked_attribute(self, "_scheduled_rate", scheduled_rate)

    def release_inner_optimizer(self):
        """Restores the wrapped optimizer's own rate and returns it."""
        restore_rate_getter(self.inner_optimizer)
        return self.inner_optimizer

    def reclaim_inner_optimizer(self):
        """Undoes `release_inner_optimizer`: the wrapped optimizer's
        updates use this wrapper's rate again."""
        self._scale_inner_rate()

    @property
    def learning_rate(self):
        # The base rate A'(t): what rate-assigning callbacks read and scale.
        return self._scheduled_rate()

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        inner = self.inner_optimizer
        if isinstance(
            raw_learning_rate(inner),
            keras.optimizers.schedules.LearningRateSchedule,
        ):
            raise TypeError(
                "Cannot assign the learning rate of an optimizer driven by a "
                "LearningRateSchedule "
                f"({type(raw_learning_rate(inner)).__name__}) under a "
                "loss-adaptive rate. Callbacks such as ReduceLROnPlateau and "
                "LearningRateScheduler need a float learning rate (schedule "
                "'constant' without warmup); with a float rate they scale "
                "the base rate and the rule applies on top."
            )
        inner.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    # -- state -------------------------------------------------------------
    def build(self, var_list):
        self.step_rate = self.add_variable(
            shape=(), dtype="float32", aggregation="none", name="step_rate"
        )
        self.nonfinite_steps = self.add_variable(
            shape=(), dtype="int", aggregation="none", name="nonfinite_steps"
        )
        self.skipped_steps = self.add_variable(
            shape=(), dtype="int", aggregation="none", name="skipped_steps"
        )
        if self.log_capacity:
            self.step_log = self.add_variable(
                shape=(self.log_capacity, len(self.step_columns)),
                dtype="float32",
                aggregation="none",
                name="step_log",
            )
        if not self.inner_optimizer.built:
            self.inner_optimizer.build(
                [v for v in var_list if not self._is_probe(v)]
            )
        super().build(var_list)

    @property
    def variables(self):
        return super().variables + self.inner_optimizer.variables

    # -- the update --------------------------------------------------------
    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = built_trainable_variables(self)
        else:
            trainable_variables = list(trainable_variables)
            if not self.built:
                self.build(trainable_variables)
        kept_grads, kept_vars, signal = [], [], None
        for grad, var in zip(grads, trainable_variables):
            if self._is_probe(var):
                signal = grad
            else:
                kept_grads.append(grad)
                kept_vars.append(var)
        inner = self.inner_optimizer
        if signal is None:
            # No probe: nothing to adapt to (a LossReadingOptimizer says so).
            self.step_rate.assign(ops.cast(self._scheduled_rate(), "float32"))
            inner.apply(kept_grads, kept_vars)
            return
        scale = inner.loss_scale_factor
        if scale is not None:
            # The probe's gradient is of the scaled loss, like every other.
            signal = signal / scale
        signal = ops.cast(mean_over_replicas(signal), "float32")
        signals = StepSignals(
            scheduled_rate=ops.cast(self._scheduled_rate(), "float32"),
            loss=signal[0],
            gamma=signal[1],
            **self._extra_signals(kept_grads),
        )
        loss_finite = ops.isfinite(signals.loss)
        rate = ops.where(loss_finite, self.rule.rate(signals), 0.0)
        self.step_rate.assign(rate)
        self._count(loss_finite, ops.isfinite(signals.gamma))
        # A non-finite batch loss skips the step: every weight and every
        # slot (momentum, moments, accumulators, EMA) keeps its value. A
        # zero rate alone would still apply momentum and decay the moments.
        # The selects fuse into the update; nothing is synced to the host.
        guarded = kept_vars + [
            v
            for v in inner.variables
            if v is not inner.iterations and v is not raw_learning_rate(inner)
        ]
        # A copy: on TensorFlow `.value` (and convert_to_tensor of it) is
        # the variable itself, which the update would change under us.
        before = [ops.copy(v.value) for v in guarded]
        # The log's row is this step's: its count before the update.
        step = ops.copy(inner.iterations.value)
        if isinstance(inner, LossReadingOptimizer):
            used = inner.apply_with_loss(kept_grads, kept_vars, signals.loss)
            rate = ops.where(loss_finite, ops.cast(used, "float32"), 0.0)
        else:
            inner.apply(kept_grads, kept_vars)
        for variable, old in zip(guarded, before):
            variable.assign(ops.where(loss_finite, variable.value, old))
        if self.log_capacity:
            self._log(step, signals, rate)

    def _extra_signals(self, grads):
        """The signals of `StepSignals` beyond loss and G that the rule
        reads, computed from this replica's gradients."""
        if "grad_norm_sq" not in self.rule.reads:
            return {}
        norm = sum(
            ops.sum(ops.square(ops.cast(g, "float32")))
            for g in sum_over_replicas(dense_gradients(grads))
        )
        scale = self.inner_optimizer.loss_scale_factor
        if scale is not None:
            norm = norm / (scale * scale)
        return {"grad_norm_sq": norm}

    def _count(self, loss_finite, gamma_finite):
        self.skipped_steps.assign_add(
            ops.cast(ops.logical_not(loss_finite), self.skipped_steps.dtype)
        )
        self.nonfinite_steps.assign_add(
            ops.cast(ops.logical_not(gamma_finite), self.nonfinite_steps.dtype)
        )

    def _log(self, step, signals, rate):
        scheduled = signals.scheduled_rate
        factor = ops.where(
            scheduled > 0, rate / ops.where(scheduled > 0, scheduled, 1.0), 1.0
        )
        values = {**signals._asdict(), "factor": factor, "lr": rate}
        row = ops.reshape(
            ops.stack([values[c] for c in self.step_columns]), (1, -1)
        )
        index = ops.mod(ops.cast(step, "int32"), self.log_capacity)
        self.step_log.assign(
            ops.slice_update(self.step_log.value, (index, 0), row)
        )

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    # model.save stores the compile-time optimizer (the wrapped one), so the
    # saved state must be the wrapped optimizer's own, to reload into it.
    def save_own_variables(self, store):
        self.inner_optimizer.save_own_variables(store)

    def load_own_variables(self, store):
        self.inner_optimizer.load_own_variables(store)

    def finalize_variable_values(self, var_list):
        self.inner_optimizer.finalize_variable_values(
            [v for v in var_list if not self._is_probe(v)]
        )

    # -- serialization -----------------------------------------------------
    def get_config(self):
        return {
            "name": self.name,
            "inner_optimizer": keras.saving.serialize_keras_object(
                self.inner_optimizer
            ),
            "mode": self.mode,
            "log_capacity": self.log_capacity,
            **self.rule.get_config(),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        # Configs written before each rule declared its own settings hold
        # SD's settings under every mode: drop other rules' settings.
        own = {s.name for s in RATE_RULES[config.get("mode", "sd2")].settings}
        for setting in all_settings():
            if setting.name not in own:
                config.pop(setting.name, None)
        return cls(inner, **config)
