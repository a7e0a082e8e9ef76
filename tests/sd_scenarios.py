"""Rate-rule scenarios checked against NumPy, runnable on any Keras
backend.

The tests import these functions on the TensorFlow backend and run this
file as a script with KERAS_BACKEND=jax (the backend is fixed at import):
`python tests/sd_scenarios.py` prints one JSON object of results, on JAX
with the optax comparisons of `optax_scenarios` as well (one process).
"""

import json
import math
import sys
import tempfile

import keras
import numpy as np
import optax_scenarios

from kerastune_lab.callbacks import LossAdaptiveLR
from kerastune_lab.schedules import WarmupDecay

BATCH, N, FEATURES = 16, 64, 5


def regression_data(noise=0.0):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = x @ rng.normal(size=(FEATURES, 1)) + 0.5
    y += noise * rng.normal(size=y.shape)
    return x, y.astype("float32")


def replayed_rate(mode, rate, loss, grad_norm_sq, settings):
    """A step's rate by the rule's formula, in float64."""
    if mode == "polyak":
        c, f_star = settings.get("polyak_c", 0.5), settings.get("f_star", 0.0)
        gap = max(loss - f_star, 0.0)
        return min(gap / (c * grad_norm_sq), rate) if gap > 0 else 0.0
    sign = {"sd2": 1.0, "sd": -1.0, "none": 0.0}[mode]
    return rate * loss ** (sign / settings.get("root", 3.0))


