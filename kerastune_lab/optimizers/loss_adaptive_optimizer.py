"""The optimizer wrapper that applies SD / SD2 inside the compiled train
step."""

import math

import keras
from keras import ops
from keras.src.utils import tracking

from kerastune_lab.choices import LR_ADAPT_MODES

# Columns of the per-step ring buffer, in order.
STEP_LOG_COLUMNS = ("loss", "gamma", "factor", "lr")


def _check_positive(name, value, allow_none=False):
    if value is None and allow_none:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(
            f"`{name}` must be a positive finite number"
            f"{' or None' if allow_none else ''}. Received: {name}={value!r}"
        )


def check_settings(mode, root, min_gamma, max_gamma, min_factor, max_factor):
    """Raises ValueError, naming the argument and value, on a bad setting
    of SD / SD2 (shared by the optimizer and the LossAdaptiveLR callback).
    """
    if mode not in LR_ADAPT_MODES:
        raise ValueError(
            f"`mode` must be one of {tuple(LR_ADAPT_MODES)}. Received: "
            f"mode={mode!r}"
        )
    _check_positive("root", root)
    _check_positive("min_gamma", min_gamma)
    _check_positive("max_gamma", max_gamma)
    if min_gamma > max_gamma:
        raise ValueError(
            "`min_gamma` must not exceed `max_gamma`. Received: "
            f"min_gamma={min_gamma}, max_gamma={max_gamma}"
        )
    _check_positive("min_factor", min_factor, allow_none=True)
    _check_positive("max_factor", max_factor, allow_none=True)
    if (
        min_factor is not None
        and max_factor is not None
        and min_factor > max_factor
    ):
        raise ValueError(
            "`min_factor` must not exceed `max_factor`. Received: "
            f"min_factor={min_factor}, max_factor={max_factor}"
        )


def _mean_over_replicas(signal):
    """The global batch's [loss, G] from each replica's own.

    Under tf.distribute (MirroredStrategy) the update runs once per
    replica on that replica's share of the batch; the skip decision and
    the factor must come from the whole batch, the same on every replica.
    JAX's DataParallel computes one global loss already.
    """
    if keras.backend.backend() != "tensorflow":
        return signal
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return signal
    return context.all_reduce(tf.distribute.ReduceOp.MEAN, signal)


