"""Adds perplexity = exp(loss) to the epoch logs of a language model."""

import math

import keras


class PerplexityLogger(keras.callbacks.Callback):
    """Writes `perplexity` and `val_perplexity` into each epoch's logs.

    Place it before `CSVLogger` so the history file gets the columns.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        for key in ("loss", "val_loss"):
            if key in logs:
                name = key.replace("loss", "perplexity")
                logs[name] = math.exp(min(float(logs[key]), 700.0))
