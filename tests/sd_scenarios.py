"""SD/SD2 scenarios checked against NumPy, runnable on any Keras backend.

The tests import these functions on the TensorFlow backend and run this
file as a script with KERAS_BACKEND=jax (the backend is fixed at import):
`python tests/sd_scenarios.py` prints one JSON object of results.
"""

import json
import math
import sys

import keras
import numpy as np

from kerastune_lab.callbacks import LossAdaptiveLR
from kerastune_lab.schedules import WarmupDecay

BATCH, N, FEATURES = 16, 64, 5


def regression_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = (x @ rng.normal(size=(FEATURES, 1)) + 0.5).astype("float32")
    return x, y


def sgd_replay(mode="sd2", root=3.0, jit=True, steps_per_execution=1,
               epochs=3, rate=0.05):
    """Trains a linear model with plain SGD under SD/SD2 and replays it.

    Returns the largest differences between Keras and the NumPy replay
    w -= A' * G**(+-1/root) * grad, where G is the replay's own batch MSE.
    """
    keras.utils.set_random_seed(1)
    x, y = regression_data()
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(1)])
    w, b = (v.astype("float64") for v in model.get_weights())
    model.compile(optimizer=keras.optimizers.SGD(rate), loss="mse",
                  jit_compile="auto" if jit else False,
                  steps_per_execution=steps_per_execution)
    callback = LossAdaptiveLR(mode=mode, root=root)
    model.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=False,
              verbose=0, callbacks=[callback])
    sign = {"sd2": 1.0, "sd": -1.0, "none": 0.0}[mode]
    loss_err = rate_err = 0.0
    for step, (logged_loss, logged_rate) in enumerate(
        zip(callback.steps["loss"], callback.steps["lr"])
    ):
        i = step % (N // BATCH)
        xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
        err = xb @ w + b - yb
        loss = float(np.mean(err ** 2))
        used = rate * loss ** (sign / root)
        loss_err = max(loss_err, abs(logged_loss - loss) / loss)
        rate_err = max(rate_err, abs(logged_rate - used) / used)
        grad = 2 * err / err.size
        w -= used * (xb.T @ grad)
        b -= used * grad.sum(axis=0)
    kw, kb = model.layers[0].get_weights()
    return {
        "steps": len(callback.steps["step"]),
        "step_ids_ok": callback.steps["step"] == list(range(epochs * N // BATCH)),
        "weight_err": float(max(np.abs(kw - w).max(), np.abs(kb - b).max())),
        "loss_rel_err": loss_err,
        "rate_rel_err": rate_err,
    }


def formula_check(mode, root, policy="float32", jit=True):
    """Adam + warmup cosine on a tiny classifier; rates vs the formula.

    Returns the largest relative error of each logged rate against
    schedule(step) * clip(G, 1e-3, 1e3) ** (+-1/root), with G the logged
    loss of that step, and whether the rate actually varied.
    """
    keras.utils.set_random_seed(2)
    keras.config.set_dtype_policy(policy)
    try:
        rng = np.random.default_rng(1)
        x = rng.normal(size=(96, 6)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int32")
        model = keras.Sequential([
            keras.Input((6,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(2, activation="softmax", dtype="float32"),
        ])
    finally:
        keras.config.set_dtype_policy("float32")
    schedule = WarmupDecay(1e-2, warmup_steps=3, decay_steps=30,
                           decay="cosine")
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss="sparse_categorical_crossentropy",
                  jit_compile="auto" if jit else False)
    callback = LossAdaptiveLR(mode=mode, root=root)
    model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[callback])
    sign = {"sd2": 1.0, "sd": -1.0, "none": 0.0}[mode]
    worst = 0.0
    for step, loss, rate in zip(callback.steps["step"], callback.steps["loss"],
                                callback.steps["lr"]):
        scheduled = float(np.asarray(schedule(step)))
        if scheduled == 0.0:
            assert rate == 0.0
            continue
        gamma = min(max(loss, 1e-3), 1e3)
        expected = scheduled * gamma ** (sign / root)
        worst = max(worst, abs(rate - expected) / expected)
    return {
        "steps": len(callback.steps["step"]),
        "rate_rel_err": worst,
        "losses_finite": all(math.isfinite(v) for v in callback.steps["loss"]),
    }


def run_all():
    return {
        "backend": keras.backend.backend(),
        "replay_jit": sgd_replay(jit=True),
        "replay_no_jit": sgd_replay(jit=False),
        "replay_spe3": sgd_replay(steps_per_execution=3),
        "replay_sd_root4": sgd_replay(mode="sd", root=4.0),
        "formula_sd2": formula_check("sd2", 3.0),
        "formula_sd_root4": formula_check("sd", 4.0),
        "formula_bf16": formula_check("sd2", 3.0, policy="mixed_bfloat16"),
    }


if __name__ == "__main__":
    json.dump(run_all(), sys.stdout)
