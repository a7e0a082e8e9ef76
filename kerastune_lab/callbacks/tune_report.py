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

    Example:

    >>> model.fit(x, y, epochs=5, callbacks=[TuneReport()])  # in a trial
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