def sgd_replay(
    mode="sd2",
    jit=True,
    steps_per_execution=1,
    epochs=3,
    rate=0.05,
    noise=0.0,
    **settings,
):
    """Trains a linear model with plain SGD under a rate rule and replays
    it in NumPy.

    Returns the largest differences between Keras and the replay w -= A''
    * grad, where A'' is the rule's formula (`replayed_rate`) on the
    replay's own batch MSE and gradient norm.
    """
    keras.utils.set_random_seed(1)
    x, y = regression_data(noise)
    model = keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(1)])
    w, b = (v.astype("float64") for v in model.get_weights())
    model.compile(
        optimizer=keras.optimizers.SGD(rate),
        loss="mse",
        jit_compile="auto" if jit else False,
        steps_per_execution=steps_per_execution,
    )
    callback = LossAdaptiveLR(mode=mode, **settings)
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[callback],
    )
    loss_err = rate_err = norm_err = 0.0
    capped = 0
    for step, (logged_loss, logged_rate) in enumerate(
        zip(callback.steps["loss"], callback.steps["lr"])
    ):
        i = step % (N // BATCH)
        xb, yb = x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]
        err = xb @ w + b - yb
        loss = float(np.mean(err**2))
        grad = 2 * err / err.size
        grad_w, grad_b = xb.T @ grad, grad.sum(axis=0)
        norm = float(np.sum(grad_w**2) + np.sum(grad_b**2))
        used = replayed_rate(mode, rate, loss, norm, settings)
        capped += used == rate
        loss_err = max(loss_err, abs(logged_loss - loss) / loss)
        rate_err = max(rate_err, abs(logged_rate - used) / (used or rate))
        if "grad_norm_sq" in callback.steps:
            logged = callback.steps["grad_norm_sq"][step]
            norm_err = max(norm_err, abs(logged - norm) / norm)
        w -= used * grad_w
        b -= used * grad_b
    kw, kb = model.layers[0].get_weights()
    return {
        "mode": mode,
        "steps": len(callback.steps["step"]),
        "step_ids_ok": callback.steps["step"]
        == list(range(epochs * N // BATCH)),
        "weight_err": float(max(np.abs(kw - w).max(), np.abs(kb - b).max())),
        "loss_rel_err": loss_err,
        "rate_rel_err": rate_err,
        "grad_norm_sq_rel_err": norm_err,
        "capped_steps": int(capped),
    }


class WeightsPerStep(keras.callbacks.Callback):
    """The model's weights as each step begins (a host sync per step: test
    only)."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_begin(self, batch, logs=None):
        # The layers' weights only (the model's own list holds the probe).
        self.weights.append(
            [
                np.asarray(w, "float64")
                for layer in self.model.layers
                for w in layer.get_weights()
            ]
        )


def numpy_cross_entropy(weights, x, y):
    """Mean cross-entropy of the Dense(relu) -> Dense(softmax) classifier
    at `weights`, computed in float64 NumPy: an independent G."""
    w1, b1, w2, b2 = weights
    h = np.maximum(x @ w1 + b1, 0.0)
    logits = h @ w2 + b2
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def formula_check(mode, root, policy="float32", jit=True, l2=0.0):
    """Adam + warmup cosine on a tiny classifier; rates vs the formula with
    an independently computed G.

    G is recomputed in NumPy from the weights at the start of each step
    (the data loss: cross-entropy only, whatever `l2` adds). Returns the
    largest relative errors of the logged G against it, of the logged
    loss against G plus the L2 penalty, and of the logged rate against
    schedule(step) * clip(G, 1e-3, 1e3) ** (+-1/root).
    """
    keras.utils.set_random_seed(2)
    keras.config.set_dtype_policy(policy)
    try:
        rng = np.random.default_rng(1)
        x = rng.normal(size=(96, 6)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int32")
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(
                    8,
                    activation="relu",
                    kernel_regularizer=keras.regularizers.L2(l2)
                    if l2
                    else None,
                ),
                keras.layers.Dense(2, activation="softmax", dtype="float32"),
            ]
        )
    finally:
        keras.config.set_dtype_policy("float32")
    schedule = WarmupDecay(
        1e-2, warmup_steps=3, decay_steps=30, decay="cosine"
    )
    model.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss="sparse_categorical_crossentropy",
        jit_compile="auto" if jit else False,
    )
    callback = LossAdaptiveLR(mode=mode, root=root)
    weights = WeightsPerStep()
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=5,
        verbose=0,
        shuffle=False,
        callbacks=[callback, weights],
    )
    sign = {"sd2": 1.0, "sd": -1.0, "none": 0.0}[mode]
    worst = {"gamma_rel_err": 0.0, "loss_rel_err": 0.0, "rate_rel_err": 0.0}
    for step, loss, gamma, rate in zip(
        callback.steps["step"],
        callback.steps["loss"],
        callback.steps["gamma"],
        callback.steps["lr"],
    ):
        i = step % 6
        xb, yb = x[i * 16 : (i + 1) * 16], y[i * 16 : (i + 1) * 16]
        expected_gamma = numpy_cross_entropy(weights.weights[step], xb, yb)
        penalty = l2 * float(np.sum(weights.weights[step][0] ** 2))
        worst["gamma_rel_err"] = max(
            worst["gamma_rel_err"],
            abs(gamma - expected_gamma) / expected_gamma,
        )
        worst["loss_rel_err"] = max(
            worst["loss_rel_err"],
            abs(loss - expected_gamma - penalty) / (expected_gamma + penalty),
        )
        scheduled = float(np.asarray(schedule(step)))
        if scheduled == 0.0:
            assert rate == 0.0
            continue
        clamped = min(max(expected_gamma, 1e-3), 1e3)
        expected = scheduled * clamped ** (sign / root)
        worst["rate_rel_err"] = max(
            worst["rate_rel_err"], abs(rate - expected) / expected
        )
    return {
        "steps": len(callback.steps["step"]),
        "losses_finite": all(math.isfinite(v) for v in callback.steps["loss"]),
        **worst,
    }


def model_after_fit(tmp_dir):
    """Plain Keras code: fit with LossAdaptiveLR (and an EarlyStopping after
    it that restores the best weights), then use the model as a model of
    the architecture the user built. Returns what the test checks."""
    import pathlib

    def build():
        keras.utils.set_random_seed(1)
        return keras.Sequential(
            [
                keras.Input((FEATURES,)),
                keras.layers.Dense(8, activation="relu"),
                keras.layers.Dense(1),
            ]
        )

    x, y = regression_data(noise=0.1)
    model = build()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    compiled = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            compiled.append(self.model.train_function)

    callback = LossAdaptiveLR(mode="sd2")
    stop = keras.callbacks.EarlyStopping(
        monitor="loss", patience=0, min_delta=10.0, restore_best_weights=True
    )
    fit = {"batch_size": BATCH, "verbose": 0}
    model.fit(x, y, epochs=3, callbacks=[callback, Spy(), stop], **fit)
    fresh = build()
    fresh.set_weights(model.get_weights())
    path = pathlib.Path(tmp_dir) / "model.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    prediction = model.predict(x, verbose=0)
    model.fit(x, y, epochs=1, callbacks=[callback, Spy()], **fit)
    reused = compiled[-1] is compiled[0]
    model.fit(x, y, epochs=1, **fit)  # the user's own optimizer alone
    return {
        "shapes": [list(w.shape) for w in model.get_weights()],
        "built_shapes": [list(w.shape) for w in build().get_weights()],
        "weight_names": [w.path for w in model.weights],
        "optimizer": type(model.optimizer).__name__,
        "fresh_diff": float(
            np.max(np.abs(fresh.predict(x, verbose=0) - prediction))
        ),
        "reloaded_diff": float(
            np.max(np.abs(reloaded.predict(x, verbose=0) - prediction))
        ),
        "steps": callback.steps["step"],
        "compiled_step_reused": reused,
    }


def run_all():
    return {
        "backend": keras.backend.backend(),
        "replay_jit": sgd_replay(jit=True),
        "replay_no_jit": sgd_replay(jit=False),
        "replay_spe3": sgd_replay(steps_per_execution=3),
        "replay_sd_root4": sgd_replay(mode="sd", root=4.0),
        "replay_polyak": sgd_replay(mode="polyak", rate=0.5, noise=1.0),
        "formula_sd2": formula_check("sd2", 3.0),
        "formula_sd_root4": formula_check("sd", 4.0),
        "formula_bf16": formula_check("sd2", 3.0, policy="mixed_bfloat16"),
        "formula_l2": formula_check("sd2", 3.0, l2=0.5),
        "model_after_fit": model_after_fit(tempfile.mkdtemp()),
        # The rules that read the loss, against optax (JAX only).
        **(
            {"optax": optax_scenarios.run_all()}
            if keras.backend.backend() == "jax"
            else {}
        ),
    }


if __name__ == "__main__":
    json.dump(run_all(), sys.stdout)
