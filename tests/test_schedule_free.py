"""Schedule-free runs are evaluated, tested and saved at the average x.

The expected x and validation losses come from the NumPy port of the
reference algorithm in test_schedule_free_adamw.py. Run this file as a
script (`KERAS_BACKEND=jax python tests/test_schedule_free.py`) to print
the JAX results of the callback scenario as JSON.
"""

import json
import pathlib
import sys

import keras
import numpy as np
import pytest
from scenario_script import run_scenario_script
from test_schedule_free_adamw import (
    BATCH,
    SAMPLES,
    dense_model,
    reference_replay,
    regression_data,
)
from tiny_study import TINY_GRU

from kerastune_lab.callbacks.schedule_free_evaluation import (
    ScheduleFreeEvaluation,
)
from kerastune_lab.config import load_experiment
from kerastune_lab.errors import ConfigError
from kerastune_lab.optimizers import ScheduleFreeAdamW
from kerastune_lab.training.run_experiment import run_experiment
from kerastune_lab.training.task_setup import prepare_task

SETTINGS = {"learning_rate": 0.05, "warmup_steps": 3}
EPOCHS = 3


def trained(callbacks, x, y, validation):
    model = dense_model(seed=5)
    model.compile(optimizer=ScheduleFreeAdamW(**SETTINGS), loss="mse")
    history = model.fit(
        x,
        y,
        batch_size=BATCH,
        epochs=EPOCHS,
        shuffle=False,
        validation_data=validation,
        verbose=0,
        callbacks=callbacks,
    )
    return model, history.history


def evaluation_scenario():
    """Fits a Dense layer with and without ScheduleFreeEvaluation and
    replays it; returns the losses and the final weights' errors."""
    x, y = regression_data()
    x_val, y_val = x[:16], y[:16]
    initial = {
        v.name: keras.ops.convert_to_numpy(v) for v in dense_model(5).weights
    }
    plain, plain_history = trained([], x, y, (x_val, y_val))
    swapped, history = trained(
        [ScheduleFreeEvaluation()], x, y, (x_val, y_val)
    )

    batches = [
        (x[i : i + BATCH], y[i : i + BATCH])
        for _ in range(EPOCHS)
        for i in range(0, SAMPLES, BATCH)
    ]
    states = reference_replay(initial, batches, SETTINGS)
    epoch_ends = [
        states[(e + 1) * (SAMPLES // BATCH) - 1] for e in range(EPOCHS)
    ]

    def loss_at(params):
        pred = x_val @ params["kernel"] + params["bias"]
        return float(np.mean((pred - y_val) ** 2))

    final_y, _, final_x = epoch_ends[-1]
    weights = dict(zip(("kernel", "bias"), swapped.get_weights()))
    plain_weights = dict(zip(("kernel", "bias"), plain.get_weights()))
    return {
        "backend": keras.backend.backend(),
        "loss": history["loss"],
        "plain_loss": plain_history["loss"],
        "val_loss": history["val_loss"],
        "plain_val_loss": plain_history["val_loss"],
        "reference_val_loss_at_x": [loss_at(s[2]) for s in epoch_ends],
        "reference_val_loss_at_y": [loss_at(s[0]) for s in epoch_ends],
        # The model ends at x; the run without the callback stays at y.
        "final_x_error": max(
            float(np.abs(weights[n] - final_x[n]).max()) for n in final_x
        ),
        "plain_final_y_error": max(
            float(np.abs(plain_weights[n] - final_y[n]).max()) for n in final_y
        ),
    }


def check_scenario(result):
    # Training itself is untouched: the callback only moves the weights
    # around evaluations.
    assert result["loss"] == pytest.approx(result["plain_loss"], rel=1e-6)
    assert result["val_loss"] == pytest.approx(
        result["reference_val_loss_at_x"], rel=1e-4
    )
    assert result["plain_val_loss"] == pytest.approx(
        result["reference_val_loss_at_y"], rel=1e-4
    )
    assert result["final_x_error"] < 1e-4
    assert result["plain_final_y_error"] < 1e-4
    # x and y are far enough apart for the checks above to tell them apart.
    for at_x, at_y in zip(
        result["reference_val_loss_at_x"], result["reference_val_loss_at_y"]
    ):
        assert abs(at_x - at_y) > 2e-3 * at_y


def test_validation_and_final_weights_are_the_average_x():
    check_scenario(evaluation_scenario())


def test_jax_validation_and_final_weights_are_the_average_x():
    pytest.importorskip("jax")
    result = run_scenario_script(
        pathlib.Path(__file__).name, KERAS_BACKEND="jax"
    )
    assert result["backend"] == "jax"
    check_scenario(result)


class EpochEndWeights(keras.callbacks.Callback):
    """The model's weights by path at each epoch end (after validation)."""

    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(
            {v.path: keras.ops.convert_to_numpy(v) for v in self.model.weights}
        )


def test_a_run_under_the_sd_wrapper_validates_at_x(tmp_path):
    """A `kerastune-lab run`: LossAdaptiveLR wraps the optimizer; the
    reported val_loss and the saved model are at x, training at y."""
    study = tmp_path / "tiny.toml"
    study.write_text(TINY_GRU)
    overrides = [
        'train.optimizer="schedule_free_adamw"',
        "train.early_stopping=false",
        "train.warmup_steps=4",
        # x and y far enough apart in 2 epochs to tell them apart.
        "train.learning_rate=0.03",
    ]
    config = load_experiment(study, overrides)
    recorder = EpochEndWeights()
    result = run_experiment(
        config,
        runs_dir=tmp_path / "runs",
        verbose=0,
        echo=lambda *args: None,
        callbacks=[recorder],
    )
    assert np.isfinite(result.history["val_loss"]).all()
    saved = keras.models.load_model(result.run_dir / "model.keras")
    assert type(saved.optimizer) is ScheduleFreeAdamW

    # The same data (the task is deterministic in the seed).
    fit_data = prepare_task(config).fit_data
    x_val, y_val = fit_data["validation_data"]

    def val_loss(weights):
        for variable in saved.weights:
            variable.assign(weights[variable.path])
        return saved.evaluate(
            x_val,
            y_val,
            batch_size=fit_data.get("validation_batch_size"),
            verbose=0,
            return_dict=True,
        )["loss"]

    at_x = val_loss({v.path: v.numpy() for v in saved.weights})
    at_y = val_loss(recorder.weights[-1])
    # Measured: 0.69846 at x (= val_loss), 0.69985 at y.
    assert result.history["val_loss"][-1] == pytest.approx(at_x, rel=1e-5)
    assert abs(at_x - at_y) > 5e-4 * at_y
    assert result.metrics["test_loss"] > 0


def test_schedule_free_config_rules():
    config = load_experiment(
        None,
        [
            'train.optimizer="schedule_free_adamw"',
            "train.early_stopping=false",
        ],
    )
    assert config.train.optimizer == "schedule_free_adamw"
    with pytest.raises(ConfigError, match="restore_best_weights"):
        load_experiment(None, ['train.optimizer="schedule_free_adamw"'])
    with pytest.raises(ConfigError, match="replaces the decay"):
        load_experiment(
            None,
            [
                'train.optimizer="schedule_free_adamw"',
                "train.early_stopping=false",
                'train.schedule="cosine"',
            ],
        )


if __name__ == "__main__":
    json.dump(evaluation_scenario(), sys.stdout)
