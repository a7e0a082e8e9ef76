"""Array batches in an order fixed by (seed, epoch): resumable shuffling."""

import keras
import numpy as np


class ShuffledBatches(keras.utils.PyDataset):
    """Batches of (x, y) reshuffled every epoch by `seed` and the epoch.

    Keras's own shuffling of arrays draws from a global random stream, so a
    run resumed at epoch k would see a different order than the run it
    continues. Here epoch k's order depends on (seed, k) alone; set
    `epoch` to the first epoch of a resumed run.

    Args:
        x, y: Arrays with the same first dimension.
        batch_size: Rows per batch.
        seed: Seed of the permutations.
    """

    def __init__(self, x, y, batch_size, seed):
        super().__init__()
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.seed = seed
        self.epoch = 0

    @property
    def epoch(self):
        return self._epoch

    @epoch.setter
    def epoch(self, value):
        self._epoch = value
        self._order = np.random.default_rng([self.seed, value]).permutation(
            len(self.y))

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index):
        rows = self._order[index * self.batch_size:
                           (index + 1) * self.batch_size]
        return self.x[rows], self.y[rows]

    def on_epoch_end(self):
        self.epoch += 1
