"""Random-generator state fixed by (seed, epoch): resumable dropout."""

import keras
import numpy as np


class EpochSeeding(keras.callbacks.Callback):
    """Sets every seed generator of the model (dropout, recurrent dropout)
    to a state derived from (seed, epoch) at the start of each epoch.

    Keras does not save seed-generator states with the weights, so a run
    resumed from a backup would draw other dropout masks than the run it
    continues. With this callback epoch k's masks depend on (seed, k)
    alone, interrupted or not.

    Args:
        seed: The run's seed.
    """

    def __init__(self, seed):
        super().__init__()
        self.seed = seed

    def on_epoch_begin(self, epoch, logs=None):
        states = [
            v
            for v in self.model.non_trainable_variables
            if v.path.endswith("seed_generator_state")
        ]
        if not states:
            return
        draws = np.random.default_rng([self.seed, epoch]).integers(
            1, 2**31 - 1, size=len(states)
        )
        for variable, draw in zip(states, draws):
            variable.assign(np.array([draw, 0], dtype=variable.dtype))
