"""The loss-reading rules against optax, the independent reference.

Each scenario trains a small classifier (tanh hidden layer with L2 on its
kernel, logits, cross-entropy) for 12 steps on fixed batches, once with
our Keras implementation (`keras_run`, on the current backend, fed by the
loss probe inside `model.fit`) and once with optax on a hand-written JAX
loss (`optax_run`: `optax.polyak_sgd`, `optax.contrib.momo`,
`optax.contrib.momo_adam`), from the same weights. The loss is the
penalised total and its gradient, as both sides define it.

`python tests/optax_scenarios.py` (KERAS_BACKEND=jax) prints one JSON
object: per scenario optax's trajectory and ours; the TensorFlow test
compares its own Keras run with that optax trajectory.
"""

import json
import sys

import keras
import numpy as np

from kerastune_lab.callbacks import LossAdaptiveLR
from kerastune_lab.optimizers import Momo, MomoAdam

FEATURES, HIDDEN, CLASSES, N, BATCH, EPOCHS = 6, 8, 3, 64, 16, 3
STEPS = EPOCHS * N // BATCH
L2 = 0.01

# name -> (our optimizer class and arguments, LossAdaptiveLR arguments).
SCENARIOS = {
    # Steps at the cap and below it.
    "polyak": (
        "sgd",
        {"learning_rate": 2.0},
        {"mode": "polyak", "polyak_c": 0.5, "f_star": 0.3},
    ),
    # f_star above the later batch losses: those steps have rate 0.
    "polyak_high_f_star": (
        "sgd",
        {"learning_rate": 3.0},
        {"mode": "polyak", "polyak_c": 0.3, "f_star": 0.7},
    ),
    "momo": (
        "momo",
        {"learning_rate": 1.0, "momentum": 0.9, "weight_decay": 0.05},
        {"mode": "none"},
    ),
    # The cap alpha follows a schedule, read at the 0-based step.
    "momo_schedule": (
        "momo",
        {"learning_rate": "linear", "momentum": 0.8, "f_star": 0.2},
        {"mode": "none"},
    ),
    "momo_adam": (
        "momo_adam",
        {"learning_rate": 0.15, "weight_decay": 0.05, "f_star": 0.1},
        {"mode": "none"},
    ),
}


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, FEATURES)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32") + (x[:, 2] > 1.0)
    weights = [
        rng.normal(scale=0.5, size=(FEATURES, HIDDEN)),
        rng.normal(scale=0.1, size=(HIDDEN,)),
        rng.normal(scale=0.5, size=(HIDDEN, CLASSES)),
        rng.normal(scale=0.1, size=(CLASSES,)),
    ]
    return x, y.astype("int32"), [w.astype("float32") for w in weights]


def linear_rate(step, start=1.0, end=0.1):
    """A linear decay over the run, as a function of the 0-based step."""
    return start + (end - start) * np.minimum(step, STEPS) / STEPS


