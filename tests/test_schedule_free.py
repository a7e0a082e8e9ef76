"""ScheduleFreeAdamW is evaluated, tested and saved at its averaged point."""

import keras
import numpy as np
import pytest

from kerastune_lab.callbacks.schedule_free_evaluation import (
    ScheduleFreeEvaluation,
)
from kerastune_lab.config import load_experiment
from kerastune_lab.errors import ConfigError


def trained(callbacks, x, y):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, "tanh"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.ScheduleFreeAdamW(0.05), "mse")
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        validation_data=(x[:16], y[:16]),
        verbose=0,
        callbacks=callbacks,
    )
    return model, history.history


def test_validation_and_final_weights_are_the_average_x():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0], "float32"))[:, None]
    plain, plain_history = trained([], x, y)
    swapped, history = trained([ScheduleFreeEvaluation()], x, y)

    # The independent reference: x = (y - (1 - beta_1) z) / beta_1 from the
    # plain run's weights y and gradient sequence z.
    optimizer = plain.optimizer
    beta_1 = optimizer.beta_1
    for y_var, x_var in zip(
        plain.trainable_variables, swapped.trainable_variables
    ):
        z = optimizer._momentums[optimizer._get_variable_index(y_var)]
        expected = (
            keras.ops.convert_to_numpy(y_var)
            - (1 - beta_1) * keras.ops.convert_to_numpy(z)
        ) / beta_1
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(x_var), expected, rtol=1e-5, atol=1e-6
        )
    # Training itself is untouched; validation scored x, not y.
    assert history["loss"] == pytest.approx(plain_history["loss"], rel=1e-6)
    at_x = swapped.evaluate(x[:16], y[:16], verbose=0)
    at_y = plain.evaluate(x[:16], y[:16], verbose=0)
    assert history["val_loss"][-1] == pytest.approx(at_x, rel=1e-5)
    assert plain_history["val_loss"][-1] == pytest.approx(at_y, rel=1e-5)
    assert abs(at_x - at_y) > 1e-3 * at_y


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
