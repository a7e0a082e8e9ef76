"""Per-step scalars and hyperparameters for TensorBoard."""

import keras


class TensorBoardSteps(keras.callbacks.Callback):
    """Writes every optimizer step's record (loss, rate, G, factor and what
    the run's rate rule reads, e.g. polyak's grad_norm_sq) and the run's
    hyperparameters (TensorBoard's HParams plugin) to `log_dir`.

    Keras's `TensorBoard(update_freq="batch")` logs the epoch's running
    mean and syncs with the host each batch; these are the steps' own
    values, written once per epoch from `LossAdaptiveLR.steps`. Writing
    event files needs TensorFlow's summary ops (and the `tensorboard`
    package for HParams), which this callback imports when it starts.

    Args:
        log_dir: Folder of the event files (e.g. run_dir/tensorboard/steps).
        steps_source: The run's `LossAdaptiveLR` (every column of its
            `steps` but step and epoch becomes a `step/<column>` scalar).
        hparams: Flat {name: number, string or bool} of the run's
            configuration.
    """

    def __init__(self, log_dir, steps_source, hparams):
        super().__init__()
        self.log_dir = str(log_dir)
        self.steps_source = steps_source
        self.hparams = dict(hparams)
        self._written = 0
        self._writer = None

    def on_train_begin(self, logs=None):
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hparams_api

        self._tf = tf
        self._writer = tf.summary.create_file_writer(self.log_dir)
        with self._writer.as_default():
            hparams_api.hparams(self.hparams)
        self._written = len(self.steps_source.steps["step"])

    def on_epoch_end(self, epoch, logs=None):
        steps = self.steps_source.steps
        columns = [c for c in steps if c not in ("step", "epoch")]
        with self._writer.as_default():
            for i in range(self._written, len(steps["step"])):
                step = int(steps["step"][i])
                for column in columns:
                    self._tf.summary.scalar(
                        f"step/{column}", steps[column][i], step=step
                    )
        self._written = len(steps["step"])
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
