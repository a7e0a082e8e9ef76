"""Array batches in an order fixed by (seed, epoch): resumable shuffling."""

from kerastune_lab.data.epoch_keyed_dataset import EpochKeyedDataset


class ShuffledBatches(EpochKeyedDataset):
    """Batches of (x, y), reshuffled every epoch by `seed` and the epoch.

    Args:
        x, y: Arrays with the same first dimension.
        batch_size: Rows per batch.
        seed: Seed of the permutations.
    """

    def __init__(self, x, y, batch_size, seed):
        self.x, self.y = x, y
        super().__init__(len(y), batch_size, seed)

    def prepare_epoch(self, rng):
        self._order = rng.permutation(self.num_rows)

    def batch(self, rows):
        index = self._order[rows]
        return self.x[index], self.y[index]