class StepWeights(keras.callbacks.Callback):
    """The layers' weights before each step (test only: a host sync)."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_train_batch_begin(self, batch, logs=None):
        self.weights.append(
            [w for layer in self.model.layers for w in layer.get_weights()]
        )


def keras_run(name):
    """Trains scenario `name` with our implementation on this backend."""
    optimizer_name, arguments, rule = SCENARIOS[name]
    x, y, weights = data()
    arguments = dict(arguments)
    if arguments["learning_rate"] == "linear":
        arguments["learning_rate"] = (
            keras.optimizers.schedules.PolynomialDecay(1.0, STEPS, 0.1)
        )
    optimizer = {
        "sgd": keras.optimizers.SGD,
        "momo": Momo,
        "momo_adam": MomoAdam,
    }[optimizer_name](**arguments)
    model = keras.Sequential(
        [
            keras.Input((FEATURES,)),
            keras.layers.Dense(
                HIDDEN,
                activation="tanh",
                kernel_regularizer=keras.regularizers.L2(L2),
            ),
            keras.layers.Dense(CLASSES),
        ]
    )
    model.set_weights(weights)
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    callback = LossAdaptiveLR(**rule)
    model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=False,
        verbose=0,
        callbacks=[callback],
    )
    LossAdaptiveLR.remove(model)
    return {
        "weights": [w.tolist() for w in model.get_weights()],
        "steps": {k: list(map(float, v)) for k, v in callback.steps.items()},
    }


def optax_run(name):
    """Trains scenario `name` with optax on a hand-written JAX loss.

    Returns the final weights and, per step, the loss and the rate the
    update used, read back from optax's own state and the weights' change
    (polyak: its rate and ||g||^2 from the gradient JAX computed).
    """
    import jax
    import jax.numpy as jnp
    import optax
    from optax import contrib

    optimizer_name, arguments, rule = SCENARIOS[name]
    x, y, params = data()
    params = [jnp.asarray(p) for p in params]

    def loss_fn(params, xb, yb):
        w1, b1, w2, b2 = params
        logits = jnp.tanh(xb @ w1 + b1) @ w2 + b2
        log_p = jax.nn.log_softmax(logits)
        data_loss = -jnp.mean(jnp.take_along_axis(log_p, yb[:, None], 1))
        return data_loss + L2 * jnp.sum(jnp.square(w1))

    rate = arguments["learning_rate"]
    if rate == "linear":
        rate = optax.linear_schedule(1.0, 0.1, STEPS)
    weight_decay = arguments.get("weight_decay", 0.0)
    f_star = arguments.get("f_star", rule.get("f_star", 0.0))
    if optimizer_name == "sgd":
        c = rule["polyak_c"]
        solver = optax.polyak_sgd(
            max_learning_rate=rate / c,
            scaling=c,
            f_min=f_star,
            variant="sps+",
        )
    elif optimizer_name == "momo":
        solver = contrib.momo(
            rate, arguments["momentum"], f_star, weight_decay
        )
    else:
        solver = contrib.momo_adam(
            rate, lower_bound=f_star, weight_decay=weight_decay
        )
    state = solver.init(params)
    value_and_grad = jax.jit(jax.value_and_grad(loss_fn))
    update = jax.jit(solver.update)
    losses, rates, norms = [], [], []
    for step in range(STEPS):
        i = step % (N // BATCH)
        xb, yb = x[i * BATCH : (i + 1) * BATCH], y[i * BATCH : (i + 1) * BATCH]
        value, grads = value_and_grad(params, xb, yb)
        updates, state = update(grads, state, params, value=value)
        alpha = rate(step) if callable(rate) else rate
        norm = sum(float(jnp.sum(g * g)) for g in grads)
        if optimizer_name == "sgd":
            # u = -rate g: read the rate back from the update.
            used = -sum(float(jnp.sum(u * g)) for u, g in zip(updates, grads))
            used /= norm
        else:
            used = _momo_rate(
                optimizer_name,
                state,
                params,
                updates,
                alpha,
                weight_decay,
                step,
            )
        losses.append(float(value))
        rates.append(used)
        norms.append(norm)
        params = optax.apply_updates(params, updates)
    return {
        "weights": [np.asarray(p).tolist() for p in params],
        "loss": losses,
        "lr": rates,
        "grad_norm_sq": norms,
    }


def _momo_rate(name, state, params, updates, alpha, weight_decay, step):
    """tau (MoMo) or tau (1 - beta_1^(t+1)) (MoMo-Adam) of one optax
    update u = -s x - tau d / P, from optax's state (d, and P from v)."""
    shrink = alpha * weight_decay / (1 + alpha * weight_decay)
    directions = [np.asarray(d, "float64") for d in state.exp_avg]
    if name == "momo_adam":
        correction = 1 - 0.999 ** (step + 1)
        directions = [
            d / (1e-8 + np.sqrt(np.asarray(v, "float64") / correction))
            for d, v in zip(directions, state.exp_avg_sq)
        ]
    moves = [
        -(np.asarray(u, "float64") + shrink * np.asarray(p, "float64"))
        for u, p in zip(updates, params)
    ]
    tau = sum(np.sum(m * d) for m, d in zip(moves, directions)) / sum(
        np.sum(d * d) for d in directions
    )
    if name == "momo_adam":
        tau *= 1 - 0.9 ** (step + 1)
    return float(tau)


def run_all():
    return {
        name: {"optax": optax_run(name), "keras": keras_run(name)}
        for name in SCENARIOS
    }


if __name__ == "__main__":
    json.dump(run_all(), sys.stdout)
