"""Every loss-adaptive rule under tf.distribute.MirroredStrategy on 2
logical CPU devices, against the same training on one device. Run as a
script (the logical devices must be set before TensorFlow starts); prints
one JSON object."""

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
from kerastune_lab.keras_internals import (  # noqa: E402
    unscale_loss_for_distribution,
)
from kerastune_lab.optimizers import Momo, MomoAdam  # noqa: E402

# rule -> (optimizer, LossAdaptiveLR arguments); SGD with momentum so that
# a zero rate alone would still move a skipped batch's weights.
RULES = {
    "sd": (lambda: keras.optimizers.SGD(0.1, momentum=0.9), {"mode": "sd"}),
    "sd2": (lambda: keras.optimizers.SGD(0.1, momentum=0.9), {"mode": "sd2"}),
    # c large enough for Polyak's step to fall below the cap.
    "polyak": (
        lambda: keras.optimizers.SGD(0.5, momentum=0.9),
        {"mode": "polyak", "polyak_c": 8.0},
    ),
    "momo": (lambda: Momo(1.0, weight_decay=0.01), {"mode": "none"}),
    "momo_adam": (lambda: MomoAdam(0.1, weight_decay=0.01), {"mode": "none"}),
}


def data(nan_row=None):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (np.abs(x[:, 0]) * 2).astype("int32").clip(0, 2)
    weight = np.ones(64, "float32")
    if nan_row is not None:
        weight[nan_row] = np.nan  # the loss of its batch is NaN
    return x, y, weight


def train(strategy, rule, nan_row=None):
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
        optimizer, arguments = RULES[rule]
        model.compile(
            optimizer=optimizer(),
            loss="sparse_categorical_crossentropy",
        )
    callback = LossAdaptiveLR(**arguments)
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
    optimizer = model.optimizer  # the compiled one again after fit
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


def compare(rule, nan_row):
    one = train(None, rule, nan_row)
    two = train(MIRRORED, rule, nan_row)
    return {
        "weight_diff": largest_difference(one["weights"], two["weights"]),
        "slot_diff": largest_difference(one["slots"], two["slots"]),
        **{
            f"{column}_diff": largest_difference(
                [one["steps"][column]], [two["steps"][column]]
            )
            for column in one["steps"]
        },
        "steps": [len(one["steps"]["step"]), len(two["steps"]["step"])],
        "first_nonfinite": [one["first_nonfinite"], two["first_nonfinite"]],
    }


def unscaled_per_replica(value):
    """unscale_loss_for_distribution(value) inside each replica."""

    @tf.function
    def step():
        return MIRRORED.run(
            lambda: unscale_loss_for_distribution(tf.constant(value))
        )

    return [float(v) for v in MIRRORED.experimental_local_results(step())]


def main():
    results = {
        "replicas": MIRRORED.num_replicas_in_sync,
        "unscaled_one": unscaled_per_replica(1.0),
        # SD2 over 3 whole epochs; every rule with a NaN batch (its
        # epoch: a finite step, the skipped one, two more finite steps).
        "finite": compare("sd2", None),
        **{f"nan_{rule}": compare(rule, 20) for rule in RULES},
    }
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    MIRRORED = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    main()
