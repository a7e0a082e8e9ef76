"""A PyDataset whose every epoch is a pure function of (seed, epoch)."""

import math

import keras
import numpy as np


class EpochKeyedDataset(keras.utils.PyDataset):
    """Base of datasets that reshuffle (or re-mask) by (seed, epoch) alone.

    Keras's own shuffling draws from a global random stream, so a run
    resumed at epoch k would see other batches than the run it continues.
    Subclasses implement `prepare_epoch(rng)` and `batch(rows)`; setting
    `epoch` (as a resumed run does) prepares that epoch's data.

    Args:
        num_rows: Rows in the dataset.
        batch_size: Rows per batch.
        seed: Seed of every epoch's random draws.
        redraw: Prepare a new epoch after each one; False keeps epoch 0's
            draw forever (fixed evaluation data).
    """

    def __init__(self, num_rows, batch_size, seed, redraw=True):
        super().__init__()
        self.num_rows = num_rows
        self.batch_size = batch_size
        self.seed = seed
        self.redraw = redraw
        # Data-parallel runs need every batch to split evenly over the
        # devices: the final batch is cut to a multiple of this.
        self.multiple = 1
        self.epoch = 0

    @property
    def epoch(self):
        return self._epoch

    @epoch.setter
    def epoch(self, value):
        self._epoch = value
        self.prepare_epoch(
            np.random.default_rng([self.seed, value if self.redraw else 0])
        )

    def prepare_epoch(self, rng):
        raise NotImplementedError

    def batch(self, rows):
        raise NotImplementedError

    def __len__(self):
        return math.ceil(self.num_rows / self.batch_size)

    def __getitem__(self, index):
        start = index * self.batch_size
        stop = min(start + self.batch_size, self.num_rows)
        return self.batch(slice(start, stop - (stop - start) % self.multiple))

    def on_epoch_end(self):
        if self.redraw:
            self.epoch += 1
