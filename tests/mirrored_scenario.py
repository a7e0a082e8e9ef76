"""SD2 under tf.distribute.MirroredStrategy on 2 logical CPU devices,
against the same training on one device. Run as a script (the logical
devices must be set before TensorFlow starts); prints one JSON object."""

import contextlib
import json
import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"

import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration()] * 2
)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from kerastune_lab.callbacks import LossAdaptiveLR  # noqa: E402


def data(nan_row=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (np.abs(x[:, 0]) * 2).astype("int32").clip(0, 2)
    weight = np.ones(64, "float32")
    if nan_row is not None:
        weight[nan_row] = np.nan  # the loss of its batch is NaN
    return x, y, weight


def train(strategy, nan_row=None):
    scope = strategy.scope() if strategy else contextlib.nullcontext()
    with scope:
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(
                    8,
                    activation="relu",
                    kernel_regularizer=keras.regularizers.L2(0.1),
                ),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
            loss="sparse_categorical_crossentropy",
        )
    callback = LossAdaptiveLR(mode="sd2")
    x, y, weight = data(nan_row)
    model.fit(
        x,
        y,
        sample_weight=weight,
        batch_size=16,
        epochs=3,
        shuffle=False,
        verbose=0,
        callbacks=[callback],
    )
    optimizer = model.optimizer.inner_optimizer
    slots = [v for v in optimizer.variables if v is not optimizer.iterations]
    weights = model.get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    return {
        "weights": weights,
        "slots": [np.asarray(keras.ops.convert_to_numpy(v)) for v in slots],
        "steps": callback.steps,
        "first_nonfinite": callback.first_nonfinite_step,
    }


def largest_difference(a, b):
    """Largest absolute difference; NaN where exactly one side is NaN (a
    NaN on both sides, a skipped batch's loss, counts as equal)."""
    worst = 0.0
    for p, q in zip(a, b):
        p, q = np.asarray(p, "float64"), np.asarray(q, "float64")
        both = np.isnan(p) & np.isnan(q)
        if (np.isnan(p) ^ np.isnan(q)).any():
            return float("nan")
        worst = max(worst, float(np.max(np.abs(p - q)[~both], initial=0)))
    return worst


def main():
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    results = {"replicas": mirrored.num_replicas_in_sync}
    for name, nan_row in (("finite", None), ("nan", 20)):
        one = train(None, nan_row)
        two = train(mirrored, nan_row)
        results[name] = {
            "weight_diff": largest_difference(one["weights"], two["weights"]),
            "slot_diff": largest_difference(one["slots"], two["slots"]),
            **{
                f"{column}_diff": largest_difference(
                    [one["steps"][column]], [two["steps"][column]]
                )
                for column in ("loss", "gamma", "factor", "lr")
            },
            "steps": [len(one["steps"]["step"]), len(two["steps"]["step"])],
            "first_nonfinite": [
                one["first_nonfinite"],
                two["first_nonfinite"],
            ],
        }
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
