"""Gradients and step values of the global batch, as dense tensors.

Under tf.distribute.MirroredStrategy the update runs once per replica, on
that replica's share of the batch: what a rule reads must be the global
batch's, the same on every replica. JAX's DataParallel computes global
values already, and one device has nothing to combine. TensorFlow hands
an embedding's gradient over as IndexedSlices, which sums over all
elements must see dense (repeated rows added up).
"""

import keras


def dense_gradients(grads):
    """The gradients (None dropped) as dense tensors."""
    grads = [g for g in grads if g is not None]
    if keras.backend.backend() != "tensorflow":
        return grads
    import tensorflow as tf

    return [
        tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g
        for g in grads
    ]


def _replica_context():
    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def mean_over_replicas(value):
    """The mean over replicas of a per-replica mean (the global batch's
    mean when the shares are equal)."""
    context = _replica_context()
    if context is None:
        return value
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.MEAN, value)


def sum_over_replicas(values):
    """The sum over replicas of each tensor in `values` (a list): the
    global batch's gradients from the replicas' gradients, which the
    train step scales by 1 / replicas."""
    context = _replica_context()
    if context is None:
        return list(values)
    import tensorflow as tf

    return context.all_reduce(tf.distribute.ReduceOp.SUM, list(values))
