"""Evaluates a schedule-free model at its averaged weights."""

import keras
from keras import ops


def _evaluation_source(optimizer):
    """`optimizer`, or the optimizer it wraps (the SD wrapper's or
    LossScaleOptimizer's `inner_optimizer`), if it offers
    `evaluation_values()`; else None."""
    for candidate in (optimizer, getattr(optimizer, "inner_optimizer", None)):
        if callable(getattr(candidate, "evaluation_values", None)):
            return candidate
    return None


class ScheduleFreeEvaluation(keras.callbacks.Callback):
    """Moves a schedule-free model to its averaged point x to evaluate.

    A schedule-free optimizer (`kerastune_lab.optimizers.ScheduleFreeAdamW`)
    trains the model at the interpolation y of its step sequence z and
    their running average x; Defazio et al. (2024) evaluate, and ship, x.
    Keras has no such switch, so validation inside `fit` would score y.
    This callback puts the optimizer's `evaluation_values()` into the model
    for every evaluation inside `fit` and restores y afterwards, and leaves
    x in the model when training ends, so the test split and the saved
    model use x too. It works for any optimizer (or wrapper with an
    `inner_optimizer`) that offers `evaluation_values()`, returning
    `(variable, value)` pairs, and does nothing for others.

    Example:

    >>> import keras
    >>> import numpy as np
    >>> from kerastune_lab.optimizers import ScheduleFreeAdamW
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    >>> model.compile(ScheduleFreeAdamW(1e-2), loss="mse")
    >>> x, y = np.ones((32, 3), "float32"), np.zeros((32, 1), "float32")
    >>> _ = model.fit(x, y, validation_split=0.25, verbose=0,
    ...               callbacks=[ScheduleFreeEvaluation()])
    """

    def __init__(self):
        super().__init__()
        self._saved = None

    def _move_to_average(self):
        """Puts x into the model; returns the (variable, y) it replaced."""
        source = _evaluation_source(self.model.optimizer)
        if source is None:
            return None
        pairs = source.evaluation_values()
        # Host copies of y first: on TensorFlow a variable's value is the
        # variable itself, which the assignments below change.
        saved = [
            (variable, ops.convert_to_numpy(variable)) for variable, _ in pairs
        ]
        for variable, value in pairs:
            variable.assign(value)
        return saved

    def on_test_begin(self, logs=None):
        if self._saved is None:
            self._saved = self._move_to_average()

    def on_test_end(self, logs=None):
        for variable, y in self._saved or ():
            variable.assign(y)
        self._saved = None

    def on_train_end(self, logs=None):
        self._move_to_average()
