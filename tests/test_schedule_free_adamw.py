"""ScheduleFreeAdamW against a NumPy port of the authors' reference code.

The port below is `AdamWScheduleFreeReference.step` of
facebookresearch/schedule_free (schedulefree/adamw_schedulefree_reference
.py) line by line in float64, on a linear least-squares model whose
gradients it computes itself. The optimizer is trained by `model.fit`
(which builds it) on TensorFlow here and on JAX in a subprocess: run this
file as a script (`KERAS_BACKEND=jax python tests/test_schedule_free_adamw
.py`) to print the JAX results as JSON.
"""

import json
import math
import pathlib
import sys

import keras
import numpy as np
import pytest
from scenario_script import run_scenario_script

from kerastune_lab.optimizers import ScheduleFreeAdamW, build_optimizer

FEATURES, UNITS, SAMPLES, BATCH = 5, 3, 48, 8

CASES = {
    "defaults": {"learning_rate": 0.02},
    # A rate that rises then falls exercises the running max lr_max.
    "warmup_decay_r_power": {
        "learning_rate": ("piecewise", [6, 14], [0.01, 0.04, 0.005]),
        "beta_1": 0.8,
        "beta_2": 0.99,
        "epsilon": 1e-6,
        "warmup_steps": 6,
        "weight_decay": 0.5,
        "r": 1.0,
        "weight_lr_power": 1.5,
    },
    "denominator": {
        "learning_rate": 0.02,
        "warmup_steps": 4,
        "weight_decay": 0.1,
        "r": 0.5,
        "bias_correction": "denominator",
    },
}


def regression_data():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(SAMPLES, FEATURES))
    y = x @ rng.normal(size=(FEATURES, UNITS)) + rng.normal(size=UNITS)
    return x.astype("float32"), y.astype("float32")


def mse_gradients(params, x, y):
    """Gradients of Keras's "mse" (the mean over batch and units) of the
    Dense layer x @ kernel + bias."""
    residual = x @ params["kernel"] + params["bias"] - y
    scale = 2.0 / residual.size
    return {
        "kernel": scale * x.T @ residual,
        "bias": scale * residual.sum(axis=0),
    }


def base_rate(learning_rate, k):
    """The base rate at step k (0-based), as the port's group['lr']."""
    if not isinstance(learning_rate, tuple):
        return learning_rate
    _, boundaries, values = learning_rate
    for boundary, value in zip(boundaries, values):
        if k <= boundary:
            return value
    return values[-1]


def reference_replay(params, batches, settings, decayed=("kernel",)):
    """The reference's step() on float64 copies of `params`, one step per
    batch; returns [(y, z, x)] after every step (dicts by name)."""
    lr0 = settings["learning_rate"]
    beta1 = settings.get("beta_1", 0.9)
    beta2 = settings.get("beta_2", 0.999)
    eps = settings.get("epsilon", 1e-8)
    decay = settings.get("weight_decay") or 0.0
    warmup_steps = settings.get("warmup_steps", 0)
    r = settings.get("r", 0.0)
    weight_lr_power = settings.get("weight_lr_power", 2.0)
    in_rate = settings.get("bias_correction", "rate") == "rate"
    group = {"k": 0, "lr_max": -1.0, "weight_sum": 0.0}
    state = {
        name: {
            "z": value.astype("float64"),
            "exp_avg_sq": np.zeros(value.shape),
            "x": value.astype("float64"),
            "y": value.astype("float64"),
        }
        for name, value in params.items()
    }
    history = []
    for x_batch, y_batch in batches:
        k = group["k"]
        sched = (k + 1) / warmup_steps if k < warmup_steps else 1.0
        bias_correction2 = 1 - beta2 ** (k + 1)
        lr = base_rate(lr0, k) * sched
        if in_rate:
            lr *= math.sqrt(bias_correction2)
        lr_max = group["lr_max"] = max(lr, group["lr_max"])
        weight = ((k + 1) ** r) * (lr_max**weight_lr_power)
        weight_sum = group["weight_sum"] = group["weight_sum"] + weight
        ckp1 = weight / weight_sum if weight_sum else 0.0
        grads = mse_gradients(
            {name: s["y"] for name, s in state.items()},
            x_batch.astype("float64"),
            y_batch.astype("float64"),
        )
        for name, s in state.items():
            if decay != 0 and name in decayed:
                s["z"] = s["z"] - lr * decay * s["y"]
            s["exp_avg_sq"] = beta2 * s["exp_avg_sq"] + (1 - beta2) * (
                grads[name] ** 2
            )
            if in_rate:
                denom = np.sqrt(s["exp_avg_sq"]) + eps
            else:
                denom = np.sqrt(s["exp_avg_sq"] / bias_correction2) + eps
            s["z"] = s["z"] - lr * grads[name] / denom
            s["x"] = (1 - ckp1) * s["x"] + ckp1 * s["z"]
            s["y"] = beta1 * s["x"] + (1 - beta1) * s["z"]
        group["k"] = k + 1
        history.append(
            tuple(
                {name: s[key].copy() for name, s in state.items()}
                for key in ("y", "z", "x")
            )
        )
    return history


