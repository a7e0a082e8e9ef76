"""Evaluates a ScheduleFreeAdamW model at its averaged weights."""

import keras
from keras import ops


def _schedule_free(optimizer):
    """The ScheduleFreeAdamW inside `optimizer` (or the SD wrapper around
    it), else None."""
    optimizer = getattr(optimizer, "inner_optimizer", optimizer)
    if isinstance(optimizer, keras.optimizers.ScheduleFreeAdamW):
        return optimizer
    return None


class ScheduleFreeEvaluation(keras.callbacks.Callback):
    """Moves a schedule-free model to its averaged point x to evaluate.

    `keras.optimizers.ScheduleFreeAdamW` trains the model at the
    interpolation y = (1 - beta_1) z + beta_1 x of its gradient sequence z
    (the optimizer's "momentum" slots) and the running average x. Defazio
    et al. (2024) evaluate, and ship, x; Keras's optimizer has no such
    switch, so validation inside `fit` would score y. This callback puts
    x = (y - (1 - beta_1) z) / beta_1 into the model for every evaluation
    inside `fit` and restores y afterwards, and leaves x in the model when
    training ends, so the test split and the saved model use x too. It
    does nothing for other optimizers.

    Example:

    >>> model.compile(keras.optimizers.ScheduleFreeAdamW(1e-3), "mse")
    >>> model.fit(x, y, validation_split=0.1,
    ...           callbacks=[ScheduleFreeEvaluation()])
    """

    def __init__(self):
        super().__init__()
        self._saved = None

    def _pairs(self):
        optimizer = _schedule_free(self.model.optimizer)
        if optimizer is None or not optimizer.built:
            return None, ()
        return optimizer, [
            (
                variable,
                optimizer._momentums[optimizer._get_variable_index(variable)],
            )
            for variable in optimizer._trainable_variables
        ]

    def _move_to_average(self):
        optimizer, pairs = self._pairs()
        if optimizer is None:
            return None
        beta_1 = float(optimizer.beta_1)
        saved = []
        for variable, z in pairs:
            y = ops.convert_to_numpy(variable)
            saved.append((variable, y))
            variable.assign(
                (y - (1 - beta_1) * ops.convert_to_numpy(z)) / beta_1
            )
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
