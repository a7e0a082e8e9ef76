"""The loss-adaptive learning rate (SD, SD2, Polyak, ...) as a `model.fit`
callback."""

import csv
import dataclasses
import io
import os
import warnings
from collections.abc import Callable

import keras
import numpy as np

from kerastune_lab.keras_internals import built_trainable_variables
from kerastune_lab.lr_adapt.gamma_sources import get_gamma_source
from kerastune_lab.lr_adapt.loss_adaptive_optimizer import (
    LossAdaptiveOptimizer,
)
from kerastune_lab.lr_adapt.loss_probe import LossProbe
from kerastune_lab.lr_adapt.registry import rate_rule, step_columns

# Where the loss probe and the in-step factor are tested (tests/).
SUPPORTED_BACKENDS = ("tensorflow", "jax")

# Ring-buffer size when fit cannot say how many steps an epoch has.
_DEFAULT_LOG_CAPACITY = 4096


# The compiled steps of a model (JAX's hold the variables' shardings).
_STEPS = ("train_function", "test_function", "predict_function")


def _compile_anew(model):
    """Makes every compiled step of `model` anew (traced at first use)."""
    model.make_train_function(force=True)
    model.make_test_function(force=True)
    model.make_predict_function(force=True)


@dataclasses.dataclass
class _Fitted:
    """What `LossAdaptiveLR` puts on a model for `fit` and takes out after
    it: the wrapper optimizer, the probe, and the steps compiled with both
    (kept for the next `fit` of the same set-up).

    Attributes:
        model: The model.
        optimizer: The `LossAdaptiveOptimizer` around the model's own.
        probe: The `LossProbe`.
        functions: The compiled train, test and predict steps, saved by
            `uninstall` ({} before).
    """

    model: object
    optimizer: LossAdaptiveOptimizer
    probe: LossProbe
    functions: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def build(cls, model, mode, source, capacity, settings):
        """Wraps the model's optimizer, attaches a probe, installs both."""
        inner = model.optimizer
        if isinstance(inner, LossAdaptiveOptimizer):
            inner = inner.release_inner_optimizer()
        if isinstance(inner, keras.optimizers.LossScaleOptimizer):
            raise ValueError(
                "LossAdaptiveLR does not support loss-scaled (mixed_float16)"
                " training. Use the 'mixed_bfloat16' policy, which needs no "
                "loss scaling, or float32."
            )
        optimizer = LossAdaptiveOptimizer(
            inner, mode, log_capacity=capacity, **settings
        )
        probe = LossProbe.attach(model, source)
        optimizer.set_probe(probe.variable)
        optimizer.build(model.trainable_variables)
        model.optimizer = optimizer
        # fit already made its train function around the old optimizer;
        # a test step made before holds the old variables' shardings.
        _compile_anew(model)
        return cls(model, optimizer, probe)

    def fits(self, model, source, capacity):
        """The model, its optimizer and its variables are those this was
        built for, with the same G source and log size."""
        built = [
            v
            for v in built_trainable_variables(self.optimizer)
            if v is not self.probe.variable
        ]
        variables = model.trainable_variables
        return (
            model is self.model
            and model.optimizer is self.optimizer.inner_optimizer
            and self.probe.gamma_source is source
            and self.optimizer.log_capacity == capacity
            and len(built) == len(variables)
            and all(a is b for a, b in zip(built, variables))
        )

    def install(self):
        """Puts the wrapper, the probe and the compiled step back."""
        self.optimizer.reclaim_inner_optimizer()
        self.probe.reattach()
        self.model.optimizer = self.optimizer
        for name, function in self.functions.items():
            setattr(self.model, name, function)

    def uninstall(self):
        """Leaves the model as it was before `fit`: its own optimizer and
        weights, and a train step without the probe."""
        model = self.model
        self.functions = {name: getattr(model, name) for name in _STEPS}
        model.optimizer = self.optimizer.release_inner_optimizer()
        LossProbe.detach(model)
        _compile_anew(model)


