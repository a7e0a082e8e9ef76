"""Per-epoch results to Ray Tune from `model.fit`, on any Keras backend."""

import keras


class TuneReport(keras.callbacks.Callback):
    """Reports each epoch's logs (loss, val_loss, metrics, lr) to Ray Tune.

    Ray's own `ray.tune.integration.keras` callback imports
    `tensorflow.keras`; this one is plain Keras 3, so trials report the same
    way on TensorFlow, JAX or torch.

    Args:
        report: The reporting function; default `ray.tune.report` (the
            current trial's session).

    Example (inside a Ray Tune trial the default `report` is used; here
    the reports are collected in a list):

    >>> import numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer="sgd", loss="mse")
    >>> sent = []
    >>> _ = model.fit(np.ones((8, 2)), np.ones(8), epochs=2, verbose=0,
    ...               callbacks=[TuneReport(report=sent.append)])
    >>> [sorted(r) for r in sent]
    [['epoch', 'loss'], ['epoch', 'loss']]
    """

    def __init__(self, report=None):
        super().__init__()
        if report is None:
            from ray import tune

            report = tune.report
        self.report = report

    def on_epoch_end(self, epoch, logs=None):
        metrics = {"epoch": epoch}
        metrics.update({k: float(v) for k, v in (logs or {}).items()})
        self.report(metrics)
