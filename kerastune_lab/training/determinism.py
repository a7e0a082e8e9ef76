"""Reproducible runs: the same experiment file and seed, the same history.

- TensorFlow: `keras.utils.set_random_seed` plus TensorFlow's op
  determinism (some GPU kernels then run slower or refuse to run).
- JAX: deterministic on the CPU as it is; on a GPU set
  XLA_FLAGS=--xla_gpu_deterministic_ops=true before starting Python.
- torch: not promised (cuDNN and atomics may reorder sums).

Data order and dropout masks are keyed by (seed, epoch) in the run itself
(ShuffledBatches, MaskedChunks, EpochSeeding), so resumed runs agree too.
"""

import keras


def make_deterministic(seed, op_determinism=True):
    """Seeds Python, NumPy and the backend; turns on op determinism."""
    keras.utils.set_random_seed(seed)
    if op_determinism and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