def optimizer_of(settings):
    settings = dict(settings)
    rate = settings.pop("learning_rate")
    if isinstance(rate, tuple):
        _, boundaries, values = rate
        rate = keras.optimizers.schedules.PiecewiseConstantDecay(
            boundaries, values
        )
    optimizer = ScheduleFreeAdamW(rate, **settings)
    if settings.get("weight_decay"):
        optimizer.exclude_from_weight_decay(var_names=["bias"])
    return optimizer


class StepStates(keras.callbacks.Callback):
    """(y, z, x) of the kernel and bias after every step, read from the
    model, the optimizer's z slots and its public evaluation values."""

    def __init__(self):
        super().__init__()
        self.states = []

    def on_train_batch_end(self, batch, logs=None):
        model = self.model
        optimizer = model.optimizer
        names = [v.name for v in model.trainable_variables]
        numpy = keras.ops.convert_to_numpy
        y = {n: numpy(v) for n, v in zip(names, model.trainable_variables)}
        z = {
            n: numpy(optimizer._momentums[optimizer._get_variable_index(v)])
            for n, v in zip(names, model.trainable_variables)
        }
        x = {
            n: numpy(value)
            for n, (_, value) in zip(names, optimizer.evaluation_values())
        }
        self.states.append((y, z, x))


def dense_model(seed, use_bias=True, units=UNITS):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(units, use_bias=use_bias),
        ]
    )


def worst_errors(keras_states, reference_states, rtol=1e-5, atol=1e-5):
    """Largest |keras - reference| / (atol + rtol |reference|) of y, z and
    x over all steps and weights: np.allclose's test holds below 1."""
    worst = {"y": 0.0, "z": 0.0, "x": 0.0}
    for got, want in zip(keras_states, reference_states):
        for key, got_part, want_part in zip("yzx", got, want):
            for name, value in want_part.items():
                error = np.abs(got_part[name] - value) / (
                    atol + rtol * np.abs(value)
                )
                worst[key] = max(worst[key], float(error.max()))
    return worst


def fit_against_reference(case, epochs=4):
    """Trains a Dense layer with `model.fit` and the case's settings and
    replays it; returns the step count and the worst errors."""
    settings = CASES[case]
    x, y = regression_data()
    model = dense_model(seed=3)
    initial = {v.name: keras.ops.convert_to_numpy(v) for v in model.weights}
    model.compile(optimizer=optimizer_of(settings), loss="mse")
    states = StepStates()
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=epochs,
        shuffle=False,
        verbose=0,
        callbacks=[states],
    )
    batches = [
        (x[i : i + BATCH], y[i : i + BATCH])
        for _ in range(epochs)
        for i in range(0, SAMPLES, BATCH)
    ]
    reference = reference_replay(initial, batches, settings)
    return {
        "steps": len(states.states),
        **worst_errors(states.states, reference),
    }


