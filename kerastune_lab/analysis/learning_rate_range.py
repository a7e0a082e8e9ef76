"""The learning-rate range test (Smith 2017; the fastai "lr_find").

The rate grows exponentially from `min_lr` to `max_lr` over a short run,
one step per rate; the batch loss is smoothed with a bias-corrected
exponential moving average, and the sweep stops once the smoothed loss
exceeds DIVERGE_FACTOR times its minimum (or turns non-finite). The
suggested rate is the rate at the minimum of the smoothed loss divided by
10 ("minimum / 10", the rule fastai and Smith use: the last rate that is
still clearly on the descending slope); the steepest-descent rate is
reported beside it. The model's weights and optimizer state are restored
afterwards.
"""

import dataclasses
import math

import keras
import numpy as np

DIVERGE_FACTOR = 4.0
SMOOTHING = 0.9


@dataclasses.dataclass
class RangeTestResult:
    rates: list
    losses: list
    smoothed: list
    suggestion: float
    steepest: float
    rule: str = "minimum / 10"

    def to_dict(self):
        return dataclasses.asdict(self)


class _ExponentialSweep(keras.callbacks.Callback):
    """Sets each step's rate; recovers each batch's own loss from Keras's
    running mean m_t: L_t = (B_t m_t - B_{t-1} m_{t-1}) / b_t."""

    def __init__(self, rates, batch_sizes):
        super().__init__()
        self.rates = rates
        self.cumulative = np.cumsum(batch_sizes)
        self.losses = []
        self.smoothed = []
        self._mean = 0.0
        self._previous = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = float(self.rates[batch])

    def on_train_batch_end(self, batch, logs=None):
        total = self.cumulative[batch]
        before = self.cumulative[batch - 1] if batch else 0
        running = float(logs["loss"])
        loss = (total * running - before * self._previous) / (total - before)
        self._previous = running
        self.losses.append(loss)
        self._mean = SMOOTHING * self._mean + (1 - SMOOTHING) * loss
        smooth = self._mean / (1 - SMOOTHING ** (batch + 1))
        self.smoothed.append(smooth)
        if not math.isfinite(smooth) or (
            batch > 5 and smooth > DIVERGE_FACTOR * min(self.smoothed)
        ):
            self.model.stop_training = True


def lr_range_test(
    model, x, y=None, batch_size=None, min_lr=1e-7, max_lr=10.0, steps=100
):
    """Runs the range test on a compiled model with a float learning rate.

    Args:
        model: A compiled `keras.Model` whose optimizer has a float rate.
        x, y: Training data as `model.fit` takes it (arrays or a
            `keras.utils.PyDataset`); at least `steps` batches are used,
            cycling through the data if needed.
        batch_size: Batch size for arrays.
        min_lr, max_lr: Sweep range.
        steps: Number of rates tried (one optimizer step each).

    Returns:
        A `RangeTestResult`.
    """
    if not 0 < min_lr < max_lr:
        raise ValueError(
            f"Need 0 < min_lr < max_lr; received min_lr={min_lr}, "
            f"max_lr={max_lr}."
        )
    rates = np.geomspace(min_lr, max_lr, steps)
    weights = model.get_weights()
    optimizer = model.optimizer
    saved_state = (
        [v.numpy() for v in optimizer.variables] if optimizer.built else None
    )
    batches, fit_args = _sweep_data(x, y, batch_size, steps)
    sweep = _ExponentialSweep(rates, batches)
    try:
        model.fit(**fit_args, epochs=1, verbose=0, callbacks=[sweep])
    finally:
        model.set_weights(weights)
        if saved_state is not None:
            for variable, value in zip(optimizer.variables, saved_state):
                variable.assign(value)
    return _result(rates, sweep)


def _sweep_data(x, y, batch_size, steps):
    """(each step's batch size, `model.fit` arguments) for `steps` batches
    of the data, cycling through it."""
    if isinstance(x, keras.utils.PyDataset):
        batches = [len(x[i % len(x)][1]) for i in range(steps)]
        return batches, {"x": _Cycle(x, steps)}
    order = np.resize(np.arange(len(y)), steps * batch_size)
    fit_args = {
        "x": x[order],
        "y": y[order],
        "batch_size": batch_size,
        "shuffle": False,
    }
    return [batch_size] * steps, fit_args


def _result(rates, sweep):
    """The `RangeTestResult` of a finished sweep: the suggestion at the
    smoothed loss's minimum, the steepest descent before it."""
    smoothed = np.asarray(sweep.smoothed)
    tried = rates[: len(smoothed)]
    finite = np.isfinite(smoothed)
    best = int(np.argmin(np.where(finite, smoothed, np.inf)))
    log_rates = np.log10(tried[: best + 1])
    slopes = (
        np.gradient(smoothed[: best + 1], log_rates)
        if best >= 2
        else np.zeros(1)
    )
    return RangeTestResult(
        rates=tried.tolist(),
        losses=sweep.losses,
        smoothed=smoothed.tolist(),
        suggestion=float(tried[best] / 10),
        steepest=float(tried[int(np.argmin(slopes))]),
    )


class _Cycle(keras.utils.PyDataset):
    """`steps` batches of a PyDataset in one epoch, cycling through it."""

    def __init__(self, dataset, steps):
        super().__init__()
        self.dataset = dataset
        self.steps = steps

    def __len__(self):
        return self.steps

    def __getitem__(self, index):
        if index and index % len(self.dataset) == 0:
            self.dataset.on_epoch_end()
        return self.dataset[index % len(self.dataset)]


def plot_range_test(result, path, title=""):
    """Smoothed and raw loss against the rate (log scale), suggestion
    marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.subplots()
    ax.plot(
        result.rates, result.losses, color="0.75", lw=0.8, label="batch loss"
    )
    ax.plot(result.rates, result.smoothed, lw=1.6, label="smoothed")
    ax.axvline(
        result.suggestion,
        color="tab:green",
        ls="--",
        label=f"suggested {result.suggestion:.2g} ({result.rule})",
    )
    ax.axvline(
        result.steepest,
        color="tab:orange",
        ls=":",
        label=f"steepest descent {result.steepest:.2g}",
    )
    ax.set_xscale("log")
    finite = [v for v in result.smoothed if math.isfinite(v)]
    if finite:
        ax.set_ylim(min(finite) * 0.9, min(max(finite), 3 * min(finite)))
    ax.set(
        xlabel="learning rate",
        ylabel="loss",
        title=title or "Learning-rate range test",
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