@keras.saving.register_keras_serializable(package="kerastune_lab")
class LossAdaptiveOptimizer(keras.optimizers.Optimizer):
    """Scales an optimizer's scheduled rate by a power of the batch loss.

    For each optimizer step t with scheduled rate A'(t) and loss signal G_t
    of the same batch, the update uses

    - `sd2`:  A''(t) = A'(t) * G_t ** (1 / root)
    - `sd`:   A''(t) = A'(t) / G_t ** (1 / root)
    - `none`: A''(t) = A'(t)

    G_t reaches the optimizer inside the compiled step as the gradient of a
    two-element "loss probe" variable that `LossProbe` adds to the model
    (element 0: the batch loss, element 1: G). This wrapper takes that
    gradient out before the wrapped optimizer sees the gradients, so
    clipping, weight decay and EMA only ever see the model's own weights.
    Nothing is read back to the host per step; the last `log_capacity`
    steps are kept in a device-side ring buffer (`step_log`). A step whose
    batch loss is NaN or inf is skipped (weights and optimizer slots keep
    their values; the step count advances) and counted in
    `skipped_steps`; a non-finite G alone leaves the step at
    the scheduled rate and is counted in `nonfinite_steps`. The wrapped
    optimizer's `loss_scale_factor` is honoured (G is unscaled);
    `gradient_accumulation_steps` is refused (one update would average
    several batches' losses).

    Most users should not build this class directly: pass
    `kerastune_lab.callbacks.LossAdaptiveLR` to `model.fit`, which wraps
    the compiled optimizer and attaches the probe.

    Args:
        inner_optimizer: The `keras.optimizers.Optimizer` to wrap, with a
            float rate or any `LearningRateSchedule`.
        mode: `"sd2"`, `"sd"` or `"none"`.
        root: The root taken of G (3 is the paper's cube root, 4 the
            original notebook's). Must be positive.
        min_gamma, max_gamma: G is clamped to `[min_gamma, max_gamma]` before
            the root, so SD with G near 0 cannot explode the rate.
        min_factor, max_factor: Optional bounds on the factor itself.
        log_capacity: Number of steps kept in the `step_log` ring buffer
            (0 disables it).
        name: Optional name.

    Example:

    >>> inner = keras.optimizers.SGD(0.1)
    >>> opt = LossAdaptiveOptimizer(inner, mode="sd2", root=3)
    """

    def __init__(
        self,
        inner_optimizer,
        mode="sd2",
        root=3.0,
        min_gamma=1e-3,
        max_gamma=1e3,
        min_factor=None,
        max_factor=None,
        log_capacity=0,
        name=None,
        **kwargs,
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
        check_settings(
            mode, root, min_gamma, max_gamma, min_factor, max_factor
        )
        if not isinstance(log_capacity, int) or log_capacity < 0:
            raise ValueError(
                "`log_capacity` must be a non-negative int. Received: "
                f"log_capacity={log_capacity!r}"
            )
        if inner_optimizer.gradient_accumulation_steps:
            raise ValueError(
                "SD/SD2 scale each update by the loss of the batch it "
                "comes from; with gradient_accumulation_steps="
                f"{inner_optimizer.gradient_accumulation_steps} an update "
                "averages several batches. Use a larger batch instead, or "
                "drop gradient_accumulation_steps."
            )
        if kwargs:
            raise ValueError(
                "LossAdaptiveOptimizer takes no base optimizer arguments "
                f"(got {sorted(kwargs)}); set them on `inner_optimizer`."
            )
        super().__init__(learning_rate=0.0, name=name or "loss_adaptive")
        self.inner_optimizer = inner_optimizer
        self.mode = mode
        self.root = float(root)
        self.min_gamma = float(min_gamma)
        self.max_gamma = float(max_gamma)
        self.min_factor = None if min_factor is None else float(min_factor)
        self.max_factor = None if max_factor is None else float(max_factor)
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
        # decay) must see A'' = A' x factor, so the inner optimizer's rate
        # getter is wrapped on this instance only.
        inner = self.inner_optimizer
        scheduled_rate = type(inner)._get_current_learning_rate.__get__(inner)

        def scaled_rate():
            rate = ops.convert_to_tensor(scheduled_rate())
            if not self.built:
                return rate
            return rate * ops.cast(self.factor, rate.dtype)

        object.__setattr__(inner, "_get_current_learning_rate", scaled_rate)
        object.__setattr__(self, "_scheduled_rate", scheduled_rate)

    def release_inner_optimizer(self):
        """Restores the wrapped optimizer's own rate and returns it."""
        inner = self.inner_optimizer
        if "_get_current_learning_rate" in vars(inner):
            object.__delattr__(inner, "_get_current_learning_rate")
        return inner

    @property
    def learning_rate(self):
        # The base rate A'(t): what rate-assigning callbacks read and scale.
        return self._scheduled_rate()

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        inner = self.inner_optimizer
        if isinstance(
            inner._learning_rate,
            keras.optimizers.schedules.LearningRateSchedule,
        ):
            raise TypeError(
                "Cannot assign the learning rate of an optimizer driven by a "
                f"LearningRateSchedule ({type(inner._learning_rate).__name__})"
                " under SD/SD2. Callbacks such as ReduceLROnPlateau and "
                "LearningRateScheduler need a float learning rate (schedule "
                "'constant' without warmup); with a float rate they scale "
                "the base rate and the SD factor applies on top."
            )
        inner.learning_rate = learning_rate

    @property
    def iterations(self):
        return self.inner_optimizer.iterations

    # -- state -------------------------------------------------------------
    @tracking.no_automatic_dependency_tracking
    def build(self, var_list):
        float_var = {"shape": (), "dtype": "float32", "aggregation": "none"}
        self.factor = self.add_variable(
            initializer="ones", name="factor", **float_var
        )
        self.nonfinite_steps = self.add_variable(
            shape=(), dtype="int", aggregation="none", name="nonfinite_steps"
        )
        self.skipped_steps = self.add_variable(
            shape=(), dtype="int", aggregation="none", name="skipped_steps"
        )
        if self.log_capacity:
            self.step_log = self.add_variable(
                shape=(self.log_capacity, len(STEP_LOG_COLUMNS)),
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
        return self._variables + self.inner_optimizer.variables

    # -- the update --------------------------------------------------------
    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:
            trainable_variables = self._trainable_variables
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
        if signal is None:
            self.inner_optimizer.apply(kept_grads, kept_vars)
            return
        scale = self.inner_optimizer.loss_scale_factor
        if scale is not None:
            # The probe's gradient is of the scaled loss, like every other.
            signal = signal / scale
        signal = _mean_over_replicas(signal)
        loss_finite = self._update_factor(signal)
        # A non-finite batch loss skips the step: every weight and every
        # slot (momentum, moments, accumulators, EMA) keeps its value. A
        # zero rate alone would still apply momentum and decay the moments.
        # The selects fuse into the update; nothing is synced to the host.
        inner = self.inner_optimizer
        guarded = kept_vars + [
            v
            for v in inner.variables
            if v is not inner.iterations
            and v is not getattr(inner, "_learning_rate", None)
        ]
        # A copy: on TensorFlow `.value` (and convert_to_tensor of it) is
        # the variable itself, which the update would change under us.
        before = [ops.copy(v.value) for v in guarded]
        inner.apply(kept_grads, kept_vars)
        for variable, old in zip(guarded, before):
            variable.assign(ops.where(loss_finite, variable.value, old))

    def _update_factor(self, signal):
        signal = ops.cast(signal, "float32")
        loss, gamma = signal[0], signal[1]
        finite = ops.isfinite(gamma)
        if self.mode == "none":
            factor = ops.ones((), "float32")
        else:
            safe_gamma = ops.clip(
                ops.where(finite, gamma, 1.0), self.min_gamma, self.max_gamma
            )
            factor = ops.power(
                safe_gamma, LR_ADAPT_MODES[self.mode] / self.root
            )
            if self.min_factor is not None or self.max_factor is not None:
                factor = ops.clip(
                    factor,
                    self.min_factor or 0.0,
                    self.max_factor or float("inf"),
                )
            factor = ops.where(finite, factor, 1.0)
        loss_finite = ops.isfinite(loss)
        factor = ops.where(loss_finite, factor, 0.0)
        self.skipped_steps.assign_add(
            ops.cast(ops.logical_not(loss_finite), self.skipped_steps.dtype)
        )
        self.factor.assign(factor)
        self.nonfinite_steps.assign_add(
            ops.cast(ops.logical_not(finite), self.nonfinite_steps.dtype)
        )
        if self.log_capacity:
            rate = ops.cast(self._scheduled_rate(), "float32") * factor
            row = ops.reshape(ops.stack([loss, gamma, factor, rate]), (1, -1))
            index = ops.mod(
                ops.cast(self.inner_optimizer.iterations, "int32"),
                self.log_capacity,
            )
            self.step_log.assign(
                ops.slice_update(self.step_log.value, (index, 0), row)
            )
        return loss_finite

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
            "root": self.root,
            "min_gamma": self.min_gamma,
            "max_gamma": self.max_gamma,
            "min_factor": self.min_factor,
            "max_factor": self.max_factor,
            "log_capacity": self.log_capacity,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("inner_optimizer"), custom_objects=custom_objects
        )
        return cls(inner, **config)
