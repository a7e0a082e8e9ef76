"""`[train] data_parallel`: one run over every local device (or host)."""

import contextlib
import json
import os

import keras

from kerastune_lab.errors import ConfigError, UserError


def data_parallel_scope(train):
    """The scope under which a run builds, compiles and trains its model.

    JAX: `keras.distribution.DataParallel` over all devices (each device
    gets batch_size / devices rows of every batch; gradients are averaged),
    after `keras.distribution.initialize()` when the KERAS_DISTRIBUTION_*
    variables describe several processes (hosts). TensorFlow:
    `tf.distribute.MirroredStrategy`, one host only. Without
    `train.data_parallel` it does nothing.

    Returns:
        (context manager, number of replicas).
    """
    if not train.data_parallel:
        return contextlib.nullcontext(), 1
    backend = keras.backend.backend()
    if backend == "jax":
        if int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1")) > 1:
            keras.distribution.initialize()
        devices = keras.distribution.list_devices()
        _check_batch(train.batch_size, len(devices))
        distribution = keras.distribution.DataParallel(devices=devices)
        return distribution.scope(), len(devices)
    if backend == "tensorflow":
        workers = (
            json.loads(os.environ.get("TF_CONFIG") or "{}")
            .get("cluster", {})
            .get("worker", [])
        )
        if len(workers) > 1:
            raise UserError(
                "train.data_parallel on several TensorFlow workers would need "
                "MultiWorkerMirroredStrategy, which is broken with Keras 3.15 "
                "(keras-team/keras#20585). Use the JAX backend "
                "(KERAS_BACKEND=jax) with KERAS_DISTRIBUTION_JOB_ADDRESSES / "
                "_NUM_PROCESSES / _PROCESS_ID for several hosts, or unset "
                "TF_CONFIG for one host."
            )
        # TensorFlow-only: Keras 3 has no backend-neutral data parallelism
        # on TensorFlow.
        import tensorflow as tf

        strategy = tf.distribute.MirroredStrategy()
        _check_batch(train.batch_size, strategy.num_replicas_in_sync)
        return strategy.scope(), strategy.num_replicas_in_sync
    raise UserError(
        f"train.data_parallel is not supported on the {backend} backend; "
        "use KERAS_BACKEND=jax (all devices, several hosts) or tensorflow "
        "(one host)."
    )


def _check_batch(batch_size, devices):
    if batch_size % devices:
        raise ConfigError(
            f"train.batch_size = {batch_size} does not divide among "
            f"{devices} devices: data parallelism gives every device the "
            f"same share of each batch. Use a multiple of {devices}, e.g. "
            "--set train.batch_size="
            f"{max(devices, batch_size // devices * devices)}."
        )


def split_batches_evenly(task, replicas, batch_size):
    """Cuts each split's final batch to a multiple of `replicas` (dropping
    fewer than `replicas` examples), so every batch divides among the
    devices. Returns, per split, the number of examples dropped per pass
    (for a tf.data pipeline, which cannot count them ahead, a note)."""
    if replicas == 1:
        return {}
    dropped = {}
    fit = task.fit_data
    fit["x"], dropped["train"] = _even(fit["x"], replicas, batch_size)
    val, dropped["val"] = _even(
        fit["validation_data"],
        replicas,
        fit.get("validation_batch_size", batch_size),
    )
    fit["validation_data"] = val
    test = task.test_data
    data = (test["x"], test["y"]) if "y" in test else test["x"]
    data, dropped["test"] = _even(
        data, replicas, test.get("batch_size", batch_size)
    )
    if "y" in test:
        test["x"], test["y"] = data
    else:
        test["x"] = data
    return dropped


def _even(data, replicas, batch_size):
    from kerastune_lab.data.epoch_keyed_dataset import EpochKeyedDataset

    if isinstance(data, EpochKeyedDataset):
        data.multiple = replicas
        return data, data.num_rows % data.batch_size % replicas
    if isinstance(data, tuple):
        extra = len(data[0]) % batch_size % replicas
        return tuple(a[: len(a) - extra] for a in data), extra
    # A batched tf.data pipeline (data loading is TensorFlow's there).
    import tensorflow as tf

    def cut(*batch):
        rows = tf.shape(tf.nest.flatten(batch)[0])[0] // replicas * replicas
        return tf.nest.map_structure(lambda t: t[:rows], batch)

    return data.map(cut), "final batch cut to a multiple of the devices"