def first_fit_step():
    """One `fit` step of Dense(2, no bias) at rate 0.05: the kernel, its
    reference value and its initial value."""
    x, y = regression_data()
    model = dense_model(seed=0, use_bias=False, units=2)
    initial = keras.ops.convert_to_numpy(model.weights[0])
    model.compile(optimizer=ScheduleFreeAdamW(0.05), loss="mse")
    model.fit(x[:BATCH], y[:BATCH, :2], batch_size=BATCH, verbose=0)
    x64, y64 = x[:BATCH].astype("float64"), y[:BATCH, :2].astype("float64")
    gradient = 2.0 / y64.size * x64.T @ (x64 @ initial - y64)
    # After one step x = z = y: each weight moves by the rate against the
    # sign of its gradient (Adam's first step), from where it started.
    expected = initial - 0.05 * np.sign(gradient)
    return {
        "kernel": keras.ops.convert_to_numpy(model.weights[0]).tolist(),
        "expected": expected.tolist(),
        "initial": initial.tolist(),
    }


def run_all():
    return {
        "backend": keras.backend.backend(),
        "first_step": first_fit_step(),
        **{case: fit_against_reference(case) for case in CASES},
    }


def check_case(result):
    assert result["steps"] == 4 * SAMPLES // BATCH
    # float32 against float64: the absolute error grows by about 1e-7 a
    # step (2e-6, i.e. 0.2 here, after 24 steps).
    for key in "yzx":
        assert result[key] < 1.0, (key, result)


def check_first_step(result):
    kernel = np.array(result["kernel"])
    np.testing.assert_allclose(kernel, result["expected"], atol=1e-5)
    # Keras 3.15's own class on TensorFlow ends this step at +-0.05.
    assert not np.allclose(np.abs(kernel), 0.05, atol=1e-3)
    assert np.abs(np.array(result["initial"])).max() > 0.1


@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_matches_the_reference(case):
    check_case(fit_against_reference(case))


def test_first_fit_step_starts_from_the_weights():
    check_first_step(first_fit_step())


def test_save_and_reload_continue_identically(tmp_path):
    x, y = regression_data()
    model = dense_model(seed=1)
    model.compile(
        optimizer=ScheduleFreeAdamW(
            0.02,
            warmup_steps=4,
            weight_decay=0.1,
            r=0.5,
            weight_lr_power=1.0,
            bias_correction="denominator",
        ),
        loss="mse",
    )
    model.fit(x, y, batch_size=BATCH, epochs=2, shuffle=False, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")
    assert type(loaded.optimizer) is ScheduleFreeAdamW
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert len(loaded.optimizer.variables) == len(model.optimizer.variables)
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )
    for each in (model, loaded):
        each.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)
    for (_, a), (_, b) in zip(
        model.optimizer.evaluation_values(),
        loaded.optimizer.evaluation_values(),
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b)


def test_build_optimizer_builds_this_class():
    optimizer = build_optimizer(
        "schedule_free_adamw", 0.01, weight_decay=0.1, epsilon=1e-6
    )
    assert type(optimizer) is ScheduleFreeAdamW
    assert optimizer.weight_decay == 0.1 and optimizer.epsilon == 1e-6
    model = dense_model(seed=0)
    optimizer.build(model.trainable_variables)
    kernel, bias = model.trainable_variables
    assert optimizer._use_weight_decay(kernel)
    assert not optimizer._use_weight_decay(bias)
    assert optimizer.evaluation_values()[0][0] is kernel


@pytest.mark.parametrize(
    "argument, value",
    [
        ("beta_1", 1.5),
        ("beta_2", 1.0),
        ("epsilon", -1.0),
        ("warmup_steps", 2.5),
        ("r", -1.0),
        ("weight_lr_power", float("nan")),
        ("bias_correction", "both"),
    ],
)
def test_bad_arguments_say_what_was_received(argument, value):
    with pytest.raises(ValueError, match=f"Received: {argument}="):
        ScheduleFreeAdamW(**{argument: value})


def test_jax_backend_matches_the_reference():
    pytest.importorskip("jax")
    results = run_scenario_script(
        pathlib.Path(__file__).name, KERAS_BACKEND="jax"
    )
    assert results["backend"] == "jax"
    check_first_step(results["first_step"])
    for case in CASES:
        check_case(results[case])


if __name__ == "__main__":
    json.dump(run_all(), sys.stdout)