@keras.saving.register_keras_serializable(package="kerastune_lab")
class LossAdaptiveLR(keras.callbacks.Callback):
    """Sets each step's rate from the batch's loss (SD, SD2, Polyak, ...).

    Like `keras.callbacks.LearningRateScheduler`, this sets the rate of every
    optimizer step, on top of whatever float rate or `LearningRateSchedule`
    the optimizer was compiled with. Unlike a host-side callback it is exact
    and free: the rule reads the loss of the very batch whose update it
    scales (not the running mean in `logs["loss"]`, not the previous
    batch), inside the compiled train step. At the start of training it
    wraps the compiled optimizer in `LossAdaptiveOptimizer` and attaches a
    `LossProbe` to the model (see those classes for how). The probe is one
    of the model's variables only during `fit`: afterwards the model's
    weights, `get_weights()` and `model.save` are those of the model you
    built. The wrapper stays in place, so a next `fit` with the same
    callback reuses the compiled step; `LossAdaptiveLR.remove(model)`
    restores the compiled optimizer too. An optimizer that reads the loss
    itself (`kerastune_lab.optimizers.Momo`, `MomoAdam`) is fed by the
    same probe: train it with `mode="none"`.

    The rules (`kerastune_lab.lr_adapt.registry.RATE_RULES`), with A'(t)
    the scheduled rate, G_t the batch's loss signal and L_t, g_t the
    batch's loss and gradient:

    - `"sd2"`: A'(t) * G_t ** (1/root); `"sd"`: A'(t) / G_t ** (1/root)
    - `"polyak"`: min((L_t - f_star)_+ / (polyak_c ||g_t||^2), A'(t))
    - `"none"`: A'(t) (every step's loss and rate are still logged)

    Backends: TensorFlow and JAX (torch is refused: untested there).

    Safeguards: SD's G is clamped to `[min_gamma, max_gamma]`; a non-finite
    G leaves that step at the scheduled rate and is counted
    (`nonfinite_steps`); `min_factor` / `max_factor` optionally bound SD's
    factor. A non-finite batch loss skips its update inside the step, and
    training stops at the end of that epoch (`first_nonfinite_step`).
    Callbacks that assign the rate (ReduceLROnPlateau) change the base rate
    of a float-rate optimizer and the rule applies on top; with a schedule
    they get a clear TypeError.

    Each epoch the per-step records are read back once (no per-step sync)
    and kept in `self.steps` (columns `self.columns`: step, epoch, loss,
    gamma, factor, lr, then what the rule reads, e.g. polyak's
    `grad_norm_sq`); with `steps_csv` they are also appended to that CSV
    file. `logs["lr"]` holds the rate the epoch's last update used.

    Args:
        mode: A rule name: `"sd2"`, `"sd"`, `"polyak"` or `"none"`.
        source: Where SD's G comes from: a name in
            `lr_adapt.gamma_sources.GAMMA_SOURCES` (default `"loss"`, the
            data loss) or a callable `(loss, y, y_pred, sample_weight) ->
            scalar`.
        steps_csv: Optional path of a CSV file to append per-step rows to.
        step_offset: Added to the optimizer's step count in the step
            records: a later training phase, compiled with a fresh
            optimizer, continues the numbering of the phases before it.
        **settings: The rule's settings: for sd and sd2 `root` (3, the
            paper's cube root; 4 the original notebook's), `min_gamma`,
            `max_gamma`, `min_factor`, `max_factor`; for polyak `polyak_c`
            (0.5) and `f_star` (0.0).

    Example:

    >>> x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    >>> y = x.sum(axis=1, keepdims=True)
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.Adam(
    ...     keras.optimizers.schedules.CosineDecay(1e-3, 1000)), loss="mse")
    >>> sd2 = LossAdaptiveLR(mode="sd2", root=3)
    >>> _ = model.fit(x, y, epochs=2, verbose=0, callbacks=[sd2])
    >>> sd2.steps["step"]
    [0, 1]
    """

    def __init__(
        self,
        mode: str = "sd2",
        source: str | Callable = "loss",
        steps_csv: str | os.PathLike | None = None,
        step_offset: int = 0,
        **settings: float | None,
    ):
        super().__init__()
        if not isinstance(step_offset, int) or step_offset < 0:
            raise ValueError(
                f"step_offset must be an integer >= 0 (steps trained before "
                f"this callback's fit); received {step_offset!r}."
            )
        # Validate every argument now rather than at the first fit.
        self.rule = rate_rule(mode, **settings)
        get_gamma_source(source)
        self.mode = mode
        self.source = source
        self.steps_csv = None if steps_csv is None else os.fspath(steps_csv)
        self.step_offset = step_offset
        self.columns = ("step", "epoch") + step_columns(self.rule)
        self.steps = {column: [] for column in self.columns}
        # Set, and training stopped at the end of that epoch, when a batch
        # loss turns NaN or inf (that step and later bad ones are skipped).
        self.first_nonfinite_step = None
        self._fitted = None

    @staticmethod
    def remove(model):
        """Restores the model's original optimizer and removes the probe."""
        optimizer = model.optimizer
        if isinstance(optimizer, LossAdaptiveOptimizer):
            model.optimizer = optimizer.release_inner_optimizer()
        LossProbe.detach(model)
        _compile_anew(model)

    def on_train_begin(self, logs=None):
        if keras.backend.backend() not in SUPPORTED_BACKENDS:
            raise ValueError(
                "LossAdaptiveLR supports the "
                f"{' and '.join(SUPPORTED_BACKENDS)} backends; this process "
                f"runs {keras.backend.backend()!r}, "
                "on which the in-step loss probe is untested. Set "
                "KERAS_BACKEND=tensorflow or KERAS_BACKEND=jax."
            )
        capacity = int(self.params.get("steps") or _DEFAULT_LOG_CAPACITY)
        source = get_gamma_source(self.source)
        if self._fitted is not None and self._fitted.fits(
            self.model, source, capacity
        ):
            # Same model and set-up as this callback's last fit: keep the
            # compiled train step.
            self._fitted.install()
            return
        self._fitted = _Fitted.build(
            self.model, self.mode, source, capacity, self.rule.get_config()
        )

    def on_train_end(self, logs=None):
        self._fitted.uninstall()

    def on_epoch_begin(self, epoch, logs=None):
        # Read here, not at train begin: a BackupAndRestore later in the
        # callback list may restore the optimizer's step count.
        self._logged_steps = int(self.model.optimizer.iterations.numpy())

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        done = int(optimizer.iterations.numpy())
        first = self._logged_steps
        capacity = optimizer.log_capacity
        if done - first > capacity:
            warnings.warn(
                f"LossAdaptiveLR kept only the last {capacity} of "
                f"{done - first} steps of epoch {epoch}: fit did not report "
                "the number of steps per epoch.",
                stacklevel=2,
            )
            first = done - capacity
        if done > first:
            buffer = np.asarray(optimizer.step_log.numpy())
            steps = np.arange(first, done)
            rows = buffer[steps % capacity]
            new = {
                "step": steps + self.step_offset,
                "epoch": np.full(len(steps), epoch),
            }
            new.update(zip(self.columns[2:], rows.T))
            for column in self.columns:
                self.steps[column].extend(new[column].tolist())
            if self.steps_csv:
                self._append_csv(new)
            if logs is not None:
                logs["lr"] = float(new["lr"][-1])
            bad = np.flatnonzero(~np.isfinite(new["loss"]))
            if len(bad) and self.first_nonfinite_step is None:
                self.first_nonfinite_step = int(new["step"][bad[0]])
                self.model.stop_training = True

    def _append_csv(self, new):
        """Appends the epoch's rows with one write() call: a process killed
        at any moment leaves whole rows (signals land between syscalls)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        if not os.path.exists(self.steps_csv):
            writer.writerow(self.columns)
        for i in range(len(new["step"])):
            writer.writerow(
                [int(new["step"][i]), int(new["epoch"][i])]
                + [f"{float(new[c][i]):.9g}" for c in self.columns[2:]]
            )
        data = out.getvalue().encode()
        fd = os.open(
            self.steps_csv, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666
        )
        try:
            written = os.write(fd, data)
            while written < len(data):  # only if the disk filled up
                written += os.write(fd, data[written:])
        finally:
            os.close(fd)

    @property
    def nonfinite_steps(self):
        """Steps whose G was NaN or inf (they used the scheduled rate)."""
        return int(self._fitted.optimizer.nonfinite_steps.numpy())

    def get_config(self):
        if not isinstance(self.source, str):
            raise TypeError(
                "A LossAdaptiveLR with a callable `source` cannot be "
                "serialized; register the source in GAMMA_SOURCES and pass "
                "its name."
            )
        return {
            "mode": self.mode,
            "source": self.source,
            "steps_csv": self.steps_csv,
            "step_offset": self.step_offset,
            **self.rule.get_config(),
        }
